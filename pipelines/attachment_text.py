"""Text, tables and page count of an attachment (PDF, Word, WPS, Excel, ET, scans), from its bytes.

Why a pure function: the archive keeps attachments by hash, so their text can be built (and
re-built by a newer extractor) offline from the stored files. :func:`extract_attachment`
never raises; what went wrong is in ``error``. It trusts nothing about the file: the type
comes from the bytes (magic numbers, the zip's members, the OLE2 streams), not from the name
or Content-Type, so a ``.pdf`` that is an HTML page is an error and a ``.wps`` that is Word
97 bytes is read as Word. Hostile files (bombs, endless loops) are contained one level up, by
running this in a limited child process (:mod:`pipelines.attachment_sandbox`).

The text follows the body's line contract (:mod:`pipelines.text`): one line per paragraph,
table rows as their cells joined by a tab, so :func:`pipelines.structure.parse_structure`
reads attachments as it reads bodies.

* PDF (pypdfium2: PDFium, in C, gives each character with its box and font size, and the
  paths drawn; embedded fonts, CID fonts with Adobe's CMaps): lines in reading order (chars
  clustered by line, as pdfplumber did, whose text this reproduces), ruled tables (a grid
  found in the drawn rulings) as rows of cells, lines of one paragraph wrapped by the layout
  joined again, headers/footers repeated on the pages and page numbers dropped. Pages with
  no text layer but an image are OCR'd (``ocr=True``) with Tesseract's ``chi_sim``.
* DOCX (its main part's XML, read as python-docx 1.2 reads it): paragraphs and tables in document order.
* DOC/WPS: ``antiword``; LibreOffice (to DOCX) when antiword cannot read it or its tables come out ragged.
* XLSX (openpyxl), XLS/ET (xlrd, LibreOffice when xlrd cannot): every sheet, rows of cells.
* Images (PNG, JPEG, TIFF, BMP, GIF): OCR.
"""
from __future__ import annotations

import bisect
import ctypes
import functools
import io
import math
import operator
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NamedTuple

from lxml import etree

from pipelines.text import normalize_line

#: Bumped whenever the text produced for the same bytes changes (so old rows can be redone).
EXTRACTOR_VERSION = 4

#: Zip members (DOCX/XLSX) may not unpack to more than this in all, nor one member beyond
#: ``_BOMB_MEMBER`` at a ratio over ``_BOMB_RATIO``: that is a zip bomb, not an office file.
MAX_UNZIPPED = 256 * 2 ** 20
_BOMB_MEMBER, _BOMB_RATIO = 32 * 2 ** 20, 100
#: Pages read of one PDF, rows of one sheet: beyond is a bomb or not a bulletin.
MAX_PAGES = 500
MAX_ROWS = 100_000
#: OCR resolution (dpi) and how long one external tool may run on one file (seconds).
OCR_DPI = 300
TOOL_TIMEOUT = 120

#: One line naming the Debian package, for each external tool that is missing.
MISSING = {
    "soffice": "LibreOffice is not installed, .doc/.wps files antiword cannot read, .rtf/.odt and some .et files are not read: "
               "apt-get install libreoffice-writer-nogui libreoffice-calc-nogui",
    "tesseract": "Tesseract with Simplified Chinese is not installed, scanned files are not read: "
                 "apt-get install tesseract-ocr-chi-sim",
    "antiword": "antiword is not installed: apt-get install antiword",
}

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IMAGES = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"II*\x00", "tiff"),
           (b"MM\x00*", "tiff"), (b"GIF87a", "gif"), (b"GIF89a", "gif"), (b"BM", "bmp"))
_HTML = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|meta|title)\b",
                   re.IGNORECASE | re.DOTALL)
_CJK = r"\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
_SPACE_BY_CJK = re.compile(rf"(?<=[{_CJK}]) +| +(?=[{_CJK}])")
#: Lines ending this many characters or less short of the right edge make a margin.
_WRAP_SLACK = 3
_NO_LINE_START = ",。、;:!?)》」』”’%"
_PAGE_NUMBER = re.compile(r"^[-—–_\s]*(?:第\s*\d+\s*页(?:\s*[,,/]?\s*共\s*\d+\s*页)?|\d+\s*/\s*\d+|\d+|[ivxlc]+)[-—–_\s]*$",
                          re.IGNORECASE)


@dataclass
class AttachmentText:
    """What could be read from one file; ``error`` says why not (then text may be partial)."""

    kind: str = ""  # the type the bytes are: pdf, docx, xlsx, doc, xls, image, html, zip, unknown
    text: str = ""
    text_method: str = ""  # pdf, ocr, pdf+ocr, docx, xlsx, xls, antiword, libreoffice
    pages: int | None = None
    error: str | None = None
    tables: list[list[list[str]]] = field(default_factory=list)
    ocr_confidence: float | None = None  # mean Tesseract word confidence, 0–100, by characters
    needs_ocr: bool = False  # scanned pages or an image left unread because OCR was off

    def as_dict(self) -> dict[str, Any]:
        """Its fields, the lists its own (``asdict`` would copy every table cell first)."""
        return dict(vars(self))


class ExtractionError(Exception):
    """A file that cannot be read, with the reason recorded in ``error``."""


@dataclass(frozen=True)
class Tools:
    """External programs found on this machine; ``None`` when missing (see :data:`MISSING`)."""

    soffice: str | None = None
    antiword: str | None = None
    tesseract: str | None = None  # only when its chi_sim data is installed too
    #: LibreOffice's user profile folder (made once and reused: a new one costs a second).
    profile: str | None = None

    @classmethod
    def discover(cls, path: str | None = None, profile: str | None = None) -> "Tools":
        tesseract = shutil.which("tesseract", path=path)
        if tesseract and "chi_sim" not in _tesseract_languages(tesseract):
            tesseract = None
        return cls(shutil.which("soffice", path=path) or shutil.which("libreoffice", path=path),
                   shutil.which("antiword", path=path), tesseract, profile)

    def missing(self) -> list[str]:
        """One line per missing tool that some file type needs."""
        return [MISSING[name] for name in ("soffice", "tesseract") if getattr(self, name) is None]


def _tesseract_languages(binary: str) -> str:
    try:
        return subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


# --------------------------------------------------------------------------- entry point


