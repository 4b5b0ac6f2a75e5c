"""Attachments in the archive: a crawl of the replica reads every file's text and tables, search
finds what only the files say, their supervision lists become items, hostile files are recorded
failures, and ``ingest``/``reprocess`` read the stored files again (OCR when asked).

The replica serves real generated files with their truth (``tests/replica/attachment_files.py``);
a few of its attachments are replaced by hostile bytes (a zip bomb, an encrypted PDF, corrupt
files).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest
import sqlite_utils

from archive.attachments import PendingFile, save_text
from archive.layout import ArchiveLayout, attachment_file
from archive.schema import open_archive
from pipelines.attachment_text import EXTRACTOR_VERSION, MISSING
from tests.conftest import REPO, crawl, run_cli
from tests.replica import attachment_files as files
from tests.replica import faults
from tests.replica.corpus import BulletinWriter, MeetingCalendar
from tests.replica.server import ReplicaPortal
from tests.test_attachment_text import OCR, TEXT_LAYER, encrypted_pdf, similarity, zip_bomb

#: Attachments of one added bulletin served as hostile bytes: (anchor, bytes, what its error says).
HOSTILE = [
    ("附件1.docx", zip_bomb, "zip bomb"),
    ("附件2.pdf", encrypted_pdf, "encrypted PDF"),
    ("附件3.xls", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + random.Random(3).randbytes(4000), "corrupt"),
    ("附件4.pdf", lambda: b"%PDF-1.7\n" + random.Random(1).randbytes(4000), "corrupt"),
]


@pytest.fixture(scope="module")
def replica():
    """A small replica with every kind of file (one scan), a "详见附件" bulletin and hostile files."""
    with ReplicaPortal(per_family=3, seed=5) as portal:
        only = portal.site.add_bulletin("xianning", kind="attachment_only")
        hostile = portal.site.add_bulletin("xianning", attachments=[name for name, _, _ in HOSTILE])
        reasons = {}
        for (_, make, reason), attachment in zip(HOSTILE, hostile["attachments"]):
            portal.faults[urlsplit(attachment["url"]).path] = faults.file_bytes(make())
            reasons[attachment["url"]] = reason
        yield portal, only, reasons


@pytest.fixture(scope="module")
def archived(replica, tmp_path_factory) -> Path:
    portal = replica[0]
    path = tmp_path_factory.mktemp("attachments") / "archive.db"
    result = crawl(path, *(column.start_url for column in portal.columns.values()))
    assert result.returncode == 0, result.stderr  # hostile files never make the run unhealthy
    return path


def copy_archive(source: Path, folder: Path) -> Path:
    """The archive with its folders, to change without touching the module's."""
    target = folder / source.name  # stored paths name the files folder after the database
    shutil.copyfile(source, target)
    old, new = ArchiveLayout.of(source), ArchiveLayout.of(target)
    shutil.copytree(old.files, new.files)
    shutil.copytree(old.captures, new.captures)
    return target


def rows(path: Path, sql: str, params: tuple = ()) -> list[dict]:
    db = sqlite_utils.Database(path)
    try:
        return list(db.query(sql, params))
    finally:
        db.close()


def attachments(path: Path) -> list[dict]:
    return rows(path, "select * from attachments order by bulletin_url, url")


def table_rows(row: dict) -> set[tuple[str, ...]]:
    return {tuple(cells) for table in json.loads(row["tables"] or "[]") for cells in table}


# --------------------------------------------------------------------------- the crawl


