"""Text, tables and items of attachments, against the truth of real generated files.

The files are the replica's (``tests/replica/attachment_files.py``): made once per session,
LibreOffice's pool cached on disk. Each is read as the archive reads it, through
:class:`~pipelines.attachment_sandbox.AttachmentReader` (limited children, as each in a child of its own).
"""
from __future__ import annotations

import dataclasses
import difflib
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import zipfile
import zlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipelines.attachment_items import attachment_structure, items_from_tables
from pipelines.attachment_sandbox import READS_PER_CHILD, AttachmentReader, Limits
from pipelines.attachment_text import MISSING, Tools, detect_kind
from pipelines.attachment_warmup import warm_up
from tests.replica import attachment_files as files
from tests.replica.corpus import BulletinWriter, MeetingCalendar
from tests.replica.site import Site

TEXT_LAYER, OCR = 0.99, 0.95
REPO = Path(__file__).resolve().parent.parent


def similarity(got: str, want: str) -> float:
    """Character similarity of two texts, whitespace aside (line breaks are layout)."""
    def squeeze(text: str) -> str:
        return re.sub(r"\s+", "", text)
    return difflib.SequenceMatcher(None, squeeze(got), squeeze(want), autojunk=False).ratio()


def items_as_truth(structure: Any) -> dict[str, list[dict[str, Any]]]:
    items = [dataclasses.asdict(item) for item in structure.items]
    for item in items:
        del item["group_heading"]
    return {"meetings": [dataclasses.asdict(m) for m in structure.meetings], "items": items}


@pytest.fixture(scope="session")
def reader():
    with AttachmentReader(ocr=True) as opened:
        yield opened


@pytest.fixture(scope="session")
def made() -> dict[str, tuple[str, bytes, dict[str, Any]]]:
    """One file of each flavour: flavour -> (file name, bytes, truth)."""
    writer = BulletinWriter(MeetingCalendar(7))
    day = date(2021, 6, 18)
    title = "关于2021年4月至5月市政府常务会议纪要确定事项落实情况的督查通报"
    bulletin = next(content for content in (files.bulletin_content(writer, random.Random(seed), day, title)
                                            for seed in range(100))
                    if any(kind == "table" for kind, _ in content.blocks))  # one with a summary table
    listed = next(content for content in (files.list_content(writer, random.Random(seed), day, "附件1:2021年督办事项落实情况统计表")
                                          for seed in range(4, 200))
                  if len(content.blocks[0][1]) > 12)  # a list long enough to go on over a page
    out = {
        "pdf-text": ("通报.pdf", files.pdf_text_bytes(bulletin), bulletin.truth("pdf-text")),
        "pdf-text-list": ("清单.pdf", files.pdf_text_bytes(listed), listed.truth("pdf-text")),
        "docx": ("通报.docx", files.docx_bytes(bulletin), bulletin.truth("docx")),
        "docx-list": ("清单.docx", files.docx_bytes(listed), listed.truth("docx")),
        "xlsx": ("清单.xlsx", files.xlsx_bytes(listed), listed.truth("xlsx")),
        "pdf-scan": ("扫描件.pdf", files.pdf_scan_bytes(bulletin), files.scan_truth(bulletin, "pdf-scan")),
    }
    image = io.BytesIO()
    files.scan_image(bulletin, most=8).save(image, format="PNG")
    out["png"] = ("扫描件.png", image.getvalue(), files.scan_truth(bulletin, "png", most=8))
    pool = files.Pool()
    for flavour, name in (("doc", "附件.doc"), ("wps", "附件.wps"), ("xls", "附件.xls"), ("pdf-office", "附件.pdf")):
        data, truth = pool.file(flavour, 0)
        out[flavour] = (name, data, truth)
    data, truth = pool.file("xls", 1)
    out["et"] = ("附件.et", data, truth)  # Kingsoft ET saved as BIFF, as portals serve it
    return out


@pytest.fixture(scope="session")
def read(made, reader) -> dict[str, Any]:
    return {flavour: reader.read(data, name) for flavour, (name, data, _) in made.items()}


