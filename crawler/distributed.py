"""One crawl spread over several ``crawl`` processes (machines) through one Redis.

``crawl --scheduler redis://HOST:PORT/DB`` puts scrapy-redis's ``Scheduler`` (the request
queue) and ``RFPDupeFilter`` (the fingerprints of every request ever queued) in Redis, shared
by every process crawling the same start URLs; each keeps its own archive (``merge`` joins
them). The spider stays ours: scrapy-redis's ``RedisSpider`` has no async ``start()``.

:class:`SharedQueueWorker` is what a process adds on top of scrapy-redis:

* it announces itself in Redis (a key with a short lifetime, refreshed each second, saying
  whether it is busy); the first worker of a crawl, finding no other alive, clears what a
  previous crawl left (its queue and fingerprints), so every crawl starts whole;
* it keeps the process open while the shared queue has work or another worker is busy (new
  requests may still come from it), and stops it once the queue has been idle (empty, no
  worker busy) for ``SHARED_QUEUE_IDLE_TIMEOUT`` seconds;
* an idle worker looks at the queue every second (Scrapy itself looks at its scheduler every
  5 s when it has nothing to do), so it picks up what others queue at once;
* it counts each column's list pages and entries crawl-wide (:class:`SharedColumnCounts`):
  a column's pages are read by whichever worker takes them from the queue, so one worker's
  walk alone would report pages "not read" that another read;
* for the same reason it shares which start pages were judged: a worker queues its start pages
  (those not queued already), another may take one and read it; like a start page dropped as
  queued already, that page is the other worker's to judge, not one this worker never read
  ("pending", a failure).

A worker killed mid-crawl does not take a column's list pages with it:
:class:`crawler.shared_scheduler.SharedScheduler`
keeps each list page a worker took from the queue in that worker's in-flight set in Redis
until the page is read, and once the dead worker's key has expired another worker puts them
back in the queue (:func:`requeue_orphans`); a list page read twice costs one request, since
its bulletins are filtered as already queued. The bulletins a killed worker had in flight are
lost for this crawl only: their fingerprints stay, so the others do not redo them; the next
crawl of an archive that misses them (after ``merge``, the last run did not finish, so every
list is walked) fetches exactly those.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured
from twisted.internet.task import LoopingCall

from crawler.errors import CommandError
from spiders.walk import list_page_read, start_page_judged

logger = logging.getLogger(__name__)

SCHEDULER = "crawler.shared_scheduler.SharedScheduler"
DUPEFILTER = "scrapy_redis.dupefilter.RFPDupeFilter"
#: Seconds between a worker's heartbeats; its key lives a few of them after the last.
HEARTBEAT = 1.0
WORKER_KEY_LIFETIME = 10

#: Atomically: clear a previous crawl's queue, fingerprints, column counts and in-flight sets
#: when no worker is alive, and announce this worker. KEYS: queue, dupefilter, this worker's
#: key; ARGV: workers' key pattern, lifetime, patterns of the keys to clear.
_JOIN = """
if #redis.call('KEYS', ARGV[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  for i = 3, #ARGV do
    for _, key in ipairs(redis.call('KEYS', ARGV[i])) do redis.call('DEL', key) end
  end
end
redis.call('SET', KEYS[3], 'busy', 'EX', ARGV[2])
return 1
"""
#: Atomically: leave; the last worker out of a finished crawl clears its fingerprints and counts.
_LEAVE = """
redis.call('DEL', KEYS[3])
if #redis.call('KEYS', ARGV[1]) == 0 and redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  for i = 2, #ARGV do
    for _, key in ipairs(redis.call('KEYS', ARGV[i])) do redis.call('DEL', key) end
  end
