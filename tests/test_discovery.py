"""Discovery over several columns: each column's own verdict, pager guesses checked, bounded
walks (cap, loops), and ``probe`` on every replica family."""
from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
import sqlite_utils

from tests.conftest import crawl, run_cli, stored_row, truth_row
from tests.replica.server import ReplicaPortal
from tests.replica.templates import DEFAULT_FAMILIES


def last_error(result) -> str:
    return result.stderr.strip().splitlines()[-1]


def page(body: str) -> bytes:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>栏目</title></head><body>'
            f'<div class="nav"><ul><li><a href="/">首页</a></li><li><a href="/xxgk/">信息公开</a></li></ul></div>'
            f'<div class="main">{body}</div><div class="footer"><a href="/about.html">网站声明</a></div>'
            f'</body></html>').encode()


def serve(body: bytes):
    def fault(handler) -> None:
        handler.respond(200, body, "text/html; charset=utf-8")
    return fault


def assert_archived(db: sqlite_utils.Database, column) -> None:
    for bulletin in column.bulletins:
        rows = list(db["bulletins"].rows_where("url = ?", [bulletin["url"]]))
        assert rows, f"missing {bulletin['url']}"
        assert stored_row(rows[0]) == truth_row(bulletin)


def test_a_last_list_page_of_one_entry_is_read_where_the_first_had_its_list(tmp_path):
    """16 bulletins: the last list page lists one, beside a 热点信息 sidebar of eight. Its list is
    where the column's first page had it; the sidebar's news (another column's) are not archived."""
    archive = tmp_path / "a.db"
    with ReplicaPortal(per_family=16, seed=3, families=("epoint", "backward")) as portal:
        result = crawl(archive, *(c.start_url for c in portal.columns.values()))
        assert result.returncode == 0, result.stderr
        db = sqlite_utils.Database(archive)
        for column in portal.columns.values():
            assert_archived(db, column)
        truth = {bulletin["url"] for column in portal.columns.values() for bulletin in column.bulletins}
        stored = {url for (url,) in db.execute("select url from bulletins")}
        assert stored == truth, sorted(stored - truth)


def test_a_dead_column_fails_the_run_naming_it_while_the_others_are_archived(tmp_path):
    archive = tmp_path / "a.db"
    with ReplicaPortal(per_family=6, seed=31, families=("hanweb", "epoint")) as portal:
        dead = portal.base_url + "/dead/zwdc/index.html"
        portal.faults["/dead/zwdc/index.html"] = serve(page("<h2>政务督查</h2><p>暂无信息</p>"))
        result = crawl(archive, *(c.start_url for c in portal.columns.values()), dead)
        stats = run_cli("stats", "--archive", str(archive))
    assert result.returncode == 1
    assert f"column {dead} yields no bulletin" in last_error(result)
    assert not any(c.start_url in last_error(result) for c in portal.columns.values())
    db = sqlite_utils.Database(archive)
    for column in portal.columns.values():
        assert_archived(db, column)
    assert stats.returncode == 0
    assert re.search(re.escape(dead) + r"\n    list pages 1 \(none\), entries 0, .*: no entries", stats.stdout)
    for column in portal.columns.values():
        assert re.search(re.escape(column.start_url) + rf"\n    list pages 1 .*, entries {len(column.bulletins)}, "
                         rf"bulletins stored {len(column.bulletins)},.*: ok", stats.stdout), stats.stdout


def test_a_wrong_naming_guess_tries_the_other_one_and_reads_every_page(tmp_path):
    """A four-argument pager (pages counted from 0) over pages named from 1: index_1 is a 404,
    a wrong guess, not the end of the column."""
    with ReplicaPortal(per_family=20, seed=32, families=("table",)) as portal:
        column = portal.columns["table"]

        def four_arguments(handler) -> None:
            resource = handler.site.resolve(urlsplit(handler.path).path)
            body = re.sub(rb"createPageHTML\('page_div', (\d+), (\d+), 'index', 'html', \d+\)",
                          lambda m: b'createPageHTML(%s, %d, "index", "html")' % (m[1], int(m[2]) - 1),
                          resource.render())
            handler.respond(200, body, resource.content_type)
        portal.faults[column.path + "index.html"] = four_arguments
        result = crawl(tmp_path / "a.db", column.start_url)
        paths = [r["path"] for r in portal.requests]
    assert result.returncode == 0, result.stderr[-2000:]
    assert column.path + "index_1.html" in paths and column.path + "index_2.html" in paths
    assert_archived(sqlite_utils.Database(tmp_path / "a.db"), column)


