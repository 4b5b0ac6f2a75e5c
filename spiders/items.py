"""The crawl's items: the fetched bulletin page the spider yields, the bulletin a feed gets.

The response and its further pages are in the run's WARC file and ``captures`` table by the
time the spider sees them (:class:`crawler.middlewares.CaptureMiddleware`). The spider's item,
:class:`BulletinPage`, carries the bytes on through the item pipelines (the attachment files of
the page are downloaded from them), then the capture is handed to ingest (:mod:`crawler.ingest`),
which builds the archive rows from the capture itself.

Scrapy's feed exports (``scrapy crawl column -O bulletins.jsonl``) get :class:`Bulletin` items:
the bulletin as ingest archived it, never the page's bytes (:class:`crawler.pipelines.IngestReady`).
"""
from __future__ import annotations

from dataclasses import dataclass

import scrapy

from pipelines.records import Page


@dataclass
class BulletinPage(Page):
    """A bulletin page as fetched (:class:`pipelines.records.Page`), with its capture's id."""

    #: Row id in ``captures`` of the server's response (the WARC record).
    capture_id: int | None = None
    #: The files it links to (:func:`pipelines.extraction.attachment_urls`), when the spider read
    #: them from the tree it parsed for the document's further pages; None: not read yet.
    attachment_urls: list[str] | None = None


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
