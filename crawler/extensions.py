"""The archive side of a crawl run: its database, its WARC file, its ``crawl_runs`` row.

:class:`ArchiveRun` is a Scrapy extension (enabled in settings) created when the crawl starts;
the capture middleware, the spider and the pipelines reach it through :func:`archive_run`.
It records every failure with its URL and reason, and at the end judges the run's health
(:mod:`crawler.health`) and writes the outcome.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import sqlite_utils
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response

from archive.schema import open_archive
from archive.store import mark_missing
from archive.warc import WarcCaptureWriter
from crawler.health import run_problems, stat_count
from crawler.urls import canonical_url, netloc_of


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
    """Opens the archive and this run's WARC file; records captures, failures and the outcome."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.path = Path(crawler.settings.get("ARCHIVE_PATH"))
        self.full = crawler.settings.getbool("CRAWL_FULL")
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
        self.warc = WarcCaptureWriter(
            self.path.parent / "captures" / f"run-{self.run_id:05d}-{stamp}.warc.gz",
            software=crawler.settings.get("USER_AGENT"),
        )
        self.removed = 0
        self.problems: list[str] = []
        self.outcome = "running"
        self.db.conn.commit()
        # Writes of the run are committed in batches (see commit_if_due): one commit per
        # bulletin would cost more than extracting it. A crash loses at most one interval,
        # which the next run (walking every list after an unfinished run) fetches again.
        self.commit_interval = crawler.settings.getfloat("ARCHIVE_COMMIT_INTERVAL")
        self._last_commit = time.monotonic()
        self.db.conn.execute("BEGIN")

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

    # --- recording ----------------------------------------------------------------
    def commit_if_due(self) -> None:
        """Commit the writes so far once ``ARCHIVE_COMMIT_INTERVAL`` seconds have passed."""
        if time.monotonic() - self._last_commit < self.commit_interval:
            return
        if self.db.conn.in_transaction:
            self.db.conn.commit()
        self.db.conn.execute("BEGIN")
        self._last_commit = time.monotonic()

    def record_capture(self, request: Request, response: Response, kind: str) -> int:
        """Write the exchange to the WARC file and index it; return the capture id."""
        fetched_at = utc_now()
        location = self.warc.write(
            response.url, method=request.method,
            request_headers=_header_pairs(request.headers),
            status=response.status, response_headers=_header_pairs(response.headers),
            body=response.body, fetched_at=fetched_at,
        )
        table = self.db["captures"]
        table.insert({
            "run_id": self.run_id, "url": response.url, "kind": kind, "status": response.status,
            "fetched_at": fetched_at,
            "content_type": response.headers.get("Content-Type", b"").decode("latin-1"),
            "warc_file": location.warc_file, "warc_offset": location.offset,
            "warc_length": location.length, "payload_sha256": location.payload_sha256,
        })
        self.commit_if_due()
        return table.last_pk

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
        self.db["run_failures"].insert(
            {"run_id": self.run_id, "url": url, "kind": kind, "reason": reason, "at": utc_now()})

    def mark_missing(self, urls: list[str]) -> None:
        """A bulletin gone from the portal is kept and marked, never deleted."""
        self.removed += mark_missing(self.db, urls, utc_now())

    # --- signals ------------------------------------------------------------------
    def spider_opened(self, spider: Spider) -> None:
        self.db["crawl_runs"].update(
            self.run_id, {"start_urls": json.dumps(getattr(spider, "start_urls", []))})

    def spider_closed(self, spider: Spider, reason: str) -> None:
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
        self.db["crawl_runs"].update(self.run_id, {
            "finished_at": utc_now(), "outcome": outcome,
            "requests": count("downloader/request_count"),
            "new": count("archive/new"), "changed": count("archive/changed"),
            "unchanged": count("archive/unchanged") + count("archive/not_modified"),
            "removed": self.removed, "errors": count("run/failures"),
            "problems": json.dumps(problems, ensure_ascii=False),
            "warc_file": self.warc.path.name,
            "stats": json.dumps(summary, ensure_ascii=False, default=str),
        })
        self.db.conn.commit()
        self.warc.close()
        self.problems = problems
        self.outcome = outcome
