"""Ingest, the one path from captures to the archive: what a killed crawl left, named WARC files,
twice without a change, captures that are not what they claim, archives in the old layout."""
from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils

from archive.layout import ArchiveLayout
from archive.warc import WarcCaptureWriter
from crawler.ingest import ExtractionPool, ExtractJob
from archive.schema import open_archive
from archive.lock import ArchiveBusy, ArchiveLock
from tests.conftest import REPO, crawl, run_cli, stored_row, truth_row
from tests.replica.server import ReplicaPortal
from tests.test_crash_safety import assert_sound, start_crawl, wait_for


def snapshot(archive: Path) -> dict[str, list[tuple]]:
    """Every row the archive derives from captures, in a stable order."""
    db = sqlite_utils.Database(archive)
    return {table: sorted(db.execute(f"select * from [{table}]").fetchall(), key=repr)
            for table in ("bulletins", "versions", "attachments", "meetings", "items", "item_units",
                          "url_aliases")}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    archive = tmp_path_factory.mktemp("ingest") / "archive.db"
    with ReplicaPortal(per_family=6, seed=12) as portal:
        result = crawl(archive, *(column.start_url for column in portal.columns.values()))
        assert result.returncode == 0, result.stderr
        yield archive, portal


def test_the_archive_is_one_set_of_files_named_after_it(crawled):
    archive, _portal = crawled
    names = sorted(path.name for path in archive.parent.iterdir())
    assert names == ["archive.captures", "archive.db", "archive.db-shm", "archive.db-wal", "archive.files"] or \
        names == ["archive.captures", "archive.db", "archive.files"]
    [warc] = ArchiveLayout.of(archive).captures.iterdir()
    assert warc.name.startswith("archive-run-00001-") and warc.name.endswith(".warc.gz")


def test_ingesting_the_same_warc_again_changes_nothing(crawled):
    archive, _portal = crawled
    before = snapshot(archive)
    [warc] = ArchiveLayout.of(archive).captures.iterdir()
    result = run_cli("ingest", "--archive", str(archive), str(warc))
    assert result.returncode == 0, result.stderr
    assert "unchanged" in result.stdout and " new " not in result.stdout
    assert snapshot(archive) == before
    nothing = run_cli("ingest", "--archive", str(archive))  # nothing left to ingest
    assert nothing.returncode == 0 and nothing.stdout.strip() == "ingested 0 capture(s)"


def test_a_capture_pointing_at_another_urls_record_is_not_trusted(crawled, tmp_path):
    """Two rows, one record: the bytes are checked to be the capture's own before use."""
    archive, _portal = crawled
    copy = tmp_path / "copy.db"
    shutil.copy(archive, copy)
    shutil.copytree(ArchiveLayout.of(archive).captures, ArchiveLayout.of(copy).captures)
    db = sqlite_utils.Database(copy)
    first, second = db.execute(
        "select id, url from captures where kind = 'bulletin' and status = 200 order by id limit 2").fetchall()
    db.execute("update captures set warc_offset = (select warc_offset from captures where id = ?) where id = ?",
               [first[0], second[0]])
    body = db["bulletins"].get(second[1])["body"]
    db.conn.commit()
    db.close()
    result = run_cli("reprocess", "--archive", str(copy))
    assert result.returncode == 1 and "unreadable 1" in result.stdout, result.stdout + result.stderr
    db = sqlite_utils.Database(copy)
    assert db["bulletins"].get(second[1])["body"] == body  # kept, never replaced by the other page
    [reason] = [r for (r,) in db.execute("select reason from run_failures where url = ?", [second[1]])]
    assert "capture unreadable" in reason and f"not {second[1]}" in reason


def test_an_archive_in_the_old_layout_is_read_where_it_is_and_grows_in_the_new(crawled, tmp_path):
    archive, portal = crawled
    old = tmp_path / "old" / "archive.db"
    old.parent.mkdir()
    shutil.copy(archive, old)
    layout = ArchiveLayout.of(archive)
    shutil.copytree(layout.captures, old.parent / "captures")  # as archives kept them before
    shutil.copytree(layout.files, old.parent / "files")
    db = sqlite_utils.Database(old)
    db.execute("update attachments set path = replace(path, 'archive.files/', 'files/')")
    db.execute("drop index captures_to_ingest")  # as archives before ingest
    for column in ("ingest_state", "list_url", "requested_url"):
        db.execute(f"alter table captures drop column {column}")
    db.conn.commit()
    db.close()
    reprocessed = run_cli("reprocess", "--archive", str(old))
    assert reprocessed.returncode == 0, reprocessed.stdout + reprocessed.stderr
    assert "unreadable 0" in reprocessed.stdout and "changed 0" in reprocessed.stdout
    portal.site.add_bulletin("table", attachments=["附件1.pdf"])
    again = crawl(old, *(column.start_url for column in portal.columns.values()))
    assert again.returncode == 0, again.stderr
    db = sqlite_utils.Database(old)
    for row in db["attachments"].rows:  # old rows where they were, the new file in the new folder
        assert (old.parent / row["path"]).is_file()
    assert list((old.parent / "archive.captures").glob("archive-run-00002-*.warc.gz"))
    assert db.execute("select count(*) from captures where ingest_state in ('fetched', 'ready')").fetchone() == (0,)


