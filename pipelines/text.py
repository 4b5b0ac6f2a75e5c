"""Bytes to text, and HTML to plain lines, under one rule set shared by every extractor.

The line contract (the replica's ground truth follows it too): each block (paragraph, list
item, heading, ``<br>``) becomes one line of its visible text with whitespace runs (space, tab,
newline, NBSP) folded to one space and stripped at both ends (full-width spaces stripped at
the ends only); a table row becomes one line of its cells joined by a tab; empty lines are
dropped. Inline markup (``span``, ``font``, ``o:p``) never breaks a line, so a date split over
Word spans (``2019`` ``年`` ``11`` ``月``) comes out whole.
"""
from __future__ import annotations

import codecs
import functools
import re
from array import array

from typing import NamedTuple

from lxml import html as lxml_html
from lxml.etree import ElementDefaultClassLookup, ErrorTypes, _Element, iterwalk, tostring
from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
    to_unicode,
)

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
    if " " not in text and text.isprintable():  # no space of any kind: nothing to fold or strip
        return text
    return _WHITESPACE.sub(" ", text).strip(_END_SPACE)


def string_value(element: _Element) -> str:
    """All text inside the element, as ``text_content()`` gives it (XPath's string value), without
    an XPath evaluation per element (a list page may carry 100,000 links: several times faster)."""
    if not len(element):
        return element.text or ""
    return tostring(element, method="text", encoding="unicode", with_tail=False)


#: Lead bytes of UTF-8 multi-byte sequences: how much of a page UTF-8 would explain.
_UTF8_LEADS = bytes(range(0xC2, 0xF5))
#: UTF-8 wins when it decodes this many multi-byte characters per bad byte: GBK text read as
#: UTF-8 fails on most of its characters, while a UTF-8 page with a stray byte fails once.
UTF8_EVIDENCE = 50
#: Where none is declared (and the bytes decide nothing), the portal's usual encodings.
_FALLBACKS = ("utf-8", "gb18030")


class Decoded(NamedTuple):
    """A page's text, the encoding that produced it, and what the page declared (``""``: nothing).

    ``text`` is the page's own bytes when :func:`decode_html` was asked to keep valid UTF-8 as it is.
    """

    text: str | bytes
    encoding: str
    declared: str

    @property
    def overruled(self) -> bool:
        """The page declared an encoding and the bytes proved it wrong."""
        return bool(self.declared) and resolve_encoding(self.declared) != self.encoding


@functools.lru_cache(maxsize=64)
def _single_byte(encoding: str) -> bool:
    """Latin-1 and friends decode any bytes without an error, so their error count proves nothing."""
    return len(bytes(range(0x80, 0x100)).decode(encoding, "replace")) == 0x80


def _errors(text: str, body: bytes, encoding: str) -> int:
    """Bytes ``encoding`` could not decode (replacement characters the page did not contain)."""
    genuine = "\ufffd".encode(encoding, "ignore")
    return text.count("\ufffd") - (body.count(genuine) if genuine else 0)


#: Bytes of a page decoded at a time when only checking them.
_CHECK_SLICE = 1 << 20


