"""The crawl's items: the fetched bulletin page the spider yields, the bulletin a feed gets.

The response and its further pages are in the run's WARC file and ``captures`` table by the
time the spider sees them (:class:`crawler.middlewares.CaptureMiddleware`). The spider's item,
:class:`BulletinPage`, carries the bytes and the links to its files on through the item
pipelines (the files are downloaded), then the capture is handed to ingest (:mod:`crawler.ingest`),
which builds the archive rows from the capture itself.

Scrapy's feed exports (``scrapy crawl column -O bulletins.jsonl``) get :class:`Bulletin` items:
the bulletin as ingest archived it, never the page's bytes (:class:`crawler.pipelines.IngestReady`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import scrapy

from pipelines.records import Page


@dataclass
class BulletinPage(Page):
    """A bulletin page as fetched (:class:`pipelines.records.Page`), with its capture's id."""

    #: Row id in ``captures`` of the server's response (the WARC record).
    capture_id: int | None = None
    #: The files it and its further pages link to (:func:`pipelines.extraction.attachment_urls`),
    #: read by the spider from the tree it parsed for the document's further pages.
    attachment_urls: list[str] = field(default_factory=list)


class Bulletin(scrapy.Item):
    """One archived bulletin: the document's columns of the archive's ``bulletins`` table, as
    stored (``attachments`` a list of ``{name, url}``), not the capture bookkeeping."""

    url = scrapy.Field()
    title = scrapy.Field()
    published = scrapy.Field()
    issued = scrapy.Field()
    publisher = scrapy.Field()
    index_no = scrapy.Field()
    doc_no = scrapy.Field()
    category = scrapy.Field()
    validity = scrapy.Field()
    body = scrapy.Field()
    attachments = scrapy.Field()
    site = scrapy.Field()
    portal = scrapy.Field()
    list_url = scrapy.Field()
    source_url = scrapy.Field()
    fetched_at = scrapy.Field()
