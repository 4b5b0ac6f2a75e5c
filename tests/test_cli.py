"""The command line's exit codes and one-line messages for bad input and failed crawls; what a
crawl prints in cron and on a terminal, and the progress of the other long commands."""
from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import crawl, on_a_terminal, run_cli
from tests.replica.server import ReplicaPortal

#: The replica's pace lifted, the log level left to the command (FAST sets it).
LIFTED = ("-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False")


def assert_one_line_error(result, code: int, *words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ")
    for word in words:
        assert word in last


def test_start_page_that_cannot_be_fetched(portal, tmp_path):
    result = crawl(tmp_path / "a.db", f"{portal.base_url}/no/such/column/index.shtml")
    assert_one_line_error(result, 1, "start page failed", "/no/such/column/index.shtml")


def test_start_page_that_lists_no_bulletins(portal, tmp_path):
    result = crawl(tmp_path / "a.db", f"{portal.base_url}/robots.txt")
    assert_one_line_error(result, 1, "yields no bulletin", "robots.txt")


def test_unreachable_host(tmp_path):
    result = crawl(tmp_path / "a.db", "http://127.0.0.1:9/zwdc/index.shtml",
                   extra=("-s", "RETRY_TIMES=0"))
    assert_one_line_error(result, 1, "start page failed")


def test_bad_arguments(tmp_path):
    assert_one_line_error(run_cli("crawl", "--start-url", "ftp://x/y"), 2, "not a web URL")
    assert_one_line_error(run_cli("crawl", "-s", "NOEQUALS"), 2, "-s NAME=VALUE")
    assert_one_line_error(run_cli("stats", "--archive", str(tmp_path / "none.db")), 2, "no archive")
    for readers in ("0", "17", "99999999999999999999"):  # each a sandbox process: at most 16
        result = run_cli("ingest", "--archive", str(tmp_path / "none.db"), "--readers", readers)
        assert result.returncode == 2 and result.stderr.strip().endswith(f"--readers: from 1 to 16, not {readers}")
    usage = run_cli("frobnicate")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


@pytest.mark.parametrize("setting, wanted", [
    ("DOWNLOAD_DELAY=abc", "a number"), ("AUTOTHROTTLE_ENABLED=maybe", "true or false"),
    ("CONCURRENT_REQUESTS=2.5", "a whole number"), ("ITEM_PIPELINES=notjson", "a JSON object"),
])
def test_a_setting_of_the_wrong_kind_is_one_line_before_anything_is_written(tmp_path, setting, wanted):
    """Checked against the kind of the setting's value: once it failed inside the crawl with three
    tracebacks, and left the run ``running`` (the next run took it for killed)."""
    result = run_cli("crawl", "--start-url", "http://127.0.0.1:9/zwdc/index.shtml",
                     "--archive", str(tmp_path / "a.db"), "-s", setting)
    assert_one_line_error(result, 2, setting.split("=")[0], wanted)
    assert list(tmp_path.iterdir()) == []


def test_archive_paths_that_are_not_archives(tmp_path):
    not_sqlite = tmp_path / "notes.db"
    not_sqlite.write_text("not a database", encoding="utf-8")
    for args in (["stats"], ["search", "督查"], ["items"], ["reprocess"],
                 ["crawl", "--start-url", "http://127.0.0.1:9/zwdc/index.shtml"]):
        assert_one_line_error(run_cli(*args, "--archive", str(not_sqlite)), 2, "not an archive")
        assert_one_line_error(run_cli(*args, "--archive", str(tmp_path)), 2, "is a folder")
    assert not_sqlite.read_text(encoding="utf-8") == "not a database"  # left as it was


def test_a_refused_or_failed_crawl_leaves_nothing_behind(tmp_path):
    """No empty archive, WARC file, folder or lock file from a crawl that stored nothing."""
    not_sqlite = tmp_path / "notes.db"
    not_sqlite.write_text("not a database", encoding="utf-8")
    refused = run_cli("crawl", "--start-url", "http://127.0.0.1:9/zwdc/index.shtml", "--archive", str(not_sqlite))
    assert_one_line_error(refused, 2, "not an archive")
    failed = crawl(tmp_path / "new.db", "http://127.0.0.1:9/zwdc/index.shtml", extra=("-s", "RETRY_TIMES=0"))
    assert_one_line_error(failed, 1, "start page failed")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.db"]


# --- what a crawl prints: progress on a terminal, the summary and problems in cron -----------
@pytest.fixture(scope="module")
def small_portal():
    """Two columns on different software, each over several list pages."""
    with ReplicaPortal(per_family=24, seed=41, families=("xianning", "hanweb")) as replica:
        yield replica


def start_urls(replica) -> list[str]:
    return [arg for column in replica.columns.values() for arg in ("--start-url", column.start_url)]


def quick_crawl(replica, archive, *extra: str) -> subprocess.CompletedProcess:
    """A crawl as cron runs it: no terminal, no log level given (the replica's pace lifted)."""
    return run_cli("crawl", *start_urls(replica), "--archive", str(archive), *LIFTED, *extra)


def test_in_cron_a_crawl_prints_its_summary_and_nothing_else(small_portal, tmp_path):
    first = quick_crawl(small_portal, tmp_path / "a.db")
    again = quick_crawl(small_portal, tmp_path / "a.db")
    assert first.returncode == 0 and again.returncode == 0, first.stderr[-2000:]
    assert first.stderr == "" and again.stderr == ""  # no settings, no middlewares, no stats dump
    assert first.stdout.startswith("run 1: ok;") and first.stdout.count("\n") == 2
    assert "fields filled: index_no 48/48" in first.stdout
    assert again.stdout.startswith("run 2: ok;") and "bulletins fetched: 0" in again.stdout
    assert "fields filled" not in again.stdout and again.stdout.count("\n") == 1  # nothing new: nothing to fill


def test_verbose_or_a_log_level_brings_scrapys_log_back(small_portal, tmp_path):
    verbose = quick_crawl(small_portal, tmp_path / "a.db", "-v")
    debug = quick_crawl(small_portal, tmp_path / "debug.db", "--log-level", "debug")
    quiet = quick_crawl(small_portal, tmp_path / "a.db", "-s", "LOG_LEVEL=WARNING")  # as the Makefile says
    assert verbose.returncode == debug.returncode == quiet.returncode == 0
    assert "[scrapy.core.engine] INFO: Spider opened" in verbose.stderr and "Dumping Scrapy stats" in verbose.stderr
    assert "DEBUG: Crawled (200)" in debug.stderr and "DEBUG" not in verbose.stderr
    assert "DEBUG: Scraped from <200 " in debug.stderr and "b'<" not in debug.stderr  # a page: its URL, not its bytes
    assert quiet.stderr == ""
    assert_one_line_error(run_cli("crawl", "-s", "LOG_LEVEL=LOUD", "--archive", str(tmp_path / "loud.db")),
                          2, "bad LOG_LEVEL")


def test_on_a_terminal_a_crawl_shows_its_progress_then_its_summary(small_portal, tmp_path):
    status, stdout, shown = on_a_terminal("crawl", *start_urls(small_portal), "--archive", str(tmp_path / "a.db"),
                                          *LIFTED, "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1")
    assert status == 0, shown[-2000:]
    pages = sum(column.page_count for column in small_portal.columns.values())
    assert re.search(rf"list pages \d+/{pages}", shown)  # read of those announced
    assert re.search(r"bulletins \d+ \(\d+ new\)", shown) and "errors 0" in shown and re.search(r"[\d.]+/s", shown)
    assert re.search(r"\d:\d\d:\d\d", shown)  # elapsed
    assert stdout.startswith("run 1: ok;") and "bulletins fetched: 48 (new 48" in stdout
    assert "Traceback" not in shown and "INFO" not in shown


def test_other_commands_show_progress_on_a_terminal(small_portal, tmp_path):
    archive = tmp_path / "a.db"
    assert quick_crawl(small_portal, archive).returncode == 0
    for args, unit in ((["reprocess"], "bulletin"), (["reindex"], "bulletins"),
                       (["export", "--output", str(tmp_path / "x.csv")], "row"),
                       (["merge", str(archive)], "capture"), (["ingest"], "capture")):
        target = archive if args[0] != "merge" else tmp_path / "merged.db"
        status, _stdout, shown = on_a_terminal(*args, "--archive", str(target))
        assert status == 0, (args, shown[-1000:])
        assert re.search(rf"\d+(/\d+)? ?\[?.*{unit}", shown), (args, shown[-1000:])


def test_the_crawl_collects_rarely_and_leaves_the_collector_as_it_found_it():
    """While the crawl runs, what the imports made is frozen and a collection waits for 20,000
    net allocations; afterwards (a crawl that failed included) Python's own settings are back."""
    import gc

    from crawler.run import CRAWL_GC_THRESHOLD, fewer_collections

    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        assert gc.get_threshold() == CRAWL_GC_THRESHOLD != before
        assert gc.get_freeze_count() > 1000
        raise RuntimeError("the crawl failed")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