def _valid_utf8(body: bytes) -> bool:
    """Whether the bytes are UTF-8 without an error, checked a slice at a time (no text of the whole page)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(body)
    try:
        for start in range(0, len(body), _CHECK_SLICE):
            decoder.decode(view[start:start + _CHECK_SLICE])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def decode_html(body: bytes, content_type: str | None = None, keep_utf8: bool = False) -> Decoded:
    """Decode a page by evidence: the BOM, the HTTP header, ``<meta>`` and the bytes themselves.

    A BOM is proof. Otherwise each candidate is tried and the one decoding with the fewest bad
    bytes wins, declared ones first when they tie; text that is (almost entirely) valid UTF-8 is
    UTF-8 whatever is declared. So a declaration the bytes contradict loses, and one stray byte
    never turns a page into mojibake: it costs one U+FFFD.

    ``keep_utf8``: bytes that are valid UTF-8 (ASCII included) are returned as they are, for
    :func:`parse_html_checked` (libxml2 reads UTF-8 itself): a large page is never held as text
    (2–4 bytes a character) beside its bytes.
    """
    header = http_content_type_encoding(content_type) if content_type else None
    meta = html_body_declared_encoding(body)
    declared = header or meta or ""  # what a browser would have believed
    bom, bom_bytes = read_bom(body)
    if bom:
        return Decoded(body[len(bom_bytes):].decode(bom, "replace"), bom, declared)
    candidates = [resolve_encoding(name) for name in (header, meta) if name]
    candidates = [name for name in dict.fromkeys([*candidates, *_FALLBACKS]) if name]
    if body.isascii():
        return Decoded(body if keep_utf8 else body.decode("ascii"), candidates[0], declared)
    if keep_utf8 and _valid_utf8(body):  # no bad byte: UTF-8 wins whatever is declared (see below)
        return Decoded(body, "utf-8", declared)
    utf8 = to_unicode(body, "utf-8")
    utf8_errors = _errors(utf8, body, "utf-8")
    multibyte = len(body) - len(body.translate(None, _UTF8_LEADS)) - utf8_errors
    if multibyte >= UTF8_EVIDENCE * utf8_errors:
        return Decoded(utf8, "utf-8", declared)
    # Single-byte codecs never fail, so they only win when nothing else decodes as well.
    candidates.sort(key=_single_byte)
    best = Decoded(utf8, "utf-8", declared)
    fewest = None
    for name in candidates:
        text = utf8 if name == "utf-8" else to_unicode(body, name)
        errors = utf8_errors if name == "utf-8" else _errors(text, body, name)
        if fewest is None or errors < fewest:
            best, fewest = Decoded(text, name, declared), errors
        if errors == 0:
            break
    return best


#: A page nesting deeper than libxml2 keeps (256 levels: it stops there and drops everything
#: after) is flattened: the outer and the inner levels stay, the middle of the nesting goes.
KEPT_OUTER = 100
KEPT_INNER = 100
MAX_DEPTH = KEPT_OUTER + KEPT_INNER
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)[^>]*?(/?)>")
_VOID_TAGS = frozenset("area base br col embed hr img input link meta param source track wbr".split())


def flatten_nesting(text: str) -> str:
    """``text`` without the tags of the middle of a too deep nesting; every character of text kept.

    An element stays when it is one of the :data:`KEPT_OUTER` outermost levels or when at most
    :data:`KEPT_INNER` levels nest inside it, so the page's own structure (body container,
    paragraphs, tables) survives a wrapper of a million ``<div>``: no path keeps more than
    :data:`MAX_DEPTH` levels. End tags close elements as a parser would (open elements inside
    with them); an end tag closing nothing is left out.
    """
    keep_start = bytearray()  # per start tag of an element, in order
    closes = array("l")  # per end tag, in order: the element it closes, or -1
    stack: list[list[int]] = []  # [element number, name id, depth, height]
    names: dict[str, int] = {}
    open_count: dict[int, int] = {}

    def close(entry: list[int]) -> None:
        number, name, depth, height = entry
        open_count[name] -= 1
        keep_start[number] = depth < KEPT_OUTER or height < KEPT_INNER
        if stack:
            stack[-1][3] = max(stack[-1][3], height + 1)

    for match in _TAG.finditer(text):
        closing, name = match.group(1), names.setdefault(match.group(2).lower(), len(names))
        if not closing:
            if match.group(2).lower() not in _VOID_TAGS and not match.group(3):
                stack.append([len(keep_start), name, len(stack), 0])
                keep_start.append(1)
                open_count[name] = open_count.get(name, 0) + 1
        elif open_count.get(name):
            while stack[-1][1] != name:
                close(stack.pop())
            closes.append(stack[-1][0])
            close(stack.pop())
        else:
            closes.append(-1)
    while stack:
        close(stack.pop())

    pieces: list[str] = []
    position = starts = ends = 0
    for match in _TAG.finditer(text):
        if not match.group(1):
            if match.group(2).lower() in _VOID_TAGS or match.group(3):
                continue
            keep = keep_start[starts]
            starts += 1
        else:
            element = closes[ends]
            ends += 1
            keep = element >= 0 and keep_start[element]
        if not keep:
            pieces.append(text[position:match.start()])
            position = match.end()
    pieces.append(text[position:])
    return "".join(pieces)


#: Every element an ``HtmlElement``, its class found in C: lxml.html's own lookup runs Python for
#: each element a walk meets (to give forms and inputs their classes, which nothing here uses),
#: and a list page may carry 100,000 links (4–6% of an ingest's CPU went there too).
_CLASS_LOOKUP = ElementDefaultClassLookup(element=lxml_html.HtmlElement, comment=lxml_html.HtmlComment,
                                          pi=lxml_html.HtmlProcessingInstruction, entity=lxml_html.HtmlEntity)


def _html_parser(utf8: bool = False) -> lxml_html.HTMLParser:
    """A parser of text, or of UTF-8 bytes (whatever they declare: :func:`decode_html` decided)."""
    parser = lxml_html.HTMLParser(encoding="utf-8" if utf8 else None)
    parser.set_element_class_lookup(_CLASS_LOOKUP)
    return parser


def _too_deep(parser: lxml_html.HTMLParser) -> bool:
    return any(error.type == ErrorTypes.ERR_RESOURCE_LIMIT for error in parser.error_log)


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _blank(utf8: bytes) -> bool:
    """``not text.strip()`` of the bytes' text, decoded a slice at a time until a visible character."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    return not any(decoder.decode(utf8[start:start + _CHECK_SLICE]).strip()
                   for start in range(0, len(utf8), _CHECK_SLICE))


