"""What extraction reads (a fetched page) and what it produces (a bulletin record).

Plain dataclasses, so the spider's items, ingest and the tests all speak them without Scrapy:
:class:`Page` is the server's bytes for one bulletin (its further pages in ``parts``), and
:func:`pipelines.extraction.extract_record` turns it into a :class:`BulletinRecord`, one row
of the ``bulletins`` table.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class Attachment:
    name: str
    url: str


@dataclass
class BulletinRecord:
    """One bulletin as the archive stores it (columns of ``bulletins``)."""

    url: str
    site: str
    index_no: str = ""
    doc_no: str = ""
    publisher: str = ""
    category: str = ""
    validity: str = ""
    published: str | None = None
    issued: str | None = None
    title: str = ""
    body: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    fetched_at: str = ""
    source_url: str = ""
    list_url: str = ""
    #: How the page was read: the body container rule, and whether a metadata block was seen.
    extraction: dict[str, str] = field(default_factory=dict)

    def row(self) -> dict[str, object]:
        """The ``bulletins`` row: attachments as a JSON list, bookkeeping left out."""
        data = asdict(self)
        data.pop("extraction")
        data["attachments"] = json.dumps(data["attachments"], ensure_ascii=False)
        return data


@dataclass
class PagePart:
    """A further page of a document split over several (``t…_<docid>_1.shtml``, …), as fetched."""

    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Page:
    """A bulletin page as fetched: canonical URL plus the server's own bytes."""

    url: str
    source_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    list_url: str = ""
    #: Pages 1, 2, … of a document split over several pages, in order (page 0 is this one).
    parts: list[PagePart] = field(default_factory=list)