def extract_attachment(data: bytes, name: str = "", content_type: str = "", *, ocr: bool = False,
                       tools: Tools | None = None) -> AttachmentText:
    """Read ``data``; ``name``/``content_type`` only break ties the bytes leave open."""
    result = AttachmentText(kind=detect_kind(data, name))
    tools = tools or Tools.discover()
    try:
        reader = _READERS.get(result.kind)
        if reader is None:
            raise ExtractionError(_UNREADABLE.get(result.kind, f"not a document ({result.kind})"))
        reader(data, result, ocr, tools)
    except ExtractionError as error:
        result.error = str(error)
    except MemoryError:
        result.error = "too large: ran out of memory"
    except RecursionError:
        result.error = "corrupt: nested too deeply"
    except Exception as error:  # a parser's own failure on a broken file: recorded, never raised
        if _out_of_memory(error):
            result.error = "too large: ran out of memory"
        else:
            result.error = f"corrupt {result.kind}: {type(error).__name__}: {str(error)[:200]}".rstrip(": ")
    result.text = "\n".join(line for line in (normalize_line(l) if "\t" not in l else l
                                              for l in result.text.split("\n")) if line)
    return result


def _out_of_memory(error: BaseException) -> bool:
    """A MemoryError, or zlib's failing allocation, anywhere in the chain a parser wrapped it in."""
    seen: BaseException | None = error
    for _ in range(6):
        if seen is None:
            return False
        if isinstance(seen, MemoryError) or "Unable to allocate" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def kind_needs_name(data: bytes) -> bool:
    """Whether reading ``data`` may depend on the name given with it: an OLE2 file with neither a
    Word nor an Excel stream, whose extension decides (see :func:`detect_kind`)."""
    return data.startswith(_OLE2) and detect_kind(data) == "ole"


def detect_kind(data: bytes, name: str = "") -> str:
    """The type the bytes are (``name`` only tells Word from Excel in an unreadable OLE2 file)."""
    head = data[:2048]
    if not data:
        return "empty"
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if head.startswith(_OLE2):
        return _ole_kind(data, name)
    for magic, kind in _IMAGES:
        if head.startswith(magic):
            return "image"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if _HTML.match(head):
        return "html"
    return "unknown"


