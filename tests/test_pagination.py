"""Pagination forms and the choice of the column's list among a page's links."""
import functools
import sys
from urllib.parse import urljoin

import pytest

from pipelines.extraction import attachment_urls
from pipelines.records import Page
from pipelines.text import parse_html, parse_page
from pipelines.urls import column_of
from spiders.listing import bulletin_links, list_entries, read_list
from spiders.pagination import MAX_DOCUMENT_PAGES, MAX_PAGES, document_parts, page_links, read_pager, read_pagination


@pytest.mark.parametrize(
    "script, url, expected",
    [   # four arguments: pages counted from 0 (page k is index_k-1)
        ('createPageHTML(3, 0, "index", "shtml");', "http://h/c/index.shtml",
         ["index.shtml", "index_1.shtml", "index_2.shtml"]),
        ('createPageHTML("2", 1, "index", "shtml");', "http://h/c/index_1.shtml",
         ["index.shtml", "index_1.shtml"]),
        # six arguments: pages counted from 1 (page k is index_k: page 2 is index_2)
        ("createPageHTML('page_div', 3, 1, 'index', 'html', 42);", "http://h/c/",
         ["index.html", "index_2.html", "index_3.html"]),
        ("createPageHTML('page_div', 2, 1, 'list', 'shtml', 30);", "http://h/c/list.shtml",
         ["list.shtml", "list_2.shtml"]),
        ('var countPage = 2;//共多少页\ncreatePageHTML(countPage, 0, "index", "html");',
         "http://h/c/index.html", ["index.html", "index_1.html"]),
        ("var countPage = 2", "http://h/c/index.htm", ["index.htm", "index_1.htm"]),
    ],
)
def test_script_pagination_is_guessed_with_the_likelier_naming_first(script, url, expected):
    tree = parse_html(f"<html><body><script>{script}</script></body></html>")
    assert read_pagination(tree, url).page_urls(url) == [f"http://h/c/{name}" for name in expected]


@pytest.mark.parametrize("args, first, other", [
    ("3, 0, 'index', 'shtml'", ("index_1.shtml", ["index_1.shtml", "index_2.shtml"]),
     ("index_3.shtml", ["index_2.shtml", "index_3.shtml"])),
    ("'page_div', 3, 1, 'index', 'shtml', 40", ("index_3.shtml", ["index_2.shtml", "index_3.shtml"]),
     ("index_1.shtml", ["index_1.shtml", "index_2.shtml"])),
])
def test_a_script_pager_is_a_guess_with_both_namings_and_the_page_that_tells_them_apart(args, first, other):
    pager = read_pager(parse_html(f"<script>createPageHTML({args});</script>"), "http://h/c/index.shtml")
    assert pager.kind == "script" and pager.announced == 3
    assert [(g.probe, list(g.urls)) for g in pager.guesses] == [
        (f"http://h/c/{first[0]}", [f"http://h/c/{n}" for n in first[1]]),
        (f"http://h/c/{other[0]}", [f"http://h/c/{n}" for n in other[1]])]


def test_no_guess_when_the_links_show_every_page():
    html = ('<script>createPageHTML(3, 0, "index", "shtml");</script>'
            '<a href="index_1.shtml">2</a><a href="index_2.shtml">3</a>')
    pager = read_pager(parse_html(html), "http://h/c/index.shtml")
    assert pager.guesses == () and pager.links == ("http://h/c/index_1.shtml", "http://h/c/index_2.shtml")


def test_next_page_links_and_index_names_under_the_column_only():
    tree = parse_html('<a href="index_1.htm">下一页</a><a href="index_4.htm">尾页</a>'
                      '<a href="/other/index_2.htm">x</a><a href="javascript:;">下一页</a>')
    pager = read_pagination(tree, "http://h/c/index.htm")
    assert pager.next_url == "http://h/c/index_1.htm"
    assert pager.page_urls("http://h/c/index.htm") == [  # numbered pages filled in between
        "http://h/c/index.htm", "http://h/c/index_1.htm", "http://h/c/index_4.htm",
        "http://h/c/index_2.htm", "http://h/c/index_3.htm"]
    assert pager.announced == 5


