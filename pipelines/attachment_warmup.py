"""Tiny documents of each type the sandbox's server reads once before it forks its readers.

Why: what a parser does on its first call only (PDFium lists the system fonts to substitute the
ones a PDF does not embed; openpyxl and xlrd set up their style and format tables; lazy imports,
regular expressions, the interpreter's specialised bytecode) is otherwise redone by every forked
child, each starting from the server's cold state. Read once in the server, it is inherited.
The files are built here, in memory, in a millisecond: a PDF written by hand, DOCX and XLSX as
the few zip members their readers need, an XLS as BIFF8 records in an OLE2 file.
"""
from __future__ import annotations

import io
import struct
import zipfile

from pipelines.attachment_text import _OLE2, AttachmentText, Tools, extract_attachment


def warm_up() -> list[AttachmentText]:
    """Each tiny document read once (no external tool runs). :func:`extract_attachment` never
    raises: a warm-up read that fails is a result with an ``error``, and the server starts all
    the same, only colder."""
    tools = Tools()
    return [extract_attachment(data, name, tools=tools) for name, data in samples().items()]


def samples() -> dict[str, bytes]:
    """name -> bytes of each tiny document."""
    return {"warm-up.pdf": _warm_up_pdf(), "warm-up.docx": _warm_up_docx(), "warm-up.xlsx": _warm_up_xlsx(),
            "warm-up.xls": _warm_up_xls()}


def _warm_up_pdf() -> bytes:
    """One page: Chinese in a font the PDF does not embed (STSong, substituted from the system's
    fonts, as the replica's reportlab PDFs and many portals' are), Latin in Helvetica, a ruled
    two-by-two table."""
    def chinese(text: str) -> str:
        return "<" + text.encode("utf-16-be").hex() + ">"
    grid = " ".join([f"72 {y} m 372 {y} l" for y in (600, 630, 660)] + [f"{x} 600 m {x} 660 l" for x in (72, 222, 372)])
    content = (f"BT /F1 16 Tf 72 760 Td {chinese('督查通报')} Tj ET BT /F2 11 Tf 72 730 Td (Warm-up 2022) Tj ET "
               f"BT /F1 11 Tf 80 640 Td {chinese('序号')} Tj 150 0 Td {chinese('事项')} Tj ET "
               f"BT /F2 11 Tf 80 610 Td (1) Tj 150 0 Td (2) Tj ET 0.5 w {grid} S").encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
         b" /Resources << /Font << /F1 5 0 R /F2 7 0 R >> >> >>"),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [6 0 R] >>",
        (b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /FontDescriptor 8 0 R"
         b" /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> >>"),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        (b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880]"
         b" /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>"),
    ]
    pdf, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(pdf)


_PACKAGE_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 '<Relationship Id="rId1" Target="{target}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                 'relationships/officeDocument"/></Relationships>')
_TYPES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>{overrides}</Types>')


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, text in members.items():
            package.writestr(name, text)
    return buffer.getvalue()


def _warm_up_docx() -> bytes:
    """Two paragraphs and a one-row table."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    cell = '<w:tc><w:p><w:r><w:t>{}</w:t></w:r></w:p></w:tc>'
    body = ('<w:p><w:r><w:t>督查通报</w:t></w:r></w:p><w:p><w:r><w:t>Warm-up 2022</w:t></w:r></w:p>'
            '<w:tbl><w:tblGrid><w:gridCol w:w="2000"/><w:gridCol w:w="2000"/></w:tblGrid>'
            f'<w:tr>{cell.format("序号")}{cell.format("事项")}</w:tr></w:tbl>')
    return _zip({
        "[Content_Types].xml": _TYPES.format(overrides='<Override PartName="/word/document.xml" ContentType="application/'
                                             'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'),
        "_rels/.rels": _PACKAGE_RELS.format(target="word/document.xml"),
        "word/document.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>',
    })


def _warm_up_xlsx() -> bytes:
    """One sheet: shared strings, a number, a date (a style with a date format), as Excel saves them."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    relationships = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    part = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    return _zip({
        "[Content_Types].xml": _TYPES.format(overrides="".join(
            f'<Override PartName="/xl/{name}" ContentType="{part}.{kind}+xml"/>'
            for name, kind in (("workbook.xml", "sheet.main"), ("worksheets/sheet1.xml", "worksheet"),
                               ("styles.xml", "styles"), ("sharedStrings.xml", "sharedStrings")))),
        "_rels/.rels": _PACKAGE_RELS.format(target="xl/workbook.xml"),
        "xl/workbook.xml": f'<workbook xmlns="{main}" xmlns:r="{relationships}"><sheets><sheet name="督办事项" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="{relationships}/worksheet"/>'
            f'<Relationship Id="rId2" Target="styles.xml" Type="{relationships}/styles"/>'
            f'<Relationship Id="rId3" Target="sharedStrings.xml" Type="{relationships}/sharedStrings"/></Relationships>'),
        "xl/styles.xml": (f'<styleSheet xmlns="{main}"><fonts count="1"><font><sz val="11"/><name val="宋体"/></font></fonts>'
                          '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
                          '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
                          '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
                          '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
                          '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
                          '<cellStyles count="1"><cellStyle name="常规" xfId="0" builtinId="0"/></cellStyles></styleSheet>'),
        "xl/sharedStrings.xml": f'<sst xmlns="{main}" count="3" uniqueCount="3"><si><t>序号</t></si><si><t>完成时限</t></si><si><t>已完成</t></si></sst>',
        "xl/worksheets/sheet1.xml": (f'<worksheet xmlns="{main}"><sheetData>'
                                     '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
                                     '<row r="2"><c r="A2"><v>1</v></c><c r="B2" s="1"><v>44834</v></c><c r="C2" t="s"><v>2</v></c></row>'
                                     '</sheetData></worksheet>'),
    })


