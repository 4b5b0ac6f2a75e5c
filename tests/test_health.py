"""Health rules of a nightly run that need a history: what the last healthy run saw."""
from __future__ import annotations

from urllib.parse import urlsplit

from tests.conftest import crawl
from tests.replica.server import ReplicaPortal


def last_error(result) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_a_list_that_suddenly_parses_to_nothing_fails_the_run(tmp_path):
    archive = tmp_path / "a.db"
    with ReplicaPortal(per_family=6, seed=21) as portal:
        column = portal.columns["table"]
        assert crawl(archive, column.start_url).returncode == 0

        def redesigned(handler) -> None:  # a new template the crawler cannot read
            handler.respond(200, "<html><body><div class='news'>新版网站</div></body></html>".encode(),
                            "text/html; charset=utf-8")
        portal.faults[urlsplit(column.start_url).path] = redesigned
        result = crawl(archive, column.start_url)
    assert result.returncode == 1
    assert "parsed to zero bulletins" in last_error(result) and "the last run found" in last_error(result)


def test_bulletin_pages_that_lost_their_metadata_block_fail_the_run(tmp_path):
    archive = tmp_path / "a.db"
    with ReplicaPortal(per_family=6, seed=22) as portal:
        column = portal.columns["xianning"]
        assert crawl(archive, column.start_url).returncode == 0
        added = [portal.site.add_bulletin("xianning") for _ in range(4)]
        for truth in added:
            path = urlsplit(truth["url"]).path
            plain_view = path.replace(".shtml", "_slhxq.shtml")  # same page without the block

            def without_block(handler, view=plain_view) -> None:
                resource = handler.site.resolve(view)
                handler.respond(200, resource.render(), resource.content_type)
            portal.faults[path] = without_block
        result = crawl(archive, column.start_url)
    assert result.returncode == 1
    assert "metadata block lost: 4 of 4" in last_error(result)


def test_a_column_that_never_had_metadata_is_healthy(tmp_path):
    archive = tmp_path / "a.db"
    with ReplicaPortal(per_family=6, seed=23) as portal:
        column = portal.columns["scripted-count"]
        assert crawl(archive, column.start_url).returncode == 0
        for _ in range(4):
            portal.site.add_bulletin("scripted-count")
        result = crawl(archive, column.start_url)
    assert result.returncode == 0, result.stderr[-1000:]


def test_one_page_refused_as_a_replacement_is_recorded_several_fail_the_run():
    from crawler.health import run_problems

    def problems(refused: int, pages: int) -> list[str]:
        stats = {"archive/refused": refused, "extract/pages": pages, "column/bulletin_links": pages,
                 "archive/bulletins": pages}
        return run_problems(stats, {}, {"http://h/zwdc/": pages}, None)

    assert problems(0, 20) == [] and problems(1, 20) == [] and problems(2, 20) == []
    for refused, pages in ((3, 20), (1, 1), (2, 3)):
        [problem] = problems(refused, pages)
        assert problem.startswith(f"{refused} re-fetched page(s) did not prove to be their bulletin")