def _zip_kind(data: bytes) -> str:
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        names = set(package.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return "corrupt-zip"
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "content.xml" in names and "mimetype" in names:
        return "odf"
    return "docx" if _names_word_main(package) else "zip"


def _names_word_main(package: zipfile.ZipFile) -> bool:
    """Whether ``[Content_Types].xml`` has a Word main document part (not always named
    ``word/document.xml``); its first MiB only, whatever it claims to unpack to."""
    try:
        with package.open("[Content_Types].xml") as types:
            return _WORD_MAIN.encode() in types.read(2 ** 20)
    except Exception:  # missing, or a member zipfile cannot unpack: then not a Word document
        return False


def _ole_kind(data: bytes, name: str) -> str:
    """Word 97 (.doc, and the .wps most portals serve) or Excel (.xls/.et) by the stream names."""
    def stream(label: str) -> bytes:
        return label.encode("utf-16-le")
    if stream("WordDocument") in data:
        return "doc"
    if stream("Workbook") in data or stream("Book\x00") in data:
        return "xls"
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return {"et": "xls", "ett": "xls", "xls": "xls"}.get(extension, "ole")


_UNREADABLE = {
    "empty": "empty file",
    "html": "an HTML page, not a document",
    "corrupt-zip": "corrupt: a broken zip archive",
    "zip": "a zip archive (its files are not opened)",
    "ole": "an OLE2 file that is neither Word nor Excel",
    "unknown": "not a document: unknown file type",
}


# --------------------------------------------------------------------------- PDF


@dataclass
class _Line:
    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float  # character height, to judge indents and gaps
    rows: list[list[str]] | None = None  # a table standing in the text


class _Char(NamedTuple):
    """A character of a page (or a word of them), in top-down coordinates as the page is shown."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float


#: Points. Chars whose tops are this close (one to the next) are one line; a wider gap between
#: two chars of a line is a space. Rulings this close are one, pieces of one ruling this far
#: apart are joined, shorter ones are no ruling, and two cross when they come this close.
_LINE_TOLERANCE = 3
_WORD_GAP = 3
_SNAP, _JOIN, _MIN_RULING, _CROSSING = 3, 3, 3, 3

_TOP, _X0 = operator.attrgetter("top"), operator.attrgetter("x0")
_Affine = tuple[float, float, float, float, float, float]  # a PDF matrix: x' = ax + cy + e, y' = bx + dy + f
_Ruling = tuple[float, float, float]  # where across (y of a horizontal one), from, to
_Cell = tuple[float, float, float, float]  # x0, top, x1, bottom


def _pdf(data: bytes, result: AttachmentText, ocr: bool, tools: Tools) -> None:
    import pypdfium2

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as error:
        raise ExtractionError(_pdf_open_error(error)) from None
    try:
        result.pages = len(document)
        if result.pages > MAX_PAGES:
            raise ExtractionError(f"too many pages: {result.pages} (at most {MAX_PAGES} are read)")
        pages: list[list[_Line]] = []
        scanned: list[int] = []
        heights: list[float] = []
        for number in range(result.pages):
            page = document[number]
            try:
                lines, (width, height), image_area = _pdf_page(page)
            finally:
                page.close()
            heights.append(height)
            if sum(len(l.text) for l in lines) < 20 and image_area > 0.3 * width * height:
                scanned.append(number)
            pages.append(lines)
    finally:
        document.close()
    methods = ["pdf"] if any(pages) else []
    if scanned:
        if not ocr:
            result.error = f"{len(scanned)} of {result.pages} pages are scanned images without text: OCR is off (--ocr)"
            result.needs_ocr = True
        elif tools.tesseract is None:
            result.error = MISSING["tesseract"]
        else:
            confidences: list[tuple[float, int]] = []
            for number, (lines, confidence) in zip(scanned, _ocr_pdf_pages(data, scanned, tools)):
                pages[number] = [_Line(text, 0, 0, 0, 0, 0) for text in lines]
                confidences.append((confidence, sum(len(t) for t in lines)))
            result.ocr_confidence = _weighted(confidences)
            methods.append("ocr")
    _drop_running_lines(pages, heights)
    _merge_continued_tables(pages)
    text_lines: list[str] = []
    for line in _join_paragraphs(pages):
        if line.rows is not None:
            result.tables.append(line.rows)
            text_lines += ["\t".join(row) for row in line.rows]
        else:
            text_lines.append(line.text)
    result.text = "\n".join(text_lines)
    result.text_method = "+".join(methods) or "pdf"


def _pdf_open_error(error: Exception) -> str:
    import pypdfium2.raw as pdfium_c

    if getattr(error, "err_code", None) in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
        return "encrypted PDF: a password is needed to read it"
    return f"corrupt PDF: {str(error)[:200] or type(error).__name__}"


def _pdf_page(page: Any) -> tuple[list[_Line], tuple[float, float], float]:
    """Text lines and tables of one page, top to bottom (table cells never leak into lines); the
    page's size as shown, and how much of it images cover."""
    shown, size, rotation = _shown(page)
    drawn, direction = _pdf_chars(page)
    place, size = _turned(shown, (direction + rotation) % 4, size)
    a, b, c, d, e, f = place
    chars: list[_Char] = []
    add, new = chars.append, tuple.__new__  # _Char(...) through its Python __new__ costs twice as much
    for text, left, bottom, right, top, font_size in drawn:  # quarter turns: a box stays a box
        x0, x1, y0, y1 = a * left + c * bottom + e, a * right + c * top + e, b * left + d * bottom + f, b * right + d * top + f
        add(new(_Char, (text, x0 if x0 < x1 else x1, x1 if x0 < x1 else x0, y0 if y0 < y1 else y1,
                        y1 if y0 < y1 else y0, font_size)))
    horizontal, vertical, image_area = _pdf_drawing(page, place)
    tables = [rows for rows in _ruled_tables(horizontal, vertical) if len(rows) >= 2]
    boxes = [_bounds([cell for row in rows for cell in row if cell]) for rows in tables]

    outside = chars
    for x0, top, x1, bottom in boxes:
        outside = [char for char in outside if not (x0 <= (char.x0 + char.x1) / 2 <= x1
                                                    and top <= (char.top + char.bottom) / 2 <= bottom)]
    lines = [_Line(_fix_spacing(line.text), line.x0, line.x1, line.top, line.bottom, line.size)
             for line in _text_lines(outside)]
    for rows, box in zip(tables, boxes):
        texts = []
        in_rows = _inside_each(chars, [_bounds([cell for cell in row if cell]) for row in rows], 1)
        for row, row_chars in zip(rows, in_rows):
            in_cells = iter(_inside_each(row_chars, [cell for cell in row if cell], 0))
            texts.append([_cell(_cell_text(next(in_cells))) if cell else "" for cell in row])
        texts = [row for row in texts if any(row)]
        if texts:
            lines.append(_Line("", box[0], box[2], box[1], box[3], 0, texts))
    lines.sort(key=lambda line: (round(line.top), line.x0))
    return lines, size, image_area


def _shown(page: Any) -> tuple[_Affine, tuple[float, float], int]:
    """From PDF coordinates (y up, from the MediaBox's corner) to those of the page as shown
    (its /Rotate applied, y down from the top); its width and height as shown; the quarter
    turns of /Rotate."""
    left, bottom, right, top = page.get_mediabox()
    width, height = right - left, top - bottom
    rotation = page.get_rotation() // 90 % 4
    shown = {0: (1, 0, 0, -1, -left, top), 1: (0, 1, 1, 0, -bottom, -left),
             2: (-1, 0, 0, 1, right, -bottom), 3: (0, -1, -1, 0, top, right)}[rotation]
    return shown, ((width, height) if rotation % 2 == 0 else (height, width)), rotation


def _turned(shown: _Affine, direction: int, size: tuple[float, float]) -> tuple[_Affine, tuple[float, float]]:
    """From PDF coordinates to those of the page turned so that text running ``direction``
    (quarter turns clockwise from left-to-right, as shown) reads left to right; its size so."""
    width, height = size
    turn = {0: (1, 0, 0, 1, 0, 0), 1: (0, -1, 1, 0, 0, width), 2: (-1, 0, 0, -1, width, height),
            3: (0, 1, -1, 0, height, 0)}[direction]
    return _compose(shown, turn), (size if direction % 2 == 0 else (height, width))


def _compose(inner: _Affine, outer: _Affine) -> _Affine:
    """The PDF matrix doing ``inner`` then ``outer``."""
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def _pdf_chars(page: Any) -> tuple[list[tuple[str, float, float, float, float, float]], int]:
    """The page's characters as drawn (not the spaces and line ends pdfium adds), each with its
    box in PDF coordinates (font ascent to descent, origin to advance) and font size; and the
    direction most of them run in, in PDF coordinates (quarter turns clockwise from
    left-to-right: a landscape table printed across a portrait page runs 1 or 3)."""
    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        raw = textpage.raw
        generated, unicode, char_box, font_size, char_matrix = _char_calls()
        box, matrix = pdfium_c.FS_RECTF(), pdfium_c.FS_MATRIX()
        box_at, matrix_at = ctypes.byref(box), ctypes.byref(matrix)
        chars: list[tuple[str, float, float, float, float, float]] = []
        directions = [0, 0, 0, 0]
        for index, code in enumerate(_char_codes(raw, pdfium_c.FPDFText_CountChars(raw), unicode)):
            if code in (0x20, 0x0A, 0x0D) and generated(raw, index):
                continue
            if 0xDC00 <= code < 0xE000 and chars and "\ud800" <= chars[-1][0][-1] < "\udc00":
                pair = (chars[-1][0] + chr(code)).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
                chars[-1] = (pair, *chars[-1][1:])
                continue
            char_box(raw, index, box_at)
            chars.append((chr(code), box.left, box.bottom, box.right, box.top, font_size(raw, index)))
            if index % 8 == 0:  # enough for the majority
                char_matrix(raw, index, matrix_at)
                dx, dy = matrix.a, matrix.b
                directions[(2 if dx < 0 else 0) if abs(dx) >= abs(dy) else (3 if dy > 0 else 1)] += 1
        return chars, max(range(4), key=lambda d: (directions[d], d == 0))
    finally:
        textpage.close()


def _char_codes(raw: Any, count: int, unicode: Callable[..., int]) -> list[int]:
    """Each char's code (UTF-16 unit) as ``FPDFText_GetUnicode`` gives it, read for the whole
    page in one ``FPDFText_GetText`` call. Its text is the chars' codes one for one, except that
    it leaves out the control chars and holds U+FFFE for a char with no Unicode (or a hyphen at a
    line end) and two units for a char beyond the BMP: read char by char when it is not as long
    as the chars, and the U+FFFE ones asked for again."""
    import pypdfium2.raw as pdfium_c

    text = (ctypes.c_ushort * (count + 1))()
    if count and pdfium_c.FPDFText_GetText(raw, 0, count, text) == count + 1:
        codes = text[:count]
        if 0xFFFE in codes:
            codes = [unicode(raw, index) if code == 0xFFFE else code for index, code in enumerate(codes)]
        return codes
    return [unicode(raw, index) for index in range(count)]


@functools.cache
def _char_calls() -> tuple[Callable[..., Any], ...]:
    """PDFium's per-character calls (is generated, Unicode, loose box, font size, matrix) without
    the argument types pypdfium2 declares: called with the text page, an int and ``byref``
    pointers only, ctypes passes them as they are, at a third of the cost of checking and
    converting each (they run for every character of every page)."""
    import pypdfium2.raw as pdfium_c

    def bare(function: Any, returns: Any) -> Callable[..., Any]:
        return ctypes.CFUNCTYPE(returns)(ctypes.cast(function, ctypes.c_void_p).value)

    return (bare(pdfium_c.FPDFText_IsGenerated, ctypes.c_int), bare(pdfium_c.FPDFText_GetUnicode, ctypes.c_uint),
            bare(pdfium_c.FPDFText_GetLooseCharBox, ctypes.c_int), bare(pdfium_c.FPDFText_GetFontSize, ctypes.c_double),
            bare(pdfium_c.FPDFText_GetMatrix, ctypes.c_int))


def _text_lines(chars: list[_Char]) -> list[_Char]:
    """Chars read into lines: chars whose tops are near are a line, read left to right, words
    split where a space is drawn or the gap is wider than a space, joined by one space."""
    words: list[_Char] = []
    for row in _clustered(chars, _TOP):
        row.sort(key=_X0)
        word: list[_Char] = []
        last_x1 = last_top = 0.0  # of the word's last char
        for char in row:
            text, x0, x1, top, _, _ = char
            if text.isspace():
                if word:
                    words.append(_merged(word, ""))
                    word = []
                continue
            if word and (x0 > last_x1 + _WORD_GAP or abs(top - last_top) > _LINE_TOLERANCE):
                words.append(_merged(word, ""))
                word = [char]
            else:
                word.append(char)
            last_x1, last_top = x1, top
        if word:
            words.append(_merged(word, ""))
    lines = []
    for row in _clustered(words, _TOP):
        row.sort(key=_X0)
        lines.append(_merged(row, " "))
    return lines


def _merged(chars: list[_Char], between: str) -> _Char:
    if len(chars) == 1:
        return chars[0]
    texts, x0s, x1s, tops, bottoms, sizes = zip(*chars)
    return tuple.__new__(_Char, (between.join(texts), min(x0s), max(x1s), min(tops), max(bottoms), max(sizes)))


def _clustered(items: list[Any], key: Callable[[Any], float], tolerance: float = _LINE_TOLERANCE) -> list[list[Any]]:
    """Items in groups whose keys follow each other within ``tolerance``, by key (each group in
    the items' order)."""
    keys = list(map(key, items))
    groups: list[list[Any]] = []
    group_of: dict[float, list[Any]] = {}
    last = None
    for value in sorted(set(keys)):
        if last is None or value > last + tolerance:
            groups.append([])
        group_of[value], last = groups[-1], value
    for item, value in zip(items, keys):
        group_of[value].append(item)
    return groups


def _pdf_drawing(page: Any, place: _Affine) -> tuple[list[_Ruling], list[_Ruling], float]:
    """The page's horizontal and vertical rulings (each straight axis-parallel piece of a path,
    a rectangle's sides) and the area its images cover, through nested forms."""
    import pypdfium2.raw as pdfium_c

    horizontal: list[_Ruling] = []
    vertical: list[_Ruling] = []
    image_area = 0.0
    matrix, x, y = pdfium_c.FS_MATRIX(), ctypes.c_float(), ctypes.c_float()
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))

    def walk(container: Any, count: Callable[[Any], int], get: Callable[[Any, int], Any], outer: _Affine) -> None:
        nonlocal image_area
        for index in range(count(container)):
            item = get(container, index)
            kind = pdfium_c.FPDFPageObj_GetType(item)
            if kind == pdfium_c.FPDF_PAGEOBJ_FORM:
                pdfium_c.FPDFPageObj_GetMatrix(item, matrix)
                walk(item, pdfium_c.FPDFFormObj_CountObjects, pdfium_c.FPDFFormObj_GetObject,
                     _compose((matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f), outer))
            elif kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
                pdfium_c.FPDFPageObj_GetBounds(item, left, bottom, right, top)
                a, b, c, d, _, _ = outer
                image_area += abs((a * d - b * c) * (right.value - left.value) * (top.value - bottom.value))
            elif kind == pdfium_c.FPDF_PAGEOBJ_PATH:
                pdfium_c.FPDFPageObj_GetMatrix(item, matrix)
                a, b, c, d, e, f = _compose((matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f), outer)
                points: list[tuple[float, float]] = []
                for number in range(pdfium_c.FPDFPath_CountSegments(item)):
                    segment = pdfium_c.FPDFPath_GetPathSegment(item, number)
                    pdfium_c.FPDFPathSegment_GetPoint(segment, x, y)
                    if pdfium_c.FPDFPathSegment_GetType(segment) == pdfium_c.FPDF_SEGMENT_MOVETO:
                        _rulings(points, horizontal, vertical)
                        points = []
                    points.append((a * x.value + c * y.value + e, b * x.value + d * y.value + f))
                    if pdfium_c.FPDFPathSegment_GetClose(segment):
                        points.append(points[0])
                _rulings(points, horizontal, vertical)

    walk(page.raw, pdfium_c.FPDFPage_CountObjects, pdfium_c.FPDFPage_GetObject, place)
    return horizontal, vertical, image_area


