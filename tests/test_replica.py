"""Fast tests of the replica portal itself: what it serves must equal the truth it exposes.

A small reference reader (lxml, per-family selectors) re-reads every served detail page
and compares it with the truth, so a replica bug cannot pass for a crawler bug.
"""
from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import lxml.etree
import lxml.html
import pytest

from tests.replica import ReplicaPortal
from tests.replica.corpus import normalise
from tests.replica.site import load_seed

REPO = Path(__file__).resolve().parent.parent
FAMILIES = ("xianning", "table", "gbk", "scripted-count")
#: Families on other portal software (their own URL shapes, list sources and pagers).
OTHER_FAMILIES = ("hanweb", "json-api", "epoint", "backward")
ALL_FAMILIES = FAMILIES + OTHER_FAMILIES

#: Reference selectors per family: list links, metadata pairs, body container, attachments.
LIST_LINKS = {"xianning": "ul.list_list > li > a", "table": "div.lm_newslist ul li a",
              "gbk": "ul.more-list > li > a", "scripted-count": "div.info-list ul li a"}
BODY = {"xianning": "div.TRS_Editor", "table": "div.TRS_UEDITOR", "gbk": "#UCAP-CONTENT div.Custom_UnionStyle",
        "scripted-count": "div.wz_article_text", "hanweb": "div#zoom", "json-api": "div.article-content",
        "epoint": "div.ewb-article-detail", "backward": "div#ArticleContent"}
ATTACHMENTS = {"xianning": "div.fj a", "table": "ul#appendixlist a", "gbk": "div.fujian a",
               "scripted-count": "div.article-attach a", "hanweb": "div.fjdown a", "json-api": "div.detail-files a",
               "epoint": "div.ewb-attach a", "backward": "div.doc-attach a"}
#: Where the title is, for families whose metadata block has none.
TITLES = {"scripted-count": "h1", "json-api": "h2.detail-title"}
LABELS = {"索引号": "index_no", "索取号": "index_no", "文号": "doc_no", "发文字号": "doc_no",
          "发布机构": "publisher", "发文单位": "publisher", "发文机关": "publisher", "主题分类": "category",
          "信息分类": "category", "有效性": "validity", "时效性": "validity", "发布日期": "published",
          "公开日期": "published", "生成日期": "published", "发布时间": "published", "发文日期": "issued",
          "成文日期": "issued", "印发日期": "issued", "内容分类": "category", "效力状态": "validity",
          "公开分类": "category", "发布单位": "publisher", "信息名称": "title", "信息索引号": "index_no",
          "成文单位": "publisher", "所属分类": "category", "文件编号": "doc_no", "签发日期": "issued",
          "公开时间": "published", "时效": "validity", "文件名称": "title", "名称": "title", "标题": "title"}


# --------------------------------------------------------------------------- helpers

def fetch(portal: ReplicaPortal, path: str, headers: dict[str, str] | None = None,
          method: str = "GET") -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request, no redirect following, no exception on 4xx/5xx."""
    conn = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def path_of(url: str) -> str:
    return urlsplit(url).path


def target_of(url: str) -> str:
    """The request target of ``url``: its path and query."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def decode(family: str, body: bytes) -> str:
    return body.decode("gb18030" if family == "gbk" else "utf-8")


def parse_date(text: str) -> str | None:
    match = re.search(r"(\d{4})[年-](\d{1,2})[月-](\d{1,2})", text)
    return f"{int(match[1]):04d}-{int(match[2]):02d}-{int(match[3]):02d}" if match else None


def metadata_pairs(family: str, tree: lxml.html.HtmlElement) -> list[tuple[str, str]]:
    if family == "xianning":
        return [(li.find("b").text_content(), li.find("span").text_content()) for li in tree.cssselect("div.xxgk_top li")]
    if family == "table":
        cells = tree.cssselect("table.table_xxgk td")
        return [(cells[i].text_content(), cells[i + 1].text_content()) for i in range(0, len(cells), 2)]
    if family == "gbk":
        return [tuple(span.text_content() for span in p.findall("span")) for p in tree.cssselect("div.xxgk_info p")]
    if family == "hanweb":
        return [(th.text_content(), th.getnext().text_content()) for th in tree.cssselect("table.xxgk-table th")]
    if family == "json-api":
        return [(dl.find("dt").text_content(), dl.find("dd").text_content()) for dl in tree.cssselect("div.detail-meta dl")]
    if family in ("epoint", "backward"):
        cells = tree.cssselect("#symbol div.ewb-info-cell" if family == "epoint" else "div.doc-meta li")
        return [tuple(cell.text_content().split("\uff1a", 1)) for cell in cells]
    return []


def contract_body(container: lxml.html.HtmlElement) -> str:
    """The body contract, independently of the replica's code."""
    lines: list[str] = []
    for element in container.iter("p", "table"):
        if element.tag == "p" and any(a.tag == "table" for a in element.iterancestors()):
            continue
        if element.tag == "table":
            for row in element.iter("tr"):
                lines.append("\t".join(normalise(cell.text_content()) for cell in row if cell.tag in ("td", "th")))
        else:
            lines.append(normalise(element.text_content()))
    return "\n".join(line for line in lines if line)


