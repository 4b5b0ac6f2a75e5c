"""Downloader middleware keeping every request (redirects included) on the portal's hosts."""
from __future__ import annotations

from scrapy import Request, Spider
from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware

from crawler.urls import netloc_of


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
