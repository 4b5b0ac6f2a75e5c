"""The registry of portals: loading it, crawling every replica portal by name, per-site health,
the ``portal`` column, politeness per host."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlite_utils

from crawler.sites import RegistryError, load_registry
from tests.conftest import FAST, run_cli, stored_row, truth_row
from tests.replica import faults
from tests.replica.registry import replica_portals, write_registry


def first_start_url(server) -> str:
    return next(iter(server.columns.values())).start_url


def registry_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sites.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the registry file --------------------------------------------------------------------
def test_the_shipped_registry_starts_with_xianning():
    registry = load_registry()
    xianning = registry.site("xianning")
    assert list(registry.sites)[0] == "xianning"
    assert xianning.region == "咸宁市"
    assert xianning.start_urls == ("http://www.xianning.gov.cn/xxgk/xxgkml/qtzdgknr/zwdc/index.shtml",)
    assert xianning.hosts == ("www.xianning.gov.cn", "xianning.gov.cn")
    assert registry.portal_of("xianning.gov.cn") == "xianning"


def test_an_entry_carries_its_profile_for_every_host_of_its_portal(tmp_path):
    """One file: a portal's profile (the escape hatch of detection) sits in its registry entry."""
    registry = load_registry(registry_file(tmp_path, (
        '[sites.odd]\nregion = "测试市"\nstart_urls = ["http://www.odd.gov.cn/zwdc/index.html"]\n'
        'hosts = ["odd.gov.cn"]\nlist_container = "div.news"\nentry_link = "/art/"\npager = "index_{n-1}.html"\n'
        'body_container = "div.bd-text"\nlabels = { doc_no = ["公文字号"] }\nrender = "never"\n')))
    profile = {"list_container": "div.news", "entry_link": "/art/", "pager": "index_{n-1}.html",
               "body_container": "div.bd-text", "labels": {"doc_no": ["公文字号"]}, "render": "never"}
    assert registry.profiles() == {"www.odd.gov.cn": profile, "odd.gov.cn": profile}  # xianning has none
    assert not registry.site("xianning").profile


def test_a_user_registry_extends_the_shipped_one_or_stands_alone(tmp_path):
    entry = '[sites.hb-test]\nregion = "测试市"\nstart_urls = ["http://www.test.gov.cn/zwdc/index.html"]\ndelay = 3\nconcurrency = 1\n'
    extended = load_registry(registry_file(tmp_path, entry))
    assert list(extended.sites) == ["xianning", "hb-test"]
    assert (extended.site("hb-test").delay, extended.site("hb-test").concurrency) == (3.0, 1)
    alone = load_registry(registry_file(tmp_path, "extends_shipped = false\n" + entry))
    assert list(alone.sites) == ["hb-test"]


@pytest.mark.parametrize("text, message", [
    ("[sites.a\nregion = 1", "not valid TOML"),
    ('[sites.a]\nregion = "甲"\nstart_urls = ["http://a.gov.cn/"]\ncolor = "red"\n', "unknown key 'color'"),
    ('[sites.a]\nstart_urls = ["http://a.gov.cn/"]\n', "'region'"),
    ('[sites.a]\nregion = "甲"\nstart_urls = []\n', "'start_urls'"),
    ('[sites.a]\nregion = "甲"\nstart_urls = ["ftp://a.gov.cn/"]\n', "'start_urls'"),
    ('[sites.a]\nregion = "甲"\nstart_urls = ["http://a.gov.cn/"]\ndelay = -1\n', "'delay'"),
    ('[sites.a]\nregion = "甲"\nstart_urls = ["http://a.gov.cn/"]\nconcurrency = 1.5\n', "'concurrency'"),
    ('[sites.Bad_Name]\nregion = "甲"\nstart_urls = ["http://a.gov.cn/"]\n', "lower-case"),
    ('[sites.a]\nregion = "甲"\nstart_urls = ["http://a.gov.cn/"]\n'
     '[sites.b]\nregion = "乙"\nstart_urls = ["http://b.gov.cn/"]\nhosts = ["a.gov.cn"]\n', "belongs to two sites"),
    ('portals = 1\n', "unknown top-level key 'portals'"),
    ('[sites.a]\nregion = "甲"\nstart_urls = ["http://a.gov.cn/"]\nlist_container = "div[[["\n',
     "'list_container' is not a valid CSS selector"),
    ('[sites.a]\nregion = "甲"\nstart_urls = ["http://a.gov.cn/"]\nbody_container = "#"\n',
     "'body_container' is not a valid CSS selector"),
    ('[sites.a]\nregion = "甲"\nstart_urls = ["http://a.gov.cn/"]\nentry_link = "art_("\n', "'entry_link' is not a valid"),
    ('[sites.a]\nregion = "甲"\nstart_urls = ["http://a.gov.cn/"]\npager = "index_2.html"\n', "'pager' names the page"),
    ('[sites.a]\nregion = "甲"\nstart_urls = ["http://a.gov.cn/"]\nrender = "sometimes"\n', "'render' must be one of"),
    ('[sites.a]\nregion = "甲"\nstart_urls = ["http://a.gov.cn/"]\nlabels = { color = ["颜色"] }\n',
     "'labels' has no field 'color'"),
    ('[sites.a]\nregion = "甲"\nstart_urls = ["http://a.gov.cn/"]\nlabels = { doc_no = "文件号" }\n',
     "'labels' is a table of fields"),
])
def test_a_bad_registry_is_refused_in_one_line(tmp_path, text, message):
    path = registry_file(tmp_path, text)
    with pytest.raises(RegistryError, match=message) as raised:
        load_registry(path)
    assert "\n" not in str(raised.value) and raised.value.exit_code == 2
    assert str(raised.value).startswith(str(path)), raised.value  # the file to fix, first


