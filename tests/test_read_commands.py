"""Read commands are reads, writers take the lock, output is inert, ``serve`` is safe to expose.

Against real files: an archive holding hostile text (escape sequences in titles, units,
publishers), an unrelated SQLite file, an archive in a folder its reader cannot write (read
as ``nobody`` when the tests run as root, who ignores file permissions), a symbolic link.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import select
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import sysconfig
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from archive.lock import ArchiveLock
from archive.schema import open_archive
from crawler.ingest import store_record
from pipelines.records import BulletinRecord
from tests.conftest import REPO, run_cli

#: What a hostile portal puts in its text: set the window title, clear the screen (ESC and
#: one-character C1 CSI), ring the bell, reverse the text's direction.
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b2J\x07\u202e"
#: Nothing of it may reach a terminal.
CONTROL = ("\x1b", "\x9b", "\x07", "\u202e")
BULLETINS = 300


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_archive(path: Path, count: int = BULLETINS, padding: int = 0) -> Path:
    """An archive of ``count`` bulletins with hostile text in every field a command prints
    (``padding`` more lines of ordinary text in each body)."""
    db = open_archive(path)
    with db.conn:
        for i in range(count):
            url = f"http://127.0.0.1:9/zwdc/202401/t20240115_{i}.html"
            body = "\n".join([
                "一、尚未完全落实事项", f"（一）2019年11月{i % 28 + 1}日市政府第{i + 1}次常务会议",
                f"1.审议《咸宁市{HOSTILE}管理办法》的落实情况。（责任单位：市财政局{HOSTILE}、市住建局）",
                f"督查工作{HOSTILE}进展顺利。",
                *(f"第{n}项工作按计划推进，各责任单位加强协调配合，确保按期完成目标任务。" for n in range(padding))])
            store_record(db, BulletinRecord(
                url=url, site="127.0.0.1:9", publisher=f"市政府办公室{HOSTILE}", published="2024-01-15",
                title=f"关于督查情况的通报{HOSTILE}第{i}期", body=body,
                fetched_at="2024-01-16T00:00:00+00:00", source_url=url))
    db.close()
    return path


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return make_archive(tmp_path_factory.mktemp("hostile") / "archive.db")


def one_line_error(result: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stdout[-500:], result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


# --- output is inert -------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["items"], ["items", "--json"], ["items", "--unit", "市住建局"], ["search", "督查"],
    ["search", "督查", "--json"], ["stats"], ["search", "管理办法"],
])
def test_no_escape_sequence_from_portal_text_reaches_the_terminal(archive, args):
    result = run_cli(*args, "--archive", str(archive))
    assert result.returncode == 0 and result.stdout.strip(), result.stderr
    for char in CONTROL:
        assert char not in result.stdout and char not in result.stderr, (args, char)


def test_json_keeps_the_text_escaped_not_lost(archive):
    result = run_cli("items", "--json", "--archive", str(archive))
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == BULLETINS and HOSTILE in rows[0]["subject"]


def test_log_messages_are_inert(caplog):
    from crawler.output import inert_log_records

    inert_log_records()
    with caplog.at_level(logging.WARNING):
        logging.getLogger("zwdc.test").warning("dropped %s:\n%s", f"标题{HOSTILE}", "second line")
    message = caplog.records[-1].getMessage()
    assert message.endswith("\nsecond line") and not any(char in message for char in CONTROL)


# --- output piped into head ----------------------------------------------------------------

@pytest.mark.parametrize("args", [["items"], ["stats"], ["search", "督查", "--json"], ["items", "--json"]])
def test_a_reader_gone_away_ends_the_output_quietly(archive, args):
    """The reader closed before anything was printed: no traceback, the SIGPIPE status."""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run([sys.executable, "-m", "crawler", *args, "--archive", str(archive)],
                                cwd=REPO, stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert (result.returncode, result.stderr) == (128 + signal.SIGPIPE, "")


@pytest.mark.parametrize("command", ["items", "stats", "search 督查"])
def test_piped_into_head(archive, command):
    result = subprocess.run(
        f"{sys.executable} -m crawler {command} --archive {archive} | head -1",
        shell=True, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.stderr == "" and len(result.stdout.splitlines()) == 1


# --- a file that is not an archive -----------------------------------------------------------

NOT_ARCHIVE_COMMANDS = [
    ["stats"], ["search", "督查"], ["items"], ["export", "--format", "csv", "--output", "{out}"],
    ["reprocess"], ["reindex"], ["ingest"], ["serve", "--port", "0"], ["serve", "--port", "0", "--immutable"],
    ["crawl", "--start-url", "http://127.0.0.1:9/zwdc/index.shtml"],
]


@pytest.mark.parametrize("args", NOT_ARCHIVE_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_an_unrelated_sqlite_file_is_refused_and_left_byte_for_byte(tmp_path, args):
    notes = tmp_path / "notes.db"
    with sqlite3.connect(notes) as conn:
        conn.execute("create table notes (id integer primary key, text text)")
        conn.execute("insert into notes (text) values ('买菜')")
    conn.close()
    before, listing = sha256(notes), sorted(os.listdir(tmp_path))
    args = [arg.replace("{out}", str(tmp_path / "out.csv")) for arg in args]
    one_line_error(run_cli(*args, "--archive", str(notes)), 2, "not an archive")
    assert sha256(notes) == before and sorted(os.listdir(tmp_path)) == listing  # no WAL, no lock


def test_a_file_that_is_not_sqlite_is_refused_and_left_as_it_was(tmp_path):
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"my notes, not a database\n" * 10)
    empty = tmp_path / "empty.db"
    empty.touch()
    for args in (["stats"], ["reindex"], ["serve"], ["reprocess"], ["ingest"]):
        for path in (junk, empty):
            one_line_error(run_cli(*args, "--archive", str(path)), 2, "not an archive")
    assert junk.read_bytes() == b"my notes, not a database\n" * 10 and empty.read_bytes() == b""
    assert sorted(os.listdir(tmp_path)) == ["empty.db", "notes.db"]


# --- an archive in a folder this user cannot write ------------------------------------------

#: Who reads: ``nobody`` when the tests run as root (root writes anywhere), else this user.
READER = {"user": "nobody", "group": "nogroup", "extra_groups": []} if os.geteuid() == 0 else {}


@functools.cache
def reader_python() -> tuple[str, dict[str, str]]:
    """An interpreter the reader may run, and its environment: this one, or, when it lives where
    only root may look (``/root/.pyenv``), the system's Python of the same version given this
    one's packages."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": "/nonexistent"}
    probe = [sys.executable, "-c", "import crawler.cli"]
    try:
        if subprocess.run(probe, env=env, cwd=REPO, capture_output=True, **READER).returncode == 0:
            return sys.executable, env
    except PermissionError:  # the reader may not even start it
        pass
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    packages = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *sorted(packages)])
    probe[0] = system
    result = subprocess.run(probe, env=env, cwd=REPO, capture_output=True, text=True, **READER)
    assert result.returncode == 0, f"no Python the reader may run: {result.stderr[-500:]}"
    return system, env


