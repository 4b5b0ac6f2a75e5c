"""Lists built by JavaScript: ``crawl --render auto|always|never|api`` on the replica's ``js-list``.

The ``js-list`` family ships an empty ``<ul id="list">`` filled by a script from
``/api/list?page=N`` and a pager written with ``document.write``; its detail pages are plain.
These tests need Chromium (``make test`` installs Debian's); they are never skipped.
"""
from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
import sqlite_utils
from scrapy.settings import Settings

from archive.layout import ArchiveLayout
from archive.warc import read_capture
from spiders.browser import find_chromium, launch_options, render_mode
from spiders.browser import configure as configure_rendering
from crawler.health import run_problems
from spiders.listing import Entry
from spiders.scripted import find_endpoint, items_from_json, json_page_count, looks_script_built
from pipelines.text import parse_html
from tests.conftest import crawl, stored_row, truth_row
from tests.replica import ReplicaPortal

FAMILIES = ("xianning", "js-list")
EMPTY_LIST = b'<ul id="list" class="news-list"></ul>'
FILLED_LIST = b'<ul id="list" class="news-list"><li>'


def path_of(url: str) -> str:
    return urlsplit(url).path


def fetch_bytes(portal: ReplicaPortal, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def last_run_stats(db: sqlite_utils.Database) -> dict:
    row = next(db.query("select stats from crawl_runs order by id desc limit 1"))
    return json.loads(row["stats"])["scrapy"]


def from_browser(request: dict) -> bool:
    """Chromium marks its requests with Sec-Fetch-* headers; Scrapy sends none."""
    return any(name.lower().startswith("sec-fetch-") for name in request["headers"])


def assert_column_archived(db: sqlite_utils.Database, column) -> None:
    assert column.bulletins
    for bulletin in column.bulletins:
        rows = list(db["bulletins"].rows_where("url = ?", [bulletin["url"]]))
        assert rows, f"missing {bulletin['url']}"
        assert stored_row(rows[0]) == truth_row(bulletin)


def endpoint_hidden(handler) -> None:
    """The js-list page with its endpoint's URL computed at run time: no reader of its scripts
    can tell it, so only the browser shows its list."""
    resource = handler.site.resolve(urlsplit(handler.path).path)
    body = resource.render().replace(b'fetch("/api/list?page="', b'fetch(["", "api", "list"].join("/") + "?page="')
    handler.respond(200, body, resource.content_type)


def hide_endpoint(replica: ReplicaPortal) -> None:
    column = replica.columns["js-list"]
    for page in ("index.html", "index_1.html"):
        replica.faults[column.path + page] = endpoint_hidden


@pytest.fixture(scope="module")
def js_portal():
    with ReplicaPortal(per_family=20, seed=11, families=FAMILIES) as replica:
        hide_endpoint(replica)
        yield replica


@pytest.fixture(scope="module")
def rendered(js_portal, tmp_path_factory):
    """One ``--render auto`` crawl of a plain column and a script-built one."""
    archive = tmp_path_factory.mktemp("rendered") / "archive.db"
    js_portal.clear_requests()
    started = time.monotonic()
    result = crawl(archive, *(js_portal.columns[name].start_url for name in FAMILIES), extra=("--render", "auto"))
    elapsed = time.monotonic() - started
    return result, sqlite_utils.Database(archive), js_portal.requests, elapsed


# --------------------------------------------------------------------------- --render auto

def test_auto_crawl_is_healthy_and_quick(rendered):
    result, _db, _requests, elapsed = rendered
    assert result.returncode == 0, result.stderr
    assert elapsed < 30, f"the rendered crawl took {elapsed:.1f}s"


@pytest.mark.parametrize("family", FAMILIES)
def test_every_bulletin_and_field_of_both_columns_is_archived(rendered, js_portal, family):
    _result, db, _requests, _elapsed = rendered
    assert_column_archived(db, js_portal.columns[family])


def test_nothing_but_the_truth_not_the_static_sidebar(rendered, js_portal):
    _result, db, _requests, _elapsed = rendered
    expected = {b["url"] for name in FAMILIES for b in js_portal.columns[name].bulletins}
    assert {row["url"] for row in db["bulletins"].rows} == expected


def test_the_script_built_list_went_through_the_browser(rendered, js_portal):
    _result, db, requests, _elapsed = rendered
    column = js_portal.columns["js-list"]
    api = [r for r in requests if r["path"].startswith("/api/list")]
    assert {r["path"] for r in api} == {"/api/list?page=1", "/api/list?page=2"}
    assert all(from_browser(r) for r in api)
    first = [r for r in requests if r["path"] == path_of(column.start_url)]
    # fetched plainly first (no bulletin of the column in it), then rendered
    assert [from_browser(r) for r in first] == [False, True]
    # the column's later list page goes straight to the browser
    later = [r for r in requests if r["path"] == column.path + "index_1.html"]
    assert [from_browser(r) for r in later] == [True]
    stats = last_run_stats(db)
    assert stats["render/pages"] == 2
    assert stats["playwright/page_count"] == stats["playwright/page_count/closed"] == 2


def test_plain_columns_and_bulletins_never_touch_the_browser(rendered, js_portal):
    _result, _db, requests, _elapsed = rendered
    plain = js_portal.columns["xianning"]
    assert not any(from_browser(r) for r in requests if r["path"].startswith(plain.path))
    bulletin_paths = {path_of(b["url"]) for name in FAMILIES for b in js_portal.columns[name].bulletins}
    fetched = [r for r in requests if r["path"] in bulletin_paths]
    assert not any(from_browser(r) for r in fetched)
    js_paths = [path_of(b["url"]) for b in js_portal.columns["js-list"].bulletins]
    assert sorted(r["path"] for r in fetched if r["path"] in js_paths) == sorted(js_paths)  # each once


def test_the_browser_loads_no_images_other_hosts_or_robots_disallowed_paths(rendered):
    _result, db, requests, _elapsed = rendered
    assert not any(r["path"].startswith(("/images/", "/private/")) for r in requests)
    stats = last_run_stats(db)
    assert stats.get("render/blocked/offsite", 0) >= 2  # the analytics script of both list pages
    assert stats.get("render/blocked/resource", 0) >= 2  # logo and stylesheet
    assert stats.get("render/blocked/robots", 0) >= 2  # the visit counter under /private/


def test_the_browser_identifies_as_the_crawler(rendered):
    _result, _db, requests, _elapsed = rendered
    browser = [r for r in requests if from_browser(r)]
    agents = [{k.lower(): v for k, v in r["headers"].items()}.get("user-agent", "") for r in browser]
    assert agents and all(agent.startswith("zwdc-archive/") for agent in agents)


def test_captures_keep_the_server_bytes_never_the_rendered_dom(rendered, js_portal):
    _result, db, _requests, _elapsed = rendered
    layout = ArchiveLayout.of(db.conn.execute("pragma database_list").fetchone()[2])
    column = js_portal.columns["js-list"]
    list_urls = {column.start_url, js_portal.base_url + column.path + "index_1.html"}
    captures = list(db["captures"].rows)
    for capture in captures:
        body = read_capture(layout.warc(capture["warc_file"]), capture["warc_offset"]).body
        assert FILLED_LIST not in body, f"rendered DOM captured for {capture['url']}"
        if capture["url"] in list_urls:
            assert body == fetch_bytes(js_portal, path_of(capture["url"]))
            assert EMPTY_LIST in body
    assert column.start_url in {c["url"] for c in captures}
    # the JSON the browser fetched is kept too, with the server's bytes
    data = [c for c in captures if c["url"].startswith(js_portal.base_url + "/api/list")]
    assert {c["kind"] for c in data} == {"list-data"}
    for capture in data:
        body = read_capture(layout.warc(capture["warc_file"]), capture["warc_offset"]).body
        assert body == fetch_bytes(js_portal, urlsplit(capture["url"]).path + "?" + urlsplit(capture["url"]).query)


def test_a_nightly_rerun_renders_one_list_page_and_fetches_nothing_old(rendered, js_portal):
    _result, db, _requests, _elapsed = rendered
    archive = db.conn.execute("pragma database_list").fetchone()[2]
    column = js_portal.columns["js-list"]
    js_portal.clear_requests()
    again = crawl(archive, column.start_url, extra=("--render", "auto"))
    assert again.returncode == 0, again.stderr
    requests = js_portal.requests
    bulletin_paths = {path_of(b["url"]) for b in column.bulletins}
    assert not any(r["path"] in bulletin_paths for r in requests)
    assert [r["path"] for r in requests if r["path"].startswith("/api/list")] == ["/api/list?page=1"]
    assert "new 0" in again.stdout


# --------------------------------------------------------------------------- other modes

def test_never_fails_with_the_reason_and_archives_nothing(js_portal, tmp_path):
    column = js_portal.columns["js-list"]
    js_portal.clear_requests()
    result = crawl(tmp_path / "never.db", column.start_url, extra=("--render", "never"))
    assert result.returncode == 1
    reason = result.stderr.strip().splitlines()[-1]
    assert column.start_url.rsplit("index", 1)[0] in reason
    assert "needs JavaScript rendering (use --render auto)" in reason
    assert sqlite_utils.Database(tmp_path / "never.db")["bulletins"].count == 0
    assert not any(from_browser(r) or r["path"].startswith("/api/") for r in js_portal.requests)


def test_never_on_a_pinned_box_beside_a_list_its_scripts_page_fails_with_the_reason(tmp_path):
    """json-api: a static 置顶 box of two entries, the list itself paged by a script from an endpoint.
    With --render never the list stays unread: the run says so (it archived the box, run "ok")."""
    with ReplicaPortal(per_family=6, seed=8, families=("json-api",)) as portal:
        column = portal.columns["json-api"]
        result = crawl(tmp_path / "never.db", column.start_url, extra=("--render", "never"))
    assert result.returncode == 1, result.stderr
    reason = result.stderr.strip().splitlines()[-1]
    assert "needs JavaScript rendering (use --render auto)" in reason, reason


@pytest.mark.parametrize("mode", ["api", "auto"])
def test_an_endpoint_the_scripts_show_is_read_without_a_browser(mode, tmp_path):
    with ReplicaPortal(per_family=20, seed=11, families=FAMILIES) as js_portal:
        column = js_portal.columns["js-list"]
        result = crawl(tmp_path / "api.db", column.start_url,
                       extra=("--render", mode, "-s", "CHROMIUM_PATH=/nonexistent"))
        requests = js_portal.requests
    assert result.returncode == 0, result.stderr
    db = sqlite_utils.Database(tmp_path / "api.db")
    assert_column_archived(db, column)
    assert {row["url"] for row in db["bulletins"].rows} == {b["url"] for b in column.bulletins}
    assert not any(from_browser(r) for r in requests)
    assert "/api/list?page=1" in [r["path"] for r in requests]
    stats = last_run_stats(db)
    assert not any(key.startswith("playwright/") for key in stats)
    # bulletins keep the list page they were listed on (incremental runs rely on it)
    assert {row["list_url"] for row in db["bulletins"].rows} == {column.start_url}


def test_a_missing_browser_is_one_clear_line(js_portal, tmp_path):
    column = js_portal.columns["js-list"]
    result = crawl(tmp_path / "nobrowser.db", column.start_url, js_portal.columns["xianning"].start_url,
                   extra=("--render", "auto", "-s", "CHROMIUM_PATH=/nonexistent"))
    assert result.returncode == 1
    reason = result.stderr.strip().splitlines()[-1]
    assert "needs JavaScript rendering" in reason and "no Chromium at /nonexistent" in reason
    assert "make chromium" in reason and "Traceback" not in result.stderr
    # the plain column is archived all the same
    assert_column_archived(sqlite_utils.Database(tmp_path / "nobrowser.db"), js_portal.columns["xianning"])

    always = crawl(tmp_path / "always.db", column.start_url,
                   extra=("--render", "always", "-s", "CHROMIUM_PATH=/nonexistent"))
    assert always.returncode == 1
    assert "no Chromium at /nonexistent" in always.stderr.strip().splitlines()[-1]


def test_a_hanging_list_page_times_out_and_its_page_is_closed(tmp_path):
    hung: list[float] = []

    def hang(handler) -> None:
        hung.append(time.monotonic())
        time.sleep(4)
        handler.close_connection = True

    with ReplicaPortal(per_family=20, seed=11, families=("js-list",)) as replica:
        column = replica.columns["js-list"]
        hide_endpoint(replica)
        replica.faults[column.path + "index_1.html"] = hang
        result = crawl(tmp_path / "hang.db", column.start_url,
                       extra=("--render", "auto", "-s", "RENDER_TIMEOUT=2"))
    db = sqlite_utils.Database(tmp_path / "hang.db")
    failures = list(db["run_failures"].rows)
    assert [(f["kind"], f["url"]) for f in failures] == [("list", replica.base_url + column.path + "index_1.html")]
    assert "Timeout" in failures[0]["reason"]
    stats = last_run_stats(db)
    assert stats["playwright/page_count"] == stats["playwright/page_count/closed"]
    assert db["bulletins"].count == 15  # the first page's bulletins
    assert result.returncode in (0, 1)


def test_always_renders_every_list_page_of_a_plain_column_too(js_portal, tmp_path):
    column = js_portal.columns["xianning"]
    js_portal.clear_requests()
    result = crawl(tmp_path / "always.db", column.start_url, extra=("--render", "always"))
    assert result.returncode == 0, result.stderr
    lists = [r for r in js_portal.requests if r["path"].startswith(column.path + "index")]
    assert lists and all(from_browser(r) for r in lists)
    assert_column_archived(sqlite_utils.Database(tmp_path / "always.db"), column)


def test_auto_on_plain_columns_never_starts_the_browser(js_portal, tmp_path):
    result = crawl(tmp_path / "plain.db", js_portal.columns["xianning"].start_url, extra=("--render", "auto"))
    assert result.returncode == 0, result.stderr
    stats = last_run_stats(sqlite_utils.Database(tmp_path / "plain.db"))
    assert "playwright/browser_count" not in stats and "render/pages" not in stats


# --------------------------------------------------------------------------- units

def test_the_download_handler_is_installed_only_when_rendering_may_happen():
    for mode, installed in (("never", False), ("api", False), ("auto", True), ("always", True)):
        settings = Settings({"RENDER_MODE": mode})
        configure_rendering(settings)
        handlers = settings.getdict("DOWNLOAD_HANDLERS")
        assert ("scrapy_playwright" in str(handlers.get("http"))) is installed, mode
    with pytest.raises(ValueError):
        render_mode(Settings({"RENDER_MODE": "sometimes"}))


def test_chromium_is_found_by_setting_then_environment_then_path(tmp_path):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_chromium(str(fake)) == str(fake)
    assert find_chromium("/nonexistent", environ={"CHROMIUM_PATH": str(fake)}) is None  # the setting wins
    assert find_chromium(None, environ={"CHROMIUM_PATH": str(fake)}) == str(fake)
    assert find_chromium(None, environ={"CHROMIUM_PATH": "/nonexistent"}) is None
    assert find_chromium() is not None, "make test installs Debian's chromium"
    options = launch_options("/usr/bin/chromium")
    assert options["executable_path"] == "/usr/bin/chromium" and "--no-sandbox" in options["args"]


def test_a_list_left_to_scripts_is_recognised():
    empty = parse_html('<ul id="list"></ul><script>fetch("/api/list")</script>')
    assert looks_script_built(empty, [], in_chrome=False)
    assert not looks_script_built(parse_html("<ul></ul><p>暂无信息</p>"), [], in_chrome=False)
    sidebar = [Entry("http://h/tzgg/202001/t20200101_1.html", "热点新闻一则")]
    assert looks_script_built(empty, sidebar, in_chrome=True)  # only a box of the page's chrome shows
    no_builder = parse_html('<ul></ul><script>function doZoom(n){document.body.style.fontSize=n}</script>')
    assert not looks_script_built(no_builder, sidebar, in_chrome=True)
    assert not looks_script_built(empty, sidebar, in_chrome=False)  # a list in the main content


@pytest.mark.parametrize("script, expected", [
    ('fetch("/api/list?page=" + (cur + 1), {})', "http://h/api/list?page={page}"),
    ("$.ajax({url: '/interface/getInfo.do', type: 'get', data: {channelId: cid, pageNo: n}})",
     "http://h/interface/getInfo.do?pageNo={page}"),
    ("var chnl = '1234'; $.getJSON('/api/docs?chnl=' + chnl + '&pageIndex=' + p, render)",
     "http://h/api/docs?chnl=1234&pageIndex={page}"),
    ("axios.get(`/data/list/${pageNo}.json`).then(draw)", "http://h/data/list/{page}.json"),
    ("var x = new XMLHttpRequest(); x.open('GET', 'list.json?p=' + page, true);",
     "http://h/zwdc/list.json?p={page}"),
])
def test_the_json_endpoint_is_read_off_the_scripts(script, expected):
    tree = parse_html(f"<html><body><ul id='list'></ul><script>{script}</script></body></html>")
    endpoint = find_endpoint(tree, "http://h/zwdc/index.html", {"h"})
    assert endpoint is not None and endpoint.template == expected


@pytest.mark.parametrize("script, method, template, form", [
    ("$.ajax({url: '/api/list', type: 'POST', data: {columnId: '12', page: 1}})", "POST",
     "http://h/api/list", {"columnId": "12", "page": "3"}),
    ("$.post('/cms/list.do', {chnl: chnl, pageNo: n}); var chnl = 'zwdc';", "POST",
     "http://h/cms/list.do", {"chnl": "zwdc", "pageNo": "3"}),
    ('var api = {url: "/api/cms/content/list", channelId: "dcdb", pageSize: 15};\n'
     'fetch(api.url, {method: "POST", body: JSON.stringify({channelId: api.channelId, pageNo: p, pageSize: api.pageSize})})',
     "POST", "http://h/api/cms/content/list", {"channelId": "dcdb", "pageNo": "3", "pageSize": "15"}),
])
def test_post_endpoints_and_their_form_fields_are_read_off_the_scripts(script, method, template, form):
    endpoint = find_endpoint(parse_html(f"<script>{script}</script>"), "http://h/zwdc/index.html", {"h"})
    assert endpoint is not None
    assert (endpoint.method, endpoint.template, endpoint.formdata(3)) == (method, template, form)


def test_record_ranges_of_a_jcms_data_store():
    page = """<script type="text/xml"><datastore><nextgroup><![CDATA[<a href="/module/web/jpage/dataproxy.jsp?page=1
    &appid=1&webid=3&path=/&columnid=1229&unitid=4455229&permissiontype=0"></a>]]></nextgroup>
    <recordset><record><![CDATA[<li><a href="/art/2020/9/16/art_1229_5.html">关于政务督查的通报</a>[2020-09-16]</li>]]>
    </record></recordset></datastore></script><script>jpage.show({"perpage": 6, "totalRecord": 40});</script>"""
    endpoint = find_endpoint(parse_html(page), "http://h/col/col1229/index.html", {"h"})
    assert endpoint is not None and endpoint.method == "POST" and endpoint.by_records
    assert endpoint.url(2) == "http://h/module/web/jpage/dataproxy.jsp?startrecord=7&endrecord=12&perpage=6"
    assert endpoint.formdata(2)["columnid"] == "1229"


def test_no_endpoint_in_scripts_files_or_other_hosts():
    for script in ("fetch('/js/common.js')", "fetch('http://other.example/api?page=' + p)",
                   "fetch('./202001/t20200101_1.html')"):
        tree = parse_html(f"<script>{script}</script>")
        assert find_endpoint(tree, "http://h/zwdc/index.html", {"h"}) is None, script


@pytest.mark.parametrize("data", [
    {"data": {"list": [{"doctitle": "甲", "docpuburl": "/zwdc/202001/t20200101_1.html", "docreltime": "2020-01-01"},
                       {"doctitle": "乙", "docpuburl": "/zwdc/202001/t20200102_2.html", "docreltime": "2020-01-02"}]}},
    {"rows": [{"title": "甲", "link": "202001/t20200101_1.html", "pubDate": "2020-01-01"},
              {"title": "乙", "link": "202001/t20200102_2.html", "pubDate": "2020-01-02"}],
     "nav": [{"name": "首页", "url": "/"}]},
    [{"name": "甲", "href": "./202001/t20200101_1.html", "time": "2020-01-01", "extra": {"x": 1}},
     {"name": "乙", "some_field": "http://h/zwdc/202001/t20200102_2.html", "time": "2020-01-02"}],
])
def test_items_are_taken_from_any_list_of_objects_with_document_urls(data):
    items = items_from_json(data, "http://h/zwdc/index.html")
    assert [item.url for item in items] == ["http://h/zwdc/202001/t20200101_1.html",
                                            "http://h/zwdc/202001/t20200102_2.html"]
    assert [item.title for item in items] == ["甲", "乙"]
    assert [item.date for item in items] == ["2020-01-01", "2020-01-02"]


def test_page_counts_in_json():
    assert json_page_count({"data": {"pageCount": 3, "list": []}}) == 3
    assert json_page_count({"page": {"totalPages": "7"}}) == 7
    assert json_page_count({"list": []}) is None


def test_health_names_the_column_that_needs_rendering():
    stats = {"render/needs_rendering": {"http://h/zwdc/": "never"}, "column/bulletin_links": 0}
    [problem] = run_problems(stats, {"http://h/zwdc/index.html": "ok"}, {"http://h/zwdc/": 0}, None)
    assert problem.startswith("the list of http://h/zwdc/") and problem.endswith("(use --render auto)")
    stats = {"render/needs_rendering": {"http://h/zwdc/": "no-browser"},
             "render/browser_missing": "no Chromium at /x (setting CHROMIUM_PATH)"}
    [problem] = run_problems(stats, {}, {}, None)
    assert "no Chromium at /x" in problem and "make chromium" in problem
