"""Hostile input: parsers never raise, names never become paths, other hosts are never asked."""
from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st

from spiders.items import BulletinPage
from pipelines.urls import canonical_url, is_detail_url, netloc_of
from pipelines.dates import parse_date
from pipelines.body import stored_name
from pipelines.extraction import extract_record
from pipelines.metadata import LABEL_FAMILIES, parse_metadata
from pipelines import text
from pipelines.challenges import script_only
from pipelines.text import element_lines, parse_html, visible_text_reaches
from spiders.pagination import MAX_PAGES, read_pagination
from tests.conftest import crawl
from tests.replica import faults
from tests.replica.server import ReplicaPortal

LABELS = [label for tiers in LABEL_FAMILIES.values() for tier in tiers for label in tier]
#: Text built from labels, colons, spaces and anything else: the parser's worst day.
label_soup = st.lists(
    st.one_of(st.sampled_from(LABELS), st.sampled_from([":", "：", "\t", " ", "\u3000", "无"]), st.text()),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(label_soup, max_size=12))
def test_metadata_parser_never_raises(lines):
    found = parse_metadata(lines)
    assert set(found) <= set(LABEL_FAMILIES) and all(isinstance(v, str) for v in found.values())


@settings(max_examples=300, deadline=None)
@given(st.text(), st.booleans())
def test_date_parser_never_raises_and_only_returns_real_dates(text, compact):
    iso = parse_date(text, compact=compact)
    assert iso is None or re.fullmatch(r"(19|20)\d\d-\d\d-\d\d", iso)


web_urls = st.builds(
    "{}://{}{}/{}".format,
    st.sampled_from(["http", "https", "HTTP", "ftp", "javascript", "file"]),
    st.sampled_from(["", "www.x.gov.cn", "127.0.0.1:8000", "[::1]", "h:99999", "a b"]),
    st.sampled_from(["", ":80", ":443"]),
    st.text(),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), web_urls))
def test_url_canonicaliser_never_raises_and_is_idempotent(url):
    canonical = canonical_url(url)
    assert canonical_url(canonical) == canonical
    netloc_of(url), is_detail_url(url)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from(["text/html", "text/html; charset=gbk", None, "x/y; charset=bogus"]))
def test_extraction_never_raises_on_any_bytes(body, content_type):
    url = "http://h/zwdc/202001/t20200101_1.html"
    headers = {"Content-Type": content_type} if content_type else {}
    extract_record(BulletinPage(url, url, 200, headers, body, "2026-01-01T00:00:00+00:00"))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_pagination_reader_never_raises(script):
    tree = parse_html(f"<html><body><script>createPageHTML({script})</script>"
                      f"<script>{script}</script><a href='{script}'>下一页</a></body></html>")
    assert len(read_pagination(tree, "http://h/c/index.html").page_urls("http://h/c/index.html")) <= MAX_PAGES


@given(st.text())
def test_stored_attachment_names_are_hash_and_listed_extension_only(url):
    name = stored_name("ab" + "0" * 62, url)
    assert re.fullmatch(r"ab/ab0{62}\.[a-z0-9]{1,4}", name)


