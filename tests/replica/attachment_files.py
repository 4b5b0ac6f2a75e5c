"""Real attachment files for the replica, generated (never copied), each with its truth.

Why: the archive reads the text, tables and supervision items out of attachments, so the
replica serves real files: PDFs with a Chinese text layer (reportlab with Adobe's STSong CID
font, page header and page numbers; or exported by LibreOffice), scanned PDFs (a page image
of the text drawn with Noto Sans CJK, no text layer), DOCX (python-docx: paragraphs and a
table), XLSX supervision lists (openpyxl: a title row, the list, a second sheet), and DOC,
WPS and XLS files converted by LibreOffice. A ``.wps`` is Word 97 bytes under that name,
which is what most portals serve as WPS (Kingsoft saves .doc-compatible files).

What an attachment says:

* a supervision list (a ``.xls``/``.xlsx``, or a name with 统计表/清单): the items of a
  standing-meeting follow-up as rows 序号 / 会议名称 / 督查事项 / 责任单位 / 完成时限 / 进展情况 / 办理状态;
* the attachment of a bulletin whose page says only "……具体内容详见附件。": a whole follow-up
  bulletin (sections, meetings, items, a summary table), which is the substance;
* else the bulletin itself (a PDF/Word version of the page).

PDF (text, scanned), DOCX and XLSX files are made on request (milliseconds to a tenth of a
second) and kept in memory. LibreOffice costs seconds a file, so DOC, WPS, XLS and
LibreOffice-exported PDFs come from a small pool, made once in one LibreOffice run per format
and cached on disk (``tests/replica/.cache/attachments-v<GENERATOR_VERSION>/``, or
``$ZWDC_REPLICA_CACHE``) with their truth; a bulletin's such attachment is one of the pool's.

Truth of a file (:meth:`AttachmentFiles.truth`): ``text`` (the line contract of bodies: a
line per paragraph, a tab-joined line per table row), ``tables`` (rows of cells),
``structure`` (meetings/items as the body parser gives them, items with their ``deadline``;
None for scans),
``method`` (``text`` or ``ocr``) and ``flavour`` (how the file was made).
"""
from __future__ import annotations

import fcntl
import io
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from .corpus import Block, BulletinWriter, MeetingCalendar, body_text, normalise
from .model import Attachment, Doc

#: Bump when any generated file or its truth changes (the disk cache is keyed by it).
GENERATOR_VERSION = 4
CACHE = Path(os.environ.get("ZWDC_REPLICA_CACHE") or Path(__file__).with_name(".cache"))
POOL_SEED = 16
#: Files per LibreOffice-made flavour in the pool.
POOL_SIZE = 2
#: Shares of the ways a PDF attachment is made.
PDF_FLAVOURS = (("pdf-text", 0.5), ("pdf-office", 0.25), ("pdf-scan", 0.25))
SPREADSHEETS = ("xlsx", "xls")
LIST_HEADER = ["序号", "会议名称", "督查事项", "责任单位", "完成时限", "进展情况", "办理状态"]
STATUS_WORDS = {"done": "已完成", "mostly_done": "基本完成", "pending": "推进中", "other": ""}
RUNNING_HEADER = "咸宁市人民政府政务督查室"
ONLY_SEE_ATTACHMENT = "详见附件"
NOTES = [["填报说明"], ["1.办理状态填写已完成、基本完成或推进中。"], ["2.完成时限按市政府常务会议纪要确定的时限填写。"]]
CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
CJK_FONT_INDEX = 2  # Noto Sans CJK SC
LIBREOFFICE_MISSING = ("LibreOffice is needed to make the replica's .doc/.wps/.xls attachments: "
                       "apt-get install libreoffice-writer-nogui libreoffice-calc-nogui")


@dataclass
class Content:
    """What a file says: a title, then blocks (paragraphs, tables); ``structure`` is its items' truth."""

    title: str
    blocks: list[Block]
    structure: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"meetings": [], "items": []})
    #: Further sheets of a spreadsheet (rows of cells), after the first (title + blocks' table).
    extra_sheets: list[list[list[str]]] = field(default_factory=list)

    def truth(self, flavour: str) -> dict[str, Any]:
        if flavour in SPREADSHEETS:  # the title is the first sheet's first row; then every sheet
            tables = [[[self.title], *next(rows for kind, rows in self.blocks if kind == "table")],
                      *self.extra_sheets]
            blocks: list[Block] = [("table", rows) for rows in tables]
        else:
            blocks = [("p", self.title), *self.blocks]
            tables = [rows for kind, rows in blocks if kind == "table"]
        return {"flavour": flavour, "method": "text", "text": body_text(blocks),
                "tables": [[[normalise(c) for c in row] for row in rows] for rows in tables],
                "structure": self.structure}