FLAVOURS = ["pdf-text", "pdf-text-list", "pdf-office", "docx", "docx-list", "xlsx", "doc", "wps", "xls", "et",
            "pdf-scan", "png"]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_text_matches_the_truth(flavour, made, read):
    truth, result = made[flavour][2], read[flavour]
    ocr = truth["method"] == "ocr"
    assert result.error is None
    ratio = similarity(result.text, truth["text"])
    assert ratio >= (OCR if ocr else TEXT_LAYER), (flavour, ratio, result.text[:300])
    if ocr:
        assert result.text_method == "ocr" and result.ocr_confidence > 80
    else:
        assert result.text_method != "ocr" and result.ocr_confidence is None


@pytest.mark.parametrize("flavour", [f for f in FLAVOURS if f not in ("pdf-scan", "png")])
def test_every_truth_row_of_every_table_is_read(flavour, made, read):
    truth, result = made[flavour][2], read[flavour]
    got = {tuple(row) for table in result.tables for row in table}
    want = [tuple(row) for table in truth["tables"] for row in table]
    assert want and [row for row in want if row not in got] == []
    for row in want:  # the text holds them too, as tab-joined lines
        assert "\t".join(row) in result.text.split("\n")


@pytest.mark.parametrize("flavour", [f for f in FLAVOURS if f not in ("pdf-scan", "png")])
def test_items_from_attachments_match_the_truth(flavour, made, read):
    truth, result = made[flavour][2], read[flavour]
    assert truth["structure"]["items"]
    assert items_as_truth(attachment_structure(result.text, result.tables)) == truth["structure"]


def test_what_each_file_is_and_how_it_was_read(made, read):
    kinds = {flavour: (read[flavour].kind, read[flavour].text_method) for flavour in made}
    assert kinds["pdf-text"] == ("pdf", "pdf") and kinds["pdf-office"] == ("pdf", "pdf")
    assert kinds["wps"][0] == "doc" and kinds["et"] == ("xls", "xls")  # by their bytes, not their names
    assert kinds["docx"] == ("docx", "docx") and kinds["xlsx"] == ("xlsx", "xlsx")
    assert kinds["doc"][1] in ("antiword", "libreoffice") and kinds["png"] == ("image", "ocr")
    assert read["pdf-text"].pages >= 2 and read["xlsx"].pages == 2  # pages; sheets


def test_page_headers_and_numbers_are_not_in_the_text(read):
    text = read["pdf-text"].text
    assert files.RUNNING_HEADER not in text and not re.search(r"^- \d+ -$", text, re.MULTILINE)
    assert read["pdf-text"].pages >= 2


def test_wrapped_lines_of_a_paragraph_are_one_line_again(made, read):
    truth_lines = set(made["pdf-text"][2]["text"].split("\n"))
    got = read["pdf-text"].text.split("\n")
    long_lines = [line for line in truth_lines if len(line) > 120]
    assert long_lines and sum(line in got for line in long_lines) >= 0.8 * len(long_lines)


def test_a_table_continued_on_the_next_page_is_one_table(made, read):
    result = read["pdf-text-list"]
    assert result.pages >= 2
    rows = made["pdf-text-list"][2]["tables"][0]
    assert any(table[0] == files.LIST_HEADER and len(table) >= len(rows) for table in result.tables)


def test_supervision_list_rows_become_items_with_meeting_units_deadline_and_status():
    rows = [["2021年督办事项落实情况统计表"], ["序号", "督查事项", "牵头单位", "完成时限", "进展情况"],
            ["一、尚未完全落实事项"], ["(一)2021年4月15日市政府第5次常务会议"],
            ["1", "审议《咸宁市城市管理办法》的落实情况。", "市城管执法委、市司法局", "2021年6月底", "已完成初稿。"],
            ["", "", "", "", "正在征求意见。"],
            ["二、已落实事项"], ["1", "研究冷链物流有关事项。", "市发改委", "2021年12月", "已开工。"],
            ["合计", "", "", "", ""]]
    got = items_as_truth(items_from_tables([rows, [["说明"], ["不是清单"]]]))
    assert got["meetings"] == [{"date": "2021-04-15", "number": 5, "kind": "常务会议",
                                "heading": "(一)2021年4月15日市政府第5次常务会议"}]
    first, second = got["items"]
    assert first == {"meeting_index": 0, "position": 1, "section": "尚未完全落实事项", "status": "pending",
                     "subject": "审议《咸宁市城市管理办法》的落实情况。", "documents": ["咸宁市城市管理办法"],
                     "units": ["市城管执法委", "市司法局"], "progress": "已完成初稿。\n正在征求意见。",
                     "deadline": "2021年6月底"}
    assert (second["section"], second["status"], second["meeting_index"]) == ("已落实事项", "done", None)