@pytest.mark.parametrize("args, message", [
    (["sites", "--sites", "{tmp}/missing.toml"], "no registry file at"),
    (["crawl", "--site", "atlantis", "--archive", "{tmp}/a.db"], "no site 'atlantis' in the registry (known: xianning)"),
    (["crawl", "--site", "xianning", "--all-sites", "--archive", "{tmp}/a.db"], "not both"),
])
def test_the_command_line_answers_bad_registry_input_in_one_line(tmp_path, args, message):
    result = run_cli(*(arg.format(tmp=tmp_path) for arg in args))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr
    assert not (tmp_path / "a.db").exists()


# --- crawling the replica's portals by name -------------------------------------------------
@pytest.fixture(scope="module")
def registry_crawl(tmp_path_factory):
    """One ``crawl --all-sites`` of every replica portal, each on a server of its own."""
    folder = tmp_path_factory.mktemp("sites")
    with replica_portals(per_family=8, seed=31) as servers:
        registry = write_registry(folder / "sites.toml", servers)
        archive = folder / "archive.db"
        result = run_cli("crawl", "--sites", str(registry), "--all-sites", "--archive", str(archive), *FAST)
        listed = run_cli("sites", "--sites", str(registry), "--archive", str(archive), "--json")
        yield servers, registry, archive, result, listed


def test_one_command_archives_every_portal_of_the_registry(registry_crawl):
    servers, _registry, archive, result, _listed = registry_crawl
    assert result.returncode == 0, result.stderr[-2000:]
    db = sqlite_utils.Database(archive)
    expected = {b["url"]: (name, b) for name, server in servers.items()
                for column in server.columns.values() for b in column.bulletins}
    rows = {row["url"]: row for row in db["bulletins"].rows}
    assert set(rows) == set(expected)
    for url, (portal, truth) in expected.items():
        assert stored_row(rows[url]) == truth_row(truth)
        assert rows[url]["portal"] == portal


def test_sites_lists_each_portal_with_its_last_run(registry_crawl):
    servers, _registry, archive, _result, listed = registry_crawl
    assert listed.returncode == 0, listed.stderr
    entries = {entry["name"]: entry for entry in map(json.loads, listed.stdout.splitlines())}
    assert list(entries) == list(servers)
    for name, server in servers.items():
        truth = sum(len(column.bulletins) for column in server.columns.values())
        entry = entries[name]
        assert entry["start_urls"] == [column.start_url for column in server.columns.values()]
        assert entry["hosts"] == [server.host]
        assert entry["bulletins"] == truth
        assert entry["last_run"]["outcome"] == "ok" and entry["last_run"]["problems"] == []
        assert (entry["last_run"]["new"], entry["last_run"]["changed"]) == (truth, 0)
    table = run_cli("sites", "--sites", str(_registry), "--archive", str(archive))
    assert table.returncode == 0
    assert [line.split()[0] for line in table.stdout.splitlines()] == ["site", *servers]


def test_a_start_url_outside_the_registry_is_a_portal_named_by_its_host(registry_crawl, tmp_path):
    servers, registry, _archive, _result, _listed = registry_crawl
    archive = tmp_path / "a.db"
    last = list(servers)[-1]
    outside = first_start_url(servers[last])
    inside = servers["xianning"].columns["xianning"].start_url
    result = run_cli("crawl", "--start-url", outside, "--archive", str(archive), *FAST)
    assert result.returncode == 0, result.stderr[-2000:]
    result = run_cli("crawl", "--sites", str(registry), "--start-url", inside, "--archive", str(archive), *FAST)
    assert result.returncode == 0, result.stderr[-2000:]
    portals = dict(sqlite_utils.Database(archive).execute("select site, portal from bulletins group by site"))
    assert portals == {servers[last].host: servers[last].host, servers["xianning"].host: "xianning"}


