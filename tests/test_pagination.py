"""Pagination forms and the choice of the column's list among a page's links."""
import pytest

from pipelines.text import parse_html
from spiders.listing import bulletin_links
from spiders.pagination import MAX_DOCUMENT_PAGES, MAX_PAGES, document_parts, read_pagination


@pytest.mark.parametrize(
    "script, url, expected",
    [
        ('createPageHTML(3, 0, "index", "shtml");', "http://h/c/index.shtml",
         ["index.shtml", "index_1.shtml", "index_2.shtml"]),
        ('createPageHTML("2", 1, "index", "shtml");', "http://h/c/index_1.shtml",
         ["index.shtml", "index_1.shtml"]),
        ("createPageHTML('page_div', 3, 1, 'index', 'html', 42);", "http://h/c/",
         ["index.html", "index_1.html", "index_2.html"]),
        ('var countPage = 2;//共多少页\ncreatePageHTML(countPage, 0, "index", "html");',
         "http://h/c/index.html", ["index.html", "index_1.html"]),
        ("var countPage = 2", "http://h/c/index.htm", ["index.htm", "index_1.htm"]),
    ],
)
def test_script_pagination(script, url, expected):
    tree = parse_html(f"<html><body><script>{script}</script></body></html>")
    assert read_pagination(tree, url).page_urls(url) == [f"http://h/c/{name}" for name in expected]


def test_next_page_links_and_index_names_in_the_same_folder_only():
    tree = parse_html('<a href="index_1.htm">下一页</a><a href="index_4.htm">尾页</a>'
                      '<a href="/other/index_2.htm">x</a><a href="javascript:;">下一页</a>')
    assert read_pagination(tree, "http://h/c/index.htm").page_urls("http://h/c/index.htm") == [
        "http://h/c/index_1.htm", "http://h/c/index_4.htm"]


def test_hostile_page_count_is_capped():
    tree = parse_html('<script>createPageHTML(99999999, 0, "index", "html")</script>')
    assert len(read_pagination(tree, "http://h/c/").page_urls("http://h/c/")) == MAX_PAGES


def test_the_column_list_wins_over_a_sidebar_of_the_same_shape():
    html = """<div class="side"><ul>
      <li><a href="/o/202001/t20200101_5.shtml">热点1</a><span>2020-01-01</span></li>
      <li><a href="/o/202001/t20200101_6.shtml">热点2</a><span>2020-01-01</span></li>
      <li><a href="/o/202001/t20200101_7.shtml">热点3</a><span>2020-01-01</span></li></ul></div>
    <div class="list"><ul>
      <li><a href="./202001/t20200101_1.shtml">a</a><span>2020-01-01</span></li>
      <li><a href="./202001/t20200101_2_slhxq.shtml">b</a><span>2020-01-01</span></li></ul>
      <ul><li><a href="/elsewhere/202001/t20200101_3.shtml">c</a><span>2020-01-01</span></li>
      <li><a href="http://mirror.example/c/202001/t20200101_4.shtml">d</a></li></ul></div>"""
    assert bulletin_links(parse_html(html), "http://h/c/index.shtml", "http://h/c/") == [
        "http://h/c/202001/t20200101_1.shtml",
        "http://h/c/202001/t20200101_2.shtml",
        "http://h/elsewhere/202001/t20200101_3.shtml",
        "http://mirror.example/c/202001/t20200101_4.shtml",  # the spider drops other hosts
    ]


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


def test_split_document_pages_only_from_the_first_page_and_capped():
    pager = b'<script>createPageHTML(99999, 0, "t20200916_2183980", "shtml");</script>'
    assert len(document_parts(pager, None, DOC)) == MAX_DOCUMENT_PAGES - 1
    assert document_parts(pager, None, DOC.replace(".shtml", "_1.shtml")) == []
    assert document_parts(pager, None, "http://h/c/index.shtml") == []