def as_reader(*args: str, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    """The command line as a user who may read the archive but not write its folder."""
    python, env = reader_python()
    command = [python, "-m", "crawler", *args]
    if popen:
        return subprocess.Popen(command, cwd=REPO, env=env, text=True, **READER, **popen)
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180, **READER)


@pytest.fixture(scope="module")
def read_only_archive(archive) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="zwdc-ro-"))
    path = folder / "archive.db"
    shutil.copy(archive, path)
    path.chmod(0o444)
    folder.chmod(0o555)
    yield path
    folder.chmod(0o755)
    shutil.rmtree(folder)


@pytest.fixture(scope="module")
def writable_elsewhere() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="zwdc-out-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder)


def test_the_reader_cannot_write_there(read_only_archive):
    """The setup itself: the reader is refused a new file in the archive's folder."""
    python, env = reader_python()
    probe = subprocess.run([python, "-c", f"open({str(read_only_archive.parent / 'x')!r}, 'w')"],
                           env=env, capture_output=True, text=True, **READER)
    assert probe.returncode != 0 and "Permission denied" in probe.stderr
    assert not read_only_archive.parent.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


@pytest.mark.parametrize("args", [["stats"], ["search", "督查", "--limit", "3"], ["items", "--unit", "市住建局"]])
def test_read_commands_read_an_archive_they_cannot_write(read_only_archive, args):
    before = sha256(read_only_archive)
    result = as_reader(*args, "--archive", str(read_only_archive))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert any(f"{BULLETINS} {what}" in result.stdout for what in ("bulletins", "item(s)")) or "督查" in result.stdout
    assert sha256(read_only_archive) == before and os.listdir(read_only_archive.parent) == ["archive.db"]


def test_export_reads_an_archive_it_cannot_write(read_only_archive, writable_elsewhere):
    output = writable_elsewhere / "bulletins.csv"
    result = as_reader("export", "--format", "csv", "--output", str(output), "--archive", str(read_only_archive))
    assert result.returncode == 0, result.stderr
    assert output.read_text("utf-8-sig").count("督查工作") == BULLETINS
    assert os.listdir(read_only_archive.parent) == ["archive.db"]


@pytest.mark.parametrize("command", ["reindex", "reprocess"])
def test_writers_say_in_one_line_that_they_cannot_write_there(read_only_archive, command):
    one_line_error(as_reader(command, "--archive", str(read_only_archive)), 2, "cannot lock", "Permission denied")


