"""Running one crawl: the code behind ``python -m crawler crawl`` and ``scrapy crawl column``."""
from __future__ import annotations

import gc
import logging
import signal
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from twisted.internet.task import LoopingCall

from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from archive.portals import record_portal_hosts, record_portal_runs
from archive.schema import ArchiveError, open_archive, refuse_non_archive
from spiders.browser import INSTALL_HINT, find_chromium, missing_reason, render_mode
from crawler.errors import CommandError
from crawler.extensions import ArchiveRun
from crawler.health import stat_count
from crawler.ingest import SUMMARY_FIELDS
from crawler.logs import quiet_network_tracebacks
from crawler.output import inert
from crawler.progress import CrawlProgress
from crawler.sites import CrawlPlan, site_verdicts
from pipelines.urls import netloc_of
from spiders.column import ColumnSpider


def project_settings(overrides: Mapping[str, Any] = ()) -> Settings:
    """The project's settings with command-line overrides on top (as ``scrapy -s`` does)."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for name, value in dict(overrides).items():
        settings.set(name, value, priority="cmdline")
    return settings


@dataclass
class CrawlResult:
    """What a finished crawl did: its Scrapy stats and the run recorder's verdict."""

    stats: dict[str, Any]
    outcome: str
    problems: list[str] = field(default_factory=list)
    run_id: int | None = None
    removed: int = 0
    #: Each portal of the run and its problems (none: healthy).
    portals: dict[str, list[str]] = field(default_factory=dict)

    @property
    def unhealthy_portals(self) -> dict[str, list[str]]:
        return {portal: problems for portal, problems in self.portals.items() if problems}

    def count(self, key: str) -> int:
        return stat_count(self.stats, key)

    @property
    def healthy(self) -> bool:
        return self.outcome == "ok"

    def summary(self) -> str:
        """The run in a line, and what share of each field its bulletins filled (when it archived any)."""
        archived = self.count("archive/bulletins")
        filled = ", ".join(
            f"{name} {self.count(f'archive/filled/{name}')}/{archived}" for name in SUMMARY_FIELDS
        )
        return (
            f"run {self.run_id}: {self.outcome}; list pages: {self.count('column/list_pages')}; "
            f"bulletins fetched: {archived} (new {self.count('archive/new')}, "
            f"changed {self.count('archive/changed')}, unchanged {self.count('archive/unchanged')}, "
            f"kept over pages that were no bulletin {self.count('archive/refused')}); "
            f"not modified: {self.count('archive/not_modified')}; removed: {self.removed}; "
            f"errors: {self.count('run/failures')}; requests: {self.count('downloader/request_count')}"
            + (f"\nfields filled: {filled}" if archived else "")
        )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class StopWhenTold:
    """SIGINT and SIGTERM (Ctrl-C, systemd) stop the crawl within ``grace`` seconds.

    The first signal stops it gracefully: no new request, the ones in flight finish, what is
    captured is ingested, the run is recorded ``interrupted``. Progress is printed meanwhile.
    A second signal, or ``grace`` seconds without an end, stops the reactor at once; the
    run's batches are whole at that point (they run on the reactor's thread), so what is
    committed then is sound, and what was captured but not ingested is ingested by the next
    run (:meth:`crawler.extensions.ArchiveRun.finish_stopped`).
    """

    def __init__(self, process: CrawlerProcess, crawler: Crawler, grace: float):
        self.process = process
        self.crawler = crawler
        self.grace = grace
        self._signals = 0
        self._name = ""
        self._progress: LoopingCall | None = None
        self._waited = 0.0

    def install(self) -> None:
        """From now on; a signal before the reactor runs takes effect as soon as it does."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def reactor_started(self) -> None:
        if self._signals:
            self._schedule()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1
        self._name = signal.Signals(signum).name
        if "twisted.internet.reactor" in sys.modules:  # else: at start-up (reactor_started)
            self._schedule()

    def _schedule(self) -> None:
        from twisted.internet import reactor

        # Nothing but scheduling here: the interrupted code may hold the stream or the reactor.
        if self._signals == 1:
            reactor.callFromThread(self._stop_gracefully, self._name)
        else:
            reactor.callFromThread(self._stop_now, f"{self._name} again")

    def _stop_gracefully(self, name: str) -> None:
        from twisted.internet import reactor

        if self._progress is not None:
            return
        self._stop_reading()
        engine = self.crawler.engine
        if engine is None or engine.spider is None or not engine.running:  # still starting
            reactor.callLater(0.1, self._stop_gracefully, name)
            return
        _say(f"{name}: stopping; finishing {self._in_flight()} request(s) in flight "
             f"(at most {self.grace:.0f} s; {name} again stops at once)")
        self._progress = LoopingCall(self._report)
        self._progress.start(2.0, now=False)
        reactor.callLater(self.grace, self._stop_now, f"still running after {self.grace:.0f} s")
        self.process.stop()

    def _stop_reading(self) -> None:
        """Attachment files not read yet wait for the next run (a crawl may be reading them at its end)."""
        try:
            run = self.crawler.get_extension(ArchiveRun)
        except RuntimeError:  # still starting: nothing is read yet
            return
        if run is not None:
            run.stop_reading()

    def _report(self) -> None:
        self._waited += 2.0
        _say(f"stopping: {self._in_flight()} request(s) still in flight after {self._waited:.0f} s")

    def _stop_now(self, why: str) -> None:
        from twisted.internet import reactor

        if not reactor.running:
            return
        _say(f"{why}: stopping at once; what is captured is kept and ingested by the next run")
        reactor.stop()

    def _in_flight(self) -> int:
        engine = self.crawler.engine
        return len(engine.downloader.active) if engine is not None else 0


def _captured_nothing(layout: ArchiveLayout) -> bool:
    try:
        with sqlite3.connect(layout.db) as conn:
            return conn.execute("select count(*) from captures").fetchone()[0] == 0
    except sqlite3.Error:
        return False


#: Net allocations of tracked objects between two young-generation collections during a crawl
#: (Python's default: 700), and how many of each generation trigger the next one (10 and 10).
CRAWL_GC_THRESHOLD = (20_000, 20, 20)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Python's collector rarely, while the crawl runs: its objects (requests, responses, items,
    deferreds) are made and freed by the hundred thousand, nearly all freed by their reference
    counts, so a collection every 700 net allocations looked at the live ones for nothing
    (0.74–0.82 s of a 2,000-bulletin crawl's 27–31 s with the default; 0.06–0.17 s so, timed by
    ``gc.callbacks``). What the imports made is frozen: never garbage, never looked at again."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*CRAWL_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def run_crawl(start_urls: Iterable[str], settings: Settings,
              portals: Mapping[str, str] | None = None, spider_args: Mapping[str, Any] | None = None,
              progress: CrawlProgress | None = None) -> CrawlResult:
    """Crawl the columns at ``start_urls`` into ``settings['ARCHIVE_PATH']`` (blocks).

    ``portals`` maps each host of the crawl to its portal's name (default: each host its own
    portal); every portal gets its verdict in ``portal_runs``. ``spider_args`` go to the
    spider (``sample``); ``progress`` is shown while the crawl runs (a terminal).

    Raises :class:`archive.lock.ArchiveBusy` at once when another crawl holds the archive, and
    :class:`archive.schema.ArchiveError` when the path cannot be an archive. An archive this
    crawl created is removed again when the run captured nothing (a start page that cannot
    be reached leaves no trace).
    """
    start_urls = list(start_urls)
    portals = dict(portals or {netloc_of(url): netloc_of(url) for url in start_urls})
    layout = ArchiveLayout.of(settings.get("ARCHIVE_PATH"))
    with ArchiveLock(layout.db):
        created = not layout.db.exists()
        run: ArchiveRun | None = None
        try:
            db = open_archive(layout.db)  # a bad path: one line, before Scrapy starts
            record_portal_hosts(db, portals)  # before any row is stored: each row gets its portal
            db.close()
            settings.set("ARCHIVE_PATH", str(layout.db), priority="cmdline")
            with progress or nullcontext():  # before Scrapy's log handler, which then writes through it
                process = CrawlerProcess(settings)
                quiet_network_tracebacks()
                crawler = process.create_crawler(ColumnSpider)
                stop = StopWhenTold(process, crawler, settings.getfloat("STOP_TIMEOUT"))
                stop.install()
                # Records below the log level are not even made: Scrapy leaves the root logger at
                # NOTSET, so every DEBUG line would be built, made inert, and then dropped by the
                # handler it installs as the crawl starts.
                crawler.signals.connect(lambda: logging.root.setLevel(settings.get("LOG_LEVEL")),
                                        signal=signals.engine_started, weak=False)
                process.crawl(crawler, start_urls=list(start_urls), **dict(spider_args or {}))  # installs the reactor
                from twisted.internet import reactor

                reactor.addSystemEventTrigger("after", "startup", stop.reactor_started)
                if progress is not None:
                    progress.follow(crawler)
                with fewer_collections():
                    process.start(install_signal_handlers=False)
            if crawler.crawling or crawler.engine is not None:  # the crawl started
                run = crawler.get_extension(ArchiveRun)
            if run is not None:
                run.finish_stopped()
        except ArchiveError:
            if created:
                layout.remove_if_unused()
            raise
        result = CrawlResult(
            stats=dict(crawler.stats.get_stats()),
            outcome=run.outcome if run else "failed",
            problems=list(run.problems) if run else ["the crawl did not start"],
            run_id=run.run_id if run else None,
            removed=run.removed if run else 0,
        )
        reasons = result.problems or ([] if result.healthy else [f"run {result.outcome}"])
        result.portals = site_verdicts(reasons, portals)
        if created and _captured_nothing(layout):
            layout.remove_if_unused()
        elif result.run_id is not None:
            db = open_archive(layout.db)
            record_portal_runs(db, result.run_id, result.portals)
            db.close()
        return result


def _unhealthy(result: CrawlResult) -> str:
    """The one-line reason of an unhealthy run; with several portals, each bad one named."""
    bad = result.unhealthy_portals
    if len(result.portals) > 1 and bad:
        return "unhealthy sites: " + "; ".join(
            f"{portal} ({'; '.join(problems)})" for portal, problems in bad.items())
    return "; ".join(result.problems) or f"run {result.outcome}"


def crawl_and_report(plan: CrawlPlan, settings: Settings, spider_args: Mapping[str, Any] | None = None,
                     progress: CrawlProgress | None = None) -> None:
    """Check what can be checked before Scrapy starts, crawl, print the summary; raise
    :class:`CommandError` (one line, its exit code) for bad input and unhealthy runs."""
    # Portals crawl side by side, each host at its own pace: room for all of them at once.
    side_by_side = len(set(plan.portals.values())) * settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    settings.set("CONCURRENT_REQUESTS", max(settings.getint("CONCURRENT_REQUESTS"), side_by_side), "project")
    try:
        mode = render_mode(settings)
    except ValueError as error:
        raise CommandError(str(error), exit_code=2) from None
    configured = settings.get("CHROMIUM_PATH") or None
    if mode == "always" and find_chromium(configured) is None:
        raise CommandError(f"--render always needs a browser, but {missing_reason(configured)}: {INSTALL_HINT}", 1)
    refuse_non_archive(settings.get("ARCHIVE_PATH"))  # one line, before Scrapy starts; file untouched
    result = run_crawl(plan.start_urls, settings, plan.portals, spider_args, progress)  # busy: ArchiveBusy
    print(inert(result.summary(), lines=True))
    if result.outcome == "interrupted":
        raise CommandError("interrupted: the run was stopped and recorded as interrupted", 130)
    if not result.healthy:
        raise CommandError(_unhealthy(result), exit_code=1)

