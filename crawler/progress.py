"""Live progress of a crawl on a terminal: list pages read of those announced, bulletins, errors.

Why: a nightly crawl of a big column takes minutes; on a terminal a user wants to see it move,
in cron nobody looks (there the crawl prints its summary and problems only). The display
reads the crawl's own stats twice a second on the reactor's thread (nothing is counted twice),
and is drawn by ``rich`` on stderr; log lines and messages written meanwhile appear above it.
It is started before Scrapy installs its log handler, so that handler writes through it.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from scrapy.crawler import Crawler
from twisted.internet.task import LoopingCall

from crawler.health import stat_count

#: Seconds between two readings of the stats.
INTERVAL = 0.5


def on_terminal() -> bool:
    """Whether stderr is a terminal someone watches (not cron, not a pipe or a file)."""
    return sys.stderr.isatty()


def list_pages(stats: Mapping[str, Any]) -> tuple[int, int | None]:
    """List pages read, and announced (None while no column announces its count).

    A column's announced count is at least what it read (a pager may not say it all)."""
    read = stat_count(stats, "column/list_pages")
    reports = stats.get("columns") or {}
    announced = [max(report.get("announced") or 0, report.get("pages_read") or 0) for report in reports.values()
                 if report.get("announced")]
    return read, (max(sum(announced), read) if announced else None)


class CrawlProgress:
    """The live display of one crawl (a context manager around the whole run)."""

    def __init__(self, console: Console | None = None) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("list pages {task.completed:.0f}{task.fields[of]}"),
            BarColumn(bar_width=10),
            TextColumn("bulletins {task.fields[fetched]} ({task.fields[new]} new)"),
            TextColumn("errors {task.fields[errors]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rate]}/s"),
            console=console or Console(stderr=True),
            transient=True,  # the summary lines replace it
        )
        self.task: TaskID | None = None
        self._readings: LoopingCall | None = None
        self._started = time.monotonic()

    def __enter__(self) -> CrawlProgress:
        self.progress.start()
        self.task = self.progress.add_task("crawl", total=None, of="", fetched=0, new=0, errors=0, rate="0.0")
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._readings is not None and self._readings.running:
            self._readings.stop()
        self.progress.stop()

    def follow(self, crawler: Crawler) -> None:
        """Read ``crawler``'s stats from the moment the reactor runs until the display ends."""
        from twisted.internet import reactor

        self._readings = LoopingCall(self.update, crawler.stats.get_stats)
        reactor.callWhenRunning(self._readings.start, INTERVAL)

    def update(self, read_stats: Any) -> None:
        stats = read_stats()
        read, announced = list_pages(stats)
        fetched = stat_count(stats, "item_scraped_count") + stat_count(stats, "item_dropped_count")
        elapsed = max(time.monotonic() - self._started, 1e-6)
        assert self.task is not None
        self.progress.update(
            self.task, completed=read, total=announced, of=f"/{announced}" if announced else "",
            fetched=fetched, new=stat_count(stats, "archive/new"), errors=stat_count(stats, "run/failures"),
            rate=f"{fetched / elapsed:.1f}")
