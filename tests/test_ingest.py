"""Ingest, the one path from captures to the archive: what a killed crawl left, named WARC files,
twice without a change, captures that are not what they claim, archives in the old layout."""
from __future__ import annotations

import shutil
import signal
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from archive.layout import ArchiveLayout
from archive.schema import open_archive
from archive.lock import ArchiveBusy, ArchiveLock
from tests.conftest import crawl, run_cli, stored_row, truth_row
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