def _warm_up_xls() -> bytes:
    """Excel 97 (BIFF8 in an OLE2 file, as Excel and WPS save .xls/.et): one sheet, two strings,
    a number, a date."""
    def record(kind: int, body: bytes = b"") -> bytes:
        return struct.pack("<HH", kind, len(body)) + body

    def text(value: str, length: str = "H") -> bytes:  # an uncompressed (UTF-16) Unicode string
        return struct.pack(f"<{length}B", len(value), 1) + value.encode("utf-16-le")

    def bof(kind: int) -> bytes:
        return record(0x0809, struct.pack("<HHHHII", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))

    def xf(number_format: int) -> bytes:  # 15 style XFs, then the cells': general (15), a date (16)
        return record(0x00E0, struct.pack("<HHHBBBBIiH", 0, number_format, 0xFFF5 if not number_format else 0,
                                          0x20, 0, 0, 0, 0, 0, 0x20C0))
    end = record(0x000A)
    sheet = (bof(0x10) + record(0x0200, struct.pack("<IIHHH", 0, 2, 0, 2, 0))
             + record(0x0204, struct.pack("<HHH", 0, 0, 15) + text("序号"))
             + record(0x0204, struct.pack("<HHH", 0, 1, 15) + text("完成时限"))
             + record(0x0203, struct.pack("<HHHd", 1, 0, 15, 1.0))
             + record(0x0203, struct.pack("<HHHd", 1, 1, 16, 44834.0)) + end)
    globals_ = bof(0x05) + record(0x0042, struct.pack("<H", 1200)) + xf(0) * 16 + xf(14)
    name = text("督办事项", "B")
    sheet_at = len(globals_) + 4 + 6 + len(name) + len(end)
    workbook = (globals_ + record(0x0085, struct.pack("<IBB", sheet_at, 0, 0) + name) + end + sheet).ljust(4096, b"\0")
    # OLE2, 512-byte sectors: the header, the allocation table (sector 0), the directory (1), the
    # Workbook stream (2…; 4096 bytes at least, else it would belong in the mini stream).
    free, end_of_chain, fat_sector, no_entry = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
    sectors = len(workbook) // 512
    header = (_OLE2 + bytes(16) + struct.pack("<HHHHH6xIIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, 0, 1, 1, 0, 4096,
                                               end_of_chain, 0, end_of_chain, 0, 0)
              + struct.pack("<I", free) * 108)
    chain = [fat_sector, end_of_chain] + [3 + n for n in range(sectors - 1)] + [end_of_chain]
    allocation = struct.pack(f"<{len(chain)}I", *chain) + struct.pack("<I", free) * (128 - len(chain))

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le") if name else b""
        return struct.pack("<64sHBBIII16sIQQIQ", encoded, len(encoded), kind, 1, no_entry, no_entry, child,
                           bytes(16), 0, 0, 0, start, size)
    directory = (entry("Root Entry", 5, 1, end_of_chain, 0) + entry("Workbook", 2, no_entry, 2, len(workbook))
                 + entry("", 0, no_entry, 0, 0) * 2)
    return header + allocation + directory + workbook
