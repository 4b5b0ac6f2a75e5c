"""The shared queue's scheduler (see :mod:`crawler.distributed`): a module of its own, so that a
crawl without ``--scheduler`` does not import scrapy-redis and Redis's client (about 45 ms of
every start, a nightly run's included)."""
from __future__ import annotations

from typing import Any

from scrapy import Spider
from scrapy_redis.scheduler import Scheduler

from crawler.distributed import inflight_prefix, worker_id
from spiders.walk import list_page_read


class SharedScheduler(Scheduler):
    """scrapy-redis's scheduler, keeping the list pages this worker took in its in-flight set
    (a sorted set scored like the queue) until they are read, so that they outlive the worker."""

    #: Requests kept in flight: a column's list pages and its endpoint's pages (its bulletins
    #: are re-found from them).
    KINDS = frozenset({"list", "list-data"})

    def open(self, spider: Spider) -> None:
        super().open(spider)
        self.inflight_key = inflight_prefix(spider.crawler.settings) + worker_id()
        #: request fingerprint -> the request as queued, for the list pages held in flight.
        self.taken: dict[str, bytes] = {}
        spider.crawler.signals.connect(self.page_read, signal=list_page_read)

    def next_request(self) -> Any:
        request = super().next_request()
        if request is not None and request.meta.get("page_kind") in self.KINDS:
            data = self.queue._encode_request(request)
            self.server.execute_command("ZADD", self.inflight_key, -request.priority, data)
            self.taken[self.df.request_fingerprint(request)] = data
        return request

    def page_read(self, request: Any) -> None:
        data = self.taken.pop(self.df.request_fingerprint(request), None)
        if data is not None:
            self.server.zrem(self.inflight_key, data)

    def close(self, reason: str) -> None:
        self.server.delete(self.inflight_key)  # this worker is done with what it took
        super().close(reason)