def read_detail(portal: ReplicaPortal, family: str, url: str, parts: int = 1) -> dict:
    """What a correct extractor reads from a detail page (and the further pages of a split
    document, ``t…_<docid>_1.<ext>`` …), in the shape of the truth."""
    status, _headers, body = fetch(portal, target_of(url))
    assert status == 200, url
    tree = lxml.html.fromstring(decode(family, body))
    found = {"url": url, "site": portal.host, "index_no": "", "doc_no": "", "publisher": "", "category": "",
             "validity": "", "published": None, "issued": None, "title": ""}
    for label, value in metadata_pairs(family, tree):
        key = LABELS[re.sub(r"[\s\u3000::]", "", label)]
        value = value.strip(" \u3000\xa0")
        if key in ("published", "issued"):
            found[key] = parse_date(value) if value else None
        else:
            found[key] = "" if (key == "doc_no" and value == "无") else value
    if family in TITLES:
        found["title"] = tree.cssselect(TITLES[family])[0].text_content().strip()
    if family == "scripted-count":
        found["published"] = parse_date(tree.cssselect('meta[name="PubDate"]')[0].get("content"))
    [container] = tree.cssselect(BODY[family])
    bodies = [contract_body(container)]
    stem, ext = url.rsplit(".", 1)
    for part in range(1, parts):
        status, _headers, page = fetch(portal, path_of(f"{stem}_{part}.{ext}"))
        assert status == 200, (url, part)
        [container] = lxml.html.fromstring(decode(family, page)).cssselect(BODY[family])
        bodies.append(contract_body(container))
    found["body"] = "\n".join(bodies)
    found["attachments"] = [{"name": a.text_content().strip(), "url": urljoin(url, a.get("href"))}
                            for a in tree.cssselect(ATTACHMENTS[family])]
    return found


def list_pages(portal: ReplicaPortal, family: str) -> Iterator[tuple[str, lxml.html.HtmlElement, str]]:
    """Every list page of a family, following its own pagination style."""
    column = portal.columns[family]
    url = column.start_url
    while url:
        status, _headers, body = fetch(portal, path_of(url))
        assert status == 200, url
        text = decode(family, body)
        tree = lxml.html.fromstring(text)
        yield url, tree, text
        if family == "gbk":
            nxt = [a.get("href") for a in tree.cssselect("div.pagination a") if a.text_content() == "下一页"]
            url = urljoin(url, nxt[0]) if nxt else ""
        else:
            count, current = page_numbers(family, text)
            number = current + 2 if family == "table" else current + 1  # the six-argument pager counts from 1
            url = urljoin(url, f"index_{number}.{column.ext}") if current + 1 < count else ""


def page_numbers(family: str, text: str) -> tuple[int, int]:
    """(page count, 0-based current page) from the page's script."""
    if family == "xianning":
        match = re.search(r'createPageHTML\("?(\d+)"?, (\d+), "index", "shtml"\)', text)
        return int(match[1]), int(match[2])
    if family == "table":
        match = re.search(r"createPageHTML\('page_div', (\d+), (\d+), 'index', 'html', (\d+)\)", text)
        return int(match[1]), int(match[2]) - 1
    count = re.search(r"var countPage = (\d+);", text)
    current = re.search(r'createPageHTML\(countPage, (\d+), "index", "html"\)', text)
    return int(count[1]), int(current[1])


@pytest.fixture(scope="module")
def replica() -> Iterator[ReplicaPortal]:
    with ReplicaPortal(per_family=20, seed=3) as portal:
        yield portal
        assert not portal.errors, portal.errors


@pytest.fixture
def fresh() -> Iterator[ReplicaPortal]:
    """A portal of its own for tests that change the site (5 items a list page)."""
    with ReplicaPortal(per_family=6, seed=11, page_size=5) as portal:
        yield portal
        assert not portal.errors, portal.errors


# --------------------------------------------------------------------------- columns and lists

def test_columns_expose_start_urls_and_truth(replica):
    assert set(replica.columns) == set(ALL_FAMILIES)
    assert replica.base_url == f"http://127.0.0.1:{replica.port}" and replica.host == f"127.0.0.1:{replica.port}"
    for name, column in replica.columns.items():
        assert column.start_url == column.list_pages[0]
        if name in FAMILIES:
            assert column.start_url == f"{replica.base_url}{column.path}index.{column.ext}"
        assert len(column.bulletins) == 20
        for bulletin in column.bulletins:
            assert set(bulletin) == {"url", "site", "index_no", "doc_no", "publisher", "category", "validity",
                                     "published", "issued", "title", "body", "attachments", "family",
                                     "structure", "docid", "parts"}
            assert bulletin["family"] == name and bulletin["site"] == replica.host
        dates = [(b["published"], b["docid"]) for b in column.bulletins]
        assert dates == sorted(dates, reverse=True), "newest first"


def test_content_types_and_charsets(replica):
    expected = {"xianning": "text/html; charset=utf-8", "table": "text/html; charset=utf-8",
                "gbk": "text/html", "scripted-count": "text/html; charset=utf-8", "hanweb": "text/html; charset=utf-8",
                "json-api": "text/html; charset=utf-8", "epoint": "text/html; charset=utf-8",
                "backward": "text/html; charset=utf-8"}
    for name, column in replica.columns.items():
        status, headers, body = fetch(replica, path_of(column.start_url))
        assert status == 200 and headers["Content-Type"] == expected[name]
    _s, _h, body = fetch(replica, path_of(replica.columns["xianning"].start_url))
    assert b"charset" not in body.split(b"</head>")[0], "A declares UTF-8 in the HTTP header only"


def test_gbk_family_is_gbk_declared_only_in_meta(replica):
    column = replica.columns["gbk"]
    for bulletin in column.bulletins[:5]:
        _status, headers, body = fetch(replica, path_of(bulletin["url"]))
        assert "charset" not in headers["Content-Type"]
        assert b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">' in body
        with pytest.raises(UnicodeDecodeError):
            body.decode("utf-8")
        text = body.decode("gb18030")
        assert bulletin["title"] in text and "&#" not in text, "everything encodable, no char refs"


