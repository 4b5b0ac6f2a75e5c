"""The command line's exit codes and one-line messages for bad input and failed crawls."""
from __future__ import annotations

from tests.conftest import crawl, run_cli


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
    usage = run_cli("frobnicate")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


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