def _rulings(points: list[tuple[float, float]], horizontal: list[_Ruling], vertical: list[_Ruling]) -> None:
    """The axis-parallel pieces of one subpath (page coordinates, shown)."""
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if y0 == y1 and x0 != x1:
            horizontal.append((y0, min(x0, x1), max(x0, x1)))
        elif x0 == x1 and y0 != y1:
            vertical.append((x0, min(y0, y1), max(y0, y1)))


def _ruled_tables(horizontal: list[_Ruling], vertical: list[_Ruling]) -> list[list[list[_Cell | None]]]:
    """Tables drawn with rulings, top to bottom, each as rows of cells on the grid of its
    columns (``None`` where a merged cell covers the place): the smallest rectangles whose
    sides lie on rulings, cells sharing a corner making one table."""
    horizontal, vertical = _merge_rulings(horizontal), _merge_rulings(vertical)
    crossings: dict[tuple[float, float], tuple[set[int], set[int]]] = {}  # (x, y) -> rulings through it
    horizontal.sort()
    ys = [ruling[0] for ruling in horizontal]
    for v, (x, top, bottom) in enumerate(vertical):
        for h in range(bisect.bisect_left(ys, top - _CROSSING), bisect.bisect_right(ys, bottom + _CROSSING)):
            y, x0, x1 = horizontal[h]
            if x0 - _CROSSING <= x <= x1 + _CROSSING:
                through = crossings.setdefault((x, y), (set(), set()))
                through[0].add(v)
                through[1].add(h)
    down: dict[float, list[tuple[float, float]]] = {}
    across: dict[float, list[tuple[float, float]]] = {}
    for point in sorted(crossings):
        down.setdefault(point[0], []).append(point)
        across.setdefault(point[1], []).append(point)

    def joined(p: tuple[float, float], q: tuple[float, float], axis: int) -> bool:  # 0: by a vertical ruling
        return bool(crossings[p][axis] & crossings[q][axis])

    cells: list[_Cell] = []
    for point in sorted(crossings):
        cell = next(((point[0], point[1], right[0], below[1])
                     for below in down[point[0]] if below[1] > point[1] and joined(point, below, 0)
                     for right in across[point[1]] if right[0] > point[0] and joined(point, right, 1)
                     if (right[0], below[1]) in crossings
                     and joined((right[0], below[1]), right, 0) and joined((right[0], below[1]), below, 1)), None)
        if cell:
            cells.append(cell)
    tables = sorted(_touching(cells), key=lambda table: min((cell[1], cell[0]) for cell in table))
    return [_grid_rows(table) for table in tables if len(table) > 1]


