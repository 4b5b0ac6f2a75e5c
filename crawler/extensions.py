"""The archive side of a crawl run: its ``crawl_runs`` row, its captures, its ingest, its outcome.

:class:`ArchiveRun` is a Scrapy extension (enabled in settings) created when the crawl starts;
the capture middleware, the spider and the item pipelines reach it with
``crawler.get_extension(ArchiveRun)``. In the crawl process itself, on the reactor's thread:

* it opens the archive, finishes what a killed run left (ingests its ready captures), and
  creates the run's row;
* every response goes to the run's WARC file and a ``captures`` row
  (:meth:`ArchiveRun.record_capture`), every failure to ``run_failures``;
* every ``ARCHIVE_COMMIT_INTERVAL`` seconds everything is committed, and the captures made
  ready since (bulletins whose further pages and files are fetched) are ingested
  (:class:`crawler.ingest.Ingest`): a capture is in the archive, durable, before the rows built
  from it count, and a crash loses at most that interval, which the next run fetches again.
  A batch is extracted in a worker process (``INGEST_PROCESSES``) while the crawl goes on, and
  written here once its records are back: fetching and extraction use both cores;
* the text of attachment files is read beside the fetching, in a thread of its own
  (:class:`crawler.attachments_ingest.CrawlTexts`), and stored with the batches;
* at the end it ingests what is left, waits for the attachment texts left (without blocking
  the reactor: a stop signal ends the wait, the rest is read by the next run), judges the run's
  health (:mod:`crawler.health`) on the complete archive and records the outcome.

A write the archive refuses (disk full, a damaged file, a folder that cannot be created)
rolls the open batch back and stops the crawl with that reason, in one line.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.task import LoopingCall

from archive.layout import ArchiveLayout
from archive.store import mark_killed_runs, mark_missing
from archive.warc import WarcCaptureWriter
from crawler.attachments_ingest import AttachmentTexts, CrawlTexts
from crawler.health import run_problems, stat_count
from crawler.ingest import Batch, Extracted, Ingest, open_for_ingest
from pipelines.dates import utc_now
from pipelines.urls import canonical_url, netloc_of

logger = logging.getLogger(__name__)

#: The reason the spider closes with when the archive refused a write.
ARCHIVE_FAILED = "archive_failed"
#: Scrapy's CloseSpider limits (``-s CLOSESPIDER_ITEMCOUNT=5`` for a trial run): stopping there
#: is what was asked, not a failure; the run read part of the portal, so it is recorded as a
#: sample and the next run walks every list again.
STOPPED_AT_LIMIT = frozenset({"closespider_itemcount", "closespider_pagecount", "closespider_timeout"})
#: Responses of bulletins that ingest turns into archive rows (others are kept as captures only).
_INGESTED_STATUSES = {200: "fetched", 304: "ready", 404: "ready", 410: "ready"}


def _header_pairs(headers) -> list[tuple[str, str]]:
    return [
        (key.decode("latin-1"), value.decode("latin-1"))
        for key, values in headers.items()
        for value in values
    ]


def warc_name(layout: ArchiveLayout, run_id: int, started: str) -> str:
    """``<archive>-run-00007-20261126T184303Z-3fa9c1.warc.gz``: unique to the archive and the run."""
    stamp = started.replace(":", "").replace("-", "").replace("+0000", "Z")
    return f"{layout.db.stem}-run-{run_id:05d}-{stamp}-{secrets.token_hex(3)}.warc.gz"


class ArchiveRun:
    """Captures the run's responses and failures, ingests them in batches, records the outcome."""

    def __init__(self, crawler: Crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.layout = ArchiveLayout.of(settings.get("ARCHIVE_PATH"))
        self.full = settings.getbool("CRAWL_FULL")
        self.interval = settings.getfloat("ARCHIVE_COMMIT_INTERVAL")
        self.db = open_for_ingest(self.layout.db)
        self.texts = CrawlTexts(AttachmentTexts(self.db, self.layout, ocr=settings.getbool("ATTACHMENT_OCR")),
                                enabled=settings.getbool("ATTACHMENT_TEXT"), readers=settings.getint("ATTACHMENT_READERS"))
        self.ingest = Ingest(self.db, self.layout, profiles=settings.getdict("PORTAL_PROFILES"),
                             processes=settings.getint("INGEST_PROCESSES"), texts_read=self.texts.store)
        #: The batch being extracted in a worker, if any (written when its records are back).
        self._in_flight: tuple[Batch, Future[list[Extracted]]] | None = None
        self.previous = self._previous_healthy_stats()
        self.last_run_complete = self._last_run_complete()
        mark_killed_runs(self.db)
        started = utc_now()
        table = self.db["crawl_runs"]
        sample = getattr(crawler.spider, "sample", 0)  # the spider exists before its extensions
        self.mode = "sample" if sample else "full" if self.full else "incremental"
        table.insert({"started_at": started, "mode": self.mode, "outcome": "running"})
        self.run_id: int = table.last_pk
        self.db.conn.commit()
        self.removed = 0
        self.problems: list[str] = []
        self.outcome = "running"
        #: Why the archive refused a write (the run fails with it), once it did.
        self.failure: str | None = None
        self._batches = LoopingCall(self.ingest_ready)
        self.ingest_all()  # what a killed run captured is archived before this run looks
        self.warc = WarcCaptureWriter(self.layout.captures / warc_name(self.layout, self.run_id, started),
                                      software=settings.get("USER_AGENT"))
        # Ids are given here, so a response's capture id is known as soon as it is recorded.
        (last_capture,) = self.db.execute("select coalesce(max(id), 0) from captures").fetchone()
        self._capture_ids = itertools.count(last_capture + 1)

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
        row = next(self.db.query("select outcome, mode from crawl_runs order by id desc limit 1"), None)
        return row is None or (row["outcome"] == "ok" and row["mode"] != "sample")

    # --- recording (on the reactor's thread; committed with the next batch) ---------------
    def record_capture(self, request: Request, response: Response, kind: str) -> int:
        """Write the exchange to the WARC file and ``captures``; return its capture id.

        Raises ``IgnoreRequest`` once the archive has refused a write: nothing more is read.
        """
        if self.failure is not None:
            raise IgnoreRequest(f"not captured: {self.failure}")
        capture_id = next(self._capture_ids)
        fetched_at = utc_now()
        bulletin = kind == "bulletin"
        asked = request.meta.get("redirect_urls", [request.url])[0]
        try:
            location = self.warc.write(
                response.url, method=request.method, request_headers=_header_pairs(request.headers),
                status=response.status, response_headers=_header_pairs(response.headers),
                body=response.body, fetched_at=fetched_at)
            self.db.execute(
                "insert into captures (id, run_id, url, kind, status, fetched_at, content_type, warc_file,"
                " warc_offset, warc_length, payload_sha256, list_url, requested_url, ingest_state)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [capture_id, self.run_id, response.url, kind, response.status, fetched_at,
                 response.headers.get("Content-Type", b"").decode("latin-1"), location.warc_file,
                 location.offset, location.length, location.payload_sha256,
                 request.cb_kwargs.get("list_url") if bulletin else None,
                 canonical_url(asked) if bulletin and asked != response.url else None,
                 _INGESTED_STATUSES.get(response.status) if bulletin else None])
        except (OSError, sqlite3.Error) as error:
            self.archive_failed(error)
            raise IgnoreRequest(f"not captured: {self.failure}") from None
        return capture_id

    def bulletin_ready(self, capture_id: int) -> None:
        """The bulletin's further pages and files are fetched: its capture can be ingested."""
        self._write("update captures set ingest_state = 'ready' where id = ? and ingest_state = 'fetched'",
                    [capture_id])

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
        self._write("insert into run_failures (run_id, url, kind, reason, at) values (?, ?, ?, ?, ?)",
                    [self.run_id, url, kind, reason, utc_now()])

    def _write(self, sql: str, params: list[Any]) -> None:
        if self.failure is not None:
            return
        try:
            self.db.execute(sql, params)
        except sqlite3.Error as error:
            self.archive_failed(error)

    # --- ingest and commits -------------------------------------------------------------
    def ingest_ready(self) -> None:
        """Commit the captures and failures since the last call, start ingesting those ready,
        store the attachment texts read since.

        Captures are durable before anything is built from them: a run killed while ingesting
        leaves them ready, for the next crawl or ``ingest`` to finish.
        """
        if self.failure is not None:
            return
        with self._timed():
            try:
                self.db.conn.commit()
                if self._in_flight is None:
                    self._start_batch()
            except (OSError, sqlite3.Error) as error:
                self.archive_failed(error)
        self.store_texts()

    def _start_batch(self, only_full: bool = False) -> None:
        """Plan a batch of the ready captures and have it extracted; it is written when back.

        ``only_full``: only if a whole batch is waiting; otherwise the next tick takes what the
        commit interval brought. Started back to back as soon as one was written, batches held
        a few pages each (the worker outran the fetching), and each paid a batch's fixed costs
        (commit, index segment, planning, the round trip to the worker): ~0.5 ms a bulletin.
        """
        ids = self.ingest.ready_ids(self.ingest.batch_size)
        if not ids or (only_full and len(ids) < self.ingest.batch_size):
            return
        from twisted.internet import reactor

        batch = self.ingest.plan(ids)
        extracting = self.ingest.extract(batch)
        self._in_flight = (batch, extracting)
        extracting.add_done_callback(lambda _done: reactor.callFromThread(self._write_batch, batch))

    def _write_batch(self, batch: Batch) -> None:
        """A batch's records are back: write them (the captures made since are committed first)."""
        if self._in_flight is None or self._in_flight[0] is not batch:  # written at the run's end, or failed
            return
        extracting = self._in_flight[1]
        self._in_flight = None
        with self._timed():
            try:
                self.db.conn.commit()
                self.ingest.apply(batch, extracting)
                self._start_batch(only_full=True)
            except (OSError, sqlite3.Error) as error:
                self.archive_failed(error)

    def ingest_all(self) -> None:
        """Commit, then ingest every capture ready, waiting for the batch in flight (the run's end)."""
        if self.failure is not None:
            return
        with self._timed():
            try:
                self.db.conn.commit()
                in_flight, self._in_flight = self._in_flight, None
                if in_flight is not None:
                    self.ingest.apply(*in_flight)
                self.ingest.ready()
            except (OSError, sqlite3.Error) as error:
                self.archive_failed(error)
        self.store_texts()

    @contextmanager
    def _timed(self) -> Iterator[None]:
        """Time spent on ingest on the reactor's thread (the crawl waits meanwhile), and its CPU
        time with that of the worker processes."""
        started, cpu, workers = time.perf_counter(), time.thread_time(), self.ingest.worker_cpu
        try:
            yield
        finally:
            stats = self.crawler.stats
            stats.inc_value("ingest/seconds", time.perf_counter() - started)
            extraction = self.ingest.worker_cpu - workers
            stats.inc_value("ingest/cpu_seconds", time.thread_time() - cpu + extraction)
            stats.inc_value("ingest/worker_cpu_seconds", extraction)  # of which the extraction workers'
            self._add_counts()

    def store_texts(self) -> None:
        """Store the attachment texts read since (and queue the files linked since), committed;
        add what ingest and the texts did to the run's stats."""
        if self.failure is None:
            started = time.perf_counter()
            try:
                self.texts.tick()
                self.db.conn.commit()
            except (OSError, sqlite3.Error) as error:
                self.archive_failed(error)
            self.crawler.stats.inc_value("attachments/store_seconds", time.perf_counter() - started)
        self._add_counts()

    def _add_counts(self) -> None:
        for counts in (self.ingest.counts, self.texts.texts.counts):
            for key, number in counts.items():
                self.crawler.stats.inc_value(key, number)
            counts.clear()

    def archive_failed(self, error: Exception) -> None:
        """The archive refused a write (disk full, damaged, a folder in the way): roll the open
        batch back, stop the crawl; the run fails with this reason."""
        if self.failure is not None:
            return
        self.failure = f"archive write failed: {type(error).__name__}: {error}"
        logger.error("stopping the crawl: %s", self.failure)
        self._in_flight = None
        self.ingest.close(wait=False)
        self.texts.stop()
        try:
            self.db.conn.rollback()
        except sqlite3.Error:
            pass
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None and self._batches.running:
            deferred_from_coro(engine.close_spider_async(reason=ARCHIVE_FAILED))

    # --- what the spider asks of the archive (spiders.archive.CrawlArchive) ----------
    def known_bulletins(self) -> Iterator[dict[str, Any]]:
        return self.db.query("select url, list_url, etag, last_modified from bulletins where missing_since is null")

    def url_aliases(self) -> dict[str, str]:
        return {alias: url for alias, url in self.db.execute("select alias, url from url_aliases")}

    # --- signals ------------------------------------------------------------------
    def spider_opened(self, spider: Spider) -> None:
        spider.archive = self  # what it needs of the archive, before its start() runs
        self._write("update crawl_runs set start_urls = ? where id = ?",
                    [json.dumps(getattr(spider, "start_urls", [])), self.run_id])
        self._batches.start(self.interval, now=False)
        if self.failure is not None:  # a write failed before the spider opened
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=ARCHIVE_FAILED))

    async def spider_closed(self, spider: Spider, reason: str) -> None:
        """Ingest what is left, read the attachment texts left, judge the run on the complete
        archive, record its outcome."""
        if self._batches.running:
            self._batches.stop()
        unlisted = getattr(spider, "unlisted_bulletins", lambda _reason: [])(reason)
        if unlisted and self.failure is None:
            self.crawler.stats.inc_value("archive/gone", len(unlisted))
            try:
                self.removed += mark_missing(self.db, unlisted, utc_now())
            except sqlite3.Error as error:
                self.archive_failed(error)
        self.ingest_all()
        if reason != "shutdown" and self.failure is None and self.texts.left:
            waited = time.perf_counter()
            await maybe_deferred_to_future(self.texts.drain(self.store_texts))
            self.crawler.stats.set_value("attachments/wait_seconds", time.perf_counter() - waited)
        self.finish(reason)

    def stop_reading(self) -> None:
        """Told to stop: attachment files not read yet are left for the next run."""
        self.texts.stop()

    def finish(self, reason: str) -> None:
        """Record the run's outcome (``reason``: Scrapy's, ``shutdown`` when interrupted)."""
        spider = self.crawler.spider
        if hasattr(spider, "ingested"):
            spider.ingested(self.ingest.by_list)
        # What the crawl's one busy thread cost (start-up included): no scheduling of the rest
        # brings the run's wall time below it (benchmarks/crawling.py).
        self.crawler.stats.set_value("run/reactor_thread_cpu_seconds", time.thread_time())
        stats = dict(self.crawler.stats.get_stats())
        column_links = dict(getattr(spider, "column_links", {}))
        start_outcomes = dict(getattr(spider, "start_outcomes", {}))
        if reason in STOPPED_AT_LIMIT:  # start pages still in flight were not for this run
            self.mode = "sample"
            start_outcomes = {url: outcome for url, outcome in start_outcomes.items() if outcome != "pending"}
        problems = run_problems(stats, start_outcomes, column_links, self.previous)
        pages = stat_count(stats, "extract/pages")
        summary = {
            "column_links": column_links,
            "robots_forbidden": sorted(getattr(spider, "robots_forbidden", ())),
            "metadata_ratio": (stat_count(stats, "extract/without_metadata") / pages
                               if pages else (self.previous or {}).get("metadata_ratio")),
            "scrapy": {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in stats.items()},
        }
        if self.failure is not None:
            problems.insert(0, self.failure)
            outcome = "failed"
        elif reason == "shutdown":
            outcome = "interrupted"
        elif reason != "finished" and reason not in STOPPED_AT_LIMIT:
            outcome = f"failed ({reason})"
        else:
            outcome = "failed" if problems else "ok"
        self.removed += stat_count(stats, "archive/removed")
        count = lambda key: stat_count(stats, key)  # noqa: E731
        values = {
            "finished_at": utc_now(), "outcome": outcome, "mode": self.mode,
            "requests": count("downloader/request_count"),
            "new": count("archive/new"), "changed": count("archive/changed"),
            "unchanged": count("archive/unchanged") + count("archive/not_modified"),
            "removed": self.removed, "errors": count("run/failures") + count("archive/refused"),
            "problems": json.dumps(problems, ensure_ascii=False),
            "warc_file": self.warc.path.name if self.warc.path.exists() else None,
            "stats": json.dumps(summary, ensure_ascii=False, default=str),
        }
        self.problems, self.outcome = problems, outcome
        self.warc.close()
        self.ingest.close(wait=False)
        self.texts.close()
        try:
            if self.db.conn.in_transaction and self.failure is not None:
                self.db.conn.rollback()
            self.db["crawl_runs"].update(self.run_id, values)
            self.db.conn.commit()
        except sqlite3.Error as error:  # the archive itself is what failed: the next run marks it killed
            self.problems.append(f"the run's outcome could not be recorded: {error}")
            logger.error("could not record the run's outcome: %s", error)
        self.db.close()

    def finish_stopped(self) -> None:
        """After the reactor was stopped at once (a second Ctrl-C): keep what is complete."""
        if self.outcome != "running":
            return
        if self._batches.running:
            self._batches.stop()
        self._in_flight = None  # its captures stay ready: the next run ingests them
        if self.failure is None:
            try:
                self.db.conn.commit()  # batches are whole: the reactor stops between them
            except sqlite3.Error as error:
                self.archive_failed(error)
        self.finish("shutdown")
