"""Logging for command-line crawls: network faults as one line, never as a traceback.

Scrapy logs some download failures (robots.txt fetches, for one) with the full traceback.
For a portal that is down that is noise: the message already says what happened.
Tracebacks of real bugs are kept. Dropped items are logged by their reason alone (which
names the page) and scraped pages by their URL, not with the whole page the item carries. No message carries a control
character from a page to the terminal.
"""
from __future__ import annotations

import logging
from typing import Any

from scrapy import exceptions as scrapy_errors
from scrapy.logformatter import LogFormatter
from twisted.internet import error as internet_errors


#: Scrapy 2.19 wraps Twisted's network errors in these; older paths raise Twisted's own.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    scrapy_errors.DownloadConnectionRefusedError,
    scrapy_errors.CannotResolveHostError,
    scrapy_errors.DownloadTimeoutError,
    scrapy_errors.DownloadCancelledError,
    scrapy_errors.DownloadFailedError,
    scrapy_errors.ResponseDataLossError,
    scrapy_errors.IgnoreRequest,
    internet_errors.ConnectError,
    internet_errors.ConnectionLost,
    internet_errors.DNSLookupError,
    internet_errors.TimeoutError,
    TimeoutError,
    ConnectionError,
)


def quiet_network_tracebacks() -> None:
    """Drop the traceback from log records of network errors, whichever handler prints them.

    A record factory rather than a handler filter: Scrapy replaces its root handler when a
    crawl starts, and filters on it would go with it.
    """
    base = logging.getLogRecordFactory()
    if getattr(base, "quiet_network", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = base(*args, **kwargs)
        if record.exc_info and isinstance(record.exc_info[1], NETWORK_ERRORS):
            record.exc_info = None
            record.exc_text = None
        return record

    factory.quiet_network = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class ReasonOnlyLogFormatter(LogFormatter):
    """Scrapy's log formatter, but an item carrying a page is one line: a dropped item its
    reason, a scraped page its URL (``--log-level DEBUG`` would print every page's bytes)."""

    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any = None) -> dict:
        entry = super().dropped(item, exception, response, spider)
        entry["msg"] = "Dropped: %(exception)s"
        return entry

    def scraped(self, item: Any, response: Any, spider: Any = None) -> dict:
        entry = super().scraped(item, response, spider)
        if isinstance(getattr(item, "body", None), bytes):
            entry["msg"] = "Scraped from %(src)s: %(item)s"
            entry["args"] = {**entry["args"], "item": f"{type(item).__name__} {getattr(item, 'url', '')}"}
        return entry
