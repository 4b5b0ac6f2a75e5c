"""The fault matrix: every fault a portal can throw, the run's outcome, and what is recorded.

Phase 1 puts faults on bulletins the archive has not seen; phase 2 (a ``--full`` pass) puts
failing faults on bulletins already archived, which must come out of it undamaged.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import sqlite_utils

from tests.conftest import crawl, stored_row, truth_row
from tests.replica import faults
from tests.replica.server import ReplicaPortal

#: Short timeout and one retry keep the matrix quick; the size cap is above any real page.
FAULT_SETTINGS = ("-s", "DOWNLOAD_TIMEOUT=2", "-s", "RETRY_TIMES=1",
                  "-s", "DOWNLOAD_MAXSIZE=400000", "-s", "DOWNLOAD_WARNSIZE=0")

#: fault name -> (factory, expected substring of the recorded reason)
FAILING = {
    "always 500": (lambda: faults.always(500), "HTTP 500"),
    "timeout": (lambda: faults.hang(5), "took longer than"),
    "connection reset": (faults.reset, "onnection"),
    "truncated body": (faults.truncated, "DataLoss"),
    "redirect loop": (faults.redirect_loop, "max redirections"),
    "larger than the size cap": (lambda: faults.oversized(600_000), "max size"),
    "gzip bomb": (lambda: faults.gzip_bomb(5_000_000), "exceeded DOWNLOAD_MAXSIZE"),
    "empty 200": (faults.empty_ok, "empty page"),
}


def path_of(url: str) -> str:
    return urlsplit(url).path


def failures_by_url(db: sqlite_utils.Database, run_id: int) -> dict[str, str]:
    return {r["url"]: r["reason"] for r in db.query(
        "select url, reason from run_failures where run_id = ?", [run_id])}


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    archive = tmp_path_factory.mktemp("faults") / "archive.db"
    with ReplicaPortal(per_family=15, seed=5) as portal:
        site = portal.site
        starts = [c.start_url for c in portal.columns.values()]
        # Phase 1: faults on bulletins the archive has never seen.
        new_failing = {name: site.add_bulletin("xianning") for name in FAILING}
        healed = site.add_bulletin("table")
        liar = site.add_bulletin("xianning")
        broken_gbk = site.add_bulletin("gbk")
        with_file = site.add_bulletin("table", attachments=["附件1.pdf"])
        for name, truth in new_failing.items():
            portal.faults[path_of(truth["url"])] = FAILING[name][0]()
        portal.faults[path_of(healed["url"])] = faults.failing_then_ok((503,))
        portal.faults[path_of(liar["url"])] = faults.lying_charset("utf-8", "gbk")
        portal.faults[path_of(broken_gbk["url"])] = faults.invalid_bytes(
            b'<div class="Custom_UnionStyle">', "。".encode("gbk"))
        portal.faults[path_of(with_file["attachments"][0]["url"])] = faults.html_instead_of_file()
        first = crawl(archive, *starts, extra=FAULT_SETTINGS)
        db = sqlite_utils.Database(archive)
        snapshot = {row["url"]: row for row in db["bulletins"].rows}
        versions_before = db["versions"].count

        # Phase 2: failing faults on archived bulletins, then a full pass.
        portal.faults.clear()
        victims = {name: portal.columns["scripted-count"].bulletins[i]
                   for i, name in enumerate(FAILING)}
        for name, truth in victims.items():
            portal.faults[path_of(truth["url"])] = FAILING[name][0]()
        second = crawl(archive, *starts, extra=(*FAULT_SETTINGS, "--full"))
        yield {
            "first": first, "second": second, "db": sqlite_utils.Database(archive),
            "new_failing": new_failing, "healed": healed, "liar": liar,
            "broken_gbk": broken_gbk, "with_file": with_file, "victims": victims,
            "snapshot": snapshot, "versions_before": versions_before, "portal": portal,
        }


def test_runs_finish_and_stay_healthy(matrix):
    for result in (matrix["first"], matrix["second"]):
        assert result.returncode == 0, result.stderr[-2000:]
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("fault", sorted(FAILING))
def test_each_failure_is_recorded_and_nothing_is_archived(matrix, fault):
    db = matrix["db"]
    url = matrix["new_failing"][fault]["url"]
    recorded = failures_by_url(db, 1)
    assert url in recorded, f"{fault} not recorded"
    assert FAILING[fault][1] in recorded[url]
    assert url not in matrix["snapshot"]  # as archived after phase 1
    assert stored_row(db["bulletins"].get(url)) == truth_row(matrix["new_failing"][fault]), (
        "the full pass, with the fault gone, archives it")


@pytest.mark.parametrize("fault", sorted(FAILING))
def test_archived_bulletins_survive_each_fault_undamaged(matrix, fault):
    db = matrix["db"]
    url = matrix["victims"][fault]["url"]
    assert url in failures_by_url(db, 2), f"{fault} not recorded on the full pass"
    row = db["bulletins"].get(url)
    before = matrix["snapshot"][url]
    assert (row["body"], row["title"], row["content_hash"]) == (
        before["body"], before["title"], before["content_hash"])
    assert row["missing_since"] is None


def test_no_version_was_added_by_faults(matrix):
    # The page served with invalid bytes in phase 1 is served whole in phase 2: a real change.
    archived = [url for url in matrix["snapshot"] if url != matrix["broken_gbk"]["url"]]
    marks = ",".join("?" * len(archived))
    after = matrix["db"].execute(f"select count(*) from versions where url in ({marks})", archived)
    assert after.fetchone()[0] == matrix["versions_before"] - 1


def test_5xx_that_heals_on_retry_is_archived(matrix):
    truth = matrix["healed"]
    assert stored_row(matrix["db"]["bulletins"].get(truth["url"])) == truth_row(truth)
    assert truth["url"] not in failures_by_url(matrix["db"], 1)


def test_content_type_lying_about_the_charset(matrix):
    truth = matrix["liar"]
    assert stored_row(matrix["db"]["bulletins"].get(truth["url"])) == truth_row(truth)


def test_invalid_bytes_in_a_gbk_page_cost_one_character_only(matrix):
    truth = matrix["broken_gbk"]
    row = matrix["snapshot"][truth["url"]]  # as archived from the damaged page
    assert row["body"] == truth["body"].replace("。", "\ufffd", 1)
    assert row["title"] == truth["title"] and row["index_no"] == truth["index_no"]


def test_html_served_for_a_pdf_link_is_not_stored_as_the_file(matrix):
    truth = matrix["with_file"]
    url = truth["attachments"][0]["url"]
    db = matrix["db"]
    assert db["attachments"].count_where("url = ?", [url]) == 0
    assert "not a file" in failures_by_url(db, 1)[url]
    assert stored_row(db["bulletins"].get(truth["url"])) == truth_row(truth)


def test_runs_count_their_errors(matrix):
    runs = list(matrix["db"].query("select errors, outcome from crawl_runs order by id"))
    assert [r["outcome"] for r in runs] == ["ok", "ok"]
    assert runs[0]["errors"] >= len(FAILING) + 1 and runs[1]["errors"] >= len(FAILING)


@pytest.mark.parametrize("fault", [faults.bot_challenge(412), faults.bot_challenge(521),
                                   faults.bot_challenge(202)])
def test_bot_challenges_are_never_archived_and_fail_the_run(tmp_path, fault):
    with ReplicaPortal(per_family=3, seed=2) as portal:
        column = portal.columns["xianning"]
        victim = column.bulletins[0]["url"]
        portal.faults[path_of(victim)] = fault
        result = crawl(tmp_path / "a.db", column.start_url, extra=FAULT_SETTINGS)
    assert result.returncode == 1
    assert "bot challenge" in result.stderr.strip().splitlines()[-1]
    db = sqlite_utils.Database(tmp_path / "a.db")
    assert db["bulletins"].count_where("url = ?", [victim]) == 0
    assert db["bulletins"].count == len(column.bulletins) - 1


def test_challenge_on_the_start_page(tmp_path):
    with ReplicaPortal(per_family=3, seed=2) as portal:
        column = portal.columns["table"]
        portal.faults[path_of(column.start_url)] = faults.bot_challenge(412)
        result = crawl(tmp_path / "a.db", column.start_url, extra=FAULT_SETTINGS)
    assert result.returncode == 1
    assert "start page failed" in result.stderr and "bot challenge" in result.stderr


def test_a_split_document_is_archived_whole_or_not_at_all(tmp_path):
    """A page of a split document that fails keeps the document out; a later run stores it whole."""
    archive = tmp_path / "archive.db"
    with ReplicaPortal(per_family=6, seed=21) as portal:
        start = portal.columns["gbk"].start_url
        truth = portal.site.add_bulletin("gbk", paragraphs=[f"第{i}项工作进展情况良好。" for i in range(1, 10)],
                                         parts=3)
        last_page = path_of(truth["url"]).replace(".htm", "_2.htm")
        portal.faults[last_page] = faults.always(500)
        result = crawl(archive, start)
        assert result.returncode == 0, result.stderr[-2000:]
        db = sqlite_utils.Database(archive)
        assert db["bulletins"].count_where("url = ?", [truth["url"]]) == 0
        [failure] = db.query("select * from run_failures where url = ?", [truth["url"]])
        assert failure["reason"] == "page 3 of 3 of the document failed: HTTP 500"

        del portal.faults[last_page]
        result = crawl(archive, start)
        assert result.returncode == 0, result.stderr[-2000:]
        row = sqlite_utils.Database(archive)["bulletins"].get(truth["url"])
        assert stored_row(row) == truth_row(truth)
        assert truth["body"].count("\n") == 8 and row["body"].endswith("第9项工作进展情况良好。")
