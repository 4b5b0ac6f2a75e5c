"""A bulletin page (bytes + URL) to a :class:`BulletinRecord`: the pure extraction step.

Used by ingest (:mod:`crawler.ingest`) over stored captures, during a crawl, after it and by
``reprocess``, so every path gives the same record for the same bytes (and the same
:class:`Hints`: a site profile's body container and label synonyms, for the portals detection
reads wrong).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

from lxml.etree import _Element

from pipelines.body import ATTACHMENT_EXTENSIONS, container_names, extract_body, is_attachment_href
from pipelines.challenges import script_only
from pipelines.dates import parse_date
from pipelines.metadata import ExtraLabels, extra_labels, parse_metadata
from pipelines.records import Attachment, BulletinRecord, Page
from pipelines.text import (
    MAX_DEPTH,
    decode_html,
    element_lines,
    element_text,
    normalize_line,
    parse_html_checked,
    parse_page,
)
from pipelines.urls import site_of

_TITLE_META = ("ArticleTitle", "articletitle", "title", "og:title")
_DATE_META = ("PubDate", "pubdate", "publishdate", "firstpublishedtime", "PublishDate", "created")
#: Fields only the metadata block carries (an info bar also shows 来源 and 发布时间).
BLOCK_FIELDS = frozenset({"index_no", "doc_no", "category", "validity"})
#: Bytes from which a page is large: memory, not speed, decides how it is read (no element
#: proxies kept here, see :func:`extract_record`; items parsed and memory given back by ingest).
LARGE_PAGE = 4 << 20
_TITLE_SUFFIX = re.compile(r"\s*(?:[_|｜]|--|——|-\s).*$")


@dataclass(frozen=True)
class Hints:
    """A portal's overrides of extraction (its site profile): where the body is, its labels."""

    #: CSS selector of the body container, tried before the known ones and trafilatura.
    body_container: str | None = None
    #: Label synonyms of its own, per field (:func:`pipelines.metadata.extra_labels`).
    labels: ExtraLabels = ()

    @classmethod
    def make(cls, body_container: str | None = None,
             labels: Mapping[str, Sequence[str]] | None = None) -> "Hints":
        """From a profile's values; ``ValueError`` for a label field that does not exist."""
        return cls(body_container or None, extra_labels(labels))


#: No overrides: detection decides.
NO_HINTS = Hints()


def _meta(tree: _Element, names: tuple[str, ...]) -> str:
    for name in names:
        for element in tree.xpath("//meta[@name=$n or @property=$n]", n=name):
            content = normalize_line(element.get("content") or "")
            if content:
                return content
    return ""


def _heading_title(tree: _Element, skip: _Element | None) -> str:
    """The page heading: the longest h1–h3 that the browser title repeats, else the first h1."""
    browser_title = normalize_line("".join(tree.xpath("//title//text()")))
    headings = [
        element_text(h)
        for h in tree.xpath("//h1|//h2|//h3")
        if skip is None or skip not in h.iterancestors()
    ]
    headings = [h for h in headings if h]
    repeated = [h for h in headings if browser_title and h in browser_title]
    if repeated:
        return max(repeated, key=len)
    first_h1 = [element_text(h) for h in tree.xpath("//h1")]
    if first_h1 and first_h1[0]:
        return first_h1[0]
    return _TITLE_SUFFIX.sub("", browser_title)


def _attachments(tree: _Element, base_url: str) -> list[Attachment]:
    found: dict[str, Attachment] = {}
    for link in tree.xpath("//a[@href]"):
        href = link.get("href", "").strip()
        if not is_attachment_href(href) or href.lower().startswith(("javascript:", "mailto:")):
            continue
        url = urljoin(base_url, href)
        name = element_text(link) or normalize_line(link.get("title") or "")
        found.setdefault(url, Attachment(name=name or url.rsplit("/", 1)[-1], url=url))
    return list(found.values())


def _without_title(lines: list[str], title: str) -> list[str]:
    """A heading repeated at the top of the container is not body text."""
    return lines[1:] if lines and title and lines[0] == title else lines


def _merge_attachments(found: list[Attachment], more: list[Attachment]) -> list[Attachment]:
    known = {attachment.url for attachment in found}
    return found + [attachment for attachment in more if attachment.url not in known]


def _parse(body: bytes, headers: dict[str, str]) -> _Element:
    return parse_page(body, headers.get("Content-Type"))