def _numbered(prefix: str, number: int, entries: list[str], next_number: int | None) -> bytes:
    items = "".join(f'<li><a href="{href}">关于第{number}页第{i}项督查事项的通报</a><span>2024-01-0{i % 9 + 1}</span></li>'
                    for i, href in enumerate(entries))
    pager = f'<div class="page"><a href="index_{next_number}.html">下一页</a></div>' if next_number else ""
    return page(f'<ul class="list">{items}</ul>{pager}')


def test_an_endless_pager_stops_at_the_cap_and_is_reported(tmp_path):
    with ReplicaPortal(per_family=2, seed=33, families=("xianning",)) as portal:
        for n in range(40):
            path = "/endless/index.html" if n == 0 else f"/endless/index_{n}.html"
            portal.faults[path] = serve(_numbered("/endless/", n, [f"/endless/d{n}_{i}.html" for i in range(3)], n + 1))
        result = crawl(tmp_path / "a.db", portal.base_url + "/endless/index.html", extra=("-s", "LIST_PAGES_MAX=5"))
        lists = [r["path"] for r in portal.requests if r["path"].startswith("/endless/index")]
    assert result.returncode == 1
    assert "stopped after 5 list pages (LIST_PAGES_MAX)" in last_error(result)
    assert len(lists) == 5


def test_a_pager_loop_is_not_followed_and_is_reported(tmp_path):
    with ReplicaPortal(per_family=2, seed=34, families=("xianning",)) as portal:
        truths = portal.columns["xianning"].bulletins
        first, second = [urlsplit(t["url"]).path for t in truths[:1]], [urlsplit(t["url"]).path for t in truths[1:2]]
        portal.faults["/loop/index.html"] = serve(_numbered("/loop/", 0, first, 1))
        for n in range(1, 6):  # page 2 lists the second bulletin; every later page repeats it
            portal.faults[f"/loop/index_{n}.html"] = serve(_numbered("/loop/", n, second, n + 1))
        result = crawl(tmp_path / "a.db", portal.base_url + "/loop/index.html")
        lists = [r["path"] for r in portal.requests if r["path"].startswith("/loop/index")]
    assert result.returncode == 1
    assert "repeats entries of earlier pages (a pager loop?)" in last_error(result)
    assert lists == ["/loop/index.html", "/loop/index_1.html", "/loop/index_2.html"]
    assert sqlite_utils.Database(tmp_path / "a.db")["bulletins"].count == 2


@pytest.fixture(scope="module")
def probed():
    with ReplicaPortal(per_family=20, seed=35) as portal:
        answers = {name: run_cli("probe", column.start_url, "--json") for name, column in portal.columns.items()}
        yield portal, answers


@pytest.mark.parametrize("family", DEFAULT_FAMILIES)
def test_probe_json_on_every_family(probed, family):
    portal, answers = probed
    column = portal.columns[family]
    result = answers[family]
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert {"entries", "pagination", "pages", "endpoint", "sample"} <= found.keys()
    truth = {b["url"]: b for b in column.bulletins}
    entries = found["entries"]  # those the crawl fetches: no other host, nothing robots.txt forbids
    assert all(urlsplit(e["url"]).netloc == portal.host and "/private/" not in e["url"] for e in entries)
    listed = [e for e in entries if e["url"] in truth]
    assert len(listed) >= len(entries) - 1  # at most the replica's redirecting link
    assert len(listed) >= 10
    for entry in listed:
        assert entry["title"] and truth[entry["url"]]["title"].startswith(entry["title"].rstrip(".…"))
        assert entry["date"] == truth[entry["url"]]["published"]
    assert found["pages"] == column.page_count
    assert (found["endpoint"] is not None) == (column.endpoint is not None)
    if column.endpoint:
        assert column.endpoint in found["endpoint"]
    sample = found["sample"]
    assert sample["url"] == found["entries"][0]["url"] and sample["body_chars"] > 0
    if sample["url"] in truth:
        bulletin = truth[sample["url"]]
        assert sample["fields"]["title"] == bulletin["title"]
        assert sample["fields"]["published"] == bulletin["published"]
        for name in ("index_no", "doc_no", "publisher", "category", "validity", "issued"):
            assert sample["fields"].get(name) == (bulletin[name] or None), name
    assert found["advice"] == "detection works: no profile needed"