def _merge_rulings(rulings: list[_Ruling]) -> list[_Ruling]:
    """Rulings near each other moved to where they are on average, pieces of one joined."""
    snapped: list[_Ruling] = []
    for group in _clustered([r for r in rulings if r[2] - r[1] >= 1], lambda r: r[0], _SNAP):
        at = sum(r[0] for r in group) / len(group)
        snapped += [(at, start, end) for _, start, end in group]
    merged: list[_Ruling] = []
    for at, start, end in sorted(snapped):
        if merged and merged[-1][0] == at and start <= merged[-1][2] + _JOIN:
            merged[-1] = (at, merged[-1][1], max(merged[-1][2], end))
        else:
            merged.append((at, start, end))
    return [r for r in merged if r[2] - r[1] >= _MIN_RULING]


def _touching(cells: list[_Cell]) -> list[list[_Cell]]:
    """Cells in groups sharing corners (each group in the cells' order): joined through the
    corners, so a page of thousands of cells costs their number, not its square."""
    parent = list(range(len(cells)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = index = parent[parent[index]]
        return index

    first_at: dict[tuple[float, float], int] = {}  # corner -> the first cell found there
    for index, (x0, top, x1, bottom) in enumerate(cells):
        for corner in ((x0, top), (x0, bottom), (x1, top), (x1, bottom)):
            other = first_at.setdefault(corner, index)
            parent[root(other)] = root(index)
    groups: dict[int, list[_Cell]] = {}
    for index, cell in enumerate(cells):
        groups.setdefault(root(index), []).append(cell)
    return list(groups.values())


def _grid_rows(cells: list[_Cell]) -> list[list[_Cell | None]]:
    columns = sorted({cell[0] for cell in cells})
    rows: dict[float, dict[float, _Cell]] = {}
    for cell in sorted(cells, key=lambda cell: (cell[1], cell[0])):
        rows.setdefault(cell[1], {})[cell[0]] = cell
    return [[row.get(x) for x in columns] for row in rows.values()]


def _bounds(cells: list[_Cell]) -> _Cell:
    return (min(c[0] for c in cells), min(c[1] for c in cells), max(c[2] for c in cells), max(c[3] for c in cells))


def _inside_each(chars: list[_Char], boxes: list[_Cell], axis: int) -> list[list[_Char]]:
    """For each box, the chars whose middle is in it (its right and bottom edges out), in the
    chars' order. Found by bisecting the middles sorted across ``axis`` (0: x, 1: y), the one
    the boxes follow each other on (a table's rows, a row's cells): a table costs about its
    chars, not its chars times its cells."""
    xs, ys = [(c.x0 + c.x1) / 2 for c in chars], [(c.top + c.bottom) / 2 for c in chars]
    along = ys if axis else xs
    indices = range(len(chars))
    if any(map(math.isnan, along)):  # a NaN is in no box, and would not sort
        indices = [index for index in indices if not math.isnan(along[index])]
    ordered = sorted(indices, key=along.__getitem__)
    keys = [along[index] for index in ordered]
    found = []
    for x0, top, x1, bottom in boxes:
        low, high = (top, bottom) if axis else (x0, x1)
        picked = ordered[bisect.bisect_left(keys, low):bisect.bisect_left(keys, high)]
        picked.sort()
        found.append([chars[index] for index in picked if x0 <= xs[index] < x1 and top <= ys[index] < bottom])
    return found


def _cell_text(chars: list[_Char]) -> str:
    """The lines of a cell's chars."""
    return "\n".join(line.text for line in _text_lines(chars))


def _drop_running_lines(pages: list[list[_Line]], heights: list[float]) -> None:
    """Drop page numbers and the headers/footers repeated (digits aside) on most pages."""
    def in_margin(line: _Line, height: float) -> bool:
        return line.rows is None and height > 0 and (line.bottom < height * 0.1 or line.top > height * 0.9)

    counts: Counter[str] = Counter()
    for lines, height in zip(pages, heights):
        counts.update({re.sub(r"\d+", "#", l.text) for l in lines if in_margin(l, height)})
    repeated = {key for key, n in counts.items() if len(pages) > 1 and n >= max(2, (len(pages) + 1) // 2)}
    for lines, height in zip(pages, heights):
        lines[:] = [l for l in lines if not (in_margin(l, height) and (
            _PAGE_NUMBER.match(l.text) or re.sub(r"\d+", "#", l.text) in repeated))]


def _merge_continued_tables(pages: list[list[_Line]]) -> None:
    """A table ending a page and one of as many columns starting the next are one table
    (its header row, when repeated, kept once)."""
    open_table: _Line | None = None  # the table the last page ended with (it may span pages)
    for lines in pages:
        if open_table is not None and lines and lines[0].rows is not None:
            above, below = open_table.rows or [], lines[0].rows
            if len(above[0]) == len(below[0]):
                above += below[1:] if below[0] in above[:3] else below
                del lines[0]
                if not lines:
                    continue  # a page of table only: the table goes on
        open_table = lines[-1] if lines and lines[-1].rows is not None else None


def _join_paragraphs(pages: list[list[_Line]]) -> Iterable[_Line]:
    """Lines wrapped by the layout (reaching the right edge, next one not indented) joined again."""
    flat: list[tuple[_Line, float, float]] = []  # line, left and right edge of its page's text
    for lines in pages:
        text_lines = [l for l in lines if l.rows is None and l.size]
        left = min((l.x0 for l in text_lines), default=0.0)
        right = max((l.x1 for l in text_lines), default=0.0)
        if sum(l.x1 >= right - _WRAP_SLACK * l.size for l in text_lines) < 2:
            right = float("inf")  # one line alone makes no margin: nothing is taken for wrapped
        flat += [(line, left, right) for line in lines]
    current: _Line | None = None
    current_right = 0.0
    for line, left, right in flat:
        if current is not None and line.rows is None and line.size and current.size and current.rows is None:
            reaches_edge = current_right - current.x1 <= _first_word_width(line.text, line.size) + 1.5 * current.size
            flush_left = line.x0 <= left + 0.5 * line.size
            near = line.top - current.bottom < 1.5 * current.size or line.top < current.top
            if reaches_edge and flush_left and near:
                current = _Line(_glue(current.text, line.text), current.x0, line.x1, line.top, line.bottom,
                                line.size)
                current_right = right
                continue
        if current is not None:
            yield current
        current, current_right = line, right
    if current is not None:
        yield current


def _first_word_width(text: str, size: float) -> float:
    """About how wide the start of a line is that could not stay on the line above: a run of
    Latin letters and digits (``2.79%``) or one Chinese character, with the closing punctuation
    a line may not start with."""
    word = re.match(r"[\x21-\x7e]+", text)
    width = len(word.group()) * 0.6 * size if word else size
    rest = text[word.end() if word else 1:]
    return width + size * (len(rest) - len(rest.lstrip(_NO_LINE_START)))


def _ocr_pdf_pages(data: bytes, numbers: list[int], tools: Tools) -> Iterable[tuple[list[str], float]]:
    """Each listed page rendered at :data:`OCR_DPI` and read by Tesseract."""
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        for number in numbers:
            bitmap = document[number].render(scale=OCR_DPI / 72, grayscale=True)
            buffer = io.BytesIO()
            bitmap.to_pil().save(buffer, format="PNG")
            yield _tesseract(buffer.getvalue(), tools)
    finally:
        document.close()


def _tesseract(image: bytes, tools: Tools) -> tuple[list[str], float]:
    """Lines of text and mean word confidence of one image (PNG/JPEG/TIFF… bytes)."""
    assert tools.tesseract is not None
    answer = _run([tools.tesseract, "stdin", "stdout", "-l", "chi_sim", "--psm", "4", "tsv"], image,
                  env={"OMP_THREAD_LIMIT": "1"})
    lines: dict[tuple[str, ...], list[str]] = {}
    confidences: list[tuple[float, int]] = []
    for row in answer.decode("utf-8", "replace").splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        lines.setdefault(tuple(cells[1:5]), []).append(cells[11].strip())
        confidences.append((float(cells[10]), len(cells[11].strip())))
    texts = [_fix_spacing(" ".join(words)) for words in lines.values()]
    return [t for t in texts if t], _weighted(confidences) or 0.0


def _image(data: bytes, result: AttachmentText, ocr: bool, tools: Tools) -> None:
    if not ocr:
        result.needs_ocr = True
        raise ExtractionError("an image: OCR is off (--ocr)")
    if tools.tesseract is None:
        raise ExtractionError(MISSING["tesseract"])
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:  # normalised to PNG: Tesseract reads few GIFs/BMPs
        result.pages = getattr(image, "n_frames", 1)
        image.load()
        buffer = io.BytesIO()
        image.convert("L").save(buffer, format="PNG")
    lines, confidence = _tesseract(buffer.getvalue(), tools)
    result.text, result.text_method, result.ocr_confidence = "\n".join(lines), "ocr", round(confidence, 1)


def _weighted(pairs: list[tuple[float, int]]) -> float | None:
    total = sum(n for _, n in pairs)
    return round(sum(c * n for c, n in pairs) / total, 1) if total else None


# --------------------------------------------------------------------------- Word


def _check_zip(data: bytes) -> zipfile.ZipFile:
    """The zip, refused if a bomb before any parser unpacks a member (zipfile reads no more than declared)."""
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as error:
        raise ExtractionError(f"corrupt: {error}") from None
    members = package.infolist()
    total = sum(m.file_size for m in members)
    if total > MAX_UNZIPPED:
        raise ExtractionError(f"zip bomb: members unpack to {total / 2 ** 20:,.0f} MiB")
    for member in members:
        if member.file_size > _BOMB_MEMBER and member.file_size > _BOMB_RATIO * max(member.compress_size, 1):
            raise ExtractionError(f"zip bomb: {member.filename} unpacks {member.file_size // max(member.compress_size, 1)}×")
    return package


#: WordprocessingML and the package (OPC) around it.
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_P, _R, _T, _BR, _TBL, _TR, _TC = (_W + tag for tag in ("p", "r", "t", "br", "tbl", "tr", "tc"))
#: Elements around runs, or around a body's (a cell's) paragraphs and tables, whose text Word
#: shows: hyperlinks, tracked insertions and moves, content controls (their content, not their
#: properties), smart tags, custom XML, simple fields (their result), bidirectional overrides.
#: Deleted and moved-away text (w:del, w:moveFrom) is not among them: Word does not show it.
_WRAPPERS = frozenset(_W + tag for tag in ("hyperlink", "ins", "moveTo", "sdt", "sdtContent", "smartTag",
                                             "customXml", "fldSimple", "dir", "bdo"))
#: A text box's content (in a drawing or a VML shape inside a run).
_TEXT_BOX = _W + "txbxContent"
#: The stand-in a Markup Compatibility block offers older readers: the same content again.
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
#: What python-docx's run text gives for a run's other inner elements (w:t and w:br aside).
_RUN_SYMBOLS = {_W + "tab": "\t", _W + "ptab": "\t", _W + "cr": "\n", _W + "noBreakHyphen": "-"}
_RELATIONSHIP = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_CONTENT_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def _docx(data: bytes, result: AttachmentText, ocr: bool, tools: Tools) -> None:
    """Paragraphs and tables of the body as Word shows them, from the main document part alone
    (python-docx loaded and parsed every part of the package first, most of its cost, and left
    out the text of content controls, tracked insertions, fields, nested tables and text boxes)."""
    result.text = "\n".join(_block_lines(_word_body(_check_zip(data)), result.tables))
    result.text_method = result.text_method or "docx"


def _block_lines(container: Any, tables: list[list[list[str]]] | None) -> list[str]:
    """Lines of the paragraphs and tables of a body, a cell or a text box, in order, wrappers
    opened; each paragraph followed by its text boxes' lines. The rows of each table go to
    ``tables`` too (a table in a cell is the cell's text only: ``None``)."""
    lines: list[str] = []
    for block in _through_wrappers(container, (_P, _TBL)):
        if block.tag == _P:
            lines.append(_paragraph_text(block).replace("\t", " "))
            for box in _text_boxes(block):
                lines += _block_lines(box, tables)
        else:
            rows = _docx_rows(block)
            if rows:
                if tables is not None:
                    tables.append(rows)
                lines += ["\t".join(row) for row in rows]
    return lines


def _through_wrappers(element: Any, tags: tuple[str, ...]) -> Iterator[Any]:
    """The children of ``element`` with one of ``tags``, in order, those inside wrappers included."""
    for child in element:
        if child.tag in tags:
            yield child
        elif child.tag in _WRAPPERS:
            yield from _through_wrappers(child, tags)


def _text_boxes(paragraph: Any) -> Iterator[Any]:
    """The text boxes anchored in ``paragraph`` (a title or a note Word draws in a box), not
    those inside them (read with them) nor a fallback's copy (a VML shape offered beside the
    drawing, for older readers)."""
    for box in paragraph.iter(_TEXT_BOX):
        for ancestor in box.iterancestors():
            if ancestor is paragraph:
                yield box
                break
            if ancestor.tag == _TEXT_BOX or ancestor.tag == _FALLBACK:
                break


def _word_body(package: zipfile.ZipFile) -> Any:
    """``w:body`` of the part the package's officeDocument relationship points to (not always
    ``word/document.xml``), refused unless ``[Content_Types].xml`` calls it a Word document."""
    types = _xml(package.read("[Content_Types].xml"))
    try:
        relationships = _xml(package.read("_rels/.rels")).findall(_RELATIONSHIP)
    except KeyError:
        relationships = []
    by_id = {relationship.get("Id"): relationship for relationship in relationships}
    main = [relationship for relationship in by_id.values() if relationship.get("Type") == _OFFICE_DOCUMENT]
    if len(main) != 1 or main[0].get("TargetMode") == "External":
        raise ExtractionError(f"corrupt docx: {len(main)} main document relationships")
    partname = posixpath.abspath(posixpath.join("/", main[0].get("Target", "")))
    overrides = {o.get("PartName", "").lower(): o.get("ContentType") for o in types.findall(_CONTENT_TYPES + "Override")}
    defaults = {d.get("Extension", "").lower(): d.get("ContentType") for d in types.findall(_CONTENT_TYPES + "Default")}
    key = partname.lower()
    content_type = overrides[key] if key in overrides else defaults.get(posixpath.splitext(key)[1][1:])
    if content_type != _WORD_MAIN:
        raise ExtractionError(f"not a Word document: {partname} is {content_type or 'of no content type'}")
    document = _xml(package.read(partname[1:]))
    body = document.find(_W + "body") if document.tag == _W + "document" else None
    if body is None:
        raise ExtractionError(f"corrupt docx: no w:body in {partname}")
    return body


def _xml(blob: bytes) -> Any:
    """python-docx's parser settings (the same tree: blank text between tags dropped); no
    entities resolved, nothing fetched."""
    return etree.fromstring(blob, etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True))


def _paragraph_text(paragraph: Any) -> str:
    """The text of a paragraph's runs, those inside wrappers (:data:`_WRAPPERS`) included."""
    return "".join(_run_text(run) for run in _through_wrappers(paragraph, (_R,)))


def _run_text(run: Any) -> str:
    """python-docx's run text: w:t, tabs and line breaks (a page or column break is nothing)."""
    pieces = []
    for child in run:
        if child.tag == _T:
            pieces.append(child.text or "")
        elif child.tag == _BR:
            pieces.append("\n" if child.get(_W + "type", "textWrapping") == "textWrapping" else "")
        else:
            pieces.append(_RUN_SYMBOLS.get(child.tag, ""))
    return "".join(pieces)


def _docx_rows(table: Any) -> list[list[str]]:
    """Rows of cells as python-docx's ``row.cells``, each cell once (it repeats a cell for each
    grid column it spans; a vertically merged cell's continuation is the cell it continues, the
    one at its grid offset in the row above). A cell's text is all it holds, a table in it
    included (python-docx read its paragraphs only); the rows of no text are left out."""
    rows: list[list[str]] = []
    above: _Row | None = None
    for tr in _through_wrappers(table, (_TR,)):
        row = _Row(tr, [])
        offset: int | None = None  # grid offset of the next w:tc, counted once a continuation needs it
        for tc in _through_wrappers(tr, (_TC,)):
            properties = tc.find(_W + "tcPr")
            span = _number(properties, "gridSpan", 1)
            merge = properties.find(_W + "vMerge") if properties is not None else None
            if merge is not None and merge.get(_W + "val", "continue") == "continue":
                if offset is None:
                    offset = _number(tr.find(_W + "trPr"), "gridBefore") + sum(s for s, _ in row.cells)
                row.cells.append((span, _cell_above(above, offset)))
            else:
                row.cells.append((span, (span, tc)))
            if offset is not None:
                offset += span
        above = row
        texts, seen = [], set()
        for _, (span, tc) in row.cells:
            if span > 0 and tc not in seen:  # python-docx gives a cell as many times as it spans
                seen.add(tc)
                texts.append(_cell("\n".join(_block_lines(tc, None))))
        if any(texts):
            rows.append(texts)
    return rows


class _Row(NamedTuple):
    """A w:tr and, for each of its w:tc, its span and the cell it shows (span, w:tc): itself, or
    the cell a continuation continues."""

    tr: Any
    cells: list[tuple[int, tuple[int, Any]]]


def _cell_above(above: _Row | None, offset: int) -> tuple[int, Any]:
    """The cell starting at grid ``offset`` in the row above, as python-docx finds it (an error when none does)."""
    if above is None:
        raise ExtractionError("corrupt docx: a vertically merged cell continues nothing (first row)")
    remaining = offset - _number(above.tr.find(_W + "trPr"), "gridBefore")
    for span, cell in above.cells:
        if remaining < 0:
            break
        if remaining == 0:
            return cell
        remaining -= span
    raise ExtractionError(f"corrupt docx: a vertically merged cell continues nothing (grid column {offset})")


def _number(properties: Any, name: str, default: int = 0) -> int:
    """The number a w:tcPr/w:trPr gives ``name`` (its w:val), ``default`` without one."""
    found = properties.find(_W + name) if properties is not None else None
    return default if found is None else int(found.get(_W + "val"))


def _doc(data: bytes, result: AttachmentText, ocr: bool, tools: Tools) -> None:
    """antiword (milliseconds); LibreOffice to DOCX (seconds: it starts for every file) when
    antiword cannot read the file or its tables come out ragged (rows of other widths than the
    table's first, merged rows of one cell aside)."""
    if tools.antiword:
        try:
            text = _run([tools.antiword, "-w", "0", "-m", "UTF-8.txt", "-"], data).decode("utf-8", "replace")
        except ExtractionError:
            text = None
        if text is not None:
            lines, tables = _antiword_lines(text)
            if tools.soffice is None or not any(_ragged(table) for table in tables):
                result.text, result.tables, result.text_method = "\n".join(lines), tables, "antiword"
                return
    if tools.soffice is None:
        raise ExtractionError(MISSING["soffice"])
    _docx(_libreoffice(data, "doc", "docx", tools), result, ocr, tools)
    result.text_method = "libreoffice"


def _ragged(table: list[list[str]]) -> bool:
    return any(len(row) not in (1, len(table[0])) for row in table)


def _antiword_lines(text: str) -> tuple[list[str], list[list[list[str]]]]:
    """antiword's text; its ``|a|b|`` table lines (a row wrapped over lines when its first cell is empty)."""
    lines: list[str | list[list[str]]] = []  # a text line, or the rows of a table standing there
    tables: list[list[list[str]]] = []
    rows: list[list[str]] | None = None
    for raw in text.replace("\f", "\n").splitlines():
        if not (raw.startswith("|") and raw.rstrip().endswith("|")):
            rows = None
            lines.append(raw)
            continue
        cells = [_cell(c) for c in raw.strip()[1:-1].split("|")]
        if rows is None:
            rows = []
            tables.append(rows)
            lines.append(rows)
        if rows and not cells[0] and len(cells) == len(rows[-1]):
            rows[-1] = [_glue(a, b) for a, b in zip(rows[-1], cells)]
        else:
            rows.append(cells)
    out: list[str] = []
    for line in lines:
        out += ["\t".join(row) for row in line] if isinstance(line, list) else [line]
    return out, tables


# --------------------------------------------------------------------------- spreadsheets


def _xlsx(data: bytes, result: AttachmentText, ocr: bool, tools: Tools) -> None:
    _check_zip(data)
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = [[[_value(v) for v in row] for row in _limited(sheet.iter_rows(values_only=True))]
                  for sheet in book.worksheets]
    finally:
        book.close()
    _sheets(result, sheets)
    result.text_method = result.text_method or "xlsx"


def _xls(data: bytes, result: AttachmentText, ocr: bool, tools: Tools) -> None:
    """xlrd for BIFF (.xls, and .et saved as such); LibreOffice for what xlrd cannot read."""
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except xlrd.XLRDError as error:
        if tools.soffice is None:
            raise ExtractionError(f"{MISSING['soffice']} (xlrd: {error})") from None
        _xlsx(_libreoffice(data, "xls", "xlsx", tools), result, ocr, tools)
        result.text_method = "libreoffice"
        return
    sheets = []
    for index in range(book.nsheets):
        sheet = book.sheet_by_index(index)
        sheets.append([[_xls_value(sheet.cell(r, c), book.datemode) for c in range(sheet.ncols)]
                       for r in range(min(sheet.nrows, MAX_ROWS))])
        book.unload_sheet(index)
    _sheets(result, sheets)
    result.text_method = "xls"


def _sheets(result: AttachmentText, sheets: list[list[list[str]]]) -> None:
    lines: list[str] = []
    for rows in sheets:
        rows = [_trim(row) for row in rows]
        rows = [row for row in rows if row]
        if rows:
            result.tables.append(rows)
            lines += ["\t".join(row) for row in rows]
    result.text, result.pages = "\n".join(lines), len(sheets)


def _limited(rows: Iterable[Any]) -> Iterable[Any]:
    for index, row in enumerate(rows):
        if index >= MAX_ROWS:
            return
        yield row


def _trim(row: list[str]) -> list[str]:
    while row and not row[-1]:
        row = row[:-1]
    return row


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return _cell(str(value))


def _xls_value(cell: Any, datemode: int) -> str:
    import xlrd

    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return _value(xlrd.xldate_as_datetime(cell.value, datemode))
        except (ValueError, OverflowError):
            return str(cell.value)
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return "TRUE" if cell.value else "FALSE"
    if cell.ctype in (xlrd.XL_CELL_ERROR, xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return ""
    return _value(cell.value)


# --------------------------------------------------------------------------- other formats


def _via_libreoffice(target: str, then: Callable[[bytes, AttachmentText, bool, Tools], None], source_ext: str):
    def reader(data: bytes, result: AttachmentText, ocr: bool, tools: Tools) -> None:
        if tools.soffice is None:
            raise ExtractionError(MISSING["soffice"])
        then(_libreoffice(data, source_ext, target, tools), result, ocr, tools)
        result.text_method = "libreoffice"
    return reader


def _odf_reader(data: bytes, result: AttachmentText, ocr: bool, tools: Tools) -> None:
    mimetype = _check_zip(data).read("mimetype")
    if b"spreadsheet" in mimetype:
        _via_libreoffice("xlsx", _xlsx, "ods")(data, result, ocr, tools)
    else:
        _via_libreoffice("docx", _docx, "odt")(data, result, ocr, tools)


_READERS: dict[str, Callable[[bytes, AttachmentText, bool, Tools], None]] = {
    "pdf": _pdf, "docx": _docx, "doc": _doc, "xlsx": _xlsx, "xls": _xls, "image": _image,
    "rtf": _via_libreoffice("docx", _docx, "rtf"), "odf": _odf_reader,
}


# --------------------------------------------------------------------------- helpers


def _run(command: list[str], stdin: bytes, env: dict[str, str] | None = None) -> bytes:
    """A tool's stdout; its failure (exit code, timeout) as an ExtractionError."""
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, timeout=TOOL_TIMEOUT,
                              env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        raise ExtractionError(f"{Path(command[0]).name} took longer than {TOOL_TIMEOUT} s") from None
    except OSError as error:
        raise ExtractionError(f"{Path(command[0]).name} could not run: {error}") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise ExtractionError(f"{Path(command[0]).name}: {reason[0][:200]}")
    return done.stdout


def _libreoffice(data: bytes, source_ext: str, target: str, tools: Tools) -> bytes:
    """``data`` converted by LibreOffice headless (own user profile, so never a user's session)."""
    assert tools.soffice is not None
    with tempfile.TemporaryDirectory(prefix="zwdc-lo-") as work:
        profile = tools.profile or os.path.join(work, "profile")
        source = Path(work, f"attachment.{source_ext}")
        source.write_bytes(data)
        out = Path(work, "out")
        _run([tools.soffice, "--headless", "--norestore", "--nolockcheck", "--nodefault",
              f"-env:UserInstallation={Path(profile).as_uri()}", "--convert-to", target,
              "--outdir", str(out), str(source)], b"")
        converted = out / f"attachment.{target}"
        if not converted.exists():
            raise ExtractionError(f"LibreOffice could not read this {source_ext} file")
        return converted.read_bytes()


def _fix_spacing(text: str) -> str:
    """Spaces a layout or OCR puts between Chinese characters (and digits beside them) removed."""
    return _SPACE_BY_CJK.sub("", text)


def _glue(left: str, right: str) -> str:
    """Two pieces of one wrapped line: a space only between two Latin words (``35.`` + ``6`` is ``35.6``)."""
    if left and right and left[-1].isascii() and left[-1].isalpha() and right[0].isascii() and right[0].isalpha():
        return f"{left} {right}"
    return left + right


def _cell(text: str | None) -> str:
    """A table cell as one line: its wrapped lines glued, whitespace folded."""
    if not text:
        return ""
    pieces = [normalize_line(_fix_spacing(piece)) for piece in str(text).splitlines()]
    joined = ""
    for piece in pieces:
        joined = _glue(joined, piece) if piece else joined
    return normalize_line(joined.replace("\t", " "))