def test_an_unhealthy_site_is_named_and_the_healthy_ones_are_archived(tmp_path):
    archive = tmp_path / "a.db"
    with replica_portals(per_family=5, seed=32) as servers:
        registry = write_registry(tmp_path / "sites.toml", servers)
        dead = list(servers)[-1]
        servers[dead].faults[urlsplit(first_start_url(servers[dead])).path] = faults.always(500)
        result = run_cli("crawl", "--sites", str(registry), "--all-sites", "--archive", str(archive), *FAST)
        listed = run_cli("sites", "--sites", str(registry), "--archive", str(archive), "--json")
    assert result.returncode == 1
    reason = result.stderr.strip().splitlines()[-1]
    assert reason.startswith(f"error: unhealthy sites: {dead} (start page failed: ")
    assert not any(f"{name} (" in reason for name in servers if name != dead)
    stored = {row["portal"] for row in sqlite_utils.Database(archive)["bulletins"].rows}
    assert stored == set(servers) - {dead}
    verdicts = {entry["name"]: entry["last_run"]["outcome"] for entry in map(json.loads, listed.stdout.splitlines())}
    assert verdicts == {name: "failed" if name == dead else "ok" for name in servers}


def test_each_portal_keeps_its_own_pace_while_they_crawl_side_by_side(tmp_path):
    """``delay`` of one portal spaces its requests; the others are not held back by it."""
    with replica_portals(per_family=4, seed=33) as servers:
        registry = write_registry(tmp_path / "sites.toml", servers)
        slow_name = list(servers)[-1]
        text = registry.read_text(encoding="utf-8").replace(
            f'[sites.{slow_name}]\n', f'[sites.{slow_name}]\ndelay = 0.4\nconcurrency = 1\n')
        registry.write_text(text, encoding="utf-8")
        result = run_cli("crawl", "--sites", str(registry), "--all-sites", "--archive", str(tmp_path / "a.db"),
                         *FAST)
        times = {name: sorted(request["time"] for request in server.requests) for name, server in servers.items()}
    assert result.returncode == 0, result.stderr[-2000:]
    slow = times[slow_name]
    gaps = [later - earlier for earlier, later in zip(slow, slow[1:])]
    # Scrapy spreads a delay over 0.5–1.5 times its value (0.2–0.6 s), timed at its sends; the
    # replica stamps each request when its thread gets to it, late by up to a tenth of a second on
    # a busy machine (gaps of 0.19 and 0.096 s seen), which shortens one gap by what it lengthens
    # the one before. So the gaps together hold Scrapy's floor, and none is near zero; without the
    # delay they are milliseconds apart.
    assert len(slow) > 5 and sum(gaps) / len(gaps) >= 0.2 and min(gaps) >= 0.05
    for name in set(servers) - {slow_name}:
        assert times[name][-1] < slow[-1] and times[name][0] < slow[len(slow) // 2]


def test_an_archive_from_before_portals_gets_each_host_as_its_portal(tmp_path):
    archive = tmp_path / "old.db"
    db = sqlite_utils.Database(archive)
    db["bulletins"].insert({"url": "http://a.gov.cn/t20200101_1.html", "site": "a.gov.cn", "title": "旧"}, pk="url")
    db.close()
    result = run_cli("stats", "--archive", str(archive))
    assert result.returncode == 0, result.stderr
    assert [row["portal"] for row in sqlite_utils.Database(archive)["bulletins"].rows] == ["a.gov.cn"]



def test_stats_search_export_and_items_take_a_portal(registry_crawl, tmp_path):
    _servers, _registry, archive, _result, _listed = registry_crawl
    db = sqlite_utils.Database(archive)
    counts = dict(db.execute("select portal, count(*) from bulletins group by portal"))
    two = next(name for name, server in _servers.items() if len(server.columns) > 1)
    last = list(_servers)[-1]
    stats = run_cli("stats", "--archive", str(archive), "--portal", two)
    assert stats.returncode == 0 and f"{counts[two]} bulletins from 1 site(s)" in stats.stdout
    assert f"(portal {two})" in stats.stdout
    word = "督查"
    expected = {url for (url,) in db.execute(
        "select url from bulletins where portal = 'xianning' and (instr(title, ?) or instr(body, ?))", [word, word])}
    found = run_cli("search", word, "--portal", "xianning", "--limit", "500", "--json", "--archive", str(archive))
    assert found.returncode == 0 and expected
    assert {json.loads(line)["url"] for line in found.stdout.splitlines()} == expected
    output = tmp_path / "last.jsonl"
    exported = run_cli("export", "--format", "jsonl", "--output", str(output), "--portal", last,
                       "--archive", str(archive))
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == counts[last] and {row["portal"] for row in rows} == {last}
    items = run_cli("items", "--portal", two, "--json", "--archive", str(archive))
    expected_items = db.execute("select count(*) from items i join bulletins b on b.url = i.bulletin_url "
                                "where b.portal = ?", [two]).fetchone()[0]
    assert items.returncode == 0 and expected_items
    assert [json.loads(line)["portal"] for line in items.stdout.splitlines()] == [two] * expected_items
