"""What a spider asks of the archive it crawls into, and nothing more.

The archive side of a run (:class:`crawler.extensions.ArchiveRun`) sits above the spiders: it
hands itself to the spider as ``spider.archive`` when the spider opens, and the spider knows it
only by this protocol. A spider without one (``None``) crawls as if the archive were empty and
records nothing.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from scrapy import Request
from scrapy.http import Response


class CrawlArchive(Protocol):
    #: Whether the last run finished: after one that did not, every column is walked whole.
    last_run_complete: bool
    #: The stats of the last healthy run (``None``: there was none).
    previous: dict[str, Any] | None

    def known_bulletins(self) -> Iterator[dict[str, Any]]:
        """Archived bulletins still on the portal: ``url``, ``list_url``, ``etag``, ``last_modified``."""

    def url_aliases(self) -> dict[str, str]:
        """Listed URL -> the archived bulletin it redirected to."""

    def record_failure(self, url: str, kind: str, reason: str) -> None:
        """A page (``list``, ``bulletin`` …) that could not be had, and why."""

    def record_capture(self, request: Request, response: Response, kind: str) -> int:
        """Keep an exchange the crawl made outside Scrapy's downloader (a browser's); its capture id."""