@pytest.mark.parametrize("text", ["下一页", "下页", "后页", "下一頁", "›", "»", "next", "Next"])
def test_every_word_of_a_next_link(text):
    pager = read_pager(parse_html(f'<a href="list_2.html">{text}</a>'), "http://h/c/list_1.html")
    assert pager.next_url == "http://h/c/list_2.html"


def test_pager_links_into_a_subfolder_numbered_backwards():
    html = ('<div class="page"><a href="list/index_4.html">下一页</a><a href="list/index_3.html">3</a>'
            '<a href="list/index_1.html">尾页</a></div>')
    pager = read_pager(parse_html(html), "http://h/c/index.html", "http://h/c/")
    assert pager.next_url == "http://h/c/list/index_4.html"
    assert sorted(pager.links) == [f"http://h/c/list/index_{n}.html" for n in (1, 2, 3, 4)]


@pytest.mark.parametrize("href, page_url", [
    ("?page=3", "http://h/c/list.jsp?page=2"),
    ("list.jsp?channelId=7&pageNo=3", "http://h/c/list.jsp?channelId=7&pageNo=2"),
    ("iList.jsp?cur_page=3", "http://h/c/iList.jsp"),
    ("list.do?pageIndex=3&size=15", "http://h/c/list.do?pageIndex=2&size=15"),
])
def test_query_string_pagers(href, page_url):
    pager = read_pager(parse_html(f'<a href="{href}">下一页</a><a href="{href.replace("3", "9")}">末页</a>'), page_url)
    assert pager.next_url == urljoin(page_url, href)
    assert urljoin(page_url, href.replace("3", "5")) in pager.links  # filled in between


def test_query_pager_counts_pages_from_one_when_the_first_link_says_so():
    html = '<a href="?cur_page=1">首页</a><a href="?cur_page=2">下页</a><a href="?cur_page=7">末页</a>'
    assert read_pager(parse_html(html), "http://h/c/iList.jsp").announced == 7
    html = '<a href="index.htm">首页</a><a href="index_1.htm">下一页</a><a href="index_6.htm">尾页</a>'
    assert read_pager(parse_html(html), "http://h/c/index.htm").announced == 7


@pytest.mark.parametrize("text", ["共 41 页", "共41页", "页次：1/41", "1/41页", "第1页/共41页"])
def test_announced_page_counts_in_text(text):
    assert read_pager(parse_html(f"<div class='page'>{text}</div>"), "http://h/c/index.html").announced == 41


def test_a_digit_that_is_no_number_is_no_page_number():
    """``①`` is a digit to str.isdigit() but no number to int(): reading the pager once failed."""
    pager = read_pager(parse_html('<a href="index_1.html">①</a><a href="index_2.html">2</a>'), "http://h/c/index.html")
    assert pager.links == ("http://h/c/index_1.html", "http://h/c/index_2.html")
    assert pager.announced == 2


def test_hostile_page_count_is_capped():
    tree = parse_html('<script>createPageHTML(99999999, 0, "index", "html")</script>')
    assert len(read_pagination(tree, "http://h/c/").page_urls("http://h/c/")) == MAX_PAGES


def test_the_column_list_wins_over_a_sidebar_of_the_same_shape():
    html = """<div class="side"><ul>
      <li><a href="/o/202001/t20200101_5.shtml">热点1</a><span>2020-01-01</span></li>
      <li><a href="/o/202001/t20200101_6.shtml">热点2</a><span>2020-01-01</span></li>
      <li><a href="/o/202001/t20200101_7.shtml">热点3</a><span>2020-01-01</span></li></ul></div>
    <div class="list"><ul>
      <li><a href="./202001/t20200101_1.shtml">关于一月常务会议议定事项的通报</a><span>2020-01-01</span></li>
      <li><a href="./202001/t20200101_2_slhxq.shtml">关于二月常务会议议定事项的通报</a><span>2020-01-01</span></li></ul>
      <ul><li><a href="/elsewhere/202001/t20200101_3.shtml">关于三月常务会议议定事项的通报</a><span>2020-01-01</span></li>
      <li><a href="http://mirror.example/c/202001/t20200101_4.shtml">关于四月常务会议议定事项的通报</a></li></ul></div>"""
    assert bulletin_links(parse_html(html), "http://h/c/index.shtml", "http://h/c/") == [
        "http://h/c/202001/t20200101_1.shtml",
        "http://h/c/202001/t20200101_2.shtml",
        "http://h/elsewhere/202001/t20200101_3.shtml",
        "http://mirror.example/c/202001/t20200101_4.shtml",  # the spider drops other hosts
    ]


