"""Crawl every replica family end to end and check every stored field against its truth."""
from __future__ import annotations

import json

import pytest
import sqlite_utils

from tests.conftest import crawl, run_cli, stored_row, truth_row
from tests.replica.templates import DEFAULT_FAMILIES


@pytest.fixture(scope="module")
def crawled(portal, tmp_path_factory):
    archive = tmp_path_factory.mktemp("crawl") / "archive.db"
    portal.clear_requests()
    result = crawl(archive, *(column.start_url for column in portal.columns.values()))
    return result, sqlite_utils.Database(archive), list(portal.requests)


def test_crawl_succeeds_and_reports_a_summary(crawled):
    result, _db, _requests = crawled
    assert result.returncode == 0, result.stderr
    assert "bulletins fetched: " in result.stdout and "fields filled:" in result.stdout


def test_the_run_records_where_its_cpu_went(crawled):
    """What the crawl benchmark reads of a run: its reactor thread's CPU time, and the share of
    the extraction workers in the CPU time of ingest."""
    _result, db, _requests = crawled
    stats = json.loads(db.execute("select stats from crawl_runs order by id desc").fetchone()[0])["scrapy"]
    assert stats["run/reactor_thread_cpu_seconds"] > 0
    assert 0 < stats["ingest/worker_cpu_seconds"] < stats["ingest/cpu_seconds"]


@pytest.mark.parametrize("family", DEFAULT_FAMILIES)
def test_every_bulletin_of_the_family_is_archived_with_every_field_right(crawled, portal, family):
    _result, db, _requests = crawled
    column = portal.columns[family]
    assert column.bulletins, "the replica family has bulletins"
    for bulletin in column.bulletins:
        rows = list(db["bulletins"].rows_where("url = ?", [bulletin["url"]]))
        assert rows, f"missing {bulletin['url']}"
        assert stored_row(rows[0]) == truth_row(bulletin)


def test_nothing_but_the_truth_is_archived(crawled, portal):
    _result, db, _requests = crawled
    expected = {b["url"] for column in portal.columns.values() for b in column.bulletins}
    stored = {row["url"] for row in db["bulletins"].rows}
    assert stored == expected
    assert db["bulletins"].count == len(expected)


def test_robots_txt_is_obeyed_and_no_other_host_is_contacted(crawled):
    _result, _db, requests = crawled
    paths = [r["path"] for r in requests]
    assert paths[0] == "/robots.txt"
    assert not any(path.startswith("/private/") for path in paths)


def test_alternate_views_fold_into_the_canonical_document(crawled):
    _result, db, requests = crawled
    assert not any("_slhxq" in r["path"] or "_app" in r["path"] for r in requests)
    assert not any("_slhxq" in row["url"] for row in db["bulletins"].rows)


def test_redirected_bulletins_store_the_final_url(crawled, portal):
    _result, db, requests = crawled
    redirected = [r for r in requests if r["status"] in (301, 302)]
    assert redirected, "the replica serves a redirect"
    for row in db["bulletins"].rows:
        assert "/old/" not in row["url"] and "/old/" not in row["source_url"]


def test_recrawl_updates_rows_and_never_duplicates(crawled, portal, tmp_path):
    _result, db, _requests = crawled
    before = db["bulletins"].count
    archive = db.conn.execute("pragma database_list").fetchone()[2]
    again = crawl(archive, *(column.start_url for column in portal.columns.values()))
    assert again.returncode == 0, again.stderr
    assert sqlite_utils.Database(archive)["bulletins"].count == before


def test_stats_json_is_what_the_archive_holds(crawled):
    _result, db, _requests = crawled
    archive = db.conn.execute("pragma database_list").fetchone()[2]
    result = run_cli("stats", "--archive", archive, "--json")
    assert result.returncode == 0 and result.stdout.count("\n") == 1, result.stderr
    stats = json.loads(result.stdout)
    assert stats["bulletins"] == db["bulletins"].count == sum(site["bulletins"] for site in stats["sites"])
    for site in stats["sites"]:
        row = db.execute("select count(*), min(published), max(published), count(nullif(index_no, '')) "
                         "from bulletins where site = ?", [site["site"]]).fetchone()
        assert (site["bulletins"], site["first_published"], site["last_published"], site["filled"]["index_no"]) == row
    last = db.execute("select id, outcome from crawl_runs order by id desc").fetchone()
    assert (stats["last_run"]["id"], stats["last_run"]["outcome"]) == last
    assert stats["last_run"]["columns"] and all(report["entries"] > 0 for report in stats["last_run"]["columns"].values())


def test_a_column_whose_list_pages_failed_says_why_it_has_no_entries():
    from crawler.commands.stats import column_line

    url = "http://127.0.0.1:9/zwdc/index.html"
    assert column_line(url, {"entries": 0, "pages_failed": {url: "HTTP 404"}}).endswith(": no entries: HTTP 404")
    assert column_line(url, {"entries": 0}).endswith(": no entries")


def test_stats_command_reports_counts_and_coverage(crawled):
    _result, db, _requests = crawled
    archive = db.conn.execute("pragma database_list").fetchone()[2]
    result = run_cli("stats", "--archive", archive)
    assert result.returncode == 0
    assert f"{db['bulletins'].count} bulletins" in result.stdout
    assert "index_no" in result.stdout