def test_every_file_has_its_text_and_tables_or_a_recorded_error(replica, archived):
    portal, _, hostile = replica
    stored = attachments(archived)
    flavours = set()
    for row in stored:
        assert row["extractor_version"] == EXTRACTOR_VERSION, row["url"]
        if row["url"] in hostile:
            assert hostile[row["url"]] in (row["error"] or ""), row
            assert row["text"] == "" and row["tables"] == "[]"
            continue
        truth = portal.site.attachment_truth(row["url"])
        flavours.add(truth["flavour"])
        if truth.get("error"):
            assert row["error"] == truth["error"]
        elif truth["method"] == "ocr":  # OCR is off by default: recorded as needing it
            assert "OCR is off" in row["error"] and row["needs_ocr"] == 1 and row["text"] == ""
        else:
            assert row["error"] is None and row["needs_ocr"] == 0, row["error"]
            ratio = similarity(row["text"], truth["text"])
            assert ratio >= TEXT_LAYER, (row["url"], truth["flavour"], ratio)
            want = {tuple(cells) for table in truth["tables"] for cells in table}
            assert want <= table_rows(row), (row["url"], truth["flavour"], want - table_rows(row))
            assert row["text_method"] and row["ocr_confidence"] is None
    assert {"pdf-text", "pdf-office", "pdf-scan", "docx", "doc", "wps", "xls"} <= flavours
    assert len({row["sha256"] for row in stored}) < len(stored)  # a pool file linked twice: read once


def test_the_attachment_only_bulletin_has_its_substance_from_its_file(replica, archived):
    _, only, _ = replica
    (bulletin,) = rows(archived, "select body from bulletins where url = ?", (only["url"],))
    assert "详见附件" in bulletin["body"] and "\n" not in bulletin["body"]
    (row,) = rows(archived, "select * from attachments where bulletin_url = ?", (only["url"],))
    truth = replica[0].site.attachment_truth(row["url"])
    assert truth["method"] == "text" and similarity(row["text"], truth["text"]) >= TEXT_LAYER
    items = rows(archived, "select subject, source, deadline from items where bulletin_url = ? order by id",
                 (only["url"],))
    want = [item["subject"] for item in truth["structure"]["items"]]
    assert want and [item["subject"] for item in items] == want
    assert {item["source"] for item in items} == {row["url"]}


def test_supervision_lists_become_items_with_units_deadline_and_source(replica, archived):
    portal = replica[0]
    lists = [row for row in attachments(archived) if not row["error"]
             and files.LIST_HEADER in [list(cells) for cells in table_rows(row)]]
    assert lists
    for row in lists:
        truth = portal.site.attachment_truth(row["url"])["structure"]["items"]
        got = rows(archived, "select * from item_details where bulletin_url = ? and source = ? order by id",
                   (row["bulletin_url"], row["url"]))
        page = {(item["subject"], item["progress"]) for item in rows(
            archived, "select subject, progress from items where bulletin_url = ? and source = bulletin_url",
            (row["bulletin_url"],))}
        expected = [item for item in truth if (item["subject"], item["progress"]) not in page]
        assert [(i["subject"], json.loads(i["units"]), i["deadline"], i["status"]) for i in got] == [
            (i["subject"], i["units"], i["deadline"], i["status"]) for i in expected]
        assert all(item["meeting_date"] for item in got)  # the list's 会议名称 column
    # a file repeating its page adds no item twice
    duplicates = rows(archived, "select bulletin_url, subject, progress, count(*) as n from items"
                                " group by bulletin_url, subject, progress having n > 1")
    assert duplicates == []


def test_attachment_items_made_again_from_a_kept_parse_keep_their_meetings(tmp_path):
    """A bulletin's attachment items are made again whenever one of its files gets its text, each
    file's parse kept a while (in a crawl, each is parsed about three times). What is made of a
    kept parse is changed (the page's items dropped, meetings renumbered) without changing it:
    the third making equals the first."""
    from archive.structure import save_structure
    from crawler.attachments_ingest import save_attachment_items

    page, url = "http://h/c/1.html", "http://h/c/1.pdf"
    text = ("(一)2020年4月15日市政府第5次常务会议\n1.审议《甲办法》的落实情况。(责任单位:市财政局)\n"
            "(二)2020年5月6日市政府第6次常务会议\n1.审议《乙办法》的落实情况。(责任单位:市水利和湖泊局)")
    db = open_archive(tmp_path / "archive.db")
    try:
        # the page gave the first meeting's item itself: the file's first meeting is left without items
        save_structure(db, page, [], [{"meeting_index": None, "position": 1, "section": None, "status": "other",
                                       "subject": "审议《甲办法》的落实情况。", "documents": [], "units": [],
                                       "progress": "", "group_heading": None}])
        db["attachments"].insert({"bulletin_url": page, "url": url, "name": "1.pdf", "text": text, "tables": "[]"})
        made = []
        for _ in range(3):
            save_attachment_items(db, page)
            made.append(list(db.query("select subject, meeting_date from item_details where source = ?", [url])))
    finally:
        db.close()
    assert made[0] == [{"subject": "审议《乙办法》的落实情况。", "meeting_date": "2020-05-06"}]
    assert made[2] == made[0]


