"""``python -m crawler serve``: the reading room and Datasette, driven in Debian's Chromium.

A real archive (a crawl of the replica, plus hostile bulletins and one bulletin edited into a
second version) is served by the command in a child process; Playwright drives Chromium
headless through the pages like a reader would. Every page is checked against the archive and
the CLI, screenshots are taken in the run (``ZWDC_SCREENSHOTS=DIR`` keeps them there, else in
pytest's temporary folder), and no request may leave 127.0.0.1. These tests need Chromium
(``make test`` installs Debian's); they are never skipped.
"""
from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import os
import select
import signal
import socket
import sqlite3
import struct
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
from archive.structure import list_items
from spiders.browser import find_chromium, launch_options
from crawler.ingest import store_record
from pipelines.records import BulletinRecord
from tests.conftest import FAST, REPO, run_cli

QUERY = "督查"  # two characters, in every replica bulletin
HOSTILE_QUERY = "恶意"  # only in the hostile bulletins
XSS_TITLE = "恶意公告<script>window.__xss=1</script><b>x</b>"
XSS_BODY = ("恶意正文 &amp; <script>alert(1)</script> 与 <b>x</b> 和 "
            "<img src=x onerror=\"window.__xss=2\">\n第二段")
XSS_PUBLISHER = "<i>督查室</i>"
HOSTILE_URL = "http://127.0.0.1:9/zwdc/202401/t20240115_666.html"
JAVASCRIPT_URL = "javascript:window.__xss=3"
SINCE, UNTIL = "2021-01-01", "2021-06-30"
#: The edit that makes a second version of one bulletin (old sentence -> new sentence).
EDIT_OLD, EDIT_NEW = "现通报如下", "现将修订后的情况通报如下"
EDIT_DOC_NO = "咸政督通〔2099〕1号"
PHONE = 390
#: The replica's name in the registry it is crawled from (its rows' ``portal``; ``site`` is its host).
PORTAL = "replica"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def archive(portal, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("serve")
    path, registry = folder / "archive.db", folder / "sites.toml"
    urls = ", ".join(f'"{column.start_url}"' for column in portal.columns.values())
    registry.write_text(f'extends_shipped = false\n[sites.{PORTAL}]\nregion = "咸宁市"\nstart_urls = [{urls}]\n',
                        encoding="utf-8")
    result = run_cli("crawl", "--sites", str(registry), "--site", PORTAL, "--archive", str(path), *FAST)
    assert result.returncode == 0, result.stderr
    db = open_archive(path, create=False)
    for url, title in ((HOSTILE_URL, XSS_TITLE), (JAVASCRIPT_URL, "恶意链接")):
        store_record(db, BulletinRecord(
            url=url, site="127.0.0.1:9", publisher=XSS_PUBLISHER, category="<u>类</u>",
            published="2024-01-15", title=title, body=XSS_BODY,
            fetched_at="2024-01-16T00:00:00+00:00", source_url=url))
    # A second version of one bulletin: the portal edited a sentence and the document number.
    row = next(db.query(
        "select * from bulletins where instr(body, ?) and attachments = '[]' order by url limit 1", [EDIT_OLD]))
    store_record(db, BulletinRecord(
        **{key: row[key] for key in ("url", "site", "index_no", "publisher", "category", "validity",
                                     "published", "issued", "title", "source_url", "list_url")},
        doc_no=EDIT_DOC_NO, body=row["body"].replace(EDIT_OLD, EDIT_NEW, 1) + "\n补充说明一段。",
        attachments=[], fetched_at="2099-01-01T00:00:00+00:00"))
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
    before = sha256(archive.read_bytes())
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
    assert sha256(archive.read_bytes()) == before, "serving changed the archive file"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = find_chromium()
    assert executable, "make test installs Debian's chromium (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_options(executable))
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = os.environ.get("ZWDC_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _open_page(browser: Browser, width: int) -> Iterator[Page]:
    """A page in a fresh context (zh-CN locale) that records every request it makes; at the end
    none may have left 127.0.0.1 and none may have failed."""
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
    requests: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    context.on("requestfailed", lambda request: failed.append(f"{request.url} {request.failure}"))
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(10_000)
    yield page
    context.close()
    hosts = {urllib.parse.urlsplit(url).hostname for url in requests if not url.startswith(("data:", "blob:", "about:"))}
    assert hosts <= {"127.0.0.1"}, f"requests left this machine: {sorted(hosts)}"
    assert not failed, failed
    assert not errors, errors


@pytest.fixture
def page(browser) -> Iterator[Page]:
    yield from _open_page(browser, 1280)


@pytest.fixture
def phone(browser) -> Iterator[Page]:
    yield from _open_page(browser, PHONE)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def get_json(base: str, path: str) -> dict:
    status, body = get(urllib.parse.urljoin(base, path))
    assert status == 200, (path, body[:300])
    return json.loads(body)


def search_for(page: Page, base: str, query: str) -> None:
    """Open the search page and type ``query`` like a user, then submit."""
    page.goto(base + "-/search")
    box = page.locator("input[name=q]")
    box.click()
    box.press_sequentially(query)
    with page.expect_navigation():
        box.press("Enter")


def total(page: Page) -> int:
    return int(page.locator("#zwdc-total").inner_text())


def results(page: Page) -> list[dict]:
    return page.eval_on_selector_all(".zwdc-hit", """hits => hits.map(hit => {
        const original = hit.querySelector("a.zwdc-original");
        return {page: hit.querySelector("a.zwdc-title").getAttribute("href"),
                original: original ? original.getAttribute("href") : null,
                title: hit.querySelector(".zwdc-title").innerHTML,
                snippet: (hit.querySelector(".zwdc-snippet") || {}).innerHTML || "",
                published: hit.querySelector(".zwdc-published").textContent,
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


def page_url_of(bulletin_url: str) -> str:
    return "/-/bulletin?" + urllib.parse.urlencode({"url": bulletin_url})


def cli_urls(archive: Path, *args: str) -> list[str]:
    """Result URLs of ``python -m crawler search … --json`` (the real CLI, in a child process)."""
    result = run_cli("search", *args, "--archive", str(archive), "--json", "--limit", "1000")
    assert result.returncode == 0, result.stderr
    return [json.loads(line)["url"] for line in result.stdout.splitlines()]


# --- home and language ---------------------------------------------------------------------


def test_home_leads_with_search_and_portals_in_chinese_then_english(served, page, db, portal):
    base, name = served
    page.goto(base)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").first.inner_text() == "政务督查档案"
    # Search first: the first thing in the page is the search form, then the portals.
    assert page.locator("main form").first.get_attribute("action") == "/-/search"
    order = page.evaluate("""() => [...document.querySelectorAll("main form, main .zwdc-portals, main .zwdc-tables")]
                                   .map(e => e.className)""")
    assert order == ["zwdc-search-form", "zwdc-portals", "zwdc-tables"]
    sites = dict(db.execute("select site, count(*) from bulletins group by site").fetchall())
    shown = page.eval_on_selector_all(".zwdc-portal", """ps => ps.map(p => [p.dataset.site,
        [...p.querySelectorAll(".zwdc-columns tbody tr")].map(r => +r.cells[1].textContent)])""")
    assert {site: sum(counts) for site, counts in shown} == sites
    crawled = next(counts for site, counts in shown if site != "127.0.0.1:9")
    assert len(crawled) == len(portal.columns)  # one row per column crawled, whatever its pager's folders
    assert "网站与栏目" in page.locator(".zwdc-portals h2").inner_text()
    # English on request, kept for the next page; Chinese again on request.
    with page.expect_navigation():
        page.locator("a.zwdc-lang").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Search" in page.locator(".zwdc-nav").inner_text()
    page.goto(base + "-/search?q=" + urllib.parse.quote(QUERY))
    assert page.locator("html").get_attribute("lang") == "en"
    assert "bulletins" in page.locator(".zwdc-count").inner_text()
    page.goto(base + "-/charts?lang=zh")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("h1").inner_text() == "图表"
    # Datasette's own pages are still there, one link away.
    page.goto(base)
    with page.expect_navigation():
        page.locator(".zwdc-tables a", has_text="bulletins").click()
    assert page.url.startswith(f"{base}{name}/bulletins")


# --- search = the CLI's search -------------------------------------------------------------


def test_search_page_ranks_highlights_and_links(served, page, db, archive):
    base, _ = served
    search_for(page, base, QUERY)
    assert page.locator("input[name=q]").input_value() == QUERY
    expected = search(db, QUERY, limit=None)
    assert total(page) == count_matches(db, QUERY) == len(expected) > 20
    found = all_results(page)
    # Every result, in the CLI's order, linking to its bulletin page and to the original.
    assert [hit["page"] for hit in found] == [page_url_of(hit.url) for hit in expected]
    assert [hit["original"] for hit in found] == [
        hit.url if hit.url.startswith("http") else None for hit in expected]
    assert [hit["page"] for hit in found] == [page_url_of(url) for url in cli_urls(archive, QUERY)]
    bodies = dict(db.execute("select url, body from bulletins").fetchall())
    for hit, truth in zip(found, expected):
        assert hit["marks"] and set(hit["marks"]) == {QUERY}, hit
        if QUERY in (bodies[truth.url] or ""):
            assert f"<mark>{QUERY}</mark>" in hit["snippet"], hit
        if QUERY in truth.title:
            assert f"<mark>{QUERY}</mark>" in hit["title"], hit


def test_search_with_dates_is_the_cli_search_and_so_are_its_downloads(served, page, db, archive, screenshots):
    base, _ = served
    page.goto(base + "-/search")
    page.locator("input[name=q]").fill(QUERY)
    page.locator("input[name=since]").fill(SINCE)
    page.locator("input[name=until]").fill(UNTIL)
    with page.expect_navigation():
        page.locator(".zwdc-search-form button").click()
    expected = search(db, QUERY, limit=None, since=SINCE, until=UNTIL)
    assert 0 < total(page) == len(expected) == count_matches(db, QUERY, since=SINCE, until=UNTIL) \
        < count_matches(db, QUERY)
    found = results(page)
    assert [hit["page"] for hit in found] == [page_url_of(url) for url in cli_urls(
        archive, QUERY, "--since", SINCE, "--until", UNTIL)]
    assert all(SINCE <= hit["published"] <= UNTIL for hit in found)
    assert page.locator("input[name=since]").input_value() == SINCE
    assert {f.strip() for f in page.locator(".zwdc-active-filter").all_inner_texts()} >= {
        f"发布日期自: {SINCE} ✕", f"至: {UNTIL} ✕"}
    shot = screenshots / "search-dates-1280.png"
    page.screenshot(path=shot, full_page=True)
    assert png_size(shot)[0] == 1280
    # The downloads hold the same bulletins, in the same order.
    rows = get_json(base, page.locator("a.zwdc-json").get_attribute("href"))
    assert rows["total"] == len(rows["rows"]) == len(expected)
    assert [row["url"] for row in rows["rows"]] == [hit.url for hit in expected]
    status, body = get(urllib.parse.urljoin(base, page.locator("a.zwdc-csv").get_attribute("href")))
    assert status == 200 and body.startswith("\ufeff".encode())
    table = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [row["url"] for row in table] == [hit.url for hit in expected]
    assert all(SINCE <= row["published"] <= UNTIL for row in table)
    # …and so does Datasette's table behind the "in Datasette" link.
    table_href = page.locator("a.zwdc-table").get_attribute("href")
    data = get_json(base, table_href.replace("/bulletins?", "/bulletins.json?") + "&_size=max&_shape=objects")
    assert sorted(row["url"] for row in data["rows"]) == sorted(hit.url for hit in expected)


def attachment_only_phrase(db) -> tuple[str, set[str]]:
    """A phrase that only attachments say, and the bulletins whose files say it."""
    pages = "\n".join(f"{t}\n{b}" for t, b in db.execute("select title, body from bulletins"))
    for url, text in db.execute("select bulletin_url, text from attachments where text != '' order by url"):
        for start in range(0, max(0, len(text) - 8), 37):
            phrase = text[start:start + 7]
            if len(phrase) == 7 and not any(c.isspace() for c in phrase) and phrase not in pages:
                holders = {u for (u,) in db.execute(
                    "select distinct bulletin_url from attachments where instr(text, ?) > 0", [phrase])}
                return phrase, holders
    raise AssertionError("no attachment says anything of its own")


def test_search_page_finds_what_only_attachments_say(served, page, db, archive):
    base, _ = served
    phrase, holders = attachment_only_phrase(db)
    search_for(page, base, phrase)
    expected = search(db, phrase, limit=None)
    assert total(page) == count_matches(db, phrase) == len(expected) == len(holders) > 0
    found = results(page)
    assert [hit["page"] for hit in found] == [page_url_of(url) for url in cli_urls(archive, phrase)]
    assert {hit["page"] for hit in found} == {page_url_of(url) for url in holders}
    assert all(f"<mark>{phrase}</mark>" in hit["snippet"] for hit in found)
    names = page.locator(".zwdc-hit-attachment-link").all_inner_texts()
    assert names == [hit.attachment["name"] for hit in expected] and all(names)
    with page.expect_navigation():  # to the bulletin page, where the file and its text are
        page.locator(".zwdc-hit-attachment-link").first.click()
    assert page.locator(".zwdc-attachment-text", has_text=phrase).count() >= 1
    rows = get_json(base, "-/search.json?q=" + urllib.parse.quote(phrase))  # the page's download
    assert [(row["url"], row["attachment_url"]) for row in rows["rows"]] == [
        (hit.url, hit.attachment["url"]) for hit in expected]


def test_bulletin_page_shows_the_attachment_text_of_a_see_attachment_bulletin(served, page, db):
    base, _ = served
    url, attachment = db.execute(
        "select b.url, a.url from bulletins b join attachments a on a.bulletin_url = b.url"
        " where instr(b.body, '详见附件') and instr(b.body, char(10)) = 0 and a.text != '' order by b.url").fetchone()
    text = db.execute("select text from attachments where url = ? and bulletin_url = ?", [attachment, url]).fetchone()[0]
    page.goto(base + page_url_of(url).lstrip("/"))
    shown = page.locator(".zwdc-attachment-text").first
    assert shown.get_attribute("open") is not None  # the page says nothing else: open
    first_line = next(line for line in text.split("\n") if "\t" not in line)
    assert first_line in shown.inner_text()
    other = db.execute(
        "select b.url from bulletins b join attachments a on a.bulletin_url = b.url"
        " where instr(b.body, char(10)) and a.text != '' order by b.url").fetchone()[0]
    page.goto(base + page_url_of(other).lstrip("/"))
    assert page.locator(".zwdc-attachment-text").first.get_attribute("open") is None  # folded


@pytest.mark.parametrize("options", [
    {"publisher": "督查室"},
    {"publisher": "政府办公室", "sort": "newest"},
    {"site": "CRAWLED"},
    {"portal": PORTAL, "sort": "newest"},
    {"portal": "127.0.0.1:9"},
    {"since": "2020-01-01", "sort": "newest"},
    {"until": "2019-12-31", "publisher": "咸宁"},
])
def test_every_cli_filter_works_on_the_page_and_its_downloads(served, db, archive, options):
    base, _ = served
    if options.get("site") == "CRAWLED":  # the replica's host:port, known once it runs
        options = {**options, "site": db.execute("select site from bulletins where rowid = 1").fetchone()[0]}
    arguments = [arg for key, value in options.items() for arg in (f"--{key}", value)]
    expected = cli_urls(archive, QUERY, *arguments)
    assert expected == [hit.url for hit in search(db, QUERY, limit=None, **options)]
    query = urllib.parse.urlencode({"q": QUERY, **options})
    status, html = get(f"{base}-/search?{query}")
    assert status == 200
    assert f'<strong id="zwdc-total">{len(expected)}</strong>' in html.decode()
    rows = get_json(base, f"-/search.json?{query}")
    assert rows["total"] == len(expected) and [row["url"] for row in rows["rows"]] == expected
    status, body = get(f"{base}-/search.csv?{query}")
    table = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert [row["url"] for row in table] == expected
    if "portal" in options:
        assert {row["portal"] for row in rows["rows"]} | {row["portal"] for row in table} <= {options["portal"]}


def test_facets_count_what_their_links_find(served, page, db):
    base, _ = served
    search_for(page, base, "会议")
    everything = total(page)
    assert everything == count_matches(db, "会议")
    facets = page.eval_on_selector_all(".zwdc-facet", """facets => Object.fromEntries(facets.map(f => [
        f.dataset.facet, [...f.querySelectorAll("li")].map(li => ({
            value: li.dataset.value, count: +li.querySelector(".count").textContent,
            url: li.querySelector("a") ? li.querySelector("a").getAttribute("href") : null}))]))""")
    assert set(facets) == {"publisher", "category", "year", "portal", "site"}
    assert {option["value"] for option in facets["portal"]} == {PORTAL}
    for name in ("category", "year", "portal", "site"):  # one value per bulletin: the counts add up
        assert sum(option["count"] for option in facets[name]) == everything, name
    for name, options in facets.items():
        for option in options:
            if option["url"] is None:  # an empty publisher or date: no CLI filter selects it
                assert option["value"] == "" and name in ("publisher", "year"), (name, option)
                continue
            found = get_json(base, option["url"].replace("/-/search?", "/-/search.json?"))
            assert found["total"] == option["count"], (name, option)
    portals = page.eval_on_selector_all("select[name=portal] option", "os => os.map(o => o.value)")
    assert portals == ["", "127.0.0.1:9", PORTAL]  # any portal, then each one
    year = facets["year"][0]
    with page.expect_navigation():
        page.locator(".zwdc-facet[data-facet=year] a").first.click()
    assert total(page) == year["count"] == count_matches(
        db, "会议", since=f"{year['value']}-01-01", until=f"{year['value']}-12-31")
    # The chosen year's facet still offers every year (counted with the other filters only).
    assert page.locator(".zwdc-facet[data-facet=year] li").count() == len(facets["year"])
    assert page.locator(".zwdc-facet[data-facet=year] li.selected").get_attribute("data-value") == year["value"]


def test_bad_search_input_is_one_line_not_a_failure(served, page):
    base, _ = served
    for options, message in (({"since": "2021-13-01"}, "since: not a date"),
                             ({"since": "2021-06-01", "until": "2021-01-01"}, "is after until"),
                             ({"sort": "best"}, "sort must be one of"), ({"page": "0"}, "page must be a whole number"),
                             ({"page": "-1"}, "page must be a whole number"),
                             ({"page": "abc"}, "page must be a whole number")):
        query = urllib.parse.urlencode({"q": QUERY, **options})
        response = page.goto(f"{base}-/search?{query}")
        assert response.status == 400
        assert message in page.locator(".zwdc-error").inner_text()
        status, body = get(f"{base}-/search.json?{query}")
        assert status == 400 and message in body.decode() and body.count(b"\n") == 1
    status, body = get(f"{base}-/search?q=%00")  # searched as text; shown without the NUL HTML cannot carry
    assert status == 200 and b"\x00" not in body and "\ufffd".encode() in body


# --- escaping ------------------------------------------------------------------------------


def test_archived_text_is_shown_escaped(served, page, db):
    base, name = served
    search_for(page, base, HOSTILE_QUERY)
    assert total(page) == count_matches(db, HOSTILE_QUERY) == 2
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
    originals = [hit["original"] for hit in results(page)]
    assert HOSTILE_URL in originals and None in originals
    # The bulletin pages of both, and Datasette's own pages.
    for url in (HOSTILE_URL, JAVASCRIPT_URL):
        page.goto(base + page_url_of(url).lstrip("/"))
        assert page.locator("h1").inner_text() == (XSS_TITLE if url == HOSTILE_URL else "恶意链接")
        assert "<script>alert(1)</script>" in page.locator(".zwdc-body").inner_text()
        assert XSS_PUBLISHER in page.locator(".zwdc-card").inner_text()
        assert page.locator(".zwdc-bulletin script, .zwdc-bulletin b, .zwdc-bulletin img, .zwdc-card i").count() == 0
        assert page.locator('a[href^="javascript"]').count() == 0
    page.goto(base + f"{name}/search?q={HOSTILE_QUERY}")
    assert "<script>window.__xss=1</script>" in page.locator("body").inner_text()
    assert page.evaluate("window.__xss") is None


# --- the bulletin page ---------------------------------------------------------------------


def _bulletin_with_everything(db) -> dict:
    """A crawled bulletin with a stored attachment, parsed items and a capture."""
    return next(db.query("""
        select b.* from bulletins b
        where b.capture_id is not null and exists (select 1 from attachments a where a.bulletin_url = b.url)
          and (select count(*) from items i where i.bulletin_url = b.url) >= 3
        order by b.url limit 1"""))


def test_bulletin_page_from_search_shows_everything_archived(served, page, db, archive, screenshots):
    base, _ = served
    bulletin = _bulletin_with_everything(db)
    search_for(page, base, bulletin["title"][:20])
    link = page.locator(f'a.zwdc-title[href="{page_url_of(bulletin["url"])}"]')
    with page.expect_navigation():
        link.click()
    assert page.url == base + page_url_of(bulletin["url"]).lstrip("/")
    assert page.locator("h1").inner_text() == bulletin["title"]
    card = dict(zip(page.locator(".zwdc-card dt").all_inner_texts(), page.locator(".zwdc-card dd").all_inner_texts()))
    for label, column in (("索引号", "index_no"), ("文号", "doc_no"), ("发布机构", "publisher"),
                          ("主题分类", "category"), ("有效性", "validity"), ("发布日期", "published"),
                          ("发文日期", "issued")):
        assert card.get(label) == (bulletin[column] or None), label
    # The body: every line of text is there, in order, as a paragraph or a table row.
    paragraphs = page.locator(".zwdc-body p").all_inner_texts()
    lines = [line.strip() for line in bulletin["body"].splitlines() if line.strip() and "\t" not in line]
    assert paragraphs == lines
    # Attachments: the archived file is the stored file, the original link the portal's.
    stored = list(db.query("select * from attachments where bulletin_url = ?", [bulletin["url"]]))
    assert page.locator(".zwdc-attachment").count() == len(json.loads(bulletin["attachments"])) >= len(stored)
    for attachment in stored:
        item = page.locator(".zwdc-attachment", has=page.locator(f'a[href="{attachment["url"]}"]'))
        status, body = get(urllib.parse.urljoin(base, item.locator("a.zwdc-file").get_attribute("href")))
        assert status == 200 and sha256(body) == attachment["sha256"]
        assert (archive.parent / attachment["path"]).read_bytes() == body
    # The supervision items parsed from it, with their units linking to the unit's items.
    items = list_items(db)
    mine = [item for item in items if item["bulletin_url"] == bulletin["url"]]
    assert page.locator(".zwdc-item").count() == len(mine)
    assert page.locator(".zwdc-item-subject").all_inner_texts() == [item["subject"] for item in mine]
    units = [unit for item in mine for unit in item["units"]]
    assert page.locator(".zwdc-item .zwdc-unit").all_inner_texts() == units
    # The original and the raw capture: the bytes of the WARC record, as archived.
    assert page.locator("a.zwdc-original").get_attribute("href") == bulletin["url"]
    capture = next(db.query("select * from captures where id = ?", [bulletin["capture_id"]]))
    status, raw = get(urllib.parse.urljoin(base, page.locator("a.zwdc-capture").get_attribute("href")))
    assert status == 200 and sha256(raw) == capture["payload_sha256"]
    assert page.locator(".zwdc-version-table tbody tr").count() == 1
    assert page.locator(".zwdc-versions").inner_text().count("只存档过一个版本") == 1
    # Readable at 1280 px: nothing wider than the window, the text column not squeezed.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert page.locator(".zwdc-body").bounding_box()["width"] >= 600
    shot = screenshots / "bulletin-1280.png"
    page.screenshot(path=shot, full_page=True)
    assert png_size(shot)[0] == 1280


def test_bulletin_page_on_a_phone(served, phone, db, screenshots):
    base, _ = served
    bulletin = _bulletin_with_everything(db)
    phone.goto(base + page_url_of(bulletin["url"]).lstrip("/"))
    assert phone.locator("h1").inner_text() == bulletin["title"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE  # no sideways scrolling
    body = phone.locator(".zwdc-body").bounding_box()
    assert body["width"] >= PHONE - 40  # the text uses the screen's width
    # The card's fields stack: one label and value per line.
    boxes = [phone.locator(".zwdc-card-field").nth(i).bounding_box() for i in range(2)]
    assert boxes[1]["y"] > boxes[0]["y"]
    shot = screenshots / f"bulletin-{PHONE}.png"
    phone.screenshot(path=shot, full_page=True)
    assert png_size(shot)[0] == PHONE


def test_a_body_table_is_a_table(served, page, db):
    base, _ = served
    bulletin = next(db.query("select url, body from bulletins where instr(body, char(9)) order by url limit 1"))
    rows = [line.split("\t") for line in bulletin["body"].splitlines() if "\t" in line]
    page.goto(base + page_url_of(bulletin["url"]).lstrip("/"))
    cells = page.eval_on_selector_all(".zwdc-body-table tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert cells == [[cell.strip() for cell in row] for row in rows]


def test_versions_and_their_diff(served, page, db):
    base, _ = served
    url = next(db.query("select url from bulletins where doc_no = ?", [EDIT_DOC_NO]))["url"]
    versions = list(db.query("select id from versions where url = ? order by seen_at", [url]))
    assert len(versions) == 2
    page.goto(base + page_url_of(url).lstrip("/"))
    assert page.locator(".zwdc-version-table tbody tr").count() == 2
    # By default the last two versions are compared: what was removed, what was added.
    assert page.locator(".zwdc-diff h3").inner_text() == "版本 1 → 版本 2 的差异"
    removed = "".join(page.locator(".zwdc-diff-del del").all_inner_texts())
    added = "".join(page.locator(".zwdc-diff-add ins").all_inner_texts())
    assert "2099" in added and "补充说明一段。" in added and "修订后的" in added
    assert page.locator(".zwdc-diff-add", has_text=EDIT_DOC_NO).count() == 1
    assert page.locator(".zwdc-diff-del", has_text=EDIT_OLD).count() == 1
    assert EDIT_NEW not in removed
    # Any two, in either order, from the form.
    page.locator("select[name=from]").select_option(str(versions[1]["id"]))
    page.locator("select[name=to]").select_option(str(versions[0]["id"]))
    with page.expect_navigation():
        page.locator(".zwdc-compare button").click()
    assert page.locator(".zwdc-diff h3").inner_text() == "版本 2 → 版本 1 的差异"
    assert "补充说明一段。" in page.locator(".zwdc-diff-del").all_inner_texts()[-1]
    page.goto(base + page_url_of(url).lstrip("/") + "&from=999999&to=1")
    assert "没有这个版本" in page.locator(".zwdc-diff .zwdc-error").inner_text()


def test_every_link_and_form_of_the_reading_room_leads_to_a_page(served, page, db):
    """The links and forms of each kind of page (its header's menu included), each distinct path
    fetched once: none is a 404 or a template's slip (a Python method's repr as a URL)."""
    base, _ = served
    url = next(db.query("select url from bulletins limit 1"))["url"]
    targets: dict[str, str] = {}
    for path in ("", "-/search?q=" + urllib.parse.quote(QUERY), "-/charts", "-/items", page_url_of(url).lstrip("/")):
        page.goto(base + path)
        for target in page.eval_on_selector_all(
                "a[href], form[action]", "nodes => nodes.map(n => n.href || n.action)"):
            split = urllib.parse.urlsplit(target)
            if target.startswith(base) and not split.path.startswith(("/-/capture/", "/-/file/")):
                targets.setdefault(split.path, target)
    assert {"/-/search", "/-/charts", "/-/items"} <= set(targets), sorted(targets)
    broken = {path: status for path, target in targets.items() if (status := get(target)[0]) != 200}
    assert not broken, broken


def test_unknown_bulletin_and_capture_are_404(served, page):
    base, _ = served
    response = page.goto(base + page_url_of("http://127.0.0.1:1/none.html").lstrip("/"))
    assert response.status == 404 and page.locator("h1").inner_text() == "未找到"
    assert get(base + "-/capture/999999")[0] == 404
    assert get(base + "-/file/" + "0" * 64)[0] == 404


def test_raw_captures_and_files_are_sandboxed(served, db):
    base, _ = served
    capture = next(db.query("select id from captures where kind = 'bulletin' limit 1"))
    with urllib.request.urlopen(f"{base}-/capture/{capture['id']}", timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox") and "default-src 'none'" in policy
    sha = next(db.query("select sha256 from attachments limit 1"))["sha256"]
    with urllib.request.urlopen(f"{base}-/file/{sha}", timeout=10) as response:
        assert response.headers["Content-Security-Policy"].startswith("sandbox")
        assert response.headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''")


def test_tables_link_to_the_bulletin_page(served, page, db):
    base, name = served
    page.goto(f"{base}{name}/items?_size=5")
    first = page.locator('td a[href^="/-/bulletin?url="]').first
    with page.expect_navigation():
        first.click()
    assert page.url.startswith(base + "-/bulletin?url=") and page.locator(".zwdc-card").count() == 1
    page.goto(f"{base}{name}/bulletins?_size=3")
    assert page.locator('td a[href^="/-/bulletin?url="]').count() == 3  # the titles
    page.locator("td a").first.click()  # Datasette's row page links the bulletin page too
    page.wait_for_load_state()
    assert page.locator(".zwdc-reading-link a").get_attribute("href").startswith("/-/bulletin?url=")


# --- charts and items ----------------------------------------------------------------------


def click_bar(page: Page, chart: str, series: int, index: int, middle: float, horizontal: bool = False) -> None:
    """Click one bar of an ECharts chart at value ``middle`` (its middle), where a reader would."""
    x, y = page.evaluate("""([chart, series, point]) =>
        window.zwdcCharts[chart].convertToPixel({seriesIndex: series}, point)""",
        [chart, series, [middle, index] if horizontal else [index, middle]])
    box = page.locator(f"#chart-{chart}").bounding_box()
    with page.expect_navigation():
        page.mouse.click(box["x"] + x, box["y"] + y)


def test_charts_are_drawn_offline_and_link_to_their_rows(served, page, db, screenshots):
    base, _ = served
    page.goto(base + "-/charts")
    page.wait_for_function("window.zwdcCharts && Object.keys(window.zwdcCharts).length === 3")
    assert page.locator(".zwdc-chart canvas").count() == 3
    shot = screenshots / "charts-1280.png"
    page.screenshot(path=shot, full_page=True)
    assert png_size(shot)[0] == 1280
    data = json.loads(page.locator("#zwdc-chart-data").text_content())
    # Bulletins per year and per month of each portal: the numbers are the archive's.
    assert {s["name"] for s in data["bulletins"]["year"]["series"]} == {PORTAL, "127.0.0.1:9"}
    per_year = dict(db.execute("select substr(published, 1, 4), count(*) from bulletins "
                               "where portal = '127.0.0.1:9' group by 1").fetchall())
    series = next(s for s in data["bulletins"]["year"]["series"] if s["name"] == "127.0.0.1:9")
    assert {year: n for year, n in zip(data["bulletins"]["year"]["x"], series["data"]) if n} == per_year
    months = data["bulletins"]["month"]
    assert sum(sum(s["data"]) for s in months["series"]) == db.execute(
        "select count(*) from bulletins where published is not null").fetchone()[0]
    # A click on a bar opens the bulletins behind it: that portal, that period, the same count.
    page.locator("button[data-period=year]").click()
    crawled = next(i for i, s in enumerate(data["bulletins"]["year"]["series"]) if s["name"] != "127.0.0.1:9")
    stack = data["bulletins"]["year"]["series"]
    values = stack[crawled]["data"]
    index = max(range(len(values)), key=values.__getitem__)
    below = sum(series["data"][index] for series in stack[:crawled])  # the bars are stacked
    click_bar(page, "bulletins", crawled, index, below + values[index] / 2)
    year = data["bulletins"]["year"]["x"][index]
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query) == {
        "portal": [data["bulletins"]["year"]["series"][crawled]["name"]],
        "since": [f"{year}-01-01"], "until": [f"{year}-12-31"]}
    assert total(page) == values[index] and len(results(page)) == min(values[index], 20)
    # Open items per unit: the bar's unit, its open items, as the view counts them.
    page.goto(base + "-/charts")
    page.wait_for_function("window.zwdcCharts && window.zwdcCharts.units")
    units = dict(db.execute("select unit, open_items from open_items_per_unit").fetchall())
    assert dict(zip(data["units"]["y"], data["units"]["data"])) == {u: units[u] for u in data["units"]["y"]}
    click_bar(page, "units", 0, 0, data["units"]["data"][0] / 2, horizontal=True)
    assert page.locator("h1").inner_text().endswith(data["units"]["y"][0])
    assert total(page) == data["units"]["data"][0] == page.locator(".zwdc-item").count()
    assert all(data["units"]["y"][0] in units for units in page.locator(".zwdc-item-units").all_inner_texts())
    assert set(page.locator(".zwdc-item").evaluate_all("items => items.map(i => i.dataset.status)")) == {"pending"}


def test_items_by_status_over_time_link_to_their_items(served, page, db):
    base, _ = served
    page.goto(base + "-/charts")
    page.wait_for_function("window.zwdcCharts && window.zwdcCharts.status")
    status = json.loads(page.locator("#zwdc-chart-data").text_content())["status"]
    assert sum(sum(s["data"]) for s in status["series"]) == db.execute(
        "select count(*) from items i join bulletins b on b.url = i.bulletin_url where b.published is not null"
    ).fetchone()[0]
    pending = next(i for i, s in enumerate(status["series"]) if s["status"] == "pending")
    values = status["series"][pending]["data"]
    index = max(range(len(values)), key=values.__getitem__)
    page.locator("#status details summary").click()
    link = page.locator("#status details tbody tr").nth(index).locator("td").nth(pending + 1).locator("a")
    assert int(link.inner_text()) == values[index]
    with page.expect_navigation():
        link.click()
    month = status["x"][index]
    assert total(page) == values[index] == sum(
        1 for item in list_items(db, status="pending") if (item["published"] or "").startswith(month))
    assert set(page.locator(".zwdc-item").evaluate_all("items => items.map(i => i.dataset.status)")) == {"pending"}


def test_items_page_filters_like_the_items_command(served, page, db):
    base, _ = served
    unit, _ = db.execute("select unit, count(*) from item_units group by unit order by 2 desc limit 1").fetchone()
    page.goto(base + "-/items?" + urllib.parse.urlencode({"unit": unit, "status": "pending"}))
    assert total(page) == len(list(list_items(db, unit=unit, status="pending"))) > 0
    # a part of a name, typed (财政局 for 市财政局): the units containing it, as `items --unit` finds them
    part = unit[1:]
    assert not db.execute("select 1 from item_units where unit = ?", [part]).fetchone()
    page.goto(base + "-/items?" + urllib.parse.urlencode({"unit": part}))
    assert total(page) == len(list(list_items(db, unit=part))) >= len(list(list_items(db, unit=unit))) > 0
    page.goto(base + "-/items")
    assert total(page) == db.execute("select count(*) from items").fetchone()[0]
    assert page.locator(".zwdc-item").count() == 50  # a page at a time
    response = page.goto(base + "-/items?status=unknown")
    assert response.status == 400 and "status must be one of" in page.locator(".zwdc-error-detail").inner_text()


# --- Datasette underneath ------------------------------------------------------------------


def test_canned_query_takes_the_cli_filters(served, db):
    base, name = served
    for options in ({}, {"since": SINCE, "until": UNTIL}, {"publisher": "督查室"}):
        query = urllib.parse.urlencode({"q": QUERY, **options, "_shape": "array"})
        status, body = get(f"{base}{name}/search.json?{query}")
        assert status == 200
        assert [row["url"] for row in json.loads(body)] == [hit.url for hit in search(db, QUERY, limit=None, **options)]
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
    for path in (f"{name}/search", "-/search", "-/bulletin"):
        request = urllib.request.Request(f"{base}{path}", data=b"q=x", method="POST")
        try:
            status = urllib.request.urlopen(request, timeout=10).status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status == 405
    assert sqlite3.connect(archive).execute("select count(*) from bulletins").fetchone()[0] == rows


def _in_process(ds, path: str):
    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API owns this thread's event loop
        return thread.submit(asyncio.run, ds.client.get(path)).result()


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
    matches = count_matches(open_archive(archive, read_only=True), QUERY)
    response = _in_process(ds, "/copy/search.json?_shape=array&q=" + urllib.parse.quote(QUERY))
    assert response.status_code == 200 and len(response.json()) == matches > 0
    connection.close()


def test_downloads_are_never_cut_at_max_returned_rows(archive, db):
    """Datasette stops a query at max_returned_rows; the search downloads hold every match."""
    from crawler.commands.serve import make_datasette

    ds = make_datasette(archive, settings={"max_returned_rows": 50})
    quoted = urllib.parse.quote(QUERY)
    assert len(_in_process(ds, f"/{archive.stem}/search.json?_shape=array&q={quoted}").json()) == 50
    expected = [hit.url for hit in search(db, QUERY, limit=None)]
    assert len(expected) > 50
    rows = _in_process(ds, f"/-/search.json?q={quoted}").json()
    assert rows["total"] == len(expected) and [row["url"] for row in rows["rows"]] == expected
    text = _in_process(ds, f"/-/search.csv?q={quoted}").text
    assert [row["url"] for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))] == expected


def test_missing_archive_and_busy_port_are_one_line(archive, tmp_path, capsys):
    """Bad input: one line on stderr and an exit code (in-process: the same path as the CLI)."""
    from crawler.cli import main

    assert main(["serve", "--archive", str(tmp_path / "none.db")]) == 2
    assert capsys.readouterr().err == f"error: no archive at {tmp_path / 'none.db'} (run 'python -m crawler crawl' first)\n"
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    assert main(["serve", "--archive", str(tmp_path / "junk.db")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {tmp_path / 'junk.db'} is not an archive") and error.count("\n") == 1
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
    assert main(["serve", "--archive", str(archive), "--host", "999.1.1.1", "--port", "0"]) == 2
    error = capsys.readouterr().err  # the one line, not a warning about exposing it first
    assert error.startswith("error: cannot listen on 999.1.1.1") and error.count("\n") == 1, error
