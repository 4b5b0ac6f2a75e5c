"""Downloader middlewares: requests stay on the portal's hosts; responses go to WARC."""
from __future__ import annotations

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response

from crawler.extensions import ArchiveRun
from pipelines.urls import netloc_of


class PortalHostsMiddleware(OffsiteMiddleware):
    """Scrapy's offsite filter, but by exact ``host:port`` and for web schemes only.

    ``allowed_domains`` ignores ports and admits subdomains; a replica on 127.0.0.1 or a
    spam mirror on another port of the same machine must not pass. The spider lists its
    hosts in ``portal_hosts``; a spider without that attribute falls back to Scrapy's rule.
    """

    def should_follow(self, request: Request, spider: Spider) -> bool:
        hosts = getattr(spider, "portal_hosts", None)
        if hosts is None:
            return super().should_follow(request, spider)
        return netloc_of(request.url) in hosts

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        """Refuse off-portal requests, and record each refusal as a failure of the run.

        Scrapy calls this when a request is scheduled; a refusal there reaches no errback,
        so without the record a redirect off the portal would vanish without a trace.
        """
        try:
            super().process_request(request)
        except IgnoreRequest:
            run = self.crawler.get_extension(ArchiveRun)
            if run is not None:
                run.record_off_portal(request)
            raise


class CaptureMiddleware:
    """Writes every response, as the server sent it, to the run's WARC file and ``captures``.

    Placed next to the downloader (before decompression and redirect handling in the
    response direction), so the stored bytes are the server's own, 301s included.
    A response marked ``meta["rendered"]`` (a browser's DOM) is never passed off as one.
    """

    def __init__(self, crawler: Crawler):
        self.run = crawler.get_extension(ArchiveRun)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "CaptureMiddleware":
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        run = self.run
        if run is None or request.meta.get("rendered"):
            return response
        kind = "robots" if request.url.endswith("/robots.txt") else request.meta.get("page_kind", "page")
        request.meta["capture_id"] = run.record_capture(request, response, kind)
        return response