@pytest.mark.parametrize("family", FAMILIES)
def test_pagination_count_matches_and_lists_hold_exactly_the_truth(replica, family):
    column = replica.columns[family]
    pages = list(list_pages(replica, family))
    links: list[str] = []
    for url, tree, text in pages:
        items = tree.cssselect(LIST_LINKS[family])
        assert 0 < len(items) <= 15
        assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", li.getparent().cssselect("span")[-1].text_content())
                   for li in items)
        links += [urljoin(url, a.get("href")) for a in items]
        assert "热点信息" in text and "主办单位" in text and "ICP备" in text
    assert len(pages) == math.ceil(len(links) / 15)
    if family != "gbk":
        assert page_numbers(family, decode(family, fetch(replica, path_of(column.start_url))[2]))[0] == len(pages)
    after_last = len(pages) + 1 if family == "table" else len(pages)
    assert fetch(replica, f"{column.path}index_{after_last}.{column.ext}")[0] == 404
    assert [url for url, _tree, _text in pages] == column.list_pages
    canonical = set()
    for link in links:
        if urlsplit(link).netloc != replica.host or path_of(link).startswith("/private/"):
            continue
        if "/old/" in link:
            status, headers, _ = fetch(replica, path_of(link))
            assert status == 301
            link = headers["Location"]
        canonical.add(link.replace("_slhxq.", "."))
    assert canonical == {b["url"] for b in column.bulletins}


def test_list_links_are_relative_and_docids_grow_with_date(replica):
    _s, _h, body = fetch(replica, path_of(replica.columns["xianning"].start_url))
    assert re.search(rb'href="\./\d{6}/t\d{8}_\d+\.shtml"', body)
    everything = [b for c in replica.columns.values() for b in c.bulletins]
    for bulletin in (b for b in everything if b["family"] in FAMILIES):
        day = bulletin["published"].replace("-", "")
        assert re.search(rf"/{day[:6]}/t{day}_{bulletin['docid']}\.\w+$", bulletin["url"])
    ordered = sorted(everything, key=lambda b: (b["published"], b["docid"]))
    assert [b["docid"] for b in ordered] == sorted(b["docid"] for b in everything)


# --------------------------------------------------------------------------- detail pages against truth

@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_every_detail_page_reads_back_as_its_truth(replica, family):
    for bulletin in replica.columns[family].bulletins:
        expected = {k: v for k, v in bulletin.items() if k not in ("family", "structure", "docid", "parts")}
        assert read_detail(replica, family, bulletin["url"], bulletin["parts"]) == expected


def test_some_long_documents_are_split_over_pages(replica):
    """Families with article pagers split some long bulletins over 2 or 3 pages; others none."""
    for family in FAMILIES:
        parts = [b["parts"] for b in replica.columns[family].bulletins]
        if family == "scripted-count":
            assert set(parts) == {1}
        else:
            assert set(parts) >= {1} and max(parts) in (2, 3), (family, parts)


def test_family_specific_metadata_conventions(replica):
    table = replica.columns["table"].bulletins
    assert all(b["issued"] and b["issued"] < b["published"] for b in table)
    assert any(re.fullmatch(r"咸政办发〔\d{4}〕\d+号", b["doc_no"]) for b in table)
    scripted = replica.columns["scripted-count"].bulletins
    assert all(b["index_no"] == b["doc_no"] == b["publisher"] == "" and b["issued"] is None for b in scripted)
    xianning = replica.columns["xianning"].bulletins
    assert all(b["issued"] is None and b["category"] == "政务督查" for b in xianning)
    page = fetch(replica, path_of(xianning[0]["url"]))[2].decode()
    assert f"<title>{xianning[0]['title']}_咸宁市人民政府</title>" in page
    assert "责任编辑:" in page and "字号:" in page and "分享到:" in page
    assert re.search(r"发布日期:</b><span>\d{4}年\d{2}月\d{2}日", page)


def test_seed_bulletin_is_served_restored(replica):
    seed = load_seed()
    [truth] = [b for b in replica.columns["xianning"].bulletins if b["docid"] == 2183980]
    assert truth["url"] == replica.base_url + "/xxgk/xxgkml/qtzdgknr/zwdc/202009/t20200916_2183980.shtml"
    assert truth["index_no"] == "011336909/2020-13926" and truth["doc_no"] == "" and truth["published"] == "2020-09-16"
    assert truth["publisher"] == "咸宁市政府办公室" and truth["title"] == seed["title"]
    assert truth["body"] == "\n".join(seed["paragraphs"])
    for restored in ("2019年11月-2020年6月", "(咸办文〔2020〕7号)", "(咸政办发〔2020〕11号)", "位列全省第6位",
                     "(一)2020年1月20日市政府第1次常务会议"):
        assert restored in truth["body"]
    assert len(truth["structure"]["items"]) == 14 and len(truth["structure"]["meetings"]) == 6
    page = fetch(replica, path_of(truth["url"]))[2].decode()
    assert re.search(r">2019</span><span[^>]*>年</span><span[^>]*>11</span><span[^>]*>月</span>", page), \
        "dates split across adjacent spans, no whitespace between them"
    assert "<o:p></o:p>" in page and 'class="MsoNormal"' in page


def test_structure_truth_matches_the_body(replica):
    bulletins = [b for c in replica.columns.values() for b in c.bulletins]
    assert sum(len(b["structure"]["items"]) for b in bulletins) > 100
    for bulletin in bulletins:
        lines = bulletin["body"].split("\n")
        meetings = bulletin["structure"]["meetings"]
        for meeting in meetings:
            assert meeting["heading"] in lines
            assert parse_date(meeting["heading"]) == meeting["date"]
            number = f"第{meeting['number']}次" if meeting["number"] else ""
            assert meeting["heading"].endswith(f"市政府{number}{meeting['kind']}")
        for item in bulletin["structure"]["items"]:
            assert item["status"] in ("pending", "mostly_done", "done", "other")
            units = f"责任单位:{'、'.join(item['units'])}" if item["units"] else ""
            candidates = [i for i, line in enumerate(lines)
                          if re.fullmatch(r"(\d+\.)?" + re.escape(item["subject"]) + r"([((]" + re.escape(units) + r"[))])?"
                                          if units else r"(\d+\.)?" + re.escape(item["subject"]), line)]
            assert candidates, (bulletin["url"], item["subject"])
            progress = item["progress"].split("\n")
            assert any(lines[i + 1:i + 1 + len(progress)] == progress for i in candidates)
            assert item["documents"] == re.findall(r"《([^《》]+)》", item["subject"])
            if item["meeting_index"] is not None:
                assert 0 <= item["meeting_index"] < len(meetings)


