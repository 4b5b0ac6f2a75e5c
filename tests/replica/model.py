"""The records the replica site is made of: documents, attachments, list entries.

Why a module of its own: the mutable site model (``site.py``) creates and changes these
records and the template families (``templates.py``) render them; neither should import
the other's internals.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .corpus import Block

#: File extension -> Content-Type of attachments.
ATTACHMENT_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "wps": "application/kswps",
    "zip": "application/zip",
}


@dataclass
class Attachment:
    """A file linked from a detail page; ``name`` is the anchor text as shown."""

    name: str
    path: str
    ext: str

    @property
    def href(self) -> str:
        """Relative link as written on the page (same directory as the detail page)."""
        return "./" + posixpath.basename(self.path)


@dataclass
class Doc:
    """One document of the portal: a bulletin, a robots-disallowed page, or a sidebar item.

    Fields hold what the page *shows*; the truth is derived from them (``doc_no_shown``
    may say 无 while the truth ``doc_no`` is empty).
    """

    docid: int
    family: str
    role: str  # "bulletin" | "private" | "other"
    path: str  # canonical path
    published: date
    title: str
    blocks: list[Block]
    structure: dict[str, list[dict[str, Any]]]
    modified: datetime
    index_no: str = ""
    doc_no: str = ""
    doc_no_shown: str = ""
    publisher: str = ""
    category: str = ""
    validity: str = ""
    issued: date | None = None
    attachments: list[Attachment] = field(default_factory=list)
    editor: str = ""
    pub_time: str = "09:00"
    style: int = 0  # per-document markup choices (wrappers, label padding, ...)
    rev: int = 0
    #: Pages the body is split over: page 0 at ``path``, page k at ``t…_<docid>_k.<ext>``.
    parts: int = 1

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.path) + "/"

    @property
    def ext(self) -> str:
        return self.path.rsplit(".", 1)[1]

    def alternate_path(self, variant: str) -> str:
        """``t…_<docid>_slhxq.shtml`` / ``_app``: other views of the same document."""
        stem, ext = self.path.rsplit(".", 1)
        return f"{stem}_{variant}.{ext}"

    def part_path(self, part: int) -> str:
        """Page ``part`` of a split document (page 0 is ``path`` itself)."""
        return self.path if part == 0 else self.alternate_path(str(part))

    def part_blocks(self, part: int) -> list[Block]:
        """The blocks page ``part`` shows: the body cut into ``parts`` runs of whole blocks."""
        size = -(-len(self.blocks) // self.parts)
        return self.blocks[part * size:(part + 1) * size]


@dataclass(frozen=True)
class ListEntry:
    """One ``<li>`` of a list or sidebar: where it links, what it says, its date."""

    href: str
    title: str
    day: date
