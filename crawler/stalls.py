"""The event loop's longest stall in a crawl: the longest time the reactor's thread went without
a turn, in the run's stats.

Why: while one callback runs, everything else of the crawl waits (downloads and their timeouts,
the progress display, a stop asked for with Ctrl-C). A hostile list page of 100,000 links once
held the loop for 133 s (issue #14); the figure tells a nightly run's reader whether anything
came close again. A clock ticks on the loop every :data:`INTERVAL`; how late a tick comes is
how long the loop was held.
"""
from __future__ import annotations

import time

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.statscollectors import StatsCollector
from twisted.internet.task import LoopingCall

#: Seconds between two ticks.
INTERVAL = 0.05
#: Stalls at least this long are counted (``reactor/stalls_over_1s``).
COUNTED_STALL = 1.0


class EventLoopStalls:
    """Extension: ``reactor/longest_stall_seconds`` and ``reactor/stalls_over_1s`` in the stats."""

    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats
        self.longest = 0.0
        self._last = 0.0
        self._clock = LoopingCall(self._tick)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EventLoopStalls:
        stalls = cls(crawler.stats)
        crawler.signals.connect(stalls.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(stalls.spider_closed, signal=signals.spider_closed)
        return stalls

    def spider_opened(self) -> None:
        self.stats.set_value("reactor/longest_stall_seconds", 0.0)
        self._last = time.monotonic()
        self._clock.start(INTERVAL, now=False)

    def _tick(self) -> None:
        now = time.monotonic()
        stall, self._last = now - self._last - INTERVAL, now
        if stall > self.longest:
            self.longest = stall
            self.stats.set_value("reactor/longest_stall_seconds", round(stall, 3))
        if stall >= COUNTED_STALL:
            self.stats.inc_value("reactor/stalls_over_1s")

    def spider_closed(self) -> None:
        if self._clock.running:
            self._clock.stop()