def test_probe_of_a_page_without_a_list_says_what_to_write(probed):
    portal, _answers = probed
    portal.faults["/empty/index.html"] = serve(page("<p>暂无信息</p>"))
    result = run_cli("probe", portal.base_url + "/empty/index.html")
    assert result.returncode == 0, result.stderr
    assert "entries: 0" in result.stdout and "list_container" in result.stdout


@pytest.mark.parametrize("family", ["scripted-count", "xianning"])
def test_a_bulletin_given_as_the_column_page_is_not_taken_for_a_list(probed, tmp_path, family):
    """A bulletin page (with a 热点信息 sidebar; xianning's carries a pager script, so it is rendered
    first) where its column's list page was meant: its sidebar is no column list. Probe says so; a
    crawl fails that start page by name and archives nothing (it archived the sidebar's eight news
    pages, run "ok")."""
    portal, _answers = probed
    bulletin = portal.columns[family].bulletins[0]["url"]
    found = json.loads(run_cli("probe", bulletin, "--json").stdout)
    assert found["entries"] == [] and found["advice"].startswith("not a list: a document"), found
    result = crawl(tmp_path / "a.db", bulletin)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: start page failed: ") and bulletin in last and "not a list" in last, last
    assert sqlite_utils.Database(tmp_path / "a.db")["bulletins"].count == 0


@pytest.mark.parametrize("argument, code", [("ftp://h/x", 2), ("not a url", 2), ("http://127.0.0.1:9/none", 1)])
def test_probe_bad_input_is_one_line(argument, code):
    result = run_cli("probe", argument)
    assert result.returncode == code
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_site_profile_sets_detection_right_and_a_bad_one_is_one_line(tmp_path):
    """The escape hatch: a list detection cannot see (short titles in a side-nav block) is read
    from the container its sites.toml entry names; a broken entry stops the crawl with one line."""
    with ReplicaPortal(per_family=3, seed=36, families=("xianning",)) as portal:
        truths = portal.columns["xianning"].bulletins
        links = "".join(f'<li><a href="{urlsplit(t["url"]).path}">第{i}期</a></li>' for i, t in enumerate(truths))
        portal.faults["/odd/index.html"] = serve(page(f'<div class="side-nav"><ul>{links}</ul></div>'))
        start = portal.base_url + "/odd/index.html"
        without = crawl(tmp_path / "none.db", start)
        sites = tmp_path / "sites.toml"
        entry = f'extends_shipped = false\n[sites.odd]\nregion = "测试市"\nstart_urls = ["{start}"]\n'
        sites.write_text(entry + 'list_container = "div.side-nav"\n', "utf-8")
        with_profile = crawl(tmp_path / "odd.db", start, extra=("--sites", str(sites)))
        sites.write_text(entry + 'list_container = "div[[["\n', "utf-8")
        broken = crawl(tmp_path / "broken.db", start, extra=("--sites", str(sites)))
    assert without.returncode == 1 and "yields no bulletin" in last_error(without)
    assert with_profile.returncode == 0, with_profile.stderr[-2000:]
    db = sqlite_utils.Database(tmp_path / "odd.db")
    assert {row["url"] for row in db["bulletins"].rows} == {t["url"] for t in truths}
    assert {row["portal"] for row in db["bulletins"].rows} == {"odd"}
    assert broken.returncode == 2 and "'list_container' is not a valid CSS selector" in last_error(broken)
    assert "Traceback" not in broken.stderr and broken.stderr.count("\n") == 1


#: A portal variant detection reads wrong: short body lines beside a long block of boilerplate
#: prose (the fallback takes the whole page), labels in words no family knows (公文字号, 印发机关),
#: and a second list page no link leads to (the page only says 共2页).
ODD_BODY = ("一、关于推进重点项目建设", "市发改委牵头，已完成。", "二、关于优化营商环境",
            "市政务服务局牵头，正在推进。", "三、关于民生实事", "市民政局牵头，已完成。")
ODD_PROSE = "本网站是市人民政府门户网站，发布政府信息公开内容，欢迎社会各界监督并提出宝贵意见和建议，联系电话见页面底部说明。" * 2