# --------------------------------------------------------------------------- the replica's own


def test_every_attachment_of_the_replica_has_its_text_and_items(reader):
    """A small replica: each attachment served is read back to its truth (OCR'd scans too)."""
    site = Site("127.0.0.1:9", per_family=6, seed=7)
    only = site.add_bulletin("xianning", kind="attachment_only")  # "……具体内容详见附件。"
    assert "详见附件" in only["body"] and len(only["body"].split("\n")) == 1
    attachments = [(route[1], route[2]) for route in site._routes.values() if route[0] == "attachment"]
    done: dict[bytes, Any] = {}
    flavours = set()
    for doc, attachment in attachments:
        data, truth = site.attachment_files.data(doc, attachment), site.attachment_files.truth(doc, attachment)
        flavours.add(truth["flavour"])
        result = done.get(data) or reader.read(data, attachment.name)
        done[data] = result
        if truth.get("error"):
            assert result.error == truth["error"]
            continue
        ratio = similarity(result.text, truth["text"])
        assert ratio >= (OCR if truth["method"] == "ocr" else TEXT_LAYER), (attachment.path, truth["flavour"], ratio)
        if truth["structure"] is not None:
            assert items_as_truth(attachment_structure(result.text, result.tables)) == truth["structure"]
    assert {"docx", "doc", "xls"} <= flavours and len(done) >= 8
    substance = site.attachment_truth(only["attachments"][0]["url"])
    assert substance["structure"] is None or substance["structure"]["items"]  # the items are in the file


# --------------------------------------------------------------------------- Word's own shapes


WORD_NAMESPACES = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
                   'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')


def word_package(document: str | bytes, part: str = "word/document.xml", leave_out: str = "") -> bytes:
    """python-docx's blank document whose main part is ``document`` (a w:body's content, or the
    part's bytes), stored as ``part`` (its relationship and content type following), without
    the member ``leave_out``."""
    import docx

    if isinstance(document, str):
        document = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document {WORD_NAMESPACES}>'
                    f'<w:body>{document}<w:sectPr/></w:body></w:document>').encode()
    blank = io.BytesIO()
    docx.Document().save(blank)
    renamed = {"word/document.xml": part, "word/_rels/document.xml.rels": part.replace("/", "/_rels/", 1) + ".rels"}
    out = io.BytesIO()
    with zipfile.ZipFile(blank) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name in source.namelist():
            data = document if name == "word/document.xml" else source.read(name)
            if name in ("[Content_Types].xml", "_rels/.rels"):
                data = data.replace(b"word/document.xml", part.encode())
            if renamed.get(name, name) != leave_out:
                package.writestr(renamed.get(name, name), data)
    return out.getvalue()


def run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{text}</w:t></w:r>'