end
return 1
"""
#: Atomically: move the in-flight sets of workers whose key expired back into the queue, with
#: their priorities. KEYS: queue; ARGV: in-flight keys' prefix, workers' keys' prefix. Returns
#: how many requests were put back.
_REQUEUE = """
local moved = 0
for _, key in ipairs(redis.call('KEYS', ARGV[1] .. '*')) do
  if redis.call('EXISTS', ARGV[2] .. string.sub(key, #ARGV[1] + 1)) == 0 then
    local taken = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    for i = 1, #taken, 2 do
      redis.call('ZADD', KEYS[1], taken[i + 1], taken[i])
      moved = moved + 1
    end
    redis.call('DEL', key)
  end
end
return moved
"""


def worker_id() -> str:
    """This process among the crawl's workers (its key and in-flight set are named by it)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def inflight_prefix(settings: Any) -> str:
    """The in-flight sets' names but the worker's id (:func:`worker_id`)."""
    return f"{settings.get('SHARED_QUEUE_INFLIGHT_KEY')}:"


def requeue_orphans(server: Any, queue_key: str, inflight_prefix: str, workers_prefix: str) -> int:
    """Put the list pages taken by workers that are gone (key expired) back in the queue."""
    return int(server.eval(_REQUEUE, 1, queue_key, inflight_prefix, workers_prefix))


def crawl_key(start_urls: Iterable[str]) -> str:
    """The Redis name of one crawl: processes given the same start URLs share a queue."""
    return "zwdc:" + hashlib.sha1("\n".join(sorted(set(start_urls))).encode()).hexdigest()[:12]


def shared_queue_settings(url: str, start_urls: Iterable[str]) -> dict[str, Any]:
    """Scrapy settings sharing the queue and duplicate filter at Redis ``url`` (checked here)."""
    import redis

    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise CommandError(f"not a Redis URL: {url!r} (expected redis://HOST:PORT/DB)", exit_code=2)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        client.ping()
    except ValueError as error:
        raise CommandError(f"not a Redis URL: {url!r} ({error})", exit_code=2) from None
    except redis.RedisError as error:
        raise CommandError(f"cannot reach Redis at {url}: {error}", exit_code=1) from None
    key = crawl_key(start_urls)
    return {
        "SCHEDULER": SCHEDULER,
        "DUPEFILTER_CLASS": DUPEFILTER,
        "REDIS_URL": url,
        # Never cleared when one worker closes: the others go on with the queue.
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_QUEUE_KEY": f"{key}:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{key}:dupefilter",
        "SHARED_QUEUE_WORKERS_KEY": f"{key}:workers",
        "SHARED_QUEUE_COLUMNS_KEY": f"{key}:column",
        "SHARED_QUEUE_INFLIGHT_KEY": f"{key}:inflight",
    }


class SharedColumnCounts:
    """Each column's list pages and entries, counted in Redis by every worker of a crawl.

    Per column (start URL): a hash of list page URL -> pages it covers, and a set of entry
    URLs. Recording is idempotent, so a page read twice (a killed worker's page redone)
    counts once. One set for the crawl: the start URLs some worker has judged (read, or failed).
    """

    def __init__(self, server: Any, prefix: str) -> None:
        self.server = server
        self.prefix = prefix

    @property
    def pattern(self) -> str:
        return f"{self.prefix}:*"

    def _key(self, start_url: str, what: str) -> str:
        return f"{self.prefix}:{hashlib.sha1(start_url.encode()).hexdigest()[:12]}:{what}"

    def record(self, start_url: str, url: str, pages: int, links: Iterable[str]) -> None:
        pipe = self.server.pipeline()
        pipe.hset(self._key(start_url, "pages"), url, pages)
        links = list(links)
        if links:
            pipe.sadd(self._key(start_url, "entries"), *links)
        pipe.execute()

    def judge_start(self, start_url: str) -> None:
        self.server.sadd(f"{self.prefix}:starts", start_url)

    def judged(self, start_urls: list[str]) -> list[str]:
        """Those of ``start_urls`` some worker has judged."""
        pipe = self.server.pipeline()
        for url in start_urls:
            pipe.sismember(f"{self.prefix}:starts", url)
        return [url for url, judged in zip(start_urls, pipe.execute()) if judged]

    def totals(self, start_url: str) -> tuple[int, int]:
        """Pages read and entries listed in the column by every worker so far."""
        pages = sum(int(value) for value in self.server.hvals(self._key(start_url, "pages")))
        return pages, int(self.server.scard(self._key(start_url, "entries")))

    def make_crawl_wide(self, reports: dict[str, dict[str, Any]]) -> None:
        """Turn a worker's column reports (``spiders.walk``) into the crawl's: pages read and
        entries listed by any worker (what this one read itself stays as ``pages_read_here``)."""
        for start_url, report in reports.items():
            pages, entries = self.totals(start_url)
            report.setdefault("pages_read_here", report["pages_read"])
            report["pages_read"] = max(report["pages_read_here"], pages)
            report["entries"] = max(int(report.get("entries") or 0), entries)


class SharedQueueWorker:
    """Joins, keeps alive, idles out and leaves a crawl shared through Redis (see the module doc)."""

    def __init__(self, crawler: Crawler):
        from scrapy_redis.connection import get_redis_from_settings

        settings = crawler.settings
        self.crawler = crawler
        self.server = get_redis_from_settings(settings)
        self.queue_key = settings.get("SCHEDULER_QUEUE_KEY")
        self.dupefilter_key = settings.get("SCHEDULER_DUPEFILTER_KEY")
        workers = settings.get("SHARED_QUEUE_WORKERS_KEY")
        self.workers_pattern = f"{workers}:*"
        self.workers_prefix = f"{workers}:"
        self.worker_key = f"{workers}:{worker_id()}"
        self.inflight_prefix = inflight_prefix(settings)
        self.idle_timeout = settings.getfloat("SHARED_QUEUE_IDLE_TIMEOUT")
        self.idle_since: float | None = None
        self.heartbeat = LoopingCall(self.beat)
        self.columns = SharedColumnCounts(self.server, settings.get("SHARED_QUEUE_COLUMNS_KEY"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "SharedQueueWorker":
        if crawler.settings.get("SCHEDULER") != SCHEDULER:
            raise NotConfigured  # the request queue is not shared
        worker = cls(crawler)
        crawler.signals.connect(worker.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(worker.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(worker.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(worker.columns.record, signal=list_page_read)
        crawler.signals.connect(worker.columns.judge_start, signal=start_page_judged)
        return worker

    def _keys(self) -> list[str]:
        return [self.queue_key, self.dupefilter_key, self.worker_key]

    def spider_opened(self, spider: Spider) -> None:
        self.server.eval(_JOIN, 3, *self._keys(), self.workers_pattern, WORKER_KEY_LIFETIME,
                         self.columns.pattern, f"{self.inflight_prefix}*")
        self.heartbeat.start(HEARTBEAT, now=False)

    def _busy(self) -> bool:
        engine = self.crawler.engine
        return engine is not None and not engine.spider_is_idle()

    def beat(self) -> None:
        """Say whether this worker is busy; wake the engine when others queued work."""
        busy = self._busy()
        self.server.set(self.worker_key, "busy" if busy else "idle", ex=WORKER_KEY_LIFETIME)
        slot = getattr(self.crawler.engine, "_slot", None)
        if not busy and slot is not None:  # look at the queue (and at idleness) now
            slot.nextcall.schedule()

    def _others_busy(self) -> bool:
        keys = [key for key in self.server.scan_iter(match=self.workers_pattern) if key != self.worker_key.encode()]
        return any(state == b"busy" for state in self.server.mget(keys)) if keys else False

    def spider_idle(self, spider: Spider) -> None:
        """Stay open until the shared queue has been idle for the set time."""
        moved = requeue_orphans(self.server, self.queue_key, self.inflight_prefix, self.workers_prefix)
        if moved:
            logger.warning("%d list page(s) taken by a worker that is gone put back in the queue", moved)
        if self.server.zcard(self.queue_key) or self._others_busy():
            self.idle_since = None
            raise DontCloseSpider
        now = time.monotonic()
        self.idle_since = self.idle_since or now
        if now - self.idle_since < self.idle_timeout:
            raise DontCloseSpider
        logger.info("the shared queue has been idle for %.0f s: this worker stops", now - self.idle_since)
        reports = self.crawler.stats.get_value("columns")
        if isinstance(reports, dict):
            self.columns.make_crawl_wide(reports)  # judged on what the whole crawl read
        pending = [url for url, outcome in getattr(spider, "start_outcomes", {}).items() if outcome == "pending"]
        for start_url in self.columns.judged(pending):  # queued here, read (or failed) by another worker
            spider.leave_start(start_url)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.heartbeat.running:
            self.heartbeat.stop()
        self.server.eval(_LEAVE, 3, *self._keys(), self.workers_pattern, self.columns.pattern,
                         f"{self.inflight_prefix}*")