def odd_bulletin(number: int) -> dict:
    return {"path": f"/odd/2024/art_{number}.html", "title": f"关于第{number}批督查事项落实情况的通报",
            "published": f"2024-03-{number:02d}", "index_no": f"ODD-2024-{number:03d}",
            "doc_no": f"督通〔2024〕{number}号", "publisher": "市政府督查室",
            "body": "\n".join(f"{line}（第{number}批）" for line in ODD_BODY)}


def odd_bulletin_page(truth: dict) -> bytes:
    lines = "".join(f"<span>{line}</span><br>" for line in truth["body"].split("\n"))
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{truth["title"]}</title></head><body>'
            f'<div class="top">首页 | 政务公开</div><table class="meta"><tr><td>索引号：</td><td>{truth["index_no"]}</td>'
            f'<td>公文字号：</td><td>{truth["doc_no"]}</td></tr><tr><td>印发机关：</td><td>{truth["publisher"]}</td>'
            f'<td>发布日期：</td><td>{truth["published"]}</td></tr></table><h1>{truth["title"]}</h1>'
            f'<div class="bd-text">{lines}</div>'
            f'<div class="intro">{"".join(f"<p>{ODD_PROSE}</p>" for _ in range(4))}</div></body></html>').encode()


def odd_list_page(truths: list[dict]) -> bytes:
    items = "".join(f'<li><a href="{t["path"]}">{t["title"]}</a><span>{t["published"]}</span></li>' for t in truths)
    return page(f'<ul class="list">{items}</ul><div class="pages">共2页</div>')


def test_a_profile_fixes_body_labels_and_pager_that_detection_gets_wrong(tmp_path):
    """Body container, label synonyms and the pager's page names of a sites.toml entry, applied to
    a portal crawled by its start URL: without them the run is unhealthy and the fields wrong,
    with them every field is exact; ``reprocess`` keeps them (it reads the same registry)."""
    truths = [odd_bulletin(number) for number in range(1, 7)]
    with ReplicaPortal(per_family=1, seed=37, families=("xianning",)) as portal:
        for path, body in (("/odd/index.html", odd_list_page(truths[:3])), ("/odd/list-2.html", odd_list_page(truths[3:])),
                           *((t["path"], odd_bulletin_page(t)) for t in truths)):
            portal.faults[path] = serve(body)
        start = portal.base_url + "/odd/index.html"
        sites = tmp_path / "sites.toml"
        sites.write_text(f'extends_shipped = false\n[sites.odd]\nregion = "测试市"\nstart_urls = ["{start}"]\n'
                         'body_container = "div.bd-text"\npager = "list-{n}.html"\n'
                         'labels = { doc_no = ["公文字号"], publisher = ["印发机关"] }\n', "utf-8")
        without = crawl(tmp_path / "none.db", start)
        with_profile = crawl(tmp_path / "odd.db", start, extra=("--sites", str(sites)))
        probed = run_cli("probe", start, "--json", "--sites", str(sites))
    # Without: the fallback takes the whole page as the body (its metadata block with it), so
    # no page shows a date and none is stored; the second list page is never read.
    assert without.returncode == 1 and "read 1 of the 2 list pages" in last_error(without)
    assert "3 entries listed, 3 not bulletins" in last_error(without)
    assert sqlite_utils.Database(tmp_path / "none.db")["bulletins"].count == 0
    assert with_profile.returncode == 0, with_profile.stderr[-2000:]
    db = sqlite_utils.Database(tmp_path / "odd.db")
    rows = {urlsplit(row["url"]).path: row for row in db["bulletins"].rows}
    assert set(rows) == {t["path"] for t in truths}
    for truth in truths:
        row = rows[truth["path"]]
        assert {key: row[key] for key in ("title", "published", "index_no", "doc_no", "publisher", "body")} == {
            key: truth[key] for key in ("title", "published", "index_no", "doc_no", "publisher", "body")}
    reprocessed = run_cli("reprocess", "--archive", str(tmp_path / "odd.db"), "--sites", str(sites))
    assert reprocessed.returncode == 0 and "changed 0, unchanged 6" in reprocessed.stdout, reprocessed.stdout
    found = json.loads(probed.stdout)
    assert found["pages"] == 2 and found["sample"]["fields"]["doc_no"] == truths[0]["doc_no"]
    assert found["advice"] == "detection works with the portal's profile"