@pytest.mark.parametrize("immutable", [[], ["--immutable"]])
def test_serve_serves_an_archive_it_cannot_write(read_only_archive, immutable):
    before = sha256(read_only_archive)
    process = as_reader("serve", "--archive", str(read_only_archive), "--port", "0", *immutable,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline() if ready else ""
        assert line.startswith("serving ") and "immutable snapshot" in line, line
        base = line.split(" at ", 1)[1].split()[0]
        with urllib.request.urlopen(base + "-/search?q=" + urllib.parse.quote("通报"), timeout=30) as page:
            html = page.read().decode()
            assert page.status == 200 and html.count('class="zwdc-hit"') == 20 and "第1期" in html
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert "Traceback" not in stderr and "not writable" in stderr
    assert sha256(read_only_archive) == before and os.listdir(read_only_archive.parent) == ["archive.db"]


# --- the crawl lock --------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["reprocess", "reindex"])
def test_writers_wait_for_no_crawl_exit_75(archive, command):
    with ArchiveLock(archive):
        one_line_error(run_cli(command, "--archive", str(archive)), 75, "another crawl is already running")


def test_the_busy_message_names_the_command_holding_the_archive(archive):
    """It said "another crawl" whoever held the lock (a reprocess, say): the holder writes its name."""
    with ArchiveLock(archive, "reprocess"):
        one_line_error(run_cli("reindex", "--archive", str(archive)), 75,
                       f"another reprocess is already running on {archive} (pid {os.getpid()})")


def test_a_symlinked_archive_and_its_target_share_one_lock(archive, tmp_path):
    link = tmp_path / "link.db"
    link.symlink_to(archive)
    with ArchiveLock(link):
        one_line_error(run_cli("reindex", "--archive", str(archive)), 75, "already running")
    with ArchiveLock(archive):
        one_line_error(run_cli("crawl", "--archive", str(link), "--start-url",
                               "http://127.0.0.1:9/zwdc/index.shtml"), 75, "already running")
        one_line_error(run_cli("reprocess", "--archive", str(link)), 75, "already running")
    assert not (tmp_path / "link.db.lock").exists()


# --- serve --public --------------------------------------------------------------------------

def _client(ds, path: str):
    async def fetch():
        return await ds.client.get(path)

    with ThreadPoolExecutor(1) as thread:  # an event loop of its own, whatever the test runs in
        return thread.submit(asyncio.run, fetch()).result()


def test_public_mode_runs_no_sql_of_the_visitors_own(archive):
    from crawler.commands.serve import PUBLIC_SETTINGS, make_datasette

    ds = make_datasette(archive, settings=PUBLIC_SETTINGS)
    name = archive.stem
    heavy = urllib.parse.quote("select length(randomblob(900000000))")
    assert _client(ds, f"/{name}.json?sql={heavy}").status_code == 403
    assert _client(ds, f"/{name}/bulletins.json?_where=" + urllib.parse.quote("1=1")).status_code == 403
    canned = _client(ds, f"/{name}/search.json?_shape=array&q=" + urllib.parse.quote("督查"))
    assert canned.status_code == 200 and len(canned.json()) == BULLETINS
    assert _client(ds, "/-/search?q=" + urllib.parse.quote("督查")).status_code == 200
    local = make_datasette(archive)  # without --public (on 127.0.0.1) SQL stays open
    assert _client(local, f"/{name}.json?sql=" + urllib.parse.quote("select 1")).status_code == 200


def test_the_search_page_has_a_time_limit_too(archive, tmp_path):
    """A search past the SQL time limit is stopped and says so, as Datasette's own pages are.

    The page: a late page of 3,000 matches with its facets under a 20 ms limit; the same page
    under a generous limit answers."""
    from crawler.commands.serve import make_datasette

    larger = make_archive(tmp_path / "larger.db", 3000, padding=20)
    late_page = "/-/search?lang=en&page=150&q=" + urllib.parse.quote("督查")
    page = _client(make_datasette(larger, settings={"sql_time_limit_ms": 20}), late_page)
    assert page.status_code == 400 and "time limit" in page.text
    assert _client(make_datasette(larger, settings={"sql_time_limit_ms": 60_000}), late_page).status_code == 200
    # a search without matches fits a tight limit (not 20 ms: on a loaded machine the page's few
    # queries took longer than that, and the check timed the machine instead)
    ds = make_datasette(archive, settings={"sql_time_limit_ms": 250})
    assert _client(ds, "/-/search?q=" + urllib.parse.quote("无此词语")).status_code == 200


def test_serve_listens_on_this_machine_unless_public(archive):
    for extra, host in (([], "127.0.0.1"), (["--public"], "0.0.0.0")):
        process = subprocess.Popen(
            [sys.executable, "-m", "crawler", "serve", "--archive", str(archive), "--port", "0", *extra],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            ready, _, _ = select.select([process.stdout], [], [], 30)
            line = process.stdout.readline() if ready else ""
            assert line.startswith("serving ") and f"at http://{host}:" in line, line
            port = line.split(f"http://{host}:", 1)[1].split("/", 1)[0]
            status = _status(f"http://127.0.0.1:{port}/{archive.stem}.json?sql=select+1")
            assert status == (403 if extra else 200)
        finally:
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=20)
        assert "Traceback" not in stderr


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code