def _without_xml_declaration(utf8: bytes) -> bytes:
    """The bytes without the leading XML declaration that text would lose (see :func:`parse_html_checked`).

    The declaration ends at the page's first ``>``: only the text up to there is decoded.
    """
    head = utf8[:utf8.find(b">") + 1].decode("utf-8")
    declaration = _XML_DECLARATION.match(head)
    return utf8[len(declaration.group().encode("utf-8")):] if declaration else utf8


def parse_html_checked(text: str | bytes) -> tuple[_Element, bool]:
    """Parse (possibly broken) HTML text into an lxml tree; never raises on junk.

    ``text`` may be UTF-8 bytes without a BOM (:func:`decode_html` with ``keep_utf8``): they give
    the tree their text would, without the text.
    Also says whether the page nested deeper than the parser keeps and was flattened
    (:func:`flatten_nesting`) so that its text after the deep part is not lost.
    """
    if isinstance(text, bytes):
        if _blank(text):
            return lxml_html.fromstring("<html><body></body></html>"), False
        text = _without_xml_declaration(text)
        if text.startswith(b"<?xml"):  # a second declaration: parsed as text, as lxml refuses that (below)
            text = text.decode("utf-8")
    else:
        text = text.lstrip("\ufeff")
        if not text.strip():
            return lxml_html.fromstring("<html><body></body></html>"), False
        # lxml refuses str input that carries an XML encoding declaration.
        text = _XML_DECLARATION.sub("", text)
    flattened = False
    try:
        parser = _html_parser(isinstance(text, bytes))
        tree = lxml_html.document_fromstring(text, parser=parser)
        if _too_deep(parser):
            flattened = True
            parser = _html_parser()
            if isinstance(text, bytes):
                text = text.decode("utf-8")
            tree = lxml_html.document_fromstring(flatten_nesting(text), parser=parser)
    except Exception:  # lxml raises several types on hopeless input
        return lxml_html.fromstring("<html><body></body></html>"), flattened
    return tree, flattened


def parse_html(text: str | bytes) -> _Element:
    """Parse (possibly broken) HTML text into an lxml tree; never raises on junk."""
    return parse_html_checked(text)[0]


def parse_page(body: bytes, content_type: str | None = None) -> _Element:
    """A fetched page's tree, decoded by evidence (:func:`decode_html`); valid UTF-8 is parsed as
    the bytes it is (lxml would encode the decoded text again)."""
    return parse_html(decode_html(body, content_type, keep_utf8=True).text)


#: What an element is to the line contract (:func:`_kind_of`).
_INLINE, _BLOCK, _HIDDEN, _BREAK, _ROW, _CELL = range(6)
#: Tag -> kind, filled as tags are met (a page has a few dozen distinct tags).
_KINDS: dict[object, int] = {}