HOSTILE_NAMES = ["../../etc/passwd.pdf", "/etc/shadow.doc", "..\\..\\boot.ini.xls",
                 "x" * 300 + ".pdf", "附件<script>alert(1)</script>.pdf"]


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_hostile_attachment_names_and_links_to_other_hosts(tmp_path):
    """Names are recorded, never used as paths; links and redirects off the portal go nowhere."""
    evil = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    evil_base = f"http://127.0.0.1:{evil.server_address[1]}"
    try:
        with ReplicaPortal(per_family=4, seed=9) as portal:
            column = portal.columns["xianning"]
            truth = portal.site.add_bulletin("xianning", attachments=HOSTILE_NAMES)
            runaway = column.bulletins[1]
            portal.faults[urlsplit(runaway["url"]).path] = faults.redirect_to(
                f"{evil_base}/xxgk/202001/t20200101_9.shtml")
            links = "".join(f'<li><a href="{href}">x</a><span>2020-01-01</span></li>' for href in [
                f"{evil_base}{urlsplit(column.start_url).path.rsplit('/', 1)[0]}/202001/t20200101_7.shtml",
                f"{evil_base}/robots.txt", "file:///etc/passwd", "javascript:alert(1)",
                "file:///xxgk/xxgkml/qtzdgknr/zwdc/202001/t20200101_8.shtml",
            ])
            portal.faults[urlsplit(column.start_url).path] = faults.with_extra_links(links)
            result = crawl(tmp_path / "a.db", column.start_url)
    finally:
        evil.shutdown()
    assert result.returncode == 0, result.stderr[-2000:]
    assert _Recorder.hits == []
    db = sqlite_utils.Database(tmp_path / "a.db")
    rows = list(db["attachments"].rows_where("bulletin_url = ?", [truth["url"]]))
    assert sorted(r["name"] for r in rows) == sorted(a["name"] for a in truth["attachments"])
    root = (tmp_path / "a.files").resolve()
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files and all(p.resolve().is_relative_to(root) for p in files)
    assert all(re.fullmatch(r"a\.files/[0-9a-f]{2}/[0-9a-f]{64}\.[a-z0-9]+", r["path"]) for r in rows)
    assert not any(Path(p).exists() for p in ["/etc/passwd.pdf", "/etc/shadow.doc"])
    assert db["bulletins"].count_where("url like ?", [f"{evil_base}%"]) == 0
    assert runaway["url"] in {r["url"] for r in db["run_failures"].rows}


#: Pieces of a page whose visible text is short or hidden in ways the line contract has rules for:
#: hidden elements with text and a tail, comments, spaces of every kind, table cells, breaks.
_VISIBLE_PIECES = [
    "", "<script>var a = '很长很长的脚本文字不算可见文字';</script>后", "<style>p{color:red}</style>",
    "<!-- 注释里的文字也不可见 -->尾", "甲 乙", "\u3000\u3000丙\u3000", "\xa0\xa0丁", "戊\u200b己", "\u2003庚",
    "<table><tr><td>一</td><td></td><td>二</td></tr><tr><td> </td></tr></table>", "<br>辛<br>",
    "<p>  壬  </p>", "<template>模板里的文字</template>癸", "<select><option>选项文字很长</option></select>",
    "<div><p>0123456789</p></div>", "<o:p>Word 的段落</o:p>", "<noscript>请打开脚本</noscript>",
    "<noscript><p>请打开浏览器的脚本功能</p></noscript>", "<svg><text>矢量图形里的说明文字</text></svg>尾巴",
    "<button><span>按钮里的字</span>按钮</button>",
]


def test_visible_text_is_counted_as_far_as_needed_as_the_lines_say():
    """``visible_text_reaches`` (a script-only page is one with scripts and less than 20 visible
    characters) decides as the joined lines would, for every pair of odd pieces and threshold."""
    for first, second in [(a, b) for a in _VISIBLE_PIECES for b in _VISIBLE_PIECES]:
        tree = parse_html(f"<html><head><title>标题文字不可见</title></head><body>{first}<div>{second}</div></body></html>")
        joined = len("".join(element_lines(tree)))
        assert [visible_text_reaches(tree, n) for n in range(30)] == [joined >= n for n in range(30)], (first, second)


def test_a_page_of_100000_links_and_a_script_is_no_script_only_page_by_its_first_texts(monkeypatch):
    """Reading all lines of such a page took 0.35 s; its first texts decide it. A challenge's
    page, scripts and three characters, is still one."""
    assert script_only(parse_html("<html><head><script>location.reload();</script></head><body>请稍候</body></html>"))
    items = "".join(f'<li><a href="/art/{n}.html">第{n}号督查通报</a></li>' for n in range(100_000))
    tree = parse_html(f"<html><head><script>var a = 1;</script></head><body><ul>{items}</ul></body></html>")

    def read_whole(*_args, **_kwargs):
        raise AssertionError("every line of the page read")
    monkeypatch.setattr(text, "element_lines", read_whole)
    assert not script_only(tree)
