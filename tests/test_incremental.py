"""Nightly runs on a replica that changes between runs: only what is new is fetched,
edits become versions, removals become marks, captures replay offline."""
from __future__ import annotations

from collections import Counter

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlite_utils

from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from tests.conftest import crawl, run_cli, stored_row, truth_row
from tests.replica.server import ReplicaPortal

WARCIO = str(Path(sys.executable).with_name("warcio"))


def detail_paths(requests: list[dict]) -> set[str]:
    """Paths of bulletin pages requested (list pages, robots.txt and files left out)."""
    return {r["path"] for r in requests if "/t20" in r["path"]}


@pytest.fixture(scope="module")
def nightly(tmp_path_factory):
    """A portal crawled once, then changed as on the next day and crawled again."""
    archive = tmp_path_factory.mktemp("nightly") / "archive.db"
    with ReplicaPortal(per_family=20, seed=11) as portal:
        starts = [column.start_url for column in portal.columns.values()]
        first = crawl(archive, *starts)
        assert first.returncode == 0, first.stderr

        portal.clear_requests()
        idle = crawl(archive, *starts)
        idle_requests = portal.requests

        added = [portal.site.add_bulletin("xianning") for _ in range(3)]
        added.append(portal.site.add_bulletin("gbk"))
        portal.clear_requests()
        next_day = crawl(archive, *starts)
        next_day_requests = portal.requests

        edited_url = portal.columns["table"].bulletins[5]["url"]
        edited = portal.site.edit_body(edited_url, ["一、已落实事项", "修订后的落实情况说明。"])
        removed_url = portal.columns["scripted-count"].bulletins[3]["url"]
        portal.site.remove(removed_url)
        portal.clear_requests()
        full = crawl(archive, *starts, extra=("--full",))
        full_requests = portal.requests

        yield {
            "portal": portal, "archive": archive, "starts": starts, "idle": idle,
            "idle_requests": idle_requests, "added": added, "next_day": next_day,
            "next_day_requests": next_day_requests, "edited": edited, "removed_url": removed_url,
            "full": full, "full_requests": full_requests,
        }


def test_a_run_with_nothing_new_costs_robots_and_one_list_page_per_column(nightly):
    assert nightly["idle"].returncode == 0, nightly["idle"].stderr
    paths = sorted(r["path"] for r in nightly["idle_requests"])
    expected = sorted(["/robots.txt"] + [urlsplit(url).path for url in nightly["starts"]])
    assert paths == expected


def test_next_day_fetches_exactly_the_new_bulletins(nightly):
    assert nightly["next_day"].returncode == 0, nightly["next_day"].stderr
    new_paths = {urlsplit(b["url"]).path for b in nightly["added"]}
    assert detail_paths(nightly["next_day_requests"]) == new_paths
    # Columns with news read pages 1 and 2 (where nothing is new); the others page 1 only.
    portal = nightly["portal"]
    pages = {name: {urlsplit(url)._replace(scheme="", netloc="").geturl() for url in column.list_pages}
             for name, column in portal.columns.items()}
    read = Counter(name for r in nightly["next_day_requests"] for name, paths in pages.items() if r["path"] in paths)
    assert read == {name: 2 if name in ("xianning", "gbk") else 1 for name in portal.columns}
    db = sqlite_utils.Database(nightly["archive"])
    for truth in nightly["added"]:
        assert stored_row(db["bulletins"].get(truth["url"])) == truth_row(truth)


def test_full_pass_records_the_edit_as_a_version_and_fetches_only_changed_pages(nightly):
    assert nightly["full"].returncode == 0, nightly["full"].stderr
    edited = nightly["edited"]
    db = sqlite_utils.Database(nightly["archive"])
    assert db["bulletins"].get(edited["url"])["body"] == edited["body"]
    versions = list(db.query("select body from versions where url = ? order by id", [edited["url"]]))
    assert len(versions) == 2 and versions[-1]["body"] == edited["body"]
    full_200 = {r["path"] for r in nightly["full_requests"] if "/t20" in r["path"] and r["status"] == 200}
    assert full_200 == {urlsplit(edited["url"]).path}
    assert any(r["status"] == 304 for r in nightly["full_requests"])


def test_unchanged_refetches_add_no_version(nightly):
    db = sqlite_utils.Database(nightly["archive"])
    edited = nightly["edited"]["url"]
    counts = db.execute(
        "select count(*) from versions where url != ? group by url having count(*) > 1", [edited]
    ).fetchall()
    assert counts == []


def test_a_removed_bulletin_is_kept_and_marked(nightly):
    db = sqlite_utils.Database(nightly["archive"])
    row = db["bulletins"].get(nightly["removed_url"])
    assert row["missing_since"] and row["body"]
    others = db.execute("select count(*) from bulletins where missing_since is not null").fetchone()[0]
    assert others == 1


def test_each_run_is_recorded(nightly):
    db = sqlite_utils.Database(nightly["archive"])
    runs = list(db.query("select * from crawl_runs order by id"))
    assert [r["mode"] for r in runs] == ["incremental"] * 3 + ["full"]
    assert [r["outcome"] for r in runs] == ["ok"] * 4
    assert (runs[0]["new"], runs[1]["new"], runs[2]["new"]) == (20 * len(nightly["portal"].columns), 0, 4)
    assert (runs[3]["changed"], runs[3]["removed"], runs[3]["new"]) == (1, 1, 0)
    assert runs[1]["requests"] == 1 + len(nightly["portal"].columns)  # robots.txt and one list page each
    assert all(r["finished_at"] >= r["started_at"] and json.loads(r["stats"])["scrapy"] for r in runs)


