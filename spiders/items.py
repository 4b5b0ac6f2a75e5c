"""The item the spider yields: a fetched bulletin page, already captured.

The response and its further pages are in the run's WARC file and ``captures`` table by the
time the spider sees them (:class:`crawler.middlewares.CaptureMiddleware`). The item carries
the bytes on through the item pipelines (the attachment files of the page are downloaded from
them), then the capture is handed to ingest (:mod:`crawler.ingest`), which builds the archive
rows from the capture itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from pipelines.records import Page


@dataclass
class BulletinPage(Page):
    """A bulletin page as fetched (:class:`pipelines.records.Page`), with its capture's id."""

    #: Row id in ``captures`` of the server's response (the WARC record).
    capture_id: int | None = None