def test_items_and_exports_carry_the_attachment_items(archived, tmp_path):
    (count,) = rows(archived, "select count(*) as n from items where source != bulletin_url")
    assert count["n"] > 0
    out = tmp_path / "items.jsonl"
    result = run_cli("export", "--archive", str(archived), "--format", "jsonl", "--output", str(out), "--table", "items")
    assert result.returncode == 0, result.stderr
    exported = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    from_files = [item for item in exported if item["source"] != item["bulletin_url"]]
    assert len(from_files) == count["n"] and any(item["deadline"] for item in from_files)
    listed = run_cli("items", "--archive", str(archived), "--json")
    assert listed.returncode == 0, listed.stderr
    shown = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len([item for item in shown if item["source"] != item["bulletin_url"]]) == count["n"]
    text = run_cli("items", "--archive", str(archived))
    assert "附件 (attachment): " in text.stdout and "完成时限: " in text.stdout


def attachment_only_phrases(path: Path, count: int) -> list[str]:
    """Phrases found in some attachment's text and in no title or body."""
    texts = [row["text"] for row in attachments(path) if row["text"]]
    pages = "\n".join(f"{row['title']}\n{row['body']}" for row in rows(path, "select title, body from bulletins"))
    rng, phrases = random.Random(16), []
    while len(phrases) < count:
        text = rng.choice(texts)
        start = rng.randrange(max(1, len(text) - 8))
        phrase = text[start:start + 7]
        if len(phrase) == 7 and not any(c.isspace() for c in phrase) and phrase not in pages and phrase not in phrases:
            phrases.append(phrase)
    return phrases


def test_search_finds_what_only_the_attachments_say(archived, tmp_path):
    everything = attachments(archived)
    for phrase in attachment_only_phrases(archived, 4):
        holders = {row["bulletin_url"]: set() for row in everything if phrase in row["text"]}
        for row in everything:
            if phrase in row["text"]:
                holders[row["bulletin_url"]].add(row["url"])
        result = run_cli("search", phrase, "--archive", str(archived), "--json", "--limit", "100")
        assert result.returncode == 0, result.stderr
        hits = [json.loads(line) for line in result.stdout.splitlines()]
        assert {hit["url"] for hit in hits} == set(holders), phrase  # recall and precision 1.0
        for hit in hits:
            assert hit["attachment"]["url"] in holders[hit["url"]] and hit["attachment"]["name"]
            assert f"【{phrase}】" in hit["snippet"]
        out = tmp_path / "found.jsonl"
        exported = run_cli("export", "--archive", str(archived), "--format", "jsonl", "--output", str(out),
                           "--query", phrase, "--force")
        assert exported.returncode == 0, exported.stderr
        assert {json.loads(line)["url"] for line in out.read_text("utf-8").splitlines()} == set(holders)
    text = run_cli("search", phrase, "--archive", str(archived))
    assert "附件 (attachment): " in text.stdout and f"[{phrase}]" in text.stdout


# --------------------------------------------------------------------------- reading again


