"""Scrapy's own command line and a trial crawl: ``scrapy crawl column -a start_url=…`` crawls that
column into the archive, its feed exports (``-O x.jsonl``, ``-O x.csv``) hold the archived
bulletins, a start page that cannot be fetched fails it in one line, and a sample
(``crawl --sample N``, ``-a sample=N``, ``-s CLOSESPIDER_ITEMCOUNT=N``) is a healthy run."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils

from spiders.items import Bulletin
from tests.conftest import FAST, REPO, run_cli
from tests.replica.server import ReplicaPortal


def scrapy(*args: str) -> subprocess.CompletedProcess:
    """``scrapy ARGS`` from the project's folder (its scrapy.cfg), as a Scrapy user runs it."""
    return subprocess.run([sys.executable, "-m", "scrapy", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=180, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture(scope="module")
def replica():
    """Two columns on different software, each over several list pages (15 and 10 a page)."""
    with ReplicaPortal(per_family=32, seed=43, families=("xianning", "hanweb")) as portal:
        yield portal


def archived(path: Path) -> dict[str, dict]:
    """The archive's bulletins as a feed carries them."""
    rows = sqlite_utils.Database(path).query(f"select {', '.join(Bulletin.fields)} from bulletins")
    return {row["url"]: {**row, "attachments": json.loads(row["attachments"])} for row in rows}


def test_scrapy_crawl_archives_the_start_urls_and_its_feeds_hold_the_bulletins(replica, tmp_path):
    urls = ",".join(column.start_url for column in replica.columns.values())
    lines = scrapy("crawl", "column", "-a", f"start_urls={urls}", "-s", f"ARCHIVE_PATH={tmp_path / 'a.db'}",
                   *FAST, "-O", str(tmp_path / "bulletins.jsonl"))
    assert lines.returncode == 0, lines.stderr[-2000:]
    assert "Traceback" not in lines.stderr and lines.stdout.startswith("run 1: ok;")
    rows = archived(tmp_path / "a.db")
    assert set(rows) == {b["url"] for column in replica.columns.values() for b in column.bulletins}
    feed = [json.loads(line) for line in (tmp_path / "bulletins.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(item["url"] for item in feed) == sorted(rows)
    assert all(item == rows[item["url"]] for item in feed)  # every field as archived, nothing else
    assert any(item["attachments"] for item in feed) and all(item["portal"] for item in feed)

    one = next(iter(replica.columns.values()))
    table = scrapy("crawl", "column", "-a", f"start_url={one.start_url}", "-s", f"ARCHIVE_PATH={tmp_path / 'b.db'}",
                   *FAST, "-O", str(tmp_path / "bulletins.csv"))
    assert table.returncode == 0, table.stderr[-2000:]
    with open(tmp_path / "bulletins.csv", encoding="utf-8", newline="") as handle:
        read = list(csv.DictReader(handle))
    assert list(read[0]) == list(Bulletin.fields)
    rows = archived(tmp_path / "b.db")
    assert sorted(row["url"] for row in read) == sorted(rows) == sorted(b["url"] for b in one.bulletins)
    for row in read:  # a list as its JSON text, as the archive's own CSV export writes it
        assert json.loads(row["attachments"]) == rows[row["url"]]["attachments"]
        assert row["title"] == rows[row["url"]]["title"] and row["body"] == rows[row["url"]]["body"]


def test_scrapy_crawl_fails_in_one_line_on_a_start_page_it_cannot_fetch(tmp_path):
    result = scrapy("crawl", "column", "-a", "start_url=http://127.0.0.1:9/zwdc/index.html",
                    "-s", f"ARCHIVE_PATH={tmp_path / 'a.db'}", "-s", "RETRY_TIMES=0", "-L", "WARNING")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: start page failed: http://127.0.0.1:9/")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "a.db").exists()  # nothing captured: no archive left behind
    bad = scrapy("crawl", "column", "-a", "sample=many", "-s", f"ARCHIVE_PATH={tmp_path / 'a.db'}")
    assert bad.returncode == 2 and "sample must be a whole number" in bad.stderr and "Traceback" not in bad.stderr


def per_column(path: Path, replica) -> dict[str, int]:
    db = sqlite_utils.Database(path)
    return {name: db.execute("select count(*) from bulletins where list_url like ?",
                             [column.start_url.rsplit("/", 1)[0] + "/%"]).fetchone()[0]
            for name, column in replica.columns.items()}


def test_a_sample_takes_n_bulletins_per_column_and_is_healthy(replica, tmp_path):
    archive = tmp_path / "a.db"
    starts = [arg for column in replica.columns.values() for arg in ("--start-url", column.start_url)]
    sample = run_cli("crawl", *starts, "--archive", str(archive), *FAST, "--sample", "4")
    assert sample.returncode == 0, sample.stderr[-2000:]
    assert per_column(archive, replica) == {name: 4 for name in replica.columns}
    assert "list pages: 2;" in sample.stdout  # one list page per column
    db = sqlite_utils.Database(archive)
    assert [(r["mode"], r["outcome"]) for r in db.query("select mode, outcome from crawl_runs")] == [("sample", "ok")]
    # The next run walks every list page again (a sample covered part of each column).
    whole = run_cli("crawl", *starts, "--archive", str(archive), *FAST)
    assert whole.returncode == 0, whole.stderr[-2000:]
    assert per_column(archive, replica) == {name: len(c.bulletins) for name, c in replica.columns.items()}
    assert run_cli("crawl", "--sample", "0", "--archive", str(archive)).returncode == 2

    one = next(iter(replica.columns.values()))
    spider_arg = scrapy("crawl", "column", "-a", f"start_url={one.start_url}", "-a", "sample=3",
                        "-s", f"ARCHIVE_PATH={tmp_path / 'b.db'}", *FAST, "-O", str(tmp_path / "b.jsonl"))
    assert spider_arg.returncode == 0, spider_arg.stderr[-2000:]
    assert len((tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()) == 3


def test_closespider_itemcount_ends_a_trial_run_healthy(replica, tmp_path):
    archive = tmp_path / "a.db"
    starts = [arg for column in replica.columns.values() for arg in ("--start-url", column.start_url)]
    trial = run_cli("crawl", *starts, "--archive", str(archive), *FAST, "-s", "CLOSESPIDER_ITEMCOUNT=5")
    assert trial.returncode == 0, trial.stderr[-2000:]
    assert trial.stdout.startswith("run 1: ok;")
    db = sqlite_utils.Database(archive)
    stored = db["bulletins"].count
    assert 5 <= stored < sum(len(c.bulletins) for c in replica.columns.values())
    assert [(r["mode"], r["outcome"]) for r in db.query("select mode, outcome from crawl_runs")] == [("sample", "ok")]