#: Bytes of a page that may link a file: an attachment extension, or a character reference (which
#: could spell one). A page with neither links no file, and is not parsed for them.
_FILE_LINK_HINT = re.compile(rb"\.(?:" + "|".join(sorted(ATTACHMENT_EXTENSIONS)).encode() + rb")|&#", re.IGNORECASE)
#: Byte order marks of encodings that spell ASCII otherwise (UTF-16/32): such pages are parsed.
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def _may_link_files(body: bytes) -> bool:
    return body.startswith(_WIDE_BOMS) or _FILE_LINK_HINT.search(body) is not None


def attachment_urls(page: Page, tree_of: Callable[[], _Element] | None = None) -> list[str]:
    """URLs of the files a page and its further pages link to, as :func:`extract_record` lists them.

    For downloading them while the crawl goes on, before the page is ingested. ``tree_of``: the
    first page's tree, parsed on its first call, when the caller shares it.
    """
    if not any(_may_link_files(body) for body in (page.body, *(part.body for part in page.parts))):
        return []
    tree = tree_of() if tree_of is not None else _parse(page.body, page.headers)
    found = _attachments(tree, page.source_url or page.url)
    for part in page.parts:
        found = _merge_attachments(found, _attachments(_parse(part.body, part.headers), part.url))
    return [attachment.url for attachment in found]


def extract_record(page: Page, hints: Hints = NO_HINTS, *, handed_over: bool = False) -> BulletinRecord:
    """Read every field of the ``bulletins`` row from a fetched page.

    A document split over several pages (``page.parts``) is one record: metadata and title
    from the first page, the body of every page in order, the attachments of all of them.
    ``hints``: the portal's profile, when detection needs one. ``handed_over``: the caller keeps
    nothing of the page, whose bytes are let go (``page.body`` emptied) once parsed: a large page
    is not held beside its tree.
    """
    # Valid UTF-8 (most pages) is parsed and searched as the bytes it is: a large page never has its text beside them.
    decoded = decode_html(page.body, page.headers.get("Content-Type"), keep_utf8=True)
    tree, flattened = parse_html_checked(decoded.text)
    names = container_names(decoded.text)
    decoded = decoded._replace(text="")  # the tree holds the page now: its text (2-4 bytes a character) goes
    size = len(page.body)
    if handed_over:
        page.body = b""
    # Every element's Python proxy made once and kept while the page is read: lxml otherwise
    # makes (and looks up the class of) a new one at each of the several walks over the tree.
    # Not for a very large page, whose proxies would weigh half its size beside its tree.
    elements = list(tree.iter()) if size < LARGE_PAGE else []
    body = extract_body(tree, hints.body_container, names)
    skip = frozenset([body.element]) if body.element is not None else frozenset()
    metadata = parse_metadata(element_lines(tree, skip), hints.labels)
    base_url = page.source_url or page.url

    title = metadata.get("title") or _meta(tree, _TITLE_META) or _heading_title(tree, body.element)
    published = (
        parse_date(metadata.get("published"))
        or parse_date(_meta(tree, _DATE_META))
        or parse_date(page.url, compact=True)
    )
    lines = _without_title(body.lines, title)
    attachments = _attachments(tree, base_url)
    for part in page.parts:
        part_tree = _parse(part.body, part.headers)
        lines = lines + _without_title(extract_body(part_tree, hints.body_container).lines, title)
        attachments = _merge_attachments(attachments, _attachments(part_tree, part.url))
        del part_tree
    container, script = body.container, not lines and script_only(tree)
    # The trees (several times the page) go before the body's text is made, which reuses their memory.
    del tree, elements, body, skip
    return BulletinRecord(
        url=page.url,
        site=site_of(page.url),
        index_no=metadata.get("index_no", ""),
        doc_no=metadata.get("doc_no", ""),
        publisher=metadata.get("publisher", ""),
        category=metadata.get("category", ""),
        validity=metadata.get("validity", ""),
        published=published,
        issued=parse_date(metadata.get("issued")),
        title=title,
        body="\n".join(lines),
        attachments=attachments,
        fetched_at=page.fetched_at,
        source_url=page.source_url,
        list_url=page.list_url,
        extraction={
            "container": container,
            "metadata_block": "yes" if BLOCK_FIELDS & metadata.keys() else "no",
            "script_only": "yes" if script else "no",
            "encoding": decoded.encoding,
            # The declaration the bytes proved wrong, kept so a lying portal shows in the record.
            **({"declared_encoding": decoded.declared} if decoded.overruled else {}),
            **({"nesting": f"flattened below {MAX_DEPTH} levels"} if flattened else {}),
        },
    )