def _kind_of(tag: object) -> int:
    """Comments, processing instructions and entities have a factory, not a string, as tag:
    hidden. Word's ``<o:p>`` keeps its prefix, so it stays inline instead of passing for ``<p>``."""
    if not isinstance(tag, str):
        kind = _HIDDEN
    else:
        name = tag.rsplit("}", 1)[-1].lower()
        kind = (_HIDDEN if name in INVISIBLE_TAGS else _BREAK if name == "br" else _ROW if name == "tr"
                else _CELL if name in ("td", "th") else _BLOCK if name in BLOCK_TAGS else _INLINE)
    _KINDS[tag] = kind
    return kind


class _LineBuilder:
    """Walks a tree, accumulating its text into lines and table rows.

    The walk is the extractor's hottest loop (every element of every page, twice): one call per
    element, its kind looked up once per tag, text appended to whatever collects it now (the
    line, or the open table cell).
    """

    __slots__ = ("lines", "_buffer", "_row", "_cell", "_sink", "_skip")

    def __init__(self, skip: frozenset) -> None:
        self.lines: list[str] = []
        self._buffer: list[str] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._sink = self._buffer  # the cell while one is open, else the line
        self._skip = skip

    def visit(self, element: _Element) -> None:
        """The text of ``element`` (its tail excluded)."""
        skip = self._skip
        kind = _KINDS.get(element.tag)
        if kind is None:
            kind = _kind_of(element.tag)
        if kind == _HIDDEN or (skip and element in skip):
            return
        if kind == _BREAK:
            self.break_line()
            return
        opened_cell = False
        if kind == _ROW:
            self.start_row()
        elif kind == _CELL:
            opened_cell = self.start_cell()
        elif kind == _BLOCK and (self._buffer or self._cell is not None):
            self.break_line()
        text = element.text
        if text:
            self._sink.append(text)
        for child in element:
            self.visit(child)
            tail = child.tail
            if tail:
                self._sink.append(tail)
        if opened_cell:
            self.end_cell()
        elif kind == _ROW:
            self.end_row()
        elif kind == _BLOCK and (self._buffer or self._cell is not None):
            self.break_line()

    def break_line(self) -> None:
        if self._cell is not None:
            self._cell.append(" ")  # a paragraph inside a cell stays in the cell
            return
        if not self._buffer:  # block boundaries in a row: nothing to end
            return
        line = normalize_line("".join(self._buffer))
        self._buffer.clear()
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
        self._cell = self._sink = []
        return True

    def end_cell(self) -> None:
        assert self._row is not None and self._cell is not None
        self._row.append(normalize_line("".join(self._cell)))
        self._cell = None
        self._sink = self._buffer

    def finish(self) -> list[str]:
        self.end_row()
        self.break_line()
        return self.lines


def element_lines(element: _Element, skip: frozenset = frozenset()) -> list[str]:
    """Visible text of ``element`` (its tail excluded) as lines under the line contract.

    Elements in ``skip`` (and their subtrees) are left out, their tails kept.
    """
    out = _LineBuilder(skip)
    out.visit(element)
    return out.finish()


def visible_text_reaches(element: _Element, chars: int) -> bool:
    """Whether the visible text of ``element`` (:func:`element_lines`, joined) holds ``chars``
    characters, read only as far as needed: the characters no line folds away (all but
    whitespace) are counted from the start, so a page of 100,000 links is decided by its first
    texts (reading all of its lines took 0.35 s); a page with fewer is counted exactly."""
    seen = 0
    walker = iterwalk(element, events=("start",))
    for _event, node in walker:
        if node is not element and node.tail:  # a tail shows where its parent does: every node reached
            seen += len("".join(node.tail.split()))
        kind = _KINDS.get(node.tag)
        if (kind if kind is not None else _kind_of(node.tag)) == _HIDDEN:
            walker.skip_subtree()
        elif node.text:
            seen += len("".join(node.text.split()))
        if seen >= chars:
            return True
    return len("".join(element_lines(element))) >= chars


def element_text(element: _Element) -> str:
    """Visible text of an inline element on one line."""
    return normalize_line(" ".join(element_lines(element)))