def test_warc_files_pass_warcio_check_and_index(nightly):
    files = sorted(ArchiveLayout.of(nightly["archive"]).captures.glob("*.warc.gz"))
    assert len(files) == 4
    for path in files:
        check = subprocess.run([WARCIO, "check", "-v", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        # every request and response record carries digests, and they hold (warcinfo has none)
        verdicts = [line.strip() for line in check.stdout.splitlines() if not line.startswith(("/", "  offset"))]
        records = [line for line in check.stdout.splitlines() if line.startswith("  offset")]
        assert len(verdicts) == len(records) and verdicts[0] == "no digest to check"
        assert set(verdicts[1:]) == {"digest pass"}
    index = subprocess.run([WARCIO, "index", str(files[0])], capture_output=True, text=True)
    records = [json.loads(line) for line in index.stdout.splitlines()]
    responses = [r for r in records if r.get("warc-type") == "response"]
    requests = [r for r in records if r.get("warc-type") == "request"]
    assert len(responses) == len(requests) >= 80


def test_attachments_stored_by_content_hash(nightly):
    db = sqlite_utils.Database(nightly["archive"])
    rows = list(db["attachments"].rows)
    expected = {(b["url"], a["url"]) for c in nightly["portal"].columns.values()
                for b in c.bulletins for a in b["attachments"]}
    assert expected <= {(r["bulletin_url"], r["url"]) for r in rows}
    for row in rows:
        path = nightly["archive"].parent / row["path"]
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"] and len(data) == row["size"]
        assert path.resolve().is_relative_to(nightly["archive"].parent.resolve())


def test_reprocess_rebuilds_the_archive_from_captures_with_zero_requests(nightly):
    portal, archive = nightly["portal"], nightly["archive"]
    db = sqlite_utils.Database(archive)
    before = {row["url"]: row for row in db["bulletins"].rows}
    db.execute("update bulletins set body = '', title = ''")
    db.conn.commit()
    portal.clear_requests()
    result = run_cli("reprocess", "--archive", str(archive))
    assert result.returncode == 0, result.stderr
    assert portal.requests == []
    after = {row["url"]: row for row in sqlite_utils.Database(archive)["bulletins"].rows}
    for url, row in before.items():
        assert (after[url]["title"], after[url]["body"]) == (row["title"], row["body"])


def test_reprocess_stores_the_items_of_unchanged_bulletins_again(nightly):
    """A better parser must reach bodies that did not change: their items are stored again (from
    the parse done beside their extraction, not from a second pass over every body)."""
    archive = nightly["archive"]
    query = "select bulletin_url, source, position, subject, status, progress from items order by 1, 2, 3"
    db = sqlite_utils.Database(archive)
    before = db.execute(query).fetchall()
    units = db.execute("select count(*) from item_units").fetchone()[0]
    assert before and units
    for table in ("item_units", "items", "meetings"):
        db.execute(f"delete from {table}")
    db.conn.commit()
    result = run_cli("reprocess", "--archive", str(archive))
    assert result.returncode == 0, result.stderr
    assert "changed 0" in result.stdout
    db = sqlite_utils.Database(archive)
    assert db.execute(query).fetchall() == before
    assert db.execute("select count(*) from item_units").fetchone()[0] == units


def test_a_second_run_on_a_locked_archive_exits_at_once(nightly):
    with ArchiveLock(nightly["archive"]):
        result = crawl(nightly["archive"], *nightly["starts"])
    assert result.returncode == 75
    assert "another crawl is already running" in result.stderr


def test_a_full_pass_marks_removed_only_what_whole_lists_no_longer_show(tmp_path):
    """A sample of a full pass reads part of each list: nothing is marked removed (13 of 16 live
    bulletins once were). A column that would lose most of its bulletins at once is reported, not
    marked; a real removal still is."""
    archive = tmp_path / "archive.db"
    with ReplicaPortal(per_family=16, seed=23, families=("xianning", "epoint")) as portal:
        starts = [column.start_url for column in portal.columns.values()]
        assert crawl(archive, *starts).returncode == 0
        db = sqlite_utils.Database(archive)

        def marked() -> set[str]:
            return {url for (url,) in db.execute("select url from bulletins where missing_since is not null")}

        sample = crawl(archive, *starts, extra=("--full", "--sample", "2"))
        assert sample.returncode == 0, sample.stderr
        assert marked() == set() and db.execute("select removed from crawl_runs order by id desc").fetchone() == (0,)

        gone = portal.columns["xianning"].bulletins[4]["url"]
        portal.site.remove(gone)
        # the epoint list shows a few of its documents, which are all still there (a box read as the list)
        epoint = portal.site.columns[portal.site.families["epoint"].column]
        with portal.site._lock:
            epoint.listings = epoint.listings[:4]
        full = crawl(archive, *starts, extra=("--full",))
        assert marked() == {gone}
        assert full.returncode == 1 and re.search(
            r"iList\.jsp: \d+ of its \d+ archived bulletins are on no list page read: not marked removed", full.stderr)