# --------------------------------------------------------------------------- contents


def list_content(writer: BulletinWriter, rng: random.Random, published: date, title: str) -> Content:
    """A supervision list: the items of a follow-up bulletin as rows, with deadline and status."""
    draft = writer.meetings_bulletin(rng, published)
    meetings = draft.structure["meetings"]
    rows = [list(LIST_HEADER)]
    items, seen = [], {}
    out_meetings: list[dict[str, Any]] = []
    for position, item in enumerate(draft.structure["items"], 1):
        meeting = meetings[item["meeting_index"]] if item["meeting_index"] is not None else None
        name = meeting["heading"].split(")", 1)[1] if meeting else ""
        if meeting and name not in seen:
            seen[name] = len(out_meetings)
            out_meetings.append({**meeting, "heading": name})
        due = published + timedelta(days=rng.randint(20, 200))
        deadline = f"{due.year}年{due.month}月底"
        progress = "".join(item["progress"].split("\n"))
        rows.append([str(position), name, item["subject"], "、".join(item["units"]), deadline, progress,
                     STATUS_WORDS[item["status"]]])
        items.append({"meeting_index": seen.get(name), "position": position, "section": None,
                      "status": item["status"], "subject": item["subject"], "documents": item["documents"],
                      "units": list(item["units"]), "progress": progress, "deadline": deadline})
    return Content(title, [("table", rows)], {"meetings": out_meetings, "items": items}, [NOTES])


def bulletin_content(writer: BulletinWriter, rng: random.Random, published: date, title: str) -> Content:
    """A whole standing-meeting follow-up (the substance a "详见附件" page leaves to its file)."""
    draft = writer.meetings_bulletin(rng, published)
    return Content(title, list(draft.blocks), _with_deadlines(draft.structure))


