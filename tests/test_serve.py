"""``python -m crawler serve``: the archive in Datasette, searched from Debian's Chromium.

A real archive (a crawl of the replica plus hostile bulletins) is served by the command in a
child process; Playwright drives Chromium headless through the search page. These tests need
Chromium (``make test`` installs Debian's); they are never skipped.
"""
from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from archive.lock import ArchiveLock
from archive.schema import open_archive
from archive.search import count_matches, search
from crawler.browser import find_chromium, launch_options
from crawler.ingest import store_record
from pipelines.records import BulletinRecord
from tests.conftest import REPO, crawl

QUERY = "督查"  # two characters, in every replica bulletin
HOSTILE_QUERY = "恶意"  # only in the hostile bulletins
XSS_TITLE = "恶意公告<script>window.__xss=1</script><b>x</b>"
XSS_BODY = ("恶意正文 &amp; <script>alert(1)</script> 与 <b>x</b> 和 "
            "<img src=x onerror=\"window.__xss=2\">\n第二段")
XSS_PUBLISHER = "<i>督查室</i>"
HOSTILE_URL = "http://127.0.0.1:9/zwdc/202401/t20240115_666.html"
JAVASCRIPT_URL = "javascript:window.__xss=3"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def archive(portal, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("serve") / "archive.db"
    result = crawl(path, *(column.start_url for column in portal.columns.values()))
    assert result.returncode == 0, result.stderr
    db = open_archive(path, create=False)
    for url, title in ((HOSTILE_URL, XSS_TITLE), (JAVASCRIPT_URL, "恶意链接")):
        store_record(db, BulletinRecord(
            url=url, site="127.0.0.1:9", publisher=XSS_PUBLISHER, category="<u>类</u>",
            published="2024-01-15", title=title, body=XSS_BODY,
            fetched_at="2024-01-16T00:00:00+00:00", source_url=url))
    db.close()
    return path


@pytest.fixture(scope="module")
def db(archive):
    db = open_archive(archive, create=False)
    yield db
    db.close()


@pytest.fixture(scope="module")
def served(archive, tmp_path_factory, request) -> Iterator[tuple[str, str]]:
    """(base URL, database name) of ``serve`` on a free port; stopped with Ctrl-C (SIGINT)."""
    before = sha256(archive)
    log = tmp_path_factory.mktemp("serve-log") / "stderr.txt"
    with open(log, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "crawler", "serve", "--archive", str(archive), "--port", "0"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        request.getfixturevalue("browser")  # Chromium starts while the server does
        ready, _, _ = select.select([process.stdout], [], [], 20)
        line = process.stdout.readline() if ready else ""
        assert line.startswith("serving "), f"no URL printed: {line!r} {log.read_text()}"
        base = line.split(" at ", 1)[1].split()[0]
        assert base.startswith("http://127.0.0.1:") and base.endswith("/")
        yield base, archive.stem
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert "Traceback" not in log.read_text(), log.read_text()
    assert sha256(archive) == before, "serving changed the archive file"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    assert executable, "make test installs Debian's chromium (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options(executable))
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def search_for(page: Page, base: str, query: str) -> None:
    """Open the search page and type ``query`` like a user, then submit."""
    page.goto(base + "-/search")
    box = page.locator("input[name=q]")
    box.click()
    box.press_sequentially(query)
    with page.expect_navigation():
        box.press("Enter")


def results(page: Page) -> list[dict]:
    return page.eval_on_selector_all(".zwdc-hit", """hits => hits.map(hit => {
        const link = hit.querySelector("a.zwdc-title");
        return {href: link ? link.getAttribute("href") : null,
                title: hit.querySelector(".zwdc-title").innerHTML,
                snippet: hit.querySelector(".zwdc-snippet").innerHTML,
                marks: [...hit.querySelectorAll("mark")].map(m => m.textContent)};
    })""")


def all_results(page: Page) -> list[dict]:
    """Results of every page of the current search, following the "next" links."""
    found = results(page)
    while page.locator("a.zwdc-next").count():
        with page.expect_navigation():
            page.locator("a.zwdc-next").click()
        found += results(page)
    return found


def test_search_page_ranks_highlights_and_links(served, page, db):
    base, _ = served
    search_for(page, base, QUERY)
    assert page.locator("input[name=q]").input_value() == QUERY
    expected = search(db, QUERY, limit=None)
    assert int(page.locator("#zwdc-total").inner_text()) == count_matches(db, QUERY) == len(expected) > 20
    found = all_results(page)
    # Every result, in the CLI's order, linking to the original bulletin.
    assert [hit["href"] for hit in found] == [hit.url for hit in expected]
    bodies = dict(db.execute("select url, body from bulletins").fetchall())
    for hit, truth in zip(found, expected):
        assert hit["marks"] and set(hit["marks"]) == {QUERY}, hit
        if QUERY in (bodies[truth.url] or ""):
            assert f"<mark>{QUERY}</mark>" in hit["snippet"], hit
        if QUERY in truth.title:
            assert f"<mark>{QUERY}</mark>" in hit["title"], hit


def test_facets_count_the_matches_and_filter(served, page, db):
    base, _ = served
    search_for(page, base, "会议")
    total = int(page.locator("#zwdc-total").inner_text())
    assert total == count_matches(db, "会议")
    facets = page.eval_on_selector_all(".zwdc-facet", """facets => Object.fromEntries(facets.map(f => [
        f.dataset.facet,
        [...f.querySelectorAll("li")].map(li => [li.querySelector("a").textContent, +li.querySelector(".count").textContent])
    ]))""")
    assert set(facets) == {"publisher", "category", "year", "site", "portal"}
    for name, values in facets.items():  # every match has exactly one value per facet
        assert values and sum(count for _, count in values) == total, (name, values)
    year, year_count = facets["year"][0]
    with page.expect_navigation():
        page.locator(".zwdc-facet[data-facet=year] a", has_text=year).first.click()
    assert int(page.locator("#zwdc-total").inner_text()) == year_count == count_matches(
        db, "会议", since=f"{year}-01-01", until=f"{year}-12-31")
    assert len(results(page)) == min(year_count, 20)
    # The chosen year's facet still offers every year (counted with the other filters only).
    assert page.locator(".zwdc-facet[data-facet=year] li").count() == len(facets["year"])
    assert page.locator(".zwdc-facet[data-facet=year] li.selected").inner_text().startswith(year)
    publisher, publisher_count = next(v for v in facets["publisher"] if v[0] != "(blank)")
    with page.expect_navigation():
        page.locator(".zwdc-facet[data-facet=publisher] a", has_text=publisher).first.click()
    exact = db.execute(
        "select count(*) from bulletins where publisher = ? and substr(published, 1, 4) = ? "
        "and (instr(title, '会议') or instr(body, '会议'))", [publisher, year]).fetchone()[0]
    assert int(page.locator("#zwdc-total").inner_text()) == exact
    assert "year = " in page.locator(".zwdc-filters").inner_text()


def test_archived_text_is_shown_escaped(served, page, db):
    base, _ = served
    search_for(page, base, HOSTILE_QUERY)
    assert int(page.locator("#zwdc-total").inner_text()) == count_matches(db, HOSTILE_QUERY) == 2
    text = page.locator(".zwdc-results").inner_text()
    assert "<script>alert(1)</script>" in text
    assert "<script>window.__xss=1</script><b>x</b>" in text
    assert "<img src=x onerror" in text and "&amp;" in text
    assert page.locator(".zwdc-results script, .zwdc-results b, .zwdc-results img").count() == 0
    assert XSS_PUBLISHER in page.locator(".zwdc-facet[data-facet=publisher]").inner_text()
    assert page.locator(".zwdc-facets i, .zwdc-facets u").count() == 0
    # A javascript: URL is shown, never linked.
    assert page.locator('a[href^="javascript"]').count() == 0
    assert JAVASCRIPT_URL in text
    hrefs = [hit["href"] for hit in results(page)]
    assert HOSTILE_URL in hrefs and None in hrefs
    # Datasette's own pages: the archived copy of the row, the canned query.
    with page.expect_navigation():
        page.locator(".zwdc-hit a.zwdc-archived").first.click()
    assert "<script>alert(1)</script>" in page.locator("body").inner_text()
    page.goto(base + f"{served[1]}/search?q={HOSTILE_QUERY}")
    assert "<script>window.__xss=1</script>" in page.locator("body").inner_text()
    assert page.evaluate("window.__xss") is None


def test_downloads_are_the_same_rows(served, page, db):
    base, name = served
    search_for(page, base, QUERY)
    expected = [hit.url for hit in search(db, QUERY, limit=None)]
    csv_href = page.locator("a.zwdc-csv").get_attribute("href")
    json_href = page.locator("a.zwdc-json").get_attribute("href")
    assert csv_href.startswith(f"/{name}/search.csv?") and json_href.startswith(f"/{name}/search.json?")
    status, body = get(urllib.parse.urljoin(base, json_href))
    assert status == 200
    rows = json.loads(body)
    assert [row["url"] for row in rows] == expected
    assert all("【督查】" in row["snippet"] or QUERY in row["title"] for row in rows)
    status, body = get(urllib.parse.urljoin(base, csv_href))
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert [row["url"] for row in rows] == expected
    # The table filtered by the same search: Datasette's own facets and JSON.
    table_href = page.locator("a.zwdc-table").get_attribute("href")
    status, body = get(urllib.parse.urljoin(base, table_href.replace("/bulletins?", "/bulletins.json?"))
                       + "&_size=max&_shape=objects&_facet=publisher")
    table = json.loads(body)
    assert status == 200 and table["filtered_table_rows_count"] == len(expected)
    assert sorted(row["url"] for row in table["rows"]) == sorted(expected)
    facets = table["facet_results"]  # configured: publisher, category, year (of published), site
    assert {"publisher", "category", "published", "site"} <= set(facets)
    assert sum(value["count"] for value in facets["published"]["results"]) == len(expected)
    year = facets["published"]["results"][0]
    status, body = get(year["toggle_url"].replace("/bulletins?", "/bulletins.json?"))
    assert json.loads(body)["filtered_table_rows_count"] == year["count"] == count_matches(
        db, QUERY, since=f"{year['value']}-01-01", until=f"{year['value']}-12-31")
    # Punctuation, several words, a word without letters: the same as the CLI.
    for query in ("1.6", "2020年 督查", "督查,", "（", "GDP"):
        status, body = get(f"{base}{name}/search.json?" + urllib.parse.urlencode({"q": query, "_shape": "array"}))
        assert status == 200
        assert [row["url"] for row in json.loads(body)] == [hit.url for hit in search(db, query, limit=None)], query


def test_writes_are_refused(served, archive):
    base, name = served
    rows = sqlite3.connect(archive).execute("select count(*) from bulletins").fetchone()[0]
    for sql in ("delete from bulletins", "insert into search_meta(key, value) values ('x', 1)",
                "update bulletins set title = 'x'", "select 1; delete from bulletins",
                "drop table bulletins", "attach database ':memory:' as m"):
        status, body = get(f"{base}{name}.json?" + urllib.parse.urlencode({"sql": sql}))
        assert status == 400, (sql, body)
    status, _ = get(f"{base}{name}.json?sql=" + urllib.parse.quote("select count(*) from bulletins"))
    assert status == 200
    request = urllib.request.Request(f"{base}{name}/search", data=b"q=x", method="POST")
    try:
        status = urllib.request.urlopen(request, timeout=10).status
    except urllib.error.HTTPError as error:
        status = error.code
    assert status == 405
    assert sqlite3.connect(archive).execute("select count(*) from bulletins").fetchone()[0] == rows


@pytest.mark.parametrize("immutable", [False, True])
def test_datasette_connections_cannot_write(archive, tmp_path, immutable):
    """Below Datasette's SELECT check, SQLite itself refuses writes on the served file."""
    from crawler.commands.serve import make_datasette, prepare_archive

    copy = tmp_path / "copy.db"
    with sqlite3.connect(archive) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    prepare_archive(copy, immutable=immutable)
    ds = make_datasette(copy, immutable=immutable)
    connection = ds.get_database("copy").connect()
    with pytest.raises(sqlite3.OperationalError, match="readonly|read-only|read only"):
        connection.execute("delete from bulletins")
    url = "/copy/search.json?_shape=array&q=" + urllib.parse.quote(QUERY)
    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API owns this thread's event loop
        response = thread.submit(asyncio.run, ds.client.get(url)).result()
    assert response.status_code == 200 and len(response.json()) == 80
    connection.close()


def test_more_matches_than_a_query_returns_link_the_full_csv(served, archive, db):
    """Canned queries stop at max_returned_rows; the page then links the table's streamed CSV."""
    from crawler.commands.serve import make_datasette

    ds = make_datasette(archive, settings={"max_returned_rows": 50})

    async def fetch(path):
        return await ds.client.get(path)

    def call(path):
        with ThreadPoolExecutor(1) as thread:  # Playwright's sync API owns this thread's loop
            return thread.submit(asyncio.run, fetch(path)).result()

    quoted = urllib.parse.quote(QUERY)
    assert len(call(f"/{archive.stem}/search.json?_shape=array&q={quoted}").json()) == 50
    html = call(f"/-/search?q={quoted}&year=(blank)").text
    assert 'class="zwdc-table-csv"' not in html  # nothing published without a date: 0 matches
    html = call(f"/-/search?q={quoted}").text
    href = html.split('class="zwdc-table-csv" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert href.startswith(f"/{archive.stem}/bulletins.csv?") and "_stream=on" in href
    # Streaming pages through the table (in-process clients stop after the first page): the
    # served instance, whose max_returned_rows is above this archive's size.
    status, body = get(served[0] + href.lstrip("/"))
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert sorted(row["url"] for row in rows) == sorted(hit.url for hit in search(db, QUERY, limit=None))


def test_missing_archive_and_busy_port_are_one_line(archive, tmp_path, capsys):
    """Bad input: one line on stderr and an exit code (in-process: the same path as the CLI)."""
    from crawler.cli import main

    assert main(["serve", "--archive", str(tmp_path / "none.db")]) == 2
    assert capsys.readouterr().err == f"error: no archive at {tmp_path / 'none.db'} (run 'python -m crawler crawl' first)\n"
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    assert main(["serve", "--archive", str(tmp_path / "junk.db")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: cannot open archive {tmp_path / 'junk.db'}: file is not a database") and error.count("\n") == 1
    with ArchiveLock(archive):  # a crawl is running: no immutable snapshot of a changing file
        assert main(["serve", "--archive", str(archive), "--immutable"]) == 1
    error = capsys.readouterr().err
    assert "another crawl is already running" in error and error.count("\n") == 1
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--archive", str(archive), "--port", str(port)]) == 1
    assert capsys.readouterr().err == (
        f"error: port {port} on 127.0.0.1 is already in use (choose another with --port)\n")
