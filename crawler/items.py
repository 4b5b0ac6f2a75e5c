"""Item types that flow spider -> pipelines -> archive.

The spider yields a :class:`BulletinPage` (what the server sent); the extraction pipeline
attaches a :class:`BulletinRecord` (one row of the ``bulletins`` table); the archive
pipeline stores it. Keeping the raw page on the item lets later stages (captures,
reprocessing) work from the server's bytes, never from a re-rendering.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields

from archive.schema import BULLETIN_COLUMNS


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
        """The ``bulletins`` columns this record fills (as declared in :mod:`archive.schema`),
        attachments as a JSON list; the archive's bookkeeping columns are the store's."""
        data = {name: getattr(self, name) for name in BULLETIN_COLUMNS if name in _RECORD_FIELDS}
        data["attachments"] = json.dumps([asdict(a) for a in self.attachments], ensure_ascii=False)
        return data


@dataclass
class PagePart:
    """A further page of a document split over several (``t…_<docid>_1.shtml``, …), as fetched."""

    url: str
    headers: dict[str, str]
    body: bytes
    #: Row id in ``captures`` of this page's response.
    capture_id: int | None = None


@dataclass
class BulletinPage:
    """A bulletin page as fetched: canonical URL plus the server's own bytes."""

    url: str
    source_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    list_url: str = ""
    #: Canonical form of the URL the list linked to, when a redirect led elsewhere.
    requested_url: str = ""
    #: Row id in ``captures`` of the server's response (the WARC record), when recorded.
    capture_id: int | None = None
    #: Pages 1, 2, … of a document split over several pages, in order (page 0 is this one).
    parts: list[PagePart] = field(default_factory=list)
    record: BulletinRecord | None = None


_RECORD_FIELDS = frozenset(f.name for f in fields(BulletinRecord))