def test_a_new_extractor_version_and_reprocess_read_the_stored_files_again(archived, tmp_path):
    path = copy_archive(archived, tmp_path)
    before = {row["sha256"]: row["text"] for row in attachments(path)}
    db = open_archive(path)
    for sha256 in before:  # as an older extractor left them
        save_text(db, sha256, {"text": "旧版提取文本", "extractor_version": EXTRACTOR_VERSION - 1})
    db.conn.commit()
    db.close()
    assert json.loads(run_cli("search", "旧版提取文本", "--archive", str(path), "--json", "--limit", "1").stdout)
    result = run_cli("ingest", "--archive", str(path))  # pending: every file of the older version
    assert result.returncode == 0, result.stderr
    failed = {row["sha256"] for row in attachments(archived) if row["error"] and not row["needs_ocr"]}  # hostile
    scans = {row["sha256"] for row in attachments(archived) if row["needs_ocr"]}  # unread while OCR is off
    assert len(scans) == 1 and failed
    assert f"attachment texts: {len(before)} read ({len(failed)} failed, 1 scanned left for --ocr)" in result.stdout
    assert {row["sha256"]: row["text"] for row in attachments(path)} == before
    assert run_cli("search", "旧版提取文本", "--archive", str(path)).stdout.startswith("no bulletins match")
    db = open_archive(path)
    sha256 = next(sha for sha, text in before.items() if text)
    save_text(db, sha256, {"text": "同一版本的错误文本", "extractor_version": EXTRACTOR_VERSION})
    db.conn.commit()
    db.close()
    assert run_cli("ingest", "--archive", str(path)).stdout.strip() == "ingested 0 capture(s)"  # current: kept
    result = run_cli("reprocess", "--archive", str(path))  # every file, whatever its version
    assert result.returncode == 0, result.stderr
    assert f"attachment texts: {len(before)} read" in result.stdout
    assert {row["sha256"]: row["text"] for row in attachments(path)} == before


def test_ocr_when_asked_reads_the_scans(replica, archived, tmp_path):
    path = copy_archive(archived, tmp_path)
    assert run_cli("ingest", "--archive", str(path)).stdout.strip() == "ingested 0 capture(s)"  # OCR still off
    result = run_cli("ingest", "--archive", str(path), "--ocr")
    assert result.returncode == 0, result.stderr
    assert "attachment texts: 1 read (0 failed)" in result.stdout  # the scan, and only it
    (scan,) = [row for row in attachments(path) if row["text_method"] == "ocr"]
    truth = replica[0].site.attachment_truth(scan["url"])
    assert truth["method"] == "ocr" and similarity(scan["text"], truth["text"]) >= OCR
    assert scan["error"] is None and scan["needs_ocr"] == 0 and scan["ocr_confidence"] > 80
    phrase = max(scan["text"].split("\n"), key=len)[:6]
    found = run_cli("search", phrase, "--archive", str(path), "--json")
    assert scan["bulletin_url"] in {json.loads(line)["url"] for line in found.stdout.splitlines()}


def test_missing_tools_cost_one_line_naming_the_package_and_the_rest_is_read(archived, tmp_path):
    path = copy_archive(archived, tmp_path)
    words = [row for row in attachments(path) if row["text_method"] == "antiword"]
    assert words
    db = open_archive(path)
    for sha256 in {row["sha256"] for row in words}:
        save_text(db, sha256, {"extractor_version": EXTRACTOR_VERSION - 1})
    db.conn.commit()
    db.close()
    bare = tmp_path / "no-tools"
    bare.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": str(bare)}
    result = subprocess.run([sys.executable, "-m", "crawler", "ingest", "--archive", str(path)], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"warning: {MISSING['soffice']}"]  # once, however many files
    assert "apt-get install libreoffice" in result.stderr
    assert {row["error"] for row in attachments(path) if row["sha256"] in {w["sha256"] for w in words}} == {
        MISSING["soffice"]}
    again = run_cli("ingest", "--archive", str(path))  # the tools are back: those files are read
    assert again.returncode == 0 and again.stderr == ""
    assert {(row["url"], row["text"]) for row in attachments(path) if row["text_method"] == "antiword"} == {
        (row["url"], row["text"]) for row in words}