def test_word_tables_give_a_merged_cell_once_and_a_nested_tables_text_in_its_cell(reader):
    """Cells merged across (gridSpan) and down (vMerge) are one cell, read once where python-docx
    repeats them; a table nested in a cell is the cell's text (python-docx read only the cell's
    own paragraphs, losing it), not a table of the file's own."""
    import docx

    document = docx.Document()
    document.add_paragraph("督查事项汇总")
    table = document.add_table(rows=3, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "督查事项"
    table.cell(1, 2).merge(table.cell(2, 2)).text = "市住建局"
    for (row, column), text in {(0, 2): "责任单位", (1, 0): "1", (1, 1): "修订城市管理办法",
                                (2, 0): "2", (2, 1): "老旧小区改造"}.items():
        table.cell(row, column).text = text
    nested = table.cell(2, 1).add_table(rows=1, cols=2)
    nested.cell(0, 0).text, nested.cell(0, 1).text = "内层表格", "不读"
    buffer = io.BytesIO()
    document.save(buffer)
    result = reader.read(buffer.getvalue(), "汇总.docx")
    rows = [["督查事项", "责任单位"], ["1", "修订城市管理办法", "市住建局"], ["2", "老旧小区改造内层表格 不读", "市住建局"]]
    assert (result.error, result.kind, result.text_method) == (None, "docx", "docx")
    assert result.tables == [rows]
    assert result.text == "\n".join(["督查事项汇总"] + ["\t".join(row) for row in rows])


def test_word_runs_hyperlinks_fields_and_deletions_read_as_word_shows_them(reader):
    """A hyperlink's text is the paragraph's; a tab is a space, a line break a new line, a page
    break nothing; a field gives its result, not its code; deleted text is not read."""
    body = "".join(f"<w:p>{content}</w:p>" for content in (
        run("详见") + f'<w:hyperlink r:id="rId99">{run("《咸宁市城市管理办法》")}</w:hyperlink>' + run("。"),
        '<w:r><w:t>序号</w:t><w:tab/><w:t>事项</w:t><w:br/><w:t>第二行</w:t><w:br w:type="page"/><w:t>同一行</w:t></w:r>',
        run("第") + '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r>' + run("7") + '<w:r><w:fldChar w:fldCharType="end"/></w:r>' + run("页"),
        run("已完成") + '<w:del w:id="1" w:author="审核"><w:r><w:delText>未完成</w:delText></w:r></w:del>' + run("整改"),
    ))
    result = reader.read(word_package(body), "通报.docx")
    assert result.error is None and result.tables == []
    assert result.text == "详见《咸宁市城市管理办法》。\n序号 事项\n第二行同一行\n第7页\n已完成整改"


def test_word_text_inside_controls_insertions_fields_and_text_boxes_is_read_once(reader):
    """What Word shows is read, whatever wraps it: a content control (at body level, around a
    paragraph or a table, and inside a paragraph, its placeholder properties left out), a tracked
    insertion and move, a smart tag, custom XML, a simple field's result, a table row in a control;
    a text box's paragraphs after the paragraph holding it, once though it is offered twice (a
    drawing and its VML fallback); deleted and moved-away text is not read."""
    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    box = f"<w:txbxContent><w:p>{run('市政府督查室')}</w:p></w:txbxContent>"
    body = "".join([
        f'<w:sdt><w:sdtPr><w:alias w:val="标题"/><w:text/></w:sdtPr><w:sdtContent><w:p>{run("关于督查事项的通报")}</w:p>'
        f'</w:sdtContent></w:sdt>',
        f'<w:p>{run("一、")}<w:ins w:id="1" w:author="审核">{run("新增")}</w:ins>'
        f'<w:moveFrom w:id="2" w:author="审核">{run("旧位置")}</w:moveFrom><w:moveTo w:id="3" w:author="审核">{run("移来")}</w:moveTo>'
        f'<w:smartTag w:uri="urn:x" w:element="date">{run("2022年3月")}</w:smartTag>'
        f'<w:customXml w:element="unit">{run("市住建局")}</w:customXml>'
        f'<w:fldSimple w:instr=" PAGE ">{run("7")}</w:fldSimple>'
        f'<w:sdt><w:sdtPr><w:showingPlcHdr/></w:sdtPr><w:sdtContent>{run("（已办结）")}</w:sdtContent></w:sdt></w:p>',
        f'<w:p {mc}>{run("附注")}<w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing>{box}</w:drawing></mc:Choice>'
        f'<mc:Fallback><w:pict>{box}</w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>',
        f'<w:sdt><w:sdtContent><w:tbl><w:tr><w:tc><w:p>{run("序号")}</w:p></w:tc><w:tc><w:p>{run("事项")}</w:p></w:tc></w:tr>'
        f'<w:sdt><w:sdtContent><w:tr><w:tc><w:p>{run("1")}</w:p></w:tc><w:tc><w:p>{run("老旧小区改造")}</w:p></w:tc></w:tr>'
        f'</w:sdtContent></w:sdt></w:tbl></w:sdtContent></w:sdt>',
        f'<w:customXml w:element="end"><w:p>{run("特此通报。")}</w:p></w:customXml>',
    ])
    result = reader.read(word_package(body), "通报.docx")
    assert result.error is None
    assert result.tables == [[["序号", "事项"], ["1", "老旧小区改造"]]]
    assert result.text == ("关于督查事项的通报\n一、新增移来2022年3月市住建局7（已办结）\n附注\n市政府督查室\n"
                           "序号\t事项\n1\t老旧小区改造\n特此通报。")


def test_a_word_document_whose_main_part_is_not_word_document_xml(reader):
    """The main part is the one the package's relationship names, as Word finds it."""
    data = word_package(f"<w:p>{run('主文档')}</w:p><w:tbl><w:tr><w:tc><w:p>{run('甲')}</w:p></w:tc>"
                        f"<w:tc><w:p>{run('乙')}</w:p></w:tc></w:tr></w:tbl>", part="word/main.xml")
    assert "word/document.xml" not in zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert detect_kind(data, "a.zip") == "docx"
    result = reader.read(data, "a.docx")
    assert result.error is None and result.text == "主文档\n甲\t乙" and result.tables == [[["甲", "乙"]]]


# --------------------------------------------------------------------------- hostile files


@pytest.fixture(scope="module")
def strict():
    """Tighter limits than the archive's, so bombs hit them fast."""
    with AttachmentReader(ocr=True, limits=Limits(memory=512 * 2 ** 20, cpu=30, wall=60)) as opened:
        yield opened


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as member:
            chunk = b"\0" * 2 ** 20
            for _ in range(100):
                member.write(chunk)
    return buffer.getvalue()


def pdf_bomb(inflated: int = 700 * 2 ** 20) -> bytes:
    """One page whose content stream inflates to ``inflated`` bytes (about 0.1% of that on disk)."""
    packer = zlib.compressobj(9)
    chunk = b" " * 2 ** 20
    stream = b"".join(packer.compress(chunk) for _ in range(inflated // len(chunk))) + packer.flush()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
               b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def encrypted_pdf() -> bytes:
    from reportlab.lib import pdfencrypt
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, encrypt=pdfencrypt.StandardEncryption("secret", "owner"))
    page.setFont(files._reportlab_font(), 12)
    page.drawString(72, 720, "机密督查事项")
    page.save()
    return buffer.getvalue()


@pytest.mark.parametrize("name, make, reason", [
    ("bomb.docx", zip_bomb, "zip bomb"),
    ("bomb.pdf", pdf_bomb, "memory"),
    ("locked.pdf", encrypted_pdf, "encrypted PDF"),
    ("broken.pdf", lambda: b"%PDF-1.7\n" + random.Random(1).randbytes(4000), "corrupt"),
    ("broken.docx", lambda: b"PK\x03\x04" + random.Random(2).randbytes(4000), "corrupt"),
    ("not-xml.docx", lambda: word_package(b"<w:document><w:body><w:p>unclosed"), "corrupt docx"),
    ("no-document.docx", lambda: word_package("<w:p/>", leave_out="word/document.xml"), "corrupt docx"),
    ("deep.docx", lambda: word_package("<w:customXml>" * 5000 + "</w:customXml>" * 5000), "corrupt docx"),
    ("broken.xls", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + random.Random(3).randbytes(4000), "corrupt"),
    ("page.pdf", lambda: b"<!DOCTYPE html><html><body>404 Not Found</body></html>", "an HTML page"),
])
def test_hostile_files_are_recorded_errors(strict, name, make, reason):
    result = strict.read(make(), name)
    assert result.error and reason in result.error, result.error
    assert result.text == "" and result.tables == []


def test_a_file_taking_too_long_is_stopped_with_what_it_started(made):
    name, data, _ = made["pdf-scan"]
    with AttachmentReader(ocr=True, limits=Limits(wall=0.5)) as hurried:
        result = hurried.read(data, name)
        assert result.error == "took longer than 0.5 s: stopped"
        assert hurried.read(made["docx"][1], "next.docx").error is None  # the next file is read as usual


# --------------------------------------------------------------------------- a child reading file after file


def children(pid: int) -> set[int]:
    """The process ids of ``pid``'s children, as the kernel lists them."""
    return {int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()}


def reading_child(reader: AttachmentReader, before: set[int]) -> tuple[int, set[int]]:
    """The server of ``reader`` (this process's child not in ``before``) and its children now."""
    (server,) = children(os.getpid()) - before
    return server, children(server)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gone(pid: int) -> bool:
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def test_one_child_reads_file_after_file_until_its_quota(made):
    name, data, _ = made["docx"]
    before = children(os.getpid())
    with AttachmentReader() as reader:
        first = reader.read(data, name)
        server, (child,) = reading_child(reader, before)
        for _ in range(READS_PER_CHILD - 2):
            assert reader.read(data, name) == first
            assert children(server) == {child}  # the same child, waiting for the next file
        assert reader.read(data, name) == first  # its last: it retires
        assert children(server) == set()
        assert reader.read(data, name) == first
        (fresh,) = children(server)
        assert fresh != child
    assert first.error is None and first.kind == "docx" and first.text


@pytest.mark.parametrize("name, make", [
    ("bomb.pdf", pdf_bomb),
    ("bomb.docx", zip_bomb),
    ("broken.pdf", lambda: b"%PDF-1.7\n" + random.Random(1).randbytes(4000)),
])
def test_a_hostile_file_after_good_ones_gets_a_fresh_childs_answer_and_the_next_is_read(made, name, make):
    data = make()
    limits = Limits(memory=512 * 2 ** 20, cpu=30, wall=60)
    with AttachmentReader(limits=limits) as alone:
        expected = alone.read(data, name)  # the first file of a new server's first child
    assert expected.error
    before = children(os.getpid())
    with AttachmentReader(limits=limits) as reader:
        good = [reader.read(made[flavour][1], made[flavour][0]) for flavour in ("docx", "pdf-text")]
        server, (child,) = reading_child(reader, before)
        assert reader.read(made["xlsx"][1], made["xlsx"][0]).error is None
        assert children(server) == {child}  # the hostile file comes to a child that read three before it
        assert reader.read(data, name) == expected
        assert [reader.read(made[flavour][1], made[flavour][0]) for flavour in ("docx", "pdf-text")] == good
    assert [result.error for result in good] == [None, None]


def test_a_child_that_died_between_files_is_not_the_next_files_answer(made):
    """Killed while it waited (as the kernel's OOM killer may pick it), a child that had read a
    file cannot take the next: that file is read in a fresh child, not answered with the death."""
    name, data, _ = made["docx"]
    before = children(os.getpid())
    with AttachmentReader() as reader:
        first = reader.read(data, name)
        server, (child,) = reading_child(reader, before)
        os.kill(child, signal.SIGKILL)
        assert reader.read(data, name) == first
        assert children(server) - {child}


def test_the_cpu_limit_is_per_file_not_per_child():
    """Files of a third of a second each (of a 2 s limit): one child reads them past 2 s of its
    own CPU without being stopped. (``RLIMIT_CPU`` counts whole seconds; a test of files near
    the limit itself would take seconds of CPU: that a file over it is stopped is shown by a
    child's own first file, as before.)"""
    def cell(text: str) -> str:
        return f"<w:tc><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"
    rows = "".join("<w:tr>" + "".join(cell(f"督查{row}-{column}") for column in range(6)) + "</w:tr>" for row in range(6000))
    data = word_package(f"<w:tbl>{rows}</w:tbl>")
    before = children(os.getpid())
    with AttachmentReader(limits=Limits(cpu=2)) as reader:
        first = reader.read(data, "large.docx")
        server, (child,) = reading_child(reader, before)
        for _ in range(READS_PER_CHILD - 2):
            assert reader.read(data, "large.docx") == first
            assert children(server) == {child}, "stopped by the CPU limit (its file read again in a new child)"
            if cpu_seconds(child) > 2.2:
                break
        else:
            pytest.fail("the files were too quick to pass the limit together")
    assert first.error is None and len(first.tables[0]) == 6000


def test_what_a_tool_leaves_running_is_killed_and_its_child_retires(made, tmp_path):
    """A converter that leaves a process behind it: a script standing in for LibreOffice (which
    only does so when it hangs). The child that ran it retires as soon as it answers, its
    process group killed, as every child's was after its file."""
    name, data, _ = made["docx"]
    (tmp_path / "converted.docx").write_bytes(data)
    converter = tmp_path / "soffice"
    converter.write_text(f"""#!/bin/sh
sleep 300 </dev/null >/dev/null 2>&1 &
echo $! > {tmp_path}/left-running
while [ $# -gt 0 ]; do [ "$1" = --outdir ] && out=$2; shift; done
mkdir -p "$out" && cp {tmp_path}/converted.docx "$out/attachment.docx"
""")
    converter.chmod(0o755)
    before = children(os.getpid())
    with AttachmentReader(tools=Tools(soffice=str(converter), antiword=None, tesseract=None)) as reader:
        direct = reader.read(data, name)
        server, (child,) = reading_child(reader, before)
        converted = reader.read(b"{\\rtf1 converted by the script}", "a.rtf")
        left = int((tmp_path / "left-running").read_text())
        assert converted.text == direct.text and converted.text_method == "libreoffice"
        assert children(server) == set()  # retired at once
        deadline = time.monotonic() + 10
        while not gone(left) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gone(left)
        assert reader.read(data, name) == direct
        assert children(server) - {child}


def test_the_servers_warm_up_documents_are_read_cleanly():
    """The sandbox's server reads them once before it forks (each parser's first-call work then
    inherited by every child): each is a real document of its type, its text and table read."""
    results = {result.kind: result for result in warm_up()}
    assert sorted(results) == ["docx", "pdf", "xls", "xlsx"]
    assert all(result.error is None for result in results.values())
    assert results["pdf"].tables == [[["序号", "事项"], ["1", "2"]]] and "督查通报" in results["pdf"].text
    assert results["docx"].text.splitlines() == ["督查通报", "Warm-up 2022", "序号\t事项"]
    assert results["xlsx"].tables == [[["序号", "完成时限"], ["1", "2022-09-30", "已完成"]]]
    assert results["xls"].tables == [[["序号", "完成时限"], ["1", "2022-09-30"]]]


_UNDER_A_TIGHT_ADDRESS_SPACE = """
import json, os, resource
from pipelines.attachment_sandbox import AttachmentReader
from pipelines.attachment_warmup import samples, warm_up

def address_space(pid):
    return next(int(line.split()[1]) for line in open(f"/proc/{pid}/status") if line.startswith("VmSize:")) * 1024

def limit_to(size):
    resource.setrlimit(resource.RLIMIT_AS, (size + 2 * 2 ** 20, resource.RLIM_INFINITY))

pid = os.fork()
if pid == 0:  # the premise: a process with 2 MiB of address space to spare cannot read the warm-up files
    import docx, openpyxl, pypdfium2, xlrd
    limit_to(address_space(os.getpid()))
    warm_up()
    os._exit(0)
warm_up_status = os.waitpid(pid, 0)[1]
with AttachmentReader() as unlimited:
    unlimited.read(b"", "started.txt")
    server = int(open(f"/proc/self/task/{os.getpid()}/children").read().split()[0])
    limit_to(address_space(server))  # inherited by the next server: room for its imports, not for the warm-up
found = samples()
with AttachmentReader() as reader:  # its children raise their own limit, as always
    read = {name: reader.read(found[name], name) for name in ("warm-up.pdf", "warm-up.xls")}
print(json.dumps({"warm_up_status": warm_up_status, **{name: [r.text, r.error] for name, r in read.items()}}))
"""


def test_a_server_whose_warm_up_aborts_still_reads_every_file():
    """A real failure: an address space with room for the server's imports but not for PDFium's
    warm-up read (PDFium aborts when an allocation fails). The warm-up is tried in a child
    first, so the server starts cold instead of dying, and files are read as before."""
    done = subprocess.run([sys.executable, "-c", _UNDER_A_TIGHT_ADDRESS_SPACE], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["warm_up_status"] != 0  # the warm-up does fail with so little room
    assert answer["warm-up.pdf"] == ["督查通报Warm-up 2022\n序号\t事项\n1\t2", None]
    assert answer["warm-up.xls"] == ["序号\t完成时限\n1\t2022-09-30", None]


def test_missing_tools_give_one_line_naming_the_package_and_the_rest_is_read(made, tmp_path):
    assert Tools.discover(path=str(tmp_path)).missing() == [MISSING["soffice"], MISSING["tesseract"]]
    bare = Tools(soffice=None, antiword=None, tesseract=None)
    with AttachmentReader(ocr=True, tools=bare) as reader:
        assert reader.missing == [MISSING["soffice"], MISSING["tesseract"]]
        assert "apt-get install libreoffice-writer-nogui" in reader.missing[0]
        assert "apt-get install tesseract-ocr-chi-sim" in reader.missing[1]
        assert reader.read(made["doc"][1], "a.doc").error == MISSING["soffice"]
        assert reader.read(made["pdf-scan"][1], "a.pdf").error == MISSING["tesseract"]
        docx, xls = reader.read(made["docx"][1], "a.docx"), reader.read(made["xls"][1], "a.xls")
        assert docx.error is None and docx.text and xls.error is None and xls.tables


def test_ocr_is_opt_in(made):
    with AttachmentReader(ocr=False) as reader:
        result = reader.read(made["pdf-scan"][1], "scan.pdf")
    assert result.text == "" and result.pages == 1 and "OCR is off" in result.error


def test_the_type_comes_from_the_bytes(made):
    assert detect_kind(made["docx"][1], "x.pdf") == "docx"
    assert detect_kind(made["wps"][1], "x.wps") == "doc"
    assert detect_kind(made["xlsx"][1], "x.xls") == "xlsx"
    assert detect_kind(b"\n  <html><head>", "x.pdf") == "html"
    assert detect_kind(b"", "x.pdf") == "empty"


def test_chinese_pdfs_are_read_character_for_character_in_the_sandbox(made, read):
    """In a sandbox child: reportlab's PDFs, whose STSong-Light is neither embedded nor carries a
    map to Unicode (only Adobe's UniGB-UCS2-H CMap names it), and LibreOffice's, with embedded
    subsets, give every character of the truth, none more (spaces and line breaks aside)."""
    def squeezed(text: str) -> str:
        return re.sub(r"\s+", "", text)
    for flavour in ("pdf-text", "pdf-text-list", "pdf-office"):
        result, truth = read[flavour], made[flavour][2]
        assert re.search(r"[\u4e00-\u9fff]{20}", result.text), flavour
        assert squeezed(result.text) == squeezed(truth["text"]), flavour


def test_a_table_printed_across_a_portrait_page_reads_as_rows(reader):
    """A landscape table turned onto a portrait page (and a page shown turned by /Rotate): its
    rows and the text above it read left to right, as a reader turning the paper sees them."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas
    from reportlab.platypus import Table, TableStyle

    rows = [["序号", "督查事项", "责任单位", "完成时限"], ["1", "修订城市管理办法", "市城管执法委", "2021年6月底"],
            ["2", "老旧小区改造", "市住建局", "2021年9月"]]
    heading = "附件:2021年督办事项落实情况统计表"
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    for turn, rotate in ((90, 0), (-90, 0), (0, 90)):
        page.setPageRotation(rotate)
        page.saveState()
        if turn:
            page.translate(*((A4[0], 0) if turn == 90 else (0, A4[1])))
            page.rotate(turn)
        page.setFont(files._reportlab_font(), 14)
        page.drawString(72, 500, heading)
        table = Table(rows, colWidths=[40, 200, 120, 100], rowHeights=22)
        table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), files._reportlab_font(), 10),
                                   ("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
        table.wrapOn(page, 500, 400)
        table.drawOn(page, 72, 400)
        page.restoreState()
        page.showPage()
    page.save()
    result = reader.read(buffer.getvalue(), "统计表.pdf")
    assert result.error is None and result.pages == 3
    assert result.tables == [rows] * 3
    assert result.text.split("\n") == ([heading] + ["\t".join(row) for row in rows]) * 3