def test_ingest_finishes_what_a_killed_crawl_captured(tmp_path):
    archive = tmp_path / "archive.db"
    with ReplicaPortal(per_family=30, seed=13) as portal:
        starts = [column.start_url for column in portal.columns.values()]
        process = start_crawl(archive, starts)
        wait_for(archive, process, 10)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        db = sqlite_utils.Database(archive)
        before = db["bulletins"].count
        waiting = db.execute("select count(*) from captures where ingest_state = 'ready'").fetchone()[0]
        db.close()
        result = run_cli("ingest", "--archive", str(archive))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"ingested {waiting} capture(s)")
        db = sqlite_utils.Database(archive)
        assert db.execute("select count(*) from captures where ingest_state = 'ready'").fetchone() == (0,)
        assert [r["outcome"] for r in db.query("select outcome from crawl_runs")] == ["killed"]
        assert_sound(archive)
        truths = {b["url"]: b for column in portal.columns.values() for b in column.bulletins}
        assert db["bulletins"].count >= before
        for row in db["bulletins"].rows:
            assert stored_row(row) == truth_row(truths[row["url"]])


def test_captures_a_failed_run_could_not_ingest_are_ingested_once_the_archive_accepts_them(tmp_path):
    """The archive refused a write mid-run (as a full disk does): the captures are kept, ready;
    ``ingest`` builds their rows once the fault is gone, and a later crawl fetches none again."""
    archive = tmp_path / "archive.db"
    with ReplicaPortal(per_family=5, seed=15) as portal:
        starts = [column.start_url for column in portal.columns.values()]
        victim = portal.columns["gbk"].bulletins[2]["url"]
        db = open_archive(archive)
        db.execute(f"""create trigger refuse before insert on versions when new.url = '{victim}'
                       begin select raise(abort, 'database or disk is full (simulated)'); end""")
        db.conn.commit()
        db.close()
        failed = crawl(archive, *starts)
        assert failed.returncode == 1 and "archive write failed" in failed.stderr.strip().splitlines()[-1]
        db = sqlite_utils.Database(archive)
        waiting = db.execute("select count(*) from captures where ingest_state = 'ready'").fetchone()[0]
        assert waiting >= 1 and db["bulletins"].count_where("url = ?", [victim]) == 0
        db.execute("drop trigger refuse")
        db.conn.commit()
        db.close()
        result = run_cli("ingest", "--archive", str(archive))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"ingested {waiting} capture(s)")
        db = sqlite_utils.Database(archive)
        assert stored_row(db["bulletins"].get(victim)) == truth_row(portal.columns["gbk"].bulletins[2])
        portal.clear_requests()
        again = crawl(archive, *starts)
        assert again.returncode == 0, again.stderr
        assert victim.split("/", 3)[3] not in {r["path"].lstrip("/") for r in portal.requests}


def test_ingest_and_reprocess_take_the_crawl_lock(crawled):
    archive, _portal = crawled
    with ArchiveLock(archive):
        for command in ("ingest", "reprocess"):
            result = run_cli(command, "--archive", str(archive))
            assert result.returncode == 75 and "another crawl is already running" in result.stderr


def test_a_symlink_to_an_archive_takes_the_archive_s_own_lock(crawled, tmp_path):
    archive, _portal = crawled
    link = tmp_path / "link.db"
    link.symlink_to(archive)
    with ArchiveLock(link):
        with pytest.raises(ArchiveBusy):
            ArchiveLock(archive).__enter__()
        result = run_cli("crawl", "--start-url", "http://127.0.0.1:9/zwdc/index.shtml", "--archive", str(archive))
        assert result.returncode == 75
    assert not ArchiveLayout.of(archive).lock.exists()  # removed with its release