def test_a_crawl_may_leave_the_texts_to_ingest(replica, archived, tmp_path):
    portal = replica[0]
    path = tmp_path / "later.db"
    result = crawl(path, *(column.start_url for column in portal.columns.values()),
                   extra=("-s", "ATTACHMENT_TEXT=False"))
    assert result.returncode == 0, result.stderr
    assert {row["extractor_version"] for row in attachments(path)} == {None}
    result = run_cli("ingest", "--archive", str(path))
    assert result.returncode == 0, result.stderr
    read = {row["sha256"]: (row["text"], row["error"]) for row in attachments(path)}
    assert read == {row["sha256"]: (row["text"], row["error"]) for row in attachments(archived)}


def test_a_file_read_before_its_link_is_stored_once_linked_and_one_never_linked_is_let_go(archived, tmp_path):
    """During a crawl each file is read as soon as it is downloaded, before ingest links it to its
    bulletin (the batch that indexes the bulletin then stores the text too, one index write for
    both). A text read before its file's link waits for it; one that no bulletin ever links is let
    go at the crawl's end, so the crawl's wait for the texts left ends."""
    from concurrent.futures import wait

    from crawler.attachments_ingest import AttachmentTexts, CrawlTexts, TextWrites

    path = copy_archive(archived, tmp_path)
    layout = ArchiveLayout.of(path)
    linked = next(row for row in attachments(path) if row["text_method"] == "pdf" and not row["error"])
    db = open_archive(path)
    db.execute("update attachments set text = null, extractor_version = null where sha256 = ?", [linked["sha256"]])
    db.conn.commit()
    orphan = files.pdf_text_bytes(files.list_content(BulletinWriter(MeetingCalendar(1)), random.Random(9),
                                                     date(2022, 9, 20), "附件1:督办事项统计表"))
    stored = f"{hashlib.sha256(orphan).hexdigest()}.pdf"
    (layout.files / stored).write_bytes(orphan)
    texts = CrawlTexts(AttachmentTexts(db, layout), readers=2)
    try:
        linked_file = PendingFile(linked["sha256"], (linked["path"],), "a.pdf", "application/pdf")
        texts.read_early(linked_file, attachment_file(layout.db, linked["path"]).read_bytes())
        texts.read_early(PendingFile(stored[:-4], (layout.file_path(stored),), "b.pdf", "application/pdf"), orphan)
        wait([reading for _file, reading in texts._running.values()])
        writes = TextWrites()
        with db.atomic():
            assert texts.store(writes) == 1  # the linked one; the other waits for a link
            writes.finish(db)
        db.conn.commit()
        assert texts.left == 1
        texts.forget_unlinked()
        assert texts.left == 0
    finally:
        texts.close()
        db.close()
    again = next(row for row in attachments(path) if row["url"] == linked["url"])
    assert (again["text"], again["extractor_version"]) == (linked["text"], EXTRACTOR_VERSION)
    result = run_cli("search", linked["text"].split("\n")[0][:8], "--archive", str(path), "--json", "--limit", "100")
    assert result.returncode == 0, result.stderr
    assert linked["bulletin_url"] in [json.loads(line)["url"] for line in result.stdout.splitlines()]