def _with_deadlines(structure: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {"meetings": structure["meetings"], "items": [{**item, "deadline": ""} for item in structure["items"]]}


# --------------------------------------------------------------------------- renderers


def docx_bytes(content: Content) -> bytes:
    """Word 2007+: a centred title, indented paragraphs, tables with a grid."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    document = docx.Document()
    title = document.add_paragraph(content.title)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for kind, value in content.blocks:
        if kind == "p":
            document.add_paragraph(value).paragraph_format.first_line_indent = Pt(24)
        else:
            table = document.add_table(rows=len(value), cols=max(len(r) for r in value))
            table.style = "Table Grid"
            for row, cells in zip(table.rows, value):
                for cell, text in zip(row.cells, cells):
                    cell.text = text
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def xlsx_bytes(content: Content) -> bytes:
    """A workbook: the list under a merged title row, then the notes sheet."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "督办事项"
    rows = next(value for kind, value in content.blocks if kind == "table")
    sheet.append([content.title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(rows[0]))
    for row in rows:
        sheet.append([int(c) if c.isdecimal() and len(c) < 4 else c for c in row])
    for extra in content.extra_sheets:
        notes = book.create_sheet(extra[0][0])
        for row in extra:
            notes.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@lru_cache(maxsize=1)
def _reportlab_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def pdf_text_bytes(content: Content) -> bytes:
    """A PDF with a text layer in Adobe's STSong CID font (read through the UniGB CMaps), a
    running header and ``- N -`` page numbers; tables ruled, their header row repeated. A table
    with a row taller than a portrait page (a long 进展情况 in a narrow column) gets landscape
    pages, as an office would print it."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.platypus.doctemplate import LayoutError

    try:
        return _pdf_text_bytes(content, A4)
    except LayoutError:
        return _pdf_text_bytes(content, landscape(A4))


def _pdf_text_bytes(content: Content, pagesize: tuple[float, float]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _reportlab_font()
    body = ParagraphStyle("body", fontName=font, fontSize=12, leading=20, firstLineIndent=24, wordWrap="CJK")
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=26, alignment=1, firstLineIndent=0)
    cell = ParagraphStyle("cell", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    width, height = pagesize

    def running(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.drawCentredString(width / 2, height - 40, RUNNING_HEADER)
        canvas.drawCentredString(width / 2, 40, f"- {doc.page} -")
        canvas.restoreState()

    story: list[Any] = [Paragraph(escape(content.title), title), Spacer(1, 8)]
    for kind, value in content.blocks:
        if kind == "p":
            story.append(Paragraph(escape(value), body))
        else:
            columns = max(len(r) for r in value)
            # columns as wide as their longest cell needs (within bounds), so no row outgrows a page
            needs = [min(max((len(row[i]) for row in value if i < len(row)), default=1), 80) + 3
                     for i in range(columns)]
            usable = width - 2 * 72
            base = [9 * len(value[0][i] if i < len(value[0]) else "") + 14 for i in range(columns)]  # header on a line
            spare = max(usable - sum(base), 0)
            table = Table([[Paragraph(escape(c), cell) for c in row] for row in value],
                          colWidths=[b + spare * need / sum(needs) for b, need in zip(base, needs)], repeatRows=1)
            table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                                       ("VALIGN", (0, 0), (-1, -1), "TOP")]))
            story += [table, Spacer(1, 8)]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=pagesize, leftMargin=72, rightMargin=72, topMargin=100, bottomMargin=100,
                      title=content.title).build(story, onFirstPage=running, onLaterPages=running)
    return buffer.getvalue()


def scan_lines(content: Content, per_line: int = 46, most: int = 34) -> list[str]:
    """The lines a one-page scan shows: title and whole paragraphs (tables left out) that fit."""
    lines = [content.title]
    for kind, value in content.blocks:
        if kind != "p":
            continue
        wrapped = [value[i:i + per_line] for i in range(0, len(value), per_line)]
        if len(lines) + len(wrapped) > most:
            break
        lines += wrapped
    return lines


def scan_image(content: Content, most: int = 34) -> Any:
    """An A4 page at 300 dpi, black text on white (PIL, Noto Sans CJK SC): ``most`` lines."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(CJK_FONT, 42, index=CJK_FONT_INDEX)
    image = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(scan_lines(content, most=most)):
        draw.text((200, 220 + row * 84), line, font=font, fill=0)
    return image


def pdf_scan_bytes(content: Content) -> bytes:
    """A scanned page: one image, no text layer."""
    buffer = io.BytesIO()
    scan_image(content).save(buffer, format="PDF", resolution=300)
    return buffer.getvalue()


def scan_truth(content: Content, flavour: str, most: int = 34) -> dict[str, Any]:
    """What a scan shows (its paragraphs that fit), read by OCR (``structure`` None: OCR's errors
    make no exact items)."""
    lines = scan_lines(content, most=most)
    return {"flavour": flavour, "method": "ocr", "text": "\n".join(lines), "tables": [], "structure": None}


def zip_bytes(content: Content) -> bytes:
    """A zip archive holding a DOCX (served as ``.zip``; its files are not opened)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("附件.docx", docx_bytes(content))
    return buffer.getvalue()


# --------------------------------------------------------------------------- the pool


def libreoffice_convert(sources: list[Path], target: str, out: Path) -> None:
    """``soffice --convert-to`` in one run for all ``sources`` (its own temporary profile)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise RuntimeError(LIBREOFFICE_MISSING)
    with tempfile.TemporaryDirectory(prefix="replica-lo-") as profile:
        subprocess.run([soffice, "--headless", "--norestore", "--nolockcheck",
                        f"-env:UserInstallation={Path(profile).as_uri()}", "--convert-to", target,
                        "--outdir", str(out), *map(str, sources)],
                       check=True, capture_output=True, timeout=600)


class Pool:
    """The LibreOffice-made files (flavours doc, wps, xls, pdf-office), made once, cached on disk."""

    FLAVOURS = {"doc": ("docx", "doc"), "wps": ("docx", "doc"), "xls": ("xlsx", "xls"), "pdf-office": ("docx", "pdf")}

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or CACHE / f"attachments-v{GENERATOR_VERSION}"
        self._lock = threading.Lock()
        self._truth: dict[str, dict[str, Any]] | None = None

    def file(self, flavour: str, index: int) -> tuple[bytes, dict[str, Any]]:
        truth = self._load()
        name = f"{flavour}-{index % POOL_SIZE}"
        return (self.directory / name).read_bytes(), truth[name]

    def _load(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._truth is None:
                index = self.directory / "truth.json"
                self.directory.mkdir(parents=True, exist_ok=True)
                with open(self.directory / ".lock", "w") as lock:  # one maker across processes
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    if not index.exists():
                        self._make(index)
                self._truth = json.loads(index.read_text("utf-8"))
            return self._truth

    def _make(self, index: Path) -> None:
        writer = BulletinWriter(MeetingCalendar(POOL_SEED))
        truth: dict[str, dict[str, Any]] = {}
        with tempfile.TemporaryDirectory(prefix="replica-pool-") as work:
            sources: dict[tuple[str, str], list[Path]] = {}
            for flavour, (source_ext, target) in self.FLAVOURS.items():
                for i in range(POOL_SIZE):
                    rng = random.Random(f"pool/{POOL_SEED}/{flavour}/{i}")
                    published = date(2020, 1, 1) + timedelta(days=rng.randint(0, 1800))
                    if flavour == "xls":
                        content = list_content(writer, rng, published, f"{published.year}年督办事项落实情况统计表")
                        data = xlsx_bytes(content)
                    else:  # one with a summary table, so every pool file has a table to read
                        content = bulletin_content(writer, rng, published, _pool_title(published))
                        while not any(kind == "table" for kind, _ in content.blocks):
                            content = bulletin_content(writer, rng, published, _pool_title(published))
                        data = docx_bytes(content)
                    name = f"{flavour}-{i}"
                    source = Path(work, f"{name}.{source_ext}")
                    source.write_bytes(data)
                    sources.setdefault((source_ext, target), []).append(source)
                    truth[name] = content.truth(flavour)
            for (_, target), files in sources.items():
                libreoffice_convert(files, target, Path(work))
            for name in truth:
                source_ext, target = self.FLAVOURS[truth[name]["flavour"]]
                shutil.copyfile(Path(work, f"{name}.{target}"), self.directory / name)
        index.write_text(json.dumps(truth, ensure_ascii=False), "utf-8")


def _pool_title(published: date) -> str:
    return f"关于{published.year}年{published.month}月市政府常务会议纪要确定事项落实情况的督查通报"


# --------------------------------------------------------------------------- the site's files


class AttachmentFiles:
    """The bytes and truth of every attachment of a site, made on first request and kept."""

    def __init__(self, seed: int, writer: BulletinWriter, pool: Pool | None = None) -> None:
        self.seed = seed
        self.writer = writer
        self.pool = pool or _shared_pool()
        self._lock = threading.Lock()
        self._made: dict[str, tuple[bytes, dict[str, Any]]] = {}

    def data(self, doc: Doc, attachment: Attachment) -> bytes:
        return self._file(doc, attachment)[0]

    def truth(self, doc: Doc, attachment: Attachment) -> dict[str, Any]:
        return self._file(doc, attachment)[1]

    def _file(self, doc: Doc, attachment: Attachment) -> tuple[bytes, dict[str, Any]]:
        key = f"{doc.docid}/{doc.rev}/{attachment.path}"
        with self._lock:
            made = self._made.get(key)
        if made is None:
            made = self._make(doc, attachment)
            with self._lock:
                self._made[key] = made
        return made

    def _make(self, doc: Doc, attachment: Attachment) -> tuple[bytes, dict[str, Any]]:
        index = doc.attachments.index(attachment) if attachment in doc.attachments else 0
        rng = random.Random(f"attachment-content/{self.seed}/{doc.docid}/{index}")
        flavour = self.flavour(attachment, rng)
        if flavour in Pool.FLAVOURS:
            return self.pool.file(flavour, rng.randrange(POOL_SIZE))
        content = self.content(doc, attachment, rng)
        if flavour == "pdf-scan":
            return pdf_scan_bytes(content), scan_truth(content, flavour)
        maker = {"pdf-text": pdf_text_bytes, "docx": docx_bytes, "xlsx": xlsx_bytes, "zip": zip_bytes}[flavour]
        truth = content.truth(flavour)
        if flavour == "zip":
            truth = {**truth, "text": "", "tables": [], "structure": {"meetings": [], "items": []},
                     "error": "a zip archive (its files are not opened)"}
        return maker(content), truth

    @staticmethod
    def flavour(attachment: Attachment, rng: random.Random) -> str:
        if attachment.ext == "pdf":
            names, weights = zip(*PDF_FLAVOURS)
            return rng.choices(names, weights)[0]
        return {"doc": "doc", "wps": "wps", "xls": "xls", "docx": "docx", "xlsx": "xlsx"}.get(attachment.ext, "zip")

    def content(self, doc: Doc, attachment: Attachment, rng: random.Random) -> Content:
        name = attachment.name.strip()
        title = name.rsplit(".", 1)[0] if "." in name[-6:] else name
        if attachment.ext in ("xls", "xlsx") or "统计表" in name or "清单" in name:
            return list_content(self.writer, rng, doc.published, title)
        if len(doc.blocks) == 1 and ONLY_SEE_ATTACHMENT in str(doc.blocks[0][1]):
            return bulletin_content(self.writer, rng, doc.published, doc.title)
        return Content(doc.title, list(doc.blocks), _with_deadlines(doc.structure))


@lru_cache(maxsize=1)
def _shared_pool() -> Pool:
    return Pool()