def test_a_comment_after_a_bare_link_is_no_text_beside_it():
    """A comment beside a link standing alone once stopped the list reading (text_content() of a
    comment raises); its words are not the entry's date."""
    html = "<div>" + "".join(f'<a href="/c/{n}.html">第{n}号督查通报文件</a><!-- 2020-01-0{n} -->'
                             for n in range(1, 4)) + "</div>"
    entries = list_entries(parse_html(html), "http://h/c/", "http://h/c/")
    assert [(e.url, e.title, e.date) for e in entries] == [(f"http://h/c/{n}.html", f"第{n}号督查通报文件", None)
                                                         for n in range(1, 4)]


DOC = "http://h/c/202009/t20200916_2183980.shtml"


@pytest.mark.parametrize(
    "html, expected",
    [  # the document's own pager script, 4 and 6 arguments
        ('<script>createPageHTML(3, 0, "t20200916_2183980", "shtml");</script>', [1, 2]),
        ("<script>createPageHTML('page_article', 2, 1, 't20200916_2183980', 'shtml', 0);</script>", [1]),
        # links to its further pages (下一页 and numbers), in order, each once
        ('<a href="./t20200916_2183980_2.shtml">3</a><a href="t20200916_2183980_1.shtml">下一页</a>'
         '<a href="./t20200916_2183980_1.shtml">2</a>', [1, 2]),
        # not pages of this document: other views, another document, another folder, a list pager
        ('<a href="./t20200916_2183980_slhxq.shtml">适老化</a><a href="./t20200916_2183981_1.shtml">x</a>'
         '<a href="/other/t20200916_2183980_1.shtml">x</a>'
         '<script>createPageHTML(5, 0, "index", "shtml");</script>', []),
        ("<p>一篇短文</p>", []),
    ],
)
def test_pages_of_a_split_document(html, expected):
    body = f"<html><body>{html}</body></html>".encode()
    assert document_parts(body, "text/html; charset=utf-8", DOC) == [
        f"http://h/c/202009/t20200916_2183980_{n}.shtml" for n in expected]


def test_a_bulletin_page_is_parsed_once_for_its_further_pages_and_its_files():
    """The crawl hands one lazily parsed tree to both readers of a bulletin page (a page of
    100 KB costs milliseconds to parse); each still reads what it read from its own parse."""
    body = ('<html><body><p>正文</p><a href="./P020200916.pdf">附件1.pdf</a>'
            '<script>createPageHTML(2, 0, "t20200916_2183980", "shtml");</script></body></html>').encode()
    parses: list[int] = []

    def parse_counted() -> object:
        parses.append(1)
        return parse_page(body, "text/html; charset=utf-8")

    parsed, asked = functools.cache(parse_counted), []

    def tree_of() -> object:
        asked.append(1)
        return parsed()

    page = Page(url=DOC, source_url=DOC, status=200, headers={"Content-Type": "text/html; charset=utf-8"},
                body=body, fetched_at="2020-09-16T00:00:00Z")
    assert document_parts(body, "text/html; charset=utf-8", DOC, tree_of) == [
        "http://h/c/202009/t20200916_2183980_1.shtml"]
    assert attachment_urls(page, tree_of) == attachment_urls(page) == ["http://h/c/202009/P020200916.pdf"]
    assert len(asked) == 2 and parses == [1]  # both read the shared tree, parsed once


