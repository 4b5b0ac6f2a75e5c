"""Politeness per host when many portals crawl at once: one download slot per ``host:port``,
with each portal's own delay and concurrency (``DOWNLOAD_SLOTS``, from ``sites.toml``).

Scrapy keys its slots by host name without the port, and AutoThrottle may lower a slot's
delay down to the global ``DOWNLOAD_DELAY``; here a portal's configured delay stays its floor.
"""
from __future__ import annotations

from scrapy import Request, Spider
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response

from pipelines.urls import netloc_of


class HostSlotsMiddleware:
    """Downloader middleware: each request waits in the slot of its exact ``host:port``."""

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        request.meta.setdefault("download_slot", netloc_of(request.url) or None)


class SiteAutoThrottle(AutoThrottle):
    """AutoThrottle that never goes below a slot's own ``DOWNLOAD_SLOTS`` delay."""

    def _response_downloaded(self, response: Response, request: Request, spider: Spider) -> None:
        super()._response_downloaded(response, request, spider)
        key, slot = self._get_slot(request, spider)
        floor = self.crawler.settings.getdict("DOWNLOAD_SLOTS").get(key, {}).get("delay")
        if slot is not None and floor is not None:
            slot.delay = max(slot.delay, float(floor))
