"""Bytes to text, and HTML to plain lines, under one rule set shared by every extractor.

The line contract (the replica's ground truth follows it too): each block (paragraph, list
item, heading, ``<br>``) becomes one line of its visible text with whitespace runs (space, tab,
newline, NBSP) folded to one space and stripped at both ends (full-width spaces stripped at
the ends only); a table row becomes one line of its cells joined by a tab; empty lines are
dropped. Inline markup (``span``, ``font``, ``o:p``) never breaks a line, so a date split over
Word spans (``2019`` ``年`` ``11`` ``月``) comes out whole.
"""
from __future__ import annotations

import functools
import re

from lxml import html as lxml_html
from lxml.etree import _Element
from w3lib.encoding import html_to_unicode

_WHITESPACE = re.compile(r"[ \t\n\r\f\v\xa0]+")
_END_SPACE = " \t\n\r\f\v\xa0\u3000"

#: Elements that start and end a line.
BLOCK_TAGS = frozenset(
    "p div li ul ol dl dt dd h1 h2 h3 h4 h5 h6 table tbody thead tfoot caption section "
    "article aside header footer nav blockquote pre address center form fieldset figure "
    "figcaption hr main".split()
)
#: Elements whose content is never visible text.
INVISIBLE_TAGS = frozenset(
    "script style noscript template head title meta link iframe object embed select "
    "option button input textarea svg canvas map area".split()
)


def normalize_line(text: str) -> str:
    """Fold whitespace runs to one space and strip the ends (the line contract)."""
    return _WHITESPACE.sub(" ", text).strip(_END_SPACE)


def _sniff_encoding(body: bytes) -> str:
    """Guess for pages that declare nothing: UTF-8 when it decodes cleanly, else GB18030."""
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gb18030"


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode a page from its bytes: BOM, then HTTP header, then ``<meta>``, then a sniff.

    A declaration the bytes contradict (a header saying UTF-8 over a GBK page) loses to a
    candidate that decodes cleanly; only if none does are bad bytes replaced.
    """
    encoding, text = html_to_unicode(content_type, body, auto_detect_fun=_sniff_encoding)
    if "\ufffd" not in text or b"\xef\xbf\xbd" in body:
        return text, encoding
    for candidate in ("utf-8", "gb18030"):
        try:
            return body.decode(candidate), candidate
        except UnicodeDecodeError:
            continue
    return text, encoding


def parse_html(text: str) -> _Element:
    """Parse (possibly broken) HTML text into an lxml tree; never raises on junk."""
    text = text.lstrip("\ufeff")
    if not text.strip():
        return lxml_html.fromstring("<html><body></body></html>")
    # lxml refuses str input that carries an XML encoding declaration.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
    try:
        return lxml_html.document_fromstring(text)
    except Exception:  # lxml raises several types on hopeless input
        return lxml_html.fromstring("<html><body></body></html>")


class _LineBuilder:
    """Accumulates text into lines and table rows while the tree is walked."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._buffer: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def text(self, value: str | None) -> None:
        if value:
            (self._cell if self._cell is not None else self._buffer).append(value)

    def break_line(self) -> None:
        if self._cell is not None:
            self._cell.append(" ")  # a paragraph inside a cell stays in the cell
            return
        if not self._buffer:  # block boundaries in a row: nothing to end
            return
        line = normalize_line("".join(self._buffer))
        self._buffer = []
        if line:
            self.lines.append(line)

    def start_row(self) -> None:
        if self._cell is not None:
            return
        self.end_row()
        self.break_line()
        self._row = []

    def end_row(self) -> None:
        if self._cell is not None or self._row is None:
            return
        if any(self._row):
            self.lines.append("\t".join(self._row))
        self._row = None

    def start_cell(self) -> bool:
        if self._cell is not None:
            return False  # nested table: its cells are text of the outer cell
        if self._row is None:
            self.start_row()
        self.break_line()
        self._cell = []
        return True

    def end_cell(self) -> None:
        assert self._row is not None and self._cell is not None
        self._row.append(normalize_line("".join(self._cell)))
        self._cell = None

    def finish(self) -> list[str]:
        self.end_row()
        self.break_line()
        return self.lines


@functools.lru_cache(maxsize=512)
def _tag_name(tag: str) -> str:
    # Word's ``<o:p>`` keeps its prefix, so it stays inline instead of passing for ``<p>``.
    return tag.rsplit("}", 1)[-1].lower()


def _walk(element: _Element, out: _LineBuilder, skip: frozenset) -> None:
    tag = element.tag
    # Comments, processing instructions and entities have a factory, not a string, as tag.
    if not isinstance(tag, str) or (skip and element in skip):
        out.text(element.tail)
        return
    tag = _tag_name(tag)
    if tag in INVISIBLE_TAGS:
        out.text(element.tail)
        return
    if tag == "br":
        out.break_line()
        out.text(element.tail)
        return
    opened_cell = False
    block = tag in BLOCK_TAGS
    if tag == "tr":
        out.start_row()
    elif tag in ("td", "th"):
        opened_cell = out.start_cell()
    elif block:
        out.break_line()
    out.text(element.text)
    for child in element:
        _walk(child, out, skip)
    if opened_cell:
        out.end_cell()
    elif tag == "tr":
        out.end_row()
    elif block:
        out.break_line()
    out.text(element.tail)


def element_lines(element: _Element, skip: frozenset = frozenset()) -> list[str]:
    """Visible text of ``element`` (its tail excluded) as lines under the line contract.

    Elements in ``skip`` (and their subtrees) are left out, their tails kept.
    """
    out = _LineBuilder()
    tail, element.tail = element.tail, None
    try:
        _walk(element, out, skip)
    finally:
        element.tail = tail
    return out.finish()


def element_text(element: _Element) -> str:
    """Visible text of an inline element on one line."""
    return normalize_line(" ".join(element_lines(element)))