def test_split_document_pages_only_from_the_first_page_and_capped():
    pager = b'<script>createPageHTML(99999, 0, "t20200916_2183980", "shtml");</script>'
    assert len(document_parts(pager, None, DOC)) == MAX_DOCUMENT_PAGES - 1
    assert document_parts(pager, None, DOC.replace(".shtml", "_1.shtml")) == []
    assert document_parts(pager, None, "http://h/c/index.shtml") == []


# --------------------------------------------------------------------------- the list by structure

PORTAL_PAGE = """<html><body>
<div class="header"><ul class="nav"><li><a href="/">首页</a></li><li><a href="/xxgk/">信息公开</a></li>
  <li><a href="/col/col9/index.html">政策文件解读专栏</a></li></ul></div>
<div class="position">当前位置:<a href="/">首页</a> &gt; <a href="/col/col1/index.html">政务督查</a></div>
<div class="main"><div class="list-box"><ul class="doc-list">{items}</ul>
  <div class="page"><a href="?page=2">下一页</a></div></div>
<div class="side"><h3>相关推荐</h3><ul class="hot">{side}</ul></div></div>
<div class="footer"><a href="http://www.gov.cn/">中国政府网</a><a href="/about.html">关于本网站的联系方式</a></div>
</body></html>"""


@pytest.mark.parametrize("hrefs", [
    ["/art/2024/3/5/art_1229_{n}.html"],            # dated art_ pages outside the column folder
    ["detail.jsp?docId={n}", "detail.jsp?docId={n}&from=list"],  # query-string ids (one document, two ways)
    ["/xxgk/20240305/0a1b2c3d-{n}-4e5f-aaaa-bbbbccccdddd.html"],  # hashed names
    ["/c/202403/{n}.html"],                           # numeric ids
])
def test_entries_by_structure_whatever_the_url_shape(hrefs):
    items = "".join(f'<li><a href="{hrefs[n % len(hrefs)].format(n=n)}" title="关于第{n}批督查事项落实情况的通报">'
                    f'关于第{n}批督查事项落实情况的通报</a><span>2024-03-{n:02d}</span></li>' for n in range(1, 8))
    side = "".join(f'<li><a href="/art/2024/1/1/art_9_{n}.html">热点新闻标题第{n}条内容</a><span>2024-01-01</span></li>'
                   for n in range(1, 10))
    page = "http://h/c/list.jsp?channelId=7"
    entries = list_entries(parse_html(PORTAL_PAGE.format(items=items, side=side)), page, column_of(page))
    assert [e.title for e in entries] == [f"关于第{n}批督查事项落实情况的通报" for n in range(1, 8)]
    assert [e.date for e in entries] == [f"2024-03-{n:02d}" for n in range(1, 8)]
    assert len({e.url for e in entries}) == 7 and not any("from=" in e.url for e in entries)


def _flat_list(links: int) -> str:
    return "<ul>" + "".join(f'<li><a href="/art/{n}.html">第{n}号督查通报</a><span>2024-01-01</span></li>'
                            for n in range(links)) + "</ul>"


def _calls(function, *args) -> int:
    """Python and C function calls made by ``function(*args)``: a measure of work, not of time."""
    count = 0

    def profile(_frame, event, _arg):
        nonlocal count
        if event in ("call", "c_call"):
            count += 1
    sys.setprofile(profile)
    try:
        function(*args)
    finally:
        sys.setprofile(None)
    return count


def test_list_reading_is_linear_in_links():
    """Issue #14: 100k links once took 133 s (a list scanned for every link). Ten times the links
    must cost about ten times the work; the timing itself is in benchmarks/."""
    small, large = (parse_html(_flat_list(n)) for n in (2_000, 20_000))
    small_calls = _calls(list_entries, small, "http://h/c/", "http://h/c/")
    large_calls = _calls(list_entries, large, "http://h/c/", "http://h/c/")
    assert len(list_entries(large, "http://h/c/", "http://h/c/")) == 20_000
    assert large_calls < 10.5 * small_calls, (small_calls, large_calls)


def test_pager_reading_is_linear_in_links():
    small, large = (parse_html(_flat_list(n) + '<a href="index_1.html">下一页</a>') for n in (2_000, 20_000))
    assert _calls(read_pager, large, "http://h/c/index.html") < 10.5 * _calls(read_pager, small, "http://h/c/index.html")