def test_a_page_that_links_a_file_but_is_no_bulletin_ends_its_crawl(tmp_path):
    """The file is downloaded and read at once; the page proves no bulletin, so nothing links the
    file: the crawl ends all the same, and no attachment row names it."""
    with ReplicaPortal(per_family=2, seed=11) as portal:
        fresh = portal.site.add_bulletin("table", attachments=["附件1.pdf"])
        file_url = fresh["attachments"][0]["url"]
        page = (f'<html><head><title>页面不存在</title></head><body><h1>404 页面不存在</h1>'
                f'<p>您访问的页面不存在。<a href="{urlsplit(file_url).path}">附件1.pdf</a></p></body></html>')

        def not_a_bulletin(handler) -> None:
            handler.respond(200, page.encode("utf-8"), "text/html; charset=utf-8")

        portal.faults[urlsplit(fresh["url"]).path] = not_a_bulletin
        with urlopen(file_url) as response:
            sha256 = hashlib.sha256(response.read()).hexdigest()
        path = tmp_path / "archive.db"
        result = crawl(path, *(column.start_url for column in portal.columns.values()))
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert (ArchiveLayout.of(path).files / sha256[:2] / f"{sha256}.pdf").is_file()  # downloaded, so read
    assert not rows(path, "select * from attachments where url = ? or sha256 = ?", (file_url, sha256))
    assert rows(path, "select * from run_failures where url = ?", (fresh["url"],))


def _reader_servers(parent: int | None = None) -> set[int]:
    """Process ids of the attachment reader servers that are children of ``parent`` (this process)."""
    parent = os.getpid() if parent is None else parent
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            if (proc.name.isdigit() and f"\nPPid:\t{parent}\n" in (proc / "status").read_text()
                    and b"pipelines.attachment_sandbox" in (proc / "cmdline").read_bytes()):
                found.add(int(proc.name))
        except OSError:
            continue
    return found


def _gone(pid: int) -> bool:
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def test_files_are_read_several_at_once_each_by_a_reader_of_its_own(archived, tmp_path):
    """``ATTACHMENT_READERS``: the crawl's threads read side by side, each through its own
    sandbox server, and give what the crawl stored."""
    from concurrent.futures import ThreadPoolExecutor

    from crawler.attachments_ingest import AttachmentTexts

    path = copy_archive(archived, tmp_path)
    db = open_archive(path)
    stored = {row["sha256"]: (row["text"], row["error"]) for row in attachments(path) if row["sha256"]}
    others = _reader_servers()  # a reader another test file of this process keeps for its session
    with AttachmentTexts(db, ArchiveLayout.of(path)) as texts:
        files = texts.pending(everything=True)
        assert len(files) == len(stored) > 3
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(texts.read, files))
        assert 1 < len(_reader_servers() - others) <= 3
    assert not _reader_servers() - others  # closed with the texts
    db.close()
    assert {file.sha256: (result.get("text") or "", result.get("error")) for file, result in zip(files, results)} == stored


def test_ctrl_c_during_ingest_reading_ends_the_reads_and_the_next_ingest_finishes(archived, tmp_path):
    """Files read side by side by ``ingest``: an interrupt ends the command (130) and every
    reader's server at once; what was stored stays, the rest is read by the next ``ingest``."""
    import signal
    import time

    path = copy_archive(archived, tmp_path)
    db = open_archive(path)
    for sha256 in {row["sha256"] for row in attachments(path) if row["sha256"]}:
        save_text(db, sha256, {"extractor_version": EXTRACTOR_VERSION - 1})
    db.conn.commit()
    db.close()
    command = subprocess.Popen([sys.executable, "-m", "crawler", "ingest", "--archive", str(path), "--readers", "3"], cwd=REPO,
                               env={**os.environ, "PYTHONPATH": str(REPO)}, stderr=subprocess.PIPE, text=True)
    servers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(servers) < 2 and time.monotonic() < deadline and command.poll() is None:
        servers = _reader_servers(command.pid)
        time.sleep(0.05)
    assert len(servers) >= 2, "no two readers at once"
    command.send_signal(signal.SIGINT)
    _, stderr = command.communicate(timeout=30)
    assert command.returncode == 130 and stderr.strip().splitlines()[-1] == "interrupted"
    deadline = time.monotonic() + 10
    while not all(map(_gone, servers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(map(_gone, servers))
    again = run_cli("ingest", "--archive", str(path))
    assert again.returncode == 0, again.stderr
    assert {row["sha256"]: (row["text"], row["error"]) for row in attachments(path)} == {
        row["sha256"]: (row["text"], row["error"]) for row in attachments(archived)}

