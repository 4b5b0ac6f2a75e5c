"""A hostile portal, crawled: error pages at HTTP 200 in the portal's own template, lying
charsets with one stray byte, a page nested a million levels deep.

The archive keeps what it had when a page no longer proves it is the bulletin; bytes are
decoded by evidence; no text is dropped below the parser's nesting limit.
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import sqlite_utils

from tests.conftest import crawl, run_cli, stored_row, truth_row
from tests.replica import faults
from tests.replica.server import ReplicaPortal


def path_of(url: str) -> str:
    return urlsplit(url).path


def failures(db: sqlite_utils.Database, run_id: int) -> dict[str, str]:
    return {r["url"]: r["reason"] for r in db.query(
        "select url, reason from run_failures where run_id = ?", [run_id])}


@pytest.fixture(scope="module")
def error_pages(tmp_path_factory):
    """A crawl, then a ``--full`` pass meeting error pages where three archived bulletins were."""
    archive = tmp_path_factory.mktemp("error-pages") / "archive.db"
    with ReplicaPortal(per_family=4, seed=31) as portal:
        starts = [column.start_url for column in portal.columns.values()]
        first = crawl(archive, *starts)
        assert first.returncode == 0, first.stderr[-2000:]
        snapshot = {row["url"]: row for row in sqlite_utils.Database(archive)["bulletins"].rows}
        # One victim per kind, one of them from the family without a metadata block.
        victims = {kind: next(b for b in portal.columns[family].bulletins if b["url"] in snapshot)
                   for kind, family in (("soft-404", "xianning"), ("maintenance", "scripted-count"),
                                        ("waf", "gbk"))}
        for kind, truth in victims.items():
            portal.faults[path_of(truth["url"])] = faults.error_page(kind)
        edited_url = next(b["url"] for b in portal.columns["table"].bulletins if b["url"] in snapshot)
        edited = portal.site.edit_body(edited_url, ["一、已落实事项", "修订后的落实情况说明。"])
        fresh = portal.site.add_bulletin("table")
        portal.faults[path_of(fresh["url"])] = faults.error_page("soft-404")
        second = crawl(archive, *starts, extra=("--full",))
    yield {"db": sqlite_utils.Database(archive), "archive": archive, "second": second,
           "snapshot": snapshot, "victims": victims, "edited": edited, "fresh": fresh}


def test_several_error_pages_make_the_run_unhealthy(error_pages):
    result = error_pages["second"]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "did not prove to be their bulletin" in result.stderr.strip().splitlines()[-1]
    run = error_pages["db"]["crawl_runs"].get(2)
    assert run["outcome"] == "failed" and run["errors"] >= 4


@pytest.mark.parametrize("kind, says", [("soft-404", "'page not found'"), ("maintenance", "maintenance"),
                                        ("waf", "firewall")])
def test_error_pages_at_200_never_replace_archived_bulletins(error_pages, kind, says):
    db, truth = error_pages["db"], error_pages["victims"][kind]
    before, row = error_pages["snapshot"][truth["url"]], db["bulletins"].get(truth["url"])
    assert stored_row(row) == truth_row(truth) == stored_row(before)
    assert row["content_hash"] == before["content_hash"] and row["missing_since"] is None
    assert db["versions"].count_where("url = ?", [truth["url"]]) == 1
    reason = failures(db, 2)[truth["url"]]
    assert reason.startswith("not a bulletin") and says in reason


def test_the_true_text_is_still_found(error_pages):
    truth = error_pages["victims"]["maintenance"]
    result = run_cli("search", truth["title"][-12:], "--archive", str(error_pages["archive"]),
                     "--json", "--limit", "100")
    assert result.returncode == 0, result.stderr
    assert truth["url"] in [json.loads(line)["url"] for line in result.stdout.splitlines()]


def test_a_new_error_page_is_never_archived(error_pages):
    db, url = error_pages["db"], error_pages["fresh"]["url"]
    assert db["bulletins"].count_where("url = ?", [url]) == 0
    assert "'page not found' page" in failures(db, 2)[url]


def test_real_edits_still_become_versions(error_pages):
    db, truth = error_pages["db"], error_pages["edited"]
    assert stored_row(db["bulletins"].get(truth["url"])) == truth_row(truth)
    assert db["versions"].count_where("url = ?", [truth["url"]]) == 2


def test_lying_charsets_with_one_stray_byte(tmp_path):
    """GBK sent as UTF-8 with one \\xff; UTF-8 sent as GBK with one \\x80: 编码测试 survives."""
    paragraphs = ["编码测试第一段：督查工作进展顺利。", "第二段：各责任单位整改到位。"]
    with ReplicaPortal(per_family=2, seed=32) as portal:
        gbk = portal.site.add_bulletin("gbk", title="编码测试：GBK页面声称UTF-8", paragraphs=paragraphs)
        utf8 = portal.site.add_bulletin("xianning", title="编码测试：UTF-8页面声称GBK", paragraphs=paragraphs)
        portal.faults[path_of(gbk["url"])] = faults.lying_charset_with_stray_byte(
            "utf-8", "gbk", b"\xff", after='<div class="Custom_UnionStyle">')
        portal.faults[path_of(utf8["url"])] = faults.lying_charset_with_stray_byte(
            "gbk", "utf-8", b"\x80", after='<div class="TRS_Editor">')
        result = crawl(tmp_path / "a.db", portal.columns["gbk"].start_url, portal.columns["xianning"].start_url)
    assert result.returncode == 0, result.stderr[-2000:]
    db = sqlite_utils.Database(tmp_path / "a.db")
    for truth in (gbk, utf8):
        expected = truth_row(truth)
        expected["body"] = truth["body"].replace("。", "\ufffd", 1)  # the stray byte, and nothing else
        assert stored_row(db["bulletins"].get(truth["url"])) == expected


def test_a_page_nested_a_million_levels_deep_is_archived_whole(tmp_path):
    with ReplicaPortal(per_family=2, seed=33) as portal:
        truth = portal.site.add_bulletin("table")
        portal.faults[path_of(truth["url"])] = faults.deep_nesting(1_000_000)
        result = crawl(tmp_path / "a.db", portal.columns["table"].start_url)
    assert result.returncode == 0, result.stderr[-2000:]
    row = sqlite_utils.Database(tmp_path / "a.db")["bulletins"].get(truth["url"])
    assert stored_row(row) == truth_row(truth)


def test_a_list_page_of_100000_links_is_read_whole_and_the_loop_s_longest_stall_recorded(tmp_path):
    """Issue #14: a list page of 100,000 links once held the event loop 133 s (its list read in
    quadratic time). All its links are read as the list's entries, a sample takes the first three
    bulletins, and the run's stats say how long the loop was held at most (the figure itself:
    ``python -m benchmarks.run listing``)."""
    with ReplicaPortal(per_family=4, seed=34) as portal:
        column = portal.columns["xianning"]
        portal.faults[path_of(column.start_url)] = faults.many_entries(100_000)
        result = crawl(tmp_path / "a.db", column.start_url, extra=("--sample", "3"))
    assert result.returncode == 0, result.stderr[-2000:]
    db = sqlite_utils.Database(tmp_path / "a.db")
    assert sorted(row["url"] for row in db["bulletins"].rows) == sorted(b["url"] for b in column.bulletins[:3])
    stats = json.loads(next(db.query("select stats from crawl_runs"))["stats"])["scrapy"]
    assert 100_000 < stats["column/bulletin_links"] <= 100_000 + len(column.bulletins)
    assert isinstance(stats["reactor/longest_stall_seconds"], float)


def test_the_loop_s_stall_is_how_late_its_clock_ticks(monkeypatch):
    """``crawler.stalls``: a tick due every 50 ms that comes 1.39 s late is a stall of 1.39 s."""
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.test import get_crawler

    from crawler import stalls

    collected = MemoryStatsCollector(get_crawler())
    meter = stalls.EventLoopStalls(collected)
    meter._last = 10.0
    for now in (10.06, 11.5, 11.55, 12.1):
        monkeypatch.setattr(stalls.time, "monotonic", lambda now=now: now)
        meter._tick()
    assert collected.get_value("reactor/longest_stall_seconds") == 1.39
    assert collected.get_value("reactor/stalls_over_1s") == 1
