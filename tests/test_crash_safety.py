"""Kill the crawl mid-run (SIGKILL at several points, SIGINT), make a write fail: the archive
stays sound, the run says what happened in one line, and the next run completes it with no
bulletin lost or duplicated."""
from __future__ import annotations

import contextlib
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlite_utils

from tests.conftest import FAST, REPO, crawl, stored_row, truth_row
from tests.replica import faults
from tests.replica.server import ReplicaPortal

#: Slow enough to be caught mid-run, fast enough for the suite.
SLOW = ["-s", "DOWNLOAD_DELAY=0.01", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"]


def start_crawl(archive: Path, starts: list[str], *extra: str) -> subprocess.Popen:
    """The crawl in a process group of its own (so a signal can reach all of it, as Ctrl-C does)."""
    urls = [arg for url in starts for arg in ("--start-url", url)]
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", *urls, "--archive", str(archive), *FAST, *SLOW, *extra],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def archived(archive: Path) -> int:
    try:
        with sqlite3.connect(f"file:{archive}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("select count(*) from bulletins").fetchone()[0]
    except sqlite3.Error:
        return 0


def runs_recorded(archive: Path) -> int:
    try:
        with sqlite3.connect(f"file:{archive}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("select count(*) from crawl_runs").fetchone()[0]
    except sqlite3.Error:
        return 0


def wait_for(archive: Path, process: subprocess.Popen, rows: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while archived(archive) < rows:
        assert process.poll() is None, "the crawl ended before the kill point"
        assert time.monotonic() < deadline, "the crawl never reached the kill point"
        time.sleep(0.02)


@contextlib.contextmanager
def crawl_under_way(
    tmp_path: Path, seed: int, rows: int
) -> Iterator[tuple[Path, ReplicaPortal, list[str], subprocess.Popen]]:
    """A crawl of a 4 × 30 replica that has archived ``rows`` bulletins.

    Yields (archive, portal, start URLs, crawl process).
    """
    archive = tmp_path / "archive.db"
    with ReplicaPortal(per_family=30, seed=seed) as portal:
        starts = [c.start_url for c in portal.columns.values()]
        process = start_crawl(archive, starts)
        wait_for(archive, process, rows)
        yield archive, portal, starts, process


def assert_sound(archive: Path) -> None:
    with sqlite3.connect(archive) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"


def assert_complete(archive: Path, portal: ReplicaPortal) -> None:
    db = sqlite_utils.Database(archive)
    truths = [b for column in portal.columns.values() for b in column.bulletins]
    assert db["bulletins"].count == len(truths)
    for truth in truths:
        assert stored_row(db["bulletins"].get(truth["url"])) == truth_row(truth)
    duplicated = db.execute(
        "select url from versions group by url, content_hash having count(*) > 1").fetchall()
    assert duplicated == []


@pytest.mark.parametrize("kill_at_rows", [0, 3, 60])
def test_sigkill_mid_run_then_the_next_run_completes(tmp_path, kill_at_rows):
    archive = tmp_path / "archive.db"
    with ReplicaPortal(per_family=30, seed=3) as portal:
        starts = [c.start_url for c in portal.columns.values()]
        process = start_crawl(archive, starts)
        if kill_at_rows:
            wait_for(archive, process, kill_at_rows)
        else:  # as soon as the run is recorded, before any bulletin
            deadline = time.monotonic() + 30
            while not runs_recorded(archive) and time.monotonic() < deadline:
                time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert archived(archive) < sum(len(c.bulletins) for c in portal.columns.values())
        assert_sound(archive)

        result = crawl(archive, *starts)
        assert result.returncode == 0, result.stderr[-2000:]
        assert_sound(archive)
        assert_complete(archive, portal)
    outcomes = [r["outcome"] for r in sqlite_utils.Database(archive).query(
        "select outcome from crawl_runs order by id")]
    assert outcomes == ["killed", "ok"]


@pytest.mark.parametrize("group", [False, True], ids=["crawl", "process-group"])
def test_sigint_stops_gracefully_and_records_the_run_as_interrupted(tmp_path, group):
    """SIGINT to the crawl, or to its whole group as Ctrl-C sends it."""
    with crawl_under_way(tmp_path, seed=4, rows=10) as (archive, portal, starts, process):
        if group:
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
        assert process.returncode == 130, err[-2000:]
        assert "interrupted" in err.strip().splitlines()[-1]
        assert "Traceback" not in err
        assert_sound(archive)
        db = sqlite_utils.Database(archive)
        run = next(db.query("select * from crawl_runs order by id desc limit 1"))
        assert run["outcome"] == "interrupted" and run["finished_at"]

        result = crawl(archive, *starts)
        assert result.returncode == 0, result.stderr[-2000:]
        assert_complete(archive, portal)


def last_run(archive: Path) -> dict:
    return next(sqlite_utils.Database(archive).query("select * from crawl_runs order by id desc limit 1"))


def assert_index_matches_table(archive: Path) -> None:
    """Every stored bulletin is indexed once, nothing else is (no half-written bulletin)."""
    db = sqlite_utils.Database(archive)
    meta = dict(db.execute("select key, value from search_meta").fetchall())
    count, rowid_sum = db.execute("select count(*), coalesce(sum(rowid), 0) from bulletins").fetchone()
    assert (meta["docs"], meta["rowid_sum"]) == (count, rowid_sum)
    orphans = db.execute("select count(*) from versions where url not in (select url from bulletins)")
    assert orphans.fetchone()[0] == 0


def test_a_failing_write_rolls_its_batch_back_and_fails_the_run(tmp_path):
    """A write the archive refuses mid-run (as a full disk would): no half bulletin is kept."""
    archive = tmp_path / "archive.db"
    with ReplicaPortal(per_family=10, seed=6) as portal:
        starts = [c.start_url for c in portal.columns.values()]
        victim = portal.columns["table"].bulletins[4]["url"]
        assert crawl(archive, starts[0]).returncode == 0  # creates the archive
        db = sqlite_utils.Database(archive)
        db.execute(f"""create trigger refuse before insert on bulletins when new.url = '{victim}'
                       begin select raise(abort, 'database or disk is full (simulated)'); end""")
        db.conn.commit()
        db.close()

        result = crawl(archive, *starts)
        assert result.returncode == 1, result.stderr[-2000:]
        assert "Traceback" not in result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert "archive write failed: IntegrityError: database or disk is full (simulated)" in last
        assert_sound(archive)
        assert_index_matches_table(archive)
        assert sqlite_utils.Database(archive)["bulletins"].count_where("url = ?", [victim]) == 0
        assert last_run(archive)["outcome"].startswith("failed")

        db = sqlite_utils.Database(archive)
        db.execute("drop trigger refuse")
        db.conn.commit()
        db.close()
        result = crawl(archive, *starts)
        assert result.returncode == 0, result.stderr[-2000:]
        assert_complete(archive, portal)


def test_archive_files_that_cannot_be_created_fail_the_run_in_one_line(tmp_path):
    archive = tmp_path / "archive.db"
    (tmp_path / "archive.captures").write_text("a file where the WARC folder goes")
    with ReplicaPortal(per_family=3, seed=6) as portal:
        result = crawl(archive, *[c.start_url for c in portal.columns.values()])
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "archive write failed: FileExistsError: " in result.stderr.strip().splitlines()[-1]
    # nothing was stored: the archive this crawl created is not left behind, nor its lock
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.captures"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_second_signal_stops_at_once_and_leaves_a_sound_archive(tmp_path, signum):
    """Ctrl-C twice (or systemd's SIGTERM twice): out at once, the run recorded, nothing half."""
    with crawl_under_way(tmp_path, seed=8, rows=5) as (archive, portal, starts, process):
        os.killpg(process.pid, signum)
        time.sleep(0.1)
        os.killpg(process.pid, signum)
        _out, err = process.communicate(timeout=10)
        assert process.returncode == 130, err[-2000:]
        assert "interrupted" in err.strip().splitlines()[-1]
        assert "stopping at once" in err and "Traceback" not in err
        assert_sound(archive)
        assert_index_matches_table(archive)
        assert last_run(archive)["outcome"] == "interrupted"

        result = crawl(archive, *starts)
        assert result.returncode == 0, result.stderr[-2000:]
        assert_complete(archive, portal)


def test_sigterm_stops_within_10_seconds_even_with_requests_hanging(tmp_path):
    """A first SIGTERM waits for the requests in flight, never longer than STOP_TIMEOUT."""
    archive = tmp_path / "archive.db"
    with ReplicaPortal(per_family=30, seed=9) as portal:
        starts = [c.start_url for c in portal.columns.values()]
        for truth in portal.columns["table"].bulletins:
            portal.faults[urlsplit(truth["url"]).path] = faults.hang(60)  # longer than DOWNLOAD_TIMEOUT
        process = start_crawl(archive, starts)
        wait_for(archive, process, rows=5)
        deadline = time.monotonic() + 30
        while not any(r["path"] in portal.faults for r in portal.requests):
            assert time.monotonic() < deadline, "no hanging page was requested"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=10)  # the bound: within 10 s
        assert process.returncode == 130, err[-2000:]
        lines = err.strip().splitlines()
        assert any("stopping; finishing" in line for line in lines)  # progress while stopping
        assert "interrupted" in lines[-1] and "Traceback" not in err
        assert_sound(archive)
        assert last_run(archive)["outcome"] == "interrupted"


def test_sigterm_while_a_list_page_s_100000_links_are_read_stops_gracefully(tmp_path):
    """A stop waits for the callbacks under way. The list callback of a page of 100,000 links makes
    no request once told (scheduling them all took longer than the stop's grace, and the crawl was
    stopped at once): the stop is graceful, and the next run walks the column whole."""
    archive = tmp_path / "archive.db"
    with ReplicaPortal(per_family=4, seed=34) as portal:
        column = portal.columns["xianning"]
        start_path = urlsplit(column.start_url).path
        portal.faults[start_path] = faults.many_entries(100_000)
        process = start_crawl(archive, [column.start_url], "-s", "STOP_TIMEOUT=4")
        deadline = time.monotonic() + 60
        while not any(request["path"] == start_path for request in portal.requests):  # the page is being read
            assert process.poll() is None and time.monotonic() < deadline, "the long list page was never requested"
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err[-2000:]
    assert "stopping; finishing" in err and "stopping at once" not in err, err[-2000:]
    assert "interrupted" in err.strip().splitlines()[-1] and "Traceback" not in err
    assert_sound(archive)
    assert last_run(archive)["outcome"] == "interrupted"


def test_a_full_disk_stops_the_run_in_one_line_and_the_next_run_completes(tmp_path):
    """Every file of the archive capped in size (RLIMIT_FSIZE: writes past it fail as on a full
    disk), wherever the first refused write lands: WARC file, database, or a commit."""
    archive = tmp_path / "archive.db"
    limit = 400_000

    def cap_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    with ReplicaPortal(per_family=12, seed=16) as portal:
        starts = [c.start_url for c in portal.columns.values()]
        urls = [arg for url in starts for arg in ("--start-url", url)]
        full = subprocess.run(
            [sys.executable, "-m", "crawler", "crawl", *urls, "--archive", str(archive), *FAST],
            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
            timeout=120, preexec_fn=cap_file_size)
        assert full.returncode == 1, full.stderr[-2000:]
        assert "Traceback" not in full.stderr
        last = full.stderr.strip().splitlines()[-1]
        assert "archive write failed" in last, last
        assert any(reason in last for reason in ("File too large", "disk is full", "disk I/O error")), last
        assert_sound(archive)
        assert_index_matches_table(archive)
        assert last_run(archive)["outcome"] in ("failed", "running")  # "running" when even that write failed

        result = crawl(archive, *starts)
        assert result.returncode == 0, result.stderr[-2000:]
        assert_complete(archive, portal)


#: Kill storm: this many SIGKILLs of the crawl, each after a random 0.2–2.5 s (seeded).
STORM_KILLS = 8


def _structure_rows(archive: Path) -> list[tuple]:
    with sqlite3.connect(archive) as conn:
        return conn.execute(
            "select i.bulletin_url, i.position, i.section, i.status, i.subject, m.date, m.number, "
            "(select group_concat(unit, '、') from item_units u where u.item_id = i.id) "
            "from items i left join meetings m on m.id = i.meeting_id order by 1, 2, 5").fetchall()


def test_a_storm_of_sigkills_leaves_the_archive_a_clean_run_makes(tmp_path):
    """Many SIGKILLs at random moments (starting, fetching, ingesting, committing), each run
    resumed by the next; the final archive equals one crawled without a kill: every field, the
    items, the search index in step, no duplicate version, no orphan row, nothing left ready."""
    import random

    from archive.search import index_status, matching_rowids

    rng = random.Random(20261129)
    stormy, clean = tmp_path / "stormy.db", tmp_path / "clean.db"
    with ReplicaPortal(per_family=10, seed=11) as portal:
        starts = [c.start_url for c in portal.columns.values()]
        for _ in range(STORM_KILLS):
            process = start_crawl(stormy, starts)
            time.sleep(rng.uniform(0.2, 2.5))
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            assert_sound(stormy) if stormy.exists() else None
        final = crawl(stormy, *starts)
        assert final.returncode == 0, final.stderr[-2000:]
        assert crawl(clean, *starts).returncode == 0
        assert_sound(stormy)
        assert_complete(stormy, portal)
        assert_complete(clean, portal)
    assert _structure_rows(stormy) == _structure_rows(clean)
    db = sqlite_utils.Database(stormy)
    assert index_status(db).in_sync
    for word in ("督查", "常务会议", "市财政局"):  # the index finds what a plain scan finds
        scanned = {rowid for (rowid,) in db.execute(
            "select rowid from bulletins b where instr(title, ?) or instr(body, ?) or exists"
            " (select 1 from attachments a where a.bulletin_url = b.url and instr(a.text, ?))", [word] * 3)}
        assert set(matching_rowids(db, word)) == scanned, word
    orphans = db.execute(
        "select (select count(*) from versions where url not in (select url from bulletins)),"
        " (select count(*) from items where bulletin_url not in (select url from bulletins)),"
        " (select count(*) from item_units where item_id not in (select id from items)),"
        " (select count(*) from captures where ingest_state in ('fetched', 'ready'))").fetchone()
    assert orphans == (0, 0, 0, 0)
    outcomes = [outcome for (outcome,) in db.execute("select outcome from crawl_runs order by id")]
    assert outcomes[-1] == "ok" and set(outcomes[:-1]) <= {"killed"}