# --------------------------------------------------------------------------- special cases

def test_robots_txt_disallows_private_and_the_private_page_is_listed_not_true(replica):
    status, headers, body = fetch(replica, "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert body.decode() == "User-agent: *\nDisallow: /private/\n"
    _s, _h, page = fetch(replica, path_of(replica.columns["scripted-count"].start_url))
    private = re.findall(r'href="(/private/[^"]+)"', page.decode())
    assert len(private) == 1 and fetch(replica, private[0])[0] == 200
    assert all("/private/" not in b["url"] for c in replica.columns.values() for b in c.bulletins)


def test_mirror_links_point_to_other_hosts(replica):
    a = fetch(replica, path_of(replica.columns["xianning"].start_url))[2].decode()
    c = fetch(replica, path_of(replica.columns["gbk"].start_url))[2].decode("gb18030")
    assert f'href="http://127.0.0.2:{replica.port}/xxgk/xxgkml/qtzdgknr/zwdc/' in a
    assert 'href="http://mirror.example.invalid/xxgk/fdzdgknr/qtzdgknr/zwdc/' in c


def test_old_url_answers_301_to_the_canonical_page(replica):
    page = fetch(replica, path_of(replica.columns["xianning"].start_url))[2].decode()
    [old] = re.findall(r'href="\./old/(t\d{8}_\d+\.shtml)"', page)
    status, headers, _ = fetch(replica, replica.columns["xianning"].path + "old/" + old)
    assert status == 301
    assert headers["Location"] in {b["url"] for b in replica.columns["xianning"].bulletins}


def test_alternate_views_are_served_without_metadata(replica):
    page = fetch(replica, path_of(replica.columns["xianning"].start_url))[2].decode()
    [slh] = re.findall(r'href="\./(\d{6}/t\d{8}_\d+_slhxq\.shtml)"', page)
    for family, column in ((f, replica.columns[f]) for f in FAMILIES):
        bulletin = column.bulletins[0]
        detail = decode(family, fetch(replica, path_of(bulletin["url"]))[2])
        stem, ext = bulletin["url"].rsplit(".", 1)
        for variant in ("slhxq", "app"):
            name = f"{stem}_{variant}.{ext}".rsplit("/", 1)[1]
            assert f'href="./{name}"' in detail
            status, _h, body = fetch(replica, path_of(f"{stem}_{variant}.{ext}"))
            text = decode(family, body)
            assert status == 200 and f'<link rel="canonical" href="{bulletin["url"]}">' in text
            assert not metadata_pairs(family, lxml.html.fromstring(text))
            assert contract_body(lxml.html.fromstring(text).cssselect(BODY[family])[0]) == bulletin["body"]
    assert fetch(replica, replica.columns["xianning"].path + slh)[0] == 200


def test_table_family_has_a_bulletin_outside_its_column_path(replica):
    column = replica.columns["table"]
    outside = [b for b in column.bulletins if not path_of(b["url"]).startswith(column.path)]
    assert len(outside) == 1 and re.fullmatch(r"/zwgk/gkml/\d{6}/t\d{8}_\d+\.html", path_of(outside[0]["url"]))
    page = fetch(replica, path_of(column.start_url))[2].decode()
    assert 'href="../../' + path_of(outside[0]["url"]).removeprefix("/zwgk/gkml/") + '"' in page


def test_sidebar_links_other_columns_which_are_not_truth(replica):
    truth = {path_of(b["url"]) for c in replica.columns.values() for b in c.bulletins}
    for family, column in replica.columns.items():
        tree = lxml.html.fromstring(decode(family, fetch(replica, path_of(column.start_url))[2]))
        hot = tree.cssselect("ul.hot-list li")
        assert len(hot) == 8 and all(li.find("a") is not None and li.find("span") is not None for li in hot)
        for a in (li.find("a") for li in hot):
            assert a.get("href") not in truth and not a.get("href").startswith(column.path)
        assert fetch(replica, hot[0].find("a").get("href"))[0] == 200


def test_attachments_are_served_with_their_content_type(replica):
    types = {"pdf": "application/pdf", "doc": "application/msword", "xls": "application/vnd.ms-excel",
             "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "wps": "application/kswps"}
    seen = set()
    for column in replica.columns.values():
        for bulletin in column.bulletins:
            for attachment in bulletin["attachments"]:
                ext = attachment["url"].rsplit(".", 1)[1]
                status, headers, body = fetch(replica, path_of(attachment["url"]))
                assert status == 200 and headers["Content-Type"] == types[ext] and 0 < len(body) < 2 ** 20
                assert headers["ETag"] and headers["Last-Modified"]
                seen.add(ext)
    assert {"pdf", "doc"} <= seen


def test_conditional_requests_answer_304(replica):
    bulletin = replica.columns["table"].bulletins[0]
    status, headers, body = fetch(replica, path_of(bulletin["url"]))
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and etag and parsedate_to_datetime(modified)
    assert fetch(replica, path_of(bulletin["url"]), {"If-None-Match": etag})[0] == 304
    assert fetch(replica, path_of(bulletin["url"]), {"If-Modified-Since": modified})[0] == 304
    assert fetch(replica, path_of(bulletin["url"]), {"If-None-Match": '"other"'})[0] == 200
    earlier = format_datetime(parsedate_to_datetime(modified).replace(year=2000), usegmt=True)
    assert fetch(replica, path_of(bulletin["url"]), {"If-Modified-Since": earlier})[0] == 200
    status, headers, body = fetch(replica, path_of(bulletin["url"]), method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 1000


def test_unknown_paths_get_an_html_404(replica):
    status, headers, body = fetch(replica, "/no/such/page.shtml")
    assert status == 404 and headers["Content-Type"].startswith("text/html") and "404" in body.decode()


# --------------------------------------------------------------------------- the mutable site

def test_add_bulletin_becomes_newest_and_pushes_the_list(fresh):
    column = fresh.columns["xianning"]
    before = column.bulletins
    last_on_first_page = lxml.html.fromstring(fetch(fresh, path_of(column.start_url))[2].decode()).cssselect(
        LIST_LINKS["xianning"])[-1].get("href")
    added = fresh.site.add_bulletin("xianning", title="关于测试事项落实情况的督查通报",
                                    paragraphs=["第一段。", "第二段 含空格。"], attachments=["附件1.pdf"])
    assert column.bulletins[0] == added and len(column.bulletins) == len(before) + 1
    others = [b["docid"] for c in fresh.columns.values() for b in c.bulletins if b["docid"] != added["docid"]]
    assert added["published"] > before[0]["published"] and added["docid"] > max(others)
    assert added["body"] == "第一段。\n第二段 含空格。" and added["structure"] == {"meetings": [], "items": []}
    tree = lxml.html.fromstring(fetch(fresh, path_of(column.start_url))[2].decode())
    links = [a.get("href") for a in tree.cssselect(LIST_LINKS["xianning"])]
    assert path_of(added["url"]).endswith(links[0][1:]) and last_on_first_page not in links
    assert read_detail(fresh, "xianning", added["url"])["attachments"] == added["attachments"]
    generated = fresh.site.add_bulletin("gbk")
    assert generated["body"] and read_detail(fresh, "gbk", generated["url"])["body"] == generated["body"]


def test_edit_body_changes_page_and_validators(fresh):
    bulletin = fresh.columns["table"].bulletins[2]
    status, headers, _ = fetch(fresh, path_of(bulletin["url"]))
    etag, modified = headers["ETag"], headers["Last-Modified"]
    new = fresh.site.edit_body(bulletin["url"], ["更新后的第一段。", ("table", [["指标", "数值"], ["GDP", "100"]])])
    assert new["body"] == "更新后的第一段。\n指标\t数值\nGDP\t100"
    assert [b for b in fresh.columns["table"].bulletins if b["url"] == bulletin["url"]][0] == new
    assert fetch(fresh, path_of(bulletin["url"]), {"If-None-Match": etag})[0] == 200
    assert fetch(fresh, path_of(bulletin["url"]), {"If-Modified-Since": modified})[0] == 200
    assert read_detail(fresh, "table", bulletin["url"])["body"] == new["body"]


def test_remove_takes_the_page_down_and_off_the_list(fresh):
    column = fresh.columns["scripted-count"]
    victim = column.bulletins[1]
    fresh.site.remove(victim["url"])
    assert fetch(fresh, path_of(victim["url"]))[0] == 404
    assert victim["url"] not in {b["url"] for b in column.bulletins}
    assert path_of(victim["url"]).rsplit("/", 1)[1] not in fetch(fresh, path_of(column.start_url))[2].decode()
    with pytest.raises(KeyError):
        fresh.site.remove(victim["url"])


def test_faults_hook_takes_over_a_path_and_requests_are_recorded(fresh):
    target = path_of(fresh.columns["xianning"].bulletins[0]["url"])
    calls = []

    def flaky(handler):
        calls.append(handler.path)
        if len(calls) == 1:
            handler.respond(503, b"busy", "text/plain", {"Retry-After": "1"})
        else:
            handler.serve_normally()

    fresh.faults[target] = flaky
    fresh.clear_requests()
    assert fetch(fresh, target)[0] == 503
    assert fetch(fresh, target + "?x=1", {"User-Agent": "replica-test"})[0] == 200
    del fresh.faults[target]
    assert fetch(fresh, "/robots.txt")[0] == 200
    log = fresh.requests
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", target, 503), ("GET", target + "?x=1", 200), ("GET", "/robots.txt", 200)]
    assert log[1]["headers"]["User-Agent"] == "replica-test" and len(calls) == 2
    fresh.clear_requests()
    assert fresh.requests == []


# --------------------------------------------------------------------------- determinism, size, CLI

def test_same_seed_same_corpus():
    with ReplicaPortal(per_family=8, seed=5) as one, ReplicaPortal(per_family=8, seed=5) as two:
        for name in ALL_FAMILIES:
            a = json.dumps(one.columns[name].bulletins, ensure_ascii=False).replace(one.host, "HOST")
            b = json.dumps(two.columns[name].bulletins, ensure_ascii=False).replace(two.host, "HOST")
            assert a == b
            pa = fetch(one, path_of(one.columns[name].bulletins[0]["url"]))[2].replace(one.host.encode(), b"HOST")
            pb = fetch(two, path_of(two.columns[name].bulletins[0]["url"]))[2].replace(two.host.encode(), b"HOST")
            assert pa == pb


def test_two_thousand_bulletins_are_served_whole():
    """A 2,000-bulletin replica (the benchmarks' size; its start-up and serving speed are
    measured by ``make bench ONLY=replica``) serves its last list page and its bulletins."""
    with ReplicaPortal(per_family=500, seed=2, families=FAMILIES) as portal:
        assert sum(len(c.bulletins) for c in portal.columns.values()) == 2000
        column = portal.columns["xianning"]
        last = math.ceil((500 + 1) / 15) - 1
        assert fetch(portal, f"{column.path}index_{last}.shtml")[0] == 200
        assert fetch(portal, f"{column.path}index_{last + 1}.shtml")[0] == 404
        for bulletin in column.bulletins[:50]:
            assert fetch(portal, path_of(bulletin["url"]))[0] == 200


def test_command_line_serves_until_sigterm(tmp_path):
    urls_file = tmp_path / "urls.txt"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.replica", "--per-family", "5", "--seed", "4", "--urls-file", str(urls_file)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while not urls_file.exists() and time.time() < deadline:
            time.sleep(0.05)
        urls = urls_file.read_text().split()
        assert len(urls) == len(ALL_FAMILIES) and all(u.startswith("http://127.0.0.1:") for u in urls)
        parts = urlsplit(urls[0])
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        conn.request("GET", parts.path)
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        process.send_signal(signal.SIGTERM)
        out, _err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert out.split() == urls


def test_six_argument_pager_counts_from_one(replica):
    """``createPageHTML('page_div', N, cur, 'index', 'html', total)``: page k is ``index_k``,
    page 1 is ``index.html``; ``index_1`` does not exist."""
    column = replica.columns["table"]
    assert replica.columns["table"].page_count >= 2
    assert fetch(replica, f"{column.path}index_1.html")[0] == 404
    status, _headers, body = fetch(replica, f"{column.path}index_2.html")
    assert status == 200
    assert page_numbers("table", body.decode()) == (column.page_count, 1)
    assert "createPageHTML('page_div', 2, 2, 'index', 'html', 20)" in body.decode()


# --------------------------------------------------------------------------- hanweb (大汉 JCMS)

HANWEB_PROXY = "/module/web/jpage/dataproxy.jsp"


def post(portal: ReplicaPortal, target: str, fields: dict[str, str], json_body: bool = False
         ) -> tuple[int, http.client.HTTPMessage, bytes]:
    """A POST with form fields (or a JSON object)."""
    body = json.dumps(fields).encode() if json_body else urlencode(fields).encode()
    kind = "application/json" if json_body else "application/x-www-form-urlencoded; charset=UTF-8"
    conn = http.client.HTTPConnection("127.0.0.1", portal.port, timeout=10)
    try:
        conn.request("POST", target, body=body, headers={"Content-Type": kind})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def hanweb_records(xml_text: str) -> list[lxml.html.HtmlElement]:
    """The ``<li>`` of each ``<record>`` of a Hanweb datastore (embedded or answered)."""
    root = lxml.etree.fromstring(xml_text.strip().encode(), lxml.etree.XMLParser(strip_cdata=False))
    return [lxml.html.fragment_fromstring(record.text.strip()) for record in root.iter("record")]


def hanweb_page(portal: ReplicaPortal) -> tuple[lxml.html.HtmlElement, str]:
    text = fetch(portal, path_of(portal.columns["hanweb"].start_url))[2].decode()
    return lxml.html.fromstring(text), text


def hanweb_form(tree: lxml.html.HtmlElement) -> dict[str, str]:
    """The form fields the list page's script posts to the data proxy."""
    script = next(s.text for s in tree.iter("script") if s.text and "jpage.show(" in s.text)
    return json.loads(script[script.index("(") + 1:script.rindex(")")])["form"]


def test_hanweb_list_page_embeds_xml_records_and_lists_nothing_in_html(replica):
    column = replica.columns["hanweb"]
    tree, text = hanweb_page(replica)
    assert column.start_url.endswith("/col/col1229/index.html") and column.list_pages == [column.start_url]
    [box] = tree.cssselect("div.bt-list")
    assert not box.cssselect("li"), "the list is data, not markup"
    [data] = box.cssselect('script[type="text/xml"]')
    records = hanweb_records(data.text)
    assert len(records) == 18 < len(column.bulletins), "three pages of six; the rest only from the proxy"
    urls = [urljoin(column.start_url, li.find("a").get("href")) for li in records]
    assert urls == [b["url"] for b in column.bulletins[:18]]
    assert all(re.fullmatch(r"/art/\d{4}/\d{1,2}/\d{1,2}/art_1229_\d+\.html", path_of(u)) for u in urls)
    assert [li.find("span").text for li in records] == [f"[{b['published']}]" for b in column.bulletins[:18]]
    nextgroup = re.search(r"<nextgroup><!\[CDATA\[<a href=\"([^\"]+)\"></a>\]\]></nextgroup>", text)[1]
    assert nextgroup.startswith(HANWEB_PROXY + "?page=1&") and "columnid=1229" in nextgroup and "&amp;" not in nextgroup
    assert hanweb_form(tree) == {"col": "1", "appid": "1", "webid": "3", "path": "/", "columnid": "1229",
                                 "sourceContentType": "1", "unitid": "4455229", "webname": "赤壁市人民政府",
                                 "permissiontype": "0"}
    assert len(tree.cssselect("ul.hot-list li")) == 8, "the sidebar is the only HTML list on the page"
    status, headers, script = fetch(replica, "/module/web/jpage/jpage.js")
    assert status == 200 and headers["Content-Type"].startswith("application/javascript")
    assert b"XMLHttpRequest" in script and b"startrecord" in script


def test_hanweb_proxy_answers_post_with_form_fields_and_get(replica):
    column = replica.columns["hanweb"]
    form = hanweb_form(hanweb_page(replica)[0])
    status, headers, body = post(replica, f"{HANWEB_PROXY}?startrecord=19&endrecord=36&perpage=6", form)
    assert status == 200 and headers["Content-Type"] == "text/xml;charset=UTF-8"
    text = body.decode()
    assert "<totalrecord>20</totalrecord>" in text and "<totalpage>4</totalpage>" in text
    rest = [urljoin(column.start_url, li.find("a").get("href")) for li in hanweb_records(text)]
    assert rest == [b["url"] for b in column.bulletins[18:]]
    assert column.page_count == 4
    by_get = fetch(replica, f"{HANWEB_PROXY}?" + urlencode({**form, "startrecord": 19, "endrecord": 36, "perpage": 6}))
    assert by_get[0] == 200 and by_get[2] == body
    group_two = fetch(replica, f"{HANWEB_PROXY}?" + urlencode({**form, "page": 2}))[2]
    assert group_two == body, "page=N asks for group N (three pages of records)"
    first = post(replica, f"{HANWEB_PROXY}?startrecord=1&endrecord=18&perpage=6", form)[2].decode()
    data = hanweb_page(replica)[0].cssselect('div.bt-list script[type="text/xml"]')[0].text
    assert [li.find("a").get("href") for li in hanweb_records(first)] == \
        [li.find("a").get("href") for li in hanweb_records(data)]
    other = post(replica, f"{HANWEB_PROXY}?startrecord=1&endrecord=18&perpage=6", {**form, "columnid": "1231"})[2]
    assert all("art_1231_" in li.find("a").get("href") for li in hanweb_records(other.decode()))
    unknown = post(replica, f"{HANWEB_PROXY}?startrecord=1&endrecord=18&perpage=6", {**form, "columnid": "9"})
    assert unknown[0] == 200 and "<totalrecord>0</totalrecord>" in unknown[2].decode()
    assert post(replica, f"{HANWEB_PROXY}?startrecord=1&endrecord=18", {"appid": "1"})[0] == 400
    assert post(replica, HANWEB_PROXY, form)[0] == 400, "no record range"
    assert post(replica, path_of(column.start_url), form)[0] == 405, "pages are not endpoints"
    log = [r for r in replica.requests if r["method"] == "POST"]
    assert log and all(isinstance(r["body"], bytes) for r in log)
    assert any(b"columnid=1231" in r["body"] for r in log)


# --------------------------------------------------------------------------- json-api

JSON_API = "/api/cms/content/list"


def json_list(portal: ReplicaPortal, **fields) -> dict:
    status, headers, body = post(portal, JSON_API, {k: str(v) for k, v in fields.items()}, json_body=True)
    assert status == 200 and headers["Content-Type"] == "application/json; charset=utf-8"
    return json.loads(body)["data"]


def test_json_api_list_page_is_a_shell_with_a_pinned_box(replica):
    column = replica.columns["json-api"]
    tree = lxml.html.fromstring(fetch(replica, path_of(column.start_url))[2].decode())
    assert column.start_url.endswith("/zfxxgk/dcdb/index.html") and column.list_pages == [column.start_url]
    assert column.endpoint == replica.base_url + JSON_API
    assert not tree.cssselect("ul#dataList li") and tree.cssselect("div#pager")
    script = "".join(s.text or "" for s in tree.iter("script"))
    assert JSON_API in script and '"POST"' in script and 'channelId: "dcdb"' in script
    pinned = [a.get("href") for a in tree.cssselect("div.pinned a")]
    assert [urljoin(column.start_url, h) for h in pinned] == [b["url"] for b in column.bulletins[:2]]
    assert all(re.fullmatch(r"\./detail\.jsp\?docId=\d+", h) for h in pinned)


def test_json_api_endpoint_pages_hold_the_truth_behind_tracking_links(replica):
    column = replica.columns["json-api"]
    first = json_list(replica, channelId="dcdb", pageNo=1, pageSize=15)
    assert first["total"] == 20 and first["pages"] == 2 == column.page_count and first["pageNo"] == 1
    items = first["list"] + json_list(replica, channelId="dcdb", pageNo=2, pageSize=15)["list"]
    assert all(item["url"].endswith(f"detail.jsp?docId={item['docId']}&from=list") for item in items)
    canonical = [urljoin(column.start_url, item["url"]).removesuffix("&from=list") for item in items]
    assert canonical == [b["url"] for b in column.bulletins]
    assert [(i["title"], i["publishTime"]) for i in items] == [(b["title"], b["published"]) for b in column.bulletins]
    assert json_list(replica, channelId="dcdb", pageNo=3, pageSize=15)["list"] == []
    by_get = fetch(replica, f"{JSON_API}?channelId=dcdb&pageNo=2&pageSize=15")
    by_form = post(replica, JSON_API, {"channelId": "dcdb", "pageNo": "2", "pageSize": "15"})
    assert json.loads(by_get[2])["data"]["list"] == json.loads(by_form[2])["data"]["list"] == items[15:]
    assert all("/zfxxgk/gzdt/" in i["url"] for i in json_list(replica, channelId="gzdt", pageNo=1)["list"])
    assert json_list(replica, channelId="nosuch", pageNo=1)["total"] == 0
    for bad in ({"pageNo": "1"}, {"channelId": "dcdb", "pageNo": "0"}, {"channelId": "dcdb", "pageSize": "x"}):
        status, _h, body = post(replica, JSON_API, bad, json_body=True)
        assert status == 400 and json.loads(body)["code"] == 400


def test_json_api_documents_are_told_apart_by_their_query_id_only(replica):
    column = replica.columns["json-api"]
    one, two = column.bulletins[:2]
    page = fetch(replica, target_of(one["url"]))
    assert page[0] == 200 and one["title"] in page[2].decode()
    for variant in (target_of(one["url"]) + "&from=list", target_of(one["url"]) + "&_t=1718000000",
                    path_of(one["url"]) + f"?from=list&docId={one['docid']}"):
        assert fetch(replica, variant)[2] == page[2], variant
    assert two["title"] in fetch(replica, target_of(two["url"]))[2].decode()
    assert fetch(replica, path_of(one["url"]))[0] == 404, "the script needs its id"
    assert fetch(replica, path_of(one["url"]) + "?docId=1")[0] == 404
    assert len({b["url"] for b in column.bulletins}) == len(column.bulletins)


def test_json_api_remove_and_add_by_query_url(fresh):
    column = fresh.columns["json-api"]
    victim = column.bulletins[1]
    fresh.site.remove(victim["url"])
    assert fetch(fresh, target_of(victim["url"]))[0] == 404
    assert victim["url"] not in {b["url"] for b in column.bulletins}
    added = fresh.site.add_bulletin("json-api", title="关于测试事项的督查通报", paragraphs=["正文。"])
    assert column.bulletins[0] == added and re.search(r"/zfxxgk/dcdb/detail\.jsp\?docId=\d+$", added["url"])
    assert json_list(fresh, channelId="dcdb", pageNo=1, pageSize=5)["list"][0]["docId"] == added["docid"]
    assert read_detail(fresh, "json-api", added["url"])["body"] == "正文。"


# --------------------------------------------------------------------------- epoint and backward (plain pagers)

def follow_pager(portal: ReplicaPortal, family: str, next_text: str, links: str) -> list[tuple[str, list[str]]]:
    """Every list page reached by following the page's own ``next_text`` link, with the
    absolute URLs of the entries ``links`` selects on it."""
    url, seen = portal.columns[family].start_url, []
    while url and len(seen) < 50:
        status, _headers, body = fetch(portal, target_of(url))
        assert status == 200, url
        tree = lxml.html.fromstring(body.decode())
        seen.append((url, [urljoin(url, a.get("href")) for a in tree.cssselect(links)]))
        nxt = [a.get("href") for a in tree.cssselect("a") if a.text_content() == next_text]
        url = urljoin(url, nxt[0]) if nxt and urljoin(url, nxt[0]) != url else ""
    return seen


def test_epoint_query_pager_with_query_only_links_and_hashed_names(fresh):
    column = fresh.columns["epoint"]
    assert column.start_url.endswith("/info/gkml/dcdb/iList.jsp")
    pages = follow_pager(fresh, "epoint", "下页", "div.ewb-job li a")
    assert [url for url, _ in pages] == column.list_pages == [column.start_url] + [
        f"{column.start_url}?cur_page={k}" for k in range(2, column.page_count + 1)]
    assert column.page_count == 2 and all(len(entries) <= 5 for _, entries in pages)
    assert [u for _, entries in pages for u in entries] == [b["url"] for b in column.bulletins]
    assert all(re.fullmatch(r"/xxgk/\d{8}/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\.html", path_of(b["url"]))
               for b in column.bulletins)
    first = fetch(fresh, path_of(column.start_url))[2]
    assert b'href="?cur_page=2">\xe4\xb8\x8b\xe9\xa1\xb5' in first, "query-only link: 下页"
    assert fetch(fresh, path_of(column.start_url) + "?cur_page=1")[2] == first, "page 1 twice, under two URLs"
    beyond = fetch(fresh, path_of(column.start_url) + "?cur_page=9")
    assert beyond[0] == 200 and "暂无信息" in beyond[2].decode() and not lxml.html.fromstring(
        beyond[2].decode()).cssselect("div.ewb-job li"), "past the end: an empty list, not a 404"
    last = lxml.html.fromstring(fetch(fresh, target_of(column.list_pages[-1]))[2].decode())
    assert [a.get("href") for a in last.cssselect("div.ewb-page a") if a.text_content() == "末页"] == ["?cur_page=2"]


def test_backward_pager_lives_in_a_subfolder_numbered_backwards(replica):
    column = replica.columns["backward"]
    n = column.page_count
    assert n == 2 and column.list_pages == [column.start_url] + [
        f"{replica.base_url}{column.path}list/index_{n - k}.shtml" for k in range(1, n)]
    pages = follow_pager(replica, "backward", "下一页", "table.doc-table td.td-title a")
    assert [url for url, _ in pages] == column.list_pages
    assert [u for _, entries in pages for u in entries] == [b["url"] for b in column.bulletins]
    assert all(re.fullmatch(rf"{column.path}\d{{6}}/{b['docid']}\.shtml", path_of(b["url"])) for b in column.bulletins)
    oldest = lxml.html.fromstring(fetch(replica, path_of(column.list_pages[-1]))[2].decode())
    hrefs = {a.text_content(): a.get("href") for a in oldest.cssselect("div.pages a")}
    assert hrefs["首页"] == "../index.shtml" and hrefs["尾页"] == "index_1.shtml" and "下一页" not in hrefs
    assert all(a.get("href").startswith("../") for a in oldest.cssselect("table.doc-table a"))
    first = lxml.html.fromstring(fetch(replica, path_of(column.start_url))[2].decode())
    assert {a.text_content(): a.get("href") for a in first.cssselect("div.pages a")}["下一页"] == f"list/index_{n - 1}.shtml"
    for missing in (f"list/index_{n}.shtml", "list/index_0.shtml", "index_1.shtml", "list/index.shtml"):
        assert fetch(replica, column.path + missing)[0] == 404, missing


def test_backward_page_names_shift_when_a_bulletin_is_added(fresh):
    """Static pages numbered from the oldest: a new bulletin adds a page, old names stay the oldest."""
    column = fresh.columns["backward"]
    before = column.list_pages
    while len(column.list_pages) == len(before):
        fresh.site.add_bulletin("backward")
    after = column.list_pages
    assert after[-1] == before[-1] and after[1].endswith(f"list/index_{len(after) - 1}.shtml")
    pages = follow_pager(fresh, "backward", "下一页", "table.doc-table td.td-title a")
    assert [u for _, entries in pages for u in entries] == [b["url"] for b in column.bulletins]


def test_script_built_lists_render_in_chromium(replica):
    """The shells' own scripts build the lists a browser shows: Hanweb's first page of six from
    the embedded XML with its pager, the JSON shell's first page from a POST to its endpoint."""
    expected = {"hanweb": ("ul.jpage-list li a", "div.jpage-pager a", 6), "json-api": ("ul#dataList li a", "div#pager a", 15)}
    for family, (items, pager, count) in expected.items():
        column = replica.columns[family]
        dom = subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                              "--virtual-time-budget=5000", "--dump-dom", column.start_url],
                             capture_output=True, text=True, timeout=60).stdout
        tree = lxml.html.fromstring(dom)
        links = [urljoin(column.start_url, a.get("href")).removesuffix("&from=list") for a in tree.cssselect(items)]
        assert links == [b["url"] for b in column.bulletins[:count]], family
        assert {"下页", "下一页"} & {a.text_content() for a in tree.cssselect(pager)}, family
        assert all(a.get("href").startswith("javascript:") for a in tree.cssselect(pager)), "no real link to follow"
