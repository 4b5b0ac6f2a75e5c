"""Pagination forms and the choice of the column's list among a page's links."""
import pytest

from pipelines.text import parse_html
from spiders.listing import bulletin_links
from spiders.pagination import MAX_PAGES, read_pagination


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
