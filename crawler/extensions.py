"""The archive side of a crawl run: its ``crawl_runs`` row, its workers, its outcome.

:class:`ArchiveRun` is a Scrapy extension (enabled in settings) created when the crawl starts;
the capture middleware, the spider and the pipelines reach it through :func:`archive_run`.
It opens the archive for what the crawl reads, creates the run's row, and starts the run's
worker processes (:mod:`crawler.worker`): one extracts pages, the other makes every write of
the run (WARC file included) in order. It records every failure with its URL and reason, and at the end
judges the run's health (:mod:`crawler.health`) and writes the outcome.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
from pathlib import Path
from typing import Any

import sqlite_utils
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro

from archive.schema import open_archive
from crawler.health import run_problems, stat_count
from crawler.urls import canonical_url, netloc_of
from crawler.worker import WorkerFailed, WorkerProcess

logger = logging.getLogger(__name__)

#: Seconds the end of a run waits for the workers to handle what they were sent.
FINISH_TIMEOUT = 600.0
#: The reason the spider closes with when a worker failed (a write refused, a worker gone).
WORKER_FAILED = "worker_failed"


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def archive_run(crawler: Crawler) -> "ArchiveRun | None":
    """The run recorder of this crawler, if the extension is enabled."""
    for extension in getattr(crawler.extensions, "middlewares", ()):
        if isinstance(extension, ArchiveRun):
            return extension
    return None


def _header_pairs(headers) -> list[tuple[str, str]]:
    return [
        (key.decode("latin-1"), value.decode("latin-1"))
        for key, values in headers.items()
        for value in values
    ]


class ArchiveRun:
    """Opens the archive and starts the run's workers; records captures, failures and the outcome."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.path = Path(crawler.settings.get("ARCHIVE_PATH"))
        self.full = crawler.settings.getbool("CRAWL_FULL")
        #: For what the crawl reads; during the run every write goes through the writer.
        self.db: sqlite_utils.Database = open_archive(self.path)
        self.previous = self._previous_healthy_stats()
        self.last_run_complete = self._last_run_complete()
        # A run still marked "running" was killed: only one run holds the archive's lock.
        self.db.execute("update crawl_runs set outcome = 'killed' where outcome = 'running'")
        started = utc_now()
        table = self.db["crawl_runs"]
        table.insert({"started_at": started, "mode": "full" if self.full else "incremental",
                      "outcome": "running"})
        self.run_id = table.last_pk
        stamp = started.replace(":", "").replace("-", "").replace("+0000", "Z")
        warc_path = self.path.parent / "captures" / f"run-{self.run_id:05d}-{stamp}.warc.gz"
        self.warc_name = warc_path.name
        # Capture ids are given here, so a response's id is known before the writer stores it.
        (last_capture,) = self.db.execute("select coalesce(max(id), 0) from captures").fetchone()
        self._capture_ids = itertools.count(last_capture + 1)
        self.db.conn.commit()
        self.removed = 0
        self.problems: list[str] = []
        self.outcome = "running"
        self.worker_failure: str | None = None
        self.writer = WorkerProcess("archive writer", "zwdc-writer", "archive.writer:RunWriter", {
            "archive_path": str(self.path), "run_id": self.run_id, "warc_path": str(warc_path),
            "software": crawler.settings.get("USER_AGENT"),
            "commit_interval": crawler.settings.getfloat("ARCHIVE_COMMIT_INTERVAL"),
        }, on_failure=self._failure_from_worker_thread)
        self.extractor = WorkerProcess(
            "extraction worker", "zwdc-extractor", "crawler.worker:Extraction", {},
            on_failure=self._failure_from_worker_thread)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ArchiveRun":
        run = cls(crawler)
        crawler.signals.connect(run.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(run.spider_closed, signal=signals.spider_closed)
        return run

    def _previous_healthy_stats(self) -> dict[str, Any] | None:
        row = next(self.db.query(
            "select stats from crawl_runs where outcome = 'ok' order by id desc limit 1"), None)
        return json.loads(row["stats"]) if row and row["stats"] else None

    def _last_run_complete(self) -> bool:
        row = next(self.db.query("select outcome from crawl_runs order by id desc limit 1"), None)
        return row is None or row["outcome"] == "ok"

    # --- recording (each write goes to the writer, in order) ----------------------------
    def record_capture(self, request: Request, response: Response, kind: str) -> int:
        """Have the exchange written to the WARC file and indexed; return its capture id."""
        capture_id = next(self._capture_ids)
        self.writer.send(
            "capture", capture_id, kind, response.url, request.method,
            _header_pairs(request.headers), response.status, _header_pairs(response.headers),
            response.body, utc_now(), response.headers.get("Content-Type", b"").decode("latin-1"))
        return capture_id

    def record_off_portal(self, request: Request) -> None:
        """A request the host rule refused (a redirect off the portal), under the URL asked."""
        kind = request.meta.get("page_kind", "page")
        asked = request.meta.get("redirect_urls", [request.url])[0]
        self.crawler.stats.inc_value(f"column/{kind}_failed")
        self.record_failure(
            canonical_url(asked) if kind == "bulletin" else asked, kind,
            f"redirected off the portal to {netloc_of(request.url) or request.url[:80]}")

    def record_failure(self, url: str, kind: str, reason: str) -> None:
        self.crawler.stats.inc_value("run/failures")
        self.writer.send("failure", url, kind, reason, utc_now())

    def mark_seen(self, url: str) -> None:
        """A conditional re-fetch answered 304: the bulletin is still there, unchanged."""
        self.writer.send("seen", url, utc_now())

    def mark_missing(self, urls: list[str]) -> None:
        """A bulletin gone from the portal is kept and marked, never deleted."""
        self.writer.send("missing", urls, utc_now())

    def _failure_from_worker_thread(self, reason: str) -> None:
        from twisted.internet import reactor  # the installed one (importing earlier would install one)

        reactor.callFromThread(self.stop_on_worker_failure, reason)

    def stop_on_worker_failure(self, reason: str) -> None:
        """A write was refused (disk full, archive damaged…) or a worker died: stop, fail the run."""
        if self.worker_failure is not None:
            return
        self.worker_failure = reason
        logger.error("stopping the crawl: %s", reason)
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            deferred_from_coro(engine.close_spider_async(reason=WORKER_FAILED))

    # --- signals ------------------------------------------------------------------
    def spider_opened(self, spider: Spider) -> None:
        self.writer.send("update_run", {"start_urls": json.dumps(getattr(spider, "start_urls", []))})

    def _keep_first_failure(self, error: Exception, worker: str) -> None:
        """Remember why the end of the run failed, unless a worker failure was already known."""
        self.worker_failure = self.worker_failure or str(error) or f"the {worker} did not answer in time"

    def _collect_outcomes(self) -> None:
        """Wait until the workers handled everything sent; count what the stores did."""
        try:
            self.extractor.finish(timeout=FINISH_TIMEOUT)
        except (WorkerFailed, TimeoutError) as error:  # what was stored is still counted below
            self._keep_first_failure(error, "extraction worker")
        try:
            outcomes = self.writer.call("outcomes").result(FINISH_TIMEOUT)
        except (WorkerFailed, TimeoutError) as error:
            self._keep_first_failure(error, "archive writer")
            return
        self.removed = outcomes.pop("removed")
        for outcome, number in outcomes.items():
            self.crawler.stats.inc_value(f"archive/{outcome}", number)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self._collect_outcomes()
        stats = dict(self.crawler.stats.get_stats())
        column_links = dict(getattr(spider, "column_links", {}))
        problems = run_problems(
            stats, getattr(spider, "start_outcomes", {}), column_links, self.previous)
        def count(key: str) -> int:
            return stat_count(stats, key)

        pages = count("extract/pages")
        summary = {
            "column_links": column_links,
            "robots_forbidden": sorted(getattr(spider, "robots_forbidden", ())),
            "metadata_ratio": (count("extract/without_metadata") / pages
                               if pages else (self.previous or {}).get("metadata_ratio")),
            "scrapy": {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in stats.items()},
        }
        if reason == "shutdown":
            outcome = "interrupted"
        elif reason != "finished":
            outcome = f"failed ({reason})"
        else:
            outcome = "failed" if problems else "ok"
        values = {
            "finished_at": utc_now(), "outcome": outcome,
            "requests": count("downloader/request_count"),
            "new": count("archive/new"), "changed": count("archive/changed"),
            "unchanged": count("archive/unchanged") + count("archive/not_modified"),
            "removed": self.removed, "errors": count("run/failures") + count("archive/refused"),
            "problems": json.dumps(problems, ensure_ascii=False),
            "warc_file": self.warc_name,
            "stats": json.dumps(summary, ensure_ascii=False, default=str),
        }
        try:
            self.writer.finish(values, timeout=FINISH_TIMEOUT)
        except (WorkerFailed, TimeoutError) as error:
            self._keep_first_failure(error, "archive writer")
        if self.worker_failure is not None:
            problems.insert(0, self.worker_failure)
            outcome = outcome if outcome.startswith("failed") else "failed"
            self._record_outcome_here(outcome, problems)
        self.problems = problems
        self.outcome = outcome

    def _record_outcome_here(self, outcome: str, problems: list[str]) -> None:
        """When the writer could not record the outcome, this process does (best effort)."""
        try:
            self.db["crawl_runs"].update(self.run_id, {
                "finished_at": utc_now(), "outcome": outcome,
                "problems": json.dumps(problems, ensure_ascii=False)})
            self.db.conn.commit()
        except Exception as error:  # the archive itself is what failed
            logger.error("could not record the run's outcome: %s", error)