def test_list_and_pager_from_one_pass_over_the_links_as_each_read_alone():
    """The crawl reads a page's links once for both (``page_links``): the same entries and pager
    as reading each alone, pager links found by their text, their block and their name."""
    entries = "".join(f'<li><a href="/c/202401/t20240101_{n}.html">第{n}号督查情况通报</a><span>2024-01-0{n}</span></li>'
                      for n in range(1, 8))
    page = parse_html(
        f'<html><body><ul class="list">{entries}</ul>'
        '<div class="pagebar"><a href="index_1.html">2</a><a href="index_2.html">下一页</a>'
        '<a href="list_9.html">往期督查通报合集（第九期）</a></div>'
        '<p><a href="index_5.html">二〇二三年以前的督查通报</a></p></body></html>')
    url = "http://h/c/index.html"
    read = page_links(page, url)
    together = read_list(page, url, "http://h/c/", links=read), read_pager(page, url, "http://h/c/", read)
    alone = read_list(page, url, "http://h/c/"), read_pager(page, url, "http://h/c/")
    assert together == alone
    reading, pager = together
    assert [(e.url, e.date) for e in reading.entries][:2] == [
        ("http://h/c/202401/t20240101_1.html", "2024-01-01"), ("http://h/c/202401/t20240101_2.html", "2024-01-02")]
    assert len(reading.entries) == 7
    assert pager.next_url == "http://h/c/index_2.html"
    # a long text in the pager's block, a long text named like the page: pager links all the same
    assert {"http://h/c/list_9.html", "http://h/c/index_5.html"} <= set(pager.links)


def test_a_pager_block_holds_the_links_up_to_three_levels_inside_it():
    """A link saying no pager word and no page number (an arrow image) is the pager's when it
    stands at most three levels inside a block whose class or id says pager; a fourth level is
    too deep to be its own."""
    blocks = ('<div id="fenye"><a href="first.html"><img src="prev.gif"></a><span><a href="prev.html"><img></a></span>'
              '<ul><li><a href="next.html"><img></a></li><li><b><a href="deep.html"><img></a></b></li></ul></div>'
              '<table class="PageBar"><tr><td><a href="last.html"><img></a></td></tr></table>')
    page = parse_html(f'<html><body><ul class="list"><li><a href="t1.html">第一号督查情况通报</a></li></ul>{blocks}</body></html>')
    url = "http://h/c/index.html"
    for pager in (read_pager(page, url, "http://h/c/"), read_pager(page, url, "http://h/c/", page_links(page, url))):
        assert [link for link in pager.links if not link.startswith("http://h/c/index")] == [
            "http://h/c/first.html", "http://h/c/prev.html", "http://h/c/next.html", "http://h/c/last.html"]


def test_a_target_decided_at_once_is_decided_as_by_each_rule():
    """``_plain_href`` takes most entries' targets at once (issue #14: a page may carry 100,000
    links); whatever it takes must be what each of its rules would make of it."""
    from itertools import product

    from spiders.listing import _checked_href, _plain_href
    starts = ["", " ", "\u3000", "#", "/", "./", "../", "x", "7", "_", "javascript:", "JavaScript:", "mailto:",
              "tel:", "file:", "http://h/", "//h/"]
    middles = ["", "a", "a.pdf", "a?b", "a#b", "文件", "a b"]
    endings = ["", ".html", ".HTML", ".htm", ".shtml", ".jsp", ".php", ".asp", ".aspx", ".pdf", ".PDF",
               ".html ", ".html\n", ".pdf.html", ".html?x.pdf", ".html#a.pdf", "?id=1.html", "#x.html", ".doc", "/"]
    taken = 0
    for start, middle, ending in product(starts, middles, endings):
        href = start + middle + ending
        assert _plain_href(href) == _checked_href(href), href
        taken += _plain_href(href) is href and href.endswith((".html", ".htm", ".shtml", ".jsp", ".php"))
    assert taken > 100  # the quick way was taken, and agreed
    assert _plain_href(None) is None and _plain_href("") is None
