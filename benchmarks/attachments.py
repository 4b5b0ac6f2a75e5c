"""Attachments: text extraction per file type, as the archive runs it (a limited child per file),
and what reading them costs a crawl.

The files are the replica's (``tests/replica/attachment_files.py``): a text PDF made with
reportlab (CID font, several pages, a table), a PDF exported by LibreOffice, DOCX, XLSX, DOC
(with a table) and WPS (antiword; the DOC also through LibreOffice, the fallback for what
antiword cannot read), XLS, and a one-page 300 dpi scan for OCR. Each type is read ``files``
times through :class:`pipelines.attachment_sandbox.AttachmentReader`, the child process and
its limits included, so files/s is what an ingest gets.
"""
from __future__ import annotations

import json
import random
import sqlite3
import time
from dataclasses import replace
from datetime import date

from benchmarks.common import Figure, median, ms, progress, run_child
from benchmarks.crawling import CrawlSession
from pipelines.attachment_sandbox import AttachmentReader
from pipelines.attachment_text import Tools
from tests.replica import attachment_files as files
from tests.replica.corpus import BulletinWriter, MeetingCalendar

def samples() -> dict[str, tuple[str, bytes]]:
    """One file per type: type -> (name, bytes)."""
    writer = BulletinWriter(MeetingCalendar(1))
    day = date(2022, 9, 20)
    title = "关于2022年7月至8月市政府常务会议纪要确定事项落实情况的督查通报"
    bulletin = next(c for c in (files.bulletin_content(writer, random.Random(s), day, title) for s in range(100))
                    if any(kind == "table" for kind, _ in c.blocks))
    listed = files.list_content(writer, random.Random(5), day, "附件1:2022年督办事项落实情况统计表")
    pool = files.Pool()
    return {
        "pdf (text layer)": ("a.pdf", files.pdf_text_bytes(bulletin)),
        "pdf (LibreOffice)": ("b.pdf", pool.file("pdf-office", 0)[0]),
        "docx": ("c.docx", files.docx_bytes(bulletin)),
        "xlsx": ("d.xlsx", files.xlsx_bytes(listed)),
        "doc": ("e.doc", pool.file("doc", 0)[0]),
        "wps": ("f.wps", pool.file("wps", 1)[0]),
        "xls": ("g.xls", pool.file("xls", 0)[0]),
        "scan (OCR)": ("h.pdf", files.pdf_scan_bytes(bulletin)),
    }


def run(count: int = 10, ocr_count: int = 2, fallback_count: int = 3) -> list[Figure]:
    """Read each type ``count`` times (the scan ``ocr_count`` times, the DOC through LibreOffice
    ``fallback_count`` times); files/s per type."""
    figures: list[Figure] = []
    found = samples()
    with AttachmentReader(ocr=True) as reader, \
            AttachmentReader(tools=replace(Tools.discover(), antiword=None)) as without_antiword:
        for label, (name, data) in [*found.items(), ("doc (LibreOffice, where antiword cannot)", found["doc"])]:
            if "LibreOffice, where" in label:
                reader, count = without_antiword, fallback_count
            times: list[float] = []
            pages, method = None, ""
            for _ in range(ocr_count if "OCR" in label else count):
                started = time.perf_counter()
                result = reader.read(data, name)
                times.append(time.perf_counter() - started)
                if result.error:
                    raise RuntimeError(f"{label}: {result.error}")
                pages, method = result.pages, result.text_method
            progress(f"attachments: {label}: median {ms(median(times))} ({method})")
            value = f"{1 / median(times):.1f} files/s"
            if "OCR" in label:
                per_page = median(times) / (pages or 1)
                figures.append(Figure("attachments", f"{label}: {pages or 1} page(s) at 300 dpi, chi_sim, 1 thread",
                                      f"{1 / per_page:.2f} pages/s ({per_page:.1f} s a page)",
                                      "OCR is opt-in (--ocr): seconds a page, against milliseconds for a text layer"))
            else:
                unit = "sheet(s)" if label.startswith("xls") else "page(s)"
                size = f"{len(data) // 1024} KiB" + (f", {pages} {unit}" if pages else "")
                figures.append(Figure("attachments", f"{label} ({size}, {method}): median {ms(median(times))}", value))
    return figures


def _stats(archive) -> dict:
    with sqlite3.connect(archive) as db:
        return json.loads(db.execute("SELECT stats FROM crawl_runs ORDER BY id DESC").fetchone()[0])["scrapy"]


def run_crawl(crawl: CrawlSession) -> list[Figure]:
    """The replica crawled with the attachment texts read during the crawl (the default: a thread
    beside the fetching, the crawl waiting at its end for what is left), then without them
    (``ATTACHMENT_TEXT=False``) and the texts read afterwards by ``python -m crawler ingest``."""
    progress(f"crawl-attachments: project crawl of {crawl.bulletins} bulletins, attachment texts read during it")
    with_texts = crawl.project(crawl.scratch / "texts-during" / "archive.db")
    during = _stats(crawl.archive)
    progress(f"crawl-attachments: {with_texts.child.wall:.1f} s; the same crawl leaving the texts")
    crawl.args += ["-s", "ATTACHMENT_TEXT=False"]
    try:
        without = crawl.project(crawl.scratch / "texts-after" / "archive.db")
    finally:
        del crawl.args[-2:]
    later = crawl.archive
    progress(f"crawl-attachments: {without.child.wall:.1f} s; ingest reading the texts")
    ingest = run_child(["-m", "crawler", "ingest", "--archive", str(later)])
    if ingest.returncode != 0:
        raise RuntimeError(f"ingest failed ({ingest.returncode}): {ingest.stderr.strip()[-2000:]}")
    crawl.archive = crawl.scratch / "texts-during" / "archive.db"  # the complete one, for what follows
    with sqlite3.connect(later) as db:
        files, failed = db.execute("SELECT count(DISTINCT sha256), count(DISTINCT CASE WHEN error IS NOT NULL"
                                   " THEN sha256 END) FROM attachments").fetchone()
        methods = ", ".join(f"{n} {method or 'none'}" for method, n in db.execute(
            "SELECT text_method, count(DISTINCT sha256) FROM attachments GROUP BY 1 ORDER BY 2 DESC"))
    read = float(during.get("attachments/text_seconds", 0))
    waited = float(during.get("attachments/wait_seconds", 0))
    return [
        Figure("crawl-attachments", f"crawl with attachment texts (default; {files} distinct files: {methods}; "
                                    f"{failed} recorded failures, scans without --ocr among them)",
               f"{with_texts.child.wall:.1f} s",
               f"the same crawl leaving them (ATTACHMENT_TEXT=False) {without.child.wall:.1f} s "
               f"(+{with_texts.child.wall - without.child.wall:.1f} s)"),
        Figure("crawl-attachments", "reading during the crawl: files read in the reader thread, their wall time; "
                                    "the crawl's wait for the last ones after fetching ended",
               f"{int(during.get('attachments/text_read', 0))} read in {read:.1f} s; waited {waited:.1f} s",
               f"{int(during.get('attachments/text_copied', 0))} linked again (same file, no read)"),
        Figure("crawl-attachments", "the texts read afterwards by python -m crawler ingest (process wall time)",
               f"{ingest.wall:.1f} s", f"{files / ingest.wall:.1f} files/s; CPU {ingest.cpu:.1f} s"),
    ]