def test_two_archives_in_one_folder_started_together_never_share_a_file(tmp_path):
    with ReplicaPortal(per_family=4, seed=14) as portal:
        starts = [column.start_url for column in portal.columns.values()]
        processes = [start_crawl(tmp_path / name, starts) for name in ("a.db", "b.db")]
        for process in processes:
            _out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err[-2000:]
    for name in ("a", "b"):
        db = sqlite3.connect(tmp_path / f"{name}.db")
        files = {warc for (warc,) in db.execute("select distinct warc_file from captures")}
        assert files and all(warc.startswith(f"{name}-run-00001-") for warc in files)
        assert all((tmp_path / f"{name}.captures" / warc).exists() for warc in files)


def test_an_extraction_worker_closed_at_once_is_gone_at_once_even_busy(tmp_path):
    """An interrupted or failed ingest closes its pool at once: the worker, which ignores the signals
    a terminal sends, is killed in the middle of its batch (left to end it, or never told to end,
    it kept ``reprocess`` waiting at exit after Ctrl-C)."""
    url = "http://127.0.0.1:1/zwdc/202401/t20240101_1.html"
    page = ("<html><head><title>关于督查情况的通报</title></head><body><h1>关于督查情况的通报</h1>"
            + "<p>发布日期：2024-01-01</p>" + "<p>督查事项落实情况良好。</p>" * 200 + "</body></html>").encode()
    writer = WarcCaptureWriter(tmp_path / "run.warc.gz", "test")
    location = writer.write(url, method="GET", request_headers=[], status=200,
                            response_headers=[("Content-Type", "text/html; charset=utf-8")], body=page,
                            fetched_at="2024-01-01T00:00:00+00:00")
    writer.close()
    job = ExtractJob(url, url, "2024-01-01T00:00:00+00:00", "", tmp_path / "run.warc.gz", location.offset)
    pool = ExtractionPool(1)
    pool.submit([job] * 5000)  # seconds of work
    workers = multiprocessing.active_children()
    assert len(workers) == 1 and workers[0].is_alive()
    pool.close(wait=False)
    deadline = time.monotonic() + 10  # the executor's own thread may be the one to reap it
    while workers[0].exitcode is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers[0].exitcode == -signal.SIGKILL, workers[0].exitcode


def _importing_worker(pid: int) -> dict[str, int] | None:
    """The signal masks (``SigBlk``, ``SigCgt`` …) of a child of ``pid`` that is an extraction worker
    with Python's Ctrl-C handler installed already: it is importing what it needs, before its start
    sets it to ignore Ctrl-C."""
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != pid:
                continue
            masks = {name: int(value, 16) for name, value in (
                line.split(":") for line in (entry / "status").read_text().splitlines()
                if line.startswith(("SigBlk", "SigIgn", "SigCgt")))}
            if b"spawn_main" in (entry / "cmdline").read_bytes() and masks["SigCgt"] & 1 << (signal.SIGINT - 1):
                return masks
        except (OSError, ValueError, KeyError):
            continue  # ended meanwhile
    return None


def test_ctrl_c_while_the_extraction_worker_starts_ends_reprocess_quietly_and_whole(tmp_path):
    """Ctrl-C (SIGINT to the whole group, as a terminal sends it) while the worker imports: it has
    Ctrl-C and SIGTERM blocked from its start (a Ctrl-C there printed the traceback of its imports),
    the command prints one line and exits 130, and nothing of the group is left behind."""
    archive = tmp_path / "archive.db"
    with ReplicaPortal(per_family=7, seed=5) as portal:  # 56 bulletins: ingest starts its worker at 50
        result = crawl(archive, *(column.start_url for column in portal.columns.values()))
        assert result.returncode == 0, result.stderr
    process = subprocess.Popen([sys.executable, "-m", "crawler", "reprocess", "--archive", str(archive)],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while (masks := _importing_worker(process.pid)) is None:
        assert process.poll() is None and time.monotonic() < deadline, "no extraction worker started"
        time.sleep(0.005)
    stop_signals = 1 << (signal.SIGINT - 1) | 1 << (signal.SIGTERM - 1)
    assert masks["SigBlk"] & stop_signals == stop_signals, masks
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130 and stderr.strip().splitlines() == ["interrupted"], stderr
    deadline = time.monotonic() + 10
    while True:  # the group is gone (its leader reaped above; a worker left would keep it)
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a process of the command outlived it"
        time.sleep(0.05)
