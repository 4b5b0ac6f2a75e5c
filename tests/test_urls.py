"""Canonical URLs, TRS document shapes and hosts."""
from itertools import product

import pytest

from pipelines.urls import LinkResolver, _origin_netloc, _url_netloc, canonical_url, column_of, docid_of, in_column, is_detail_url, netloc_of

PLAIN = "http://www.xianning.gov.cn/xxgk/xxgkml/qtzdgknr/zwdc/202009/t20200916_2183980.shtml"


@pytest.mark.parametrize(
    "variant",
    [
        PLAIN,
        PLAIN.replace(".shtml", "_slhxq.shtml"),
        PLAIN.replace(".shtml", "_app.shtml"),
        PLAIN.replace(".shtml", "_2.shtml"),
        PLAIN.replace("www.xianning", "WWW.Xianning") + "?from=timeline#top",
        PLAIN.replace("gov.cn/", "gov.cn:80/"),
        PLAIN.replace("/202009/", "/x/../202009/"),
    ],
)
def test_views_of_one_document_share_the_canonical_url(variant):
    assert canonical_url(variant) == PLAIN
    assert docid_of(variant) == "2183980"
    assert is_detail_url(variant)


@pytest.mark.parametrize("ext", ["html", "htm", "shtml"])
def test_other_trs_extensions_are_documents(ext):
    assert is_detail_url(f"http://h/zwgk/202103/t20210305_42.{ext}")


@pytest.mark.parametrize(
    "url",
    ["http://h/zwdc/index_2.shtml", "http://h/zwdc/", "javascript:void(0)", "mailto:a@b",
     "ftp://h/t20200916_1.shtml", "http://[::1/", "http://h:99999/t20200101_1.html", ""],
)
def test_non_documents(url):
    assert not is_detail_url(url)
    assert docid_of(url) is None


def test_hosts_keep_non_default_ports():
    assert netloc_of("http://127.0.0.1:8080/a") == "127.0.0.1:8080"
    assert netloc_of("https://Example.ORG:443/a") == "example.org"
    assert netloc_of("file:///etc/passwd") == ""


def test_a_host_read_from_its_origin_is_the_host_of_the_whole_url():
    """``netloc_of`` reads ``scheme://authority`` once per origin (a list page asks it of 100,000
    links): for odd schemes, authorities and what follows them, the same as splitting each URL."""
    schemes = ["http", "HTTPS", "ftp", "file", "javascript", "h-t.t+p", "1http", " http", "http\t", ""]
    authorities = ["h", "WWW.Example.ORG", "h:80", "h:8080", "h:443", "h:99999", "h:x", "[::1]:8080", "[::1",
                   "user:pw@H:81", "政府.cn", "ｈｏｓｔ", "h\n", "h o", "h ", "h\t", " h", "h\x00", "", ":80", "h%41"]
    rests = ["", "/", "/a/b.html", "?q=1", "#top", "/a\tb", " ", "\n", "/x y", "//more", "?x=http://o/"]
    urls = [f"{scheme}{sep}{authority}{rest}" for scheme, sep, authority, rest
            in product(schemes, ["://", ":/", ":"], authorities, rests)]
    assert [netloc_of(url) for url in urls] == [_url_netloc(url) for url in urls]
    _origin_netloc.cache_clear()
    assert [netloc_of(f"http://127.0.0.1:8080/c/{n}.html") for n in range(100)] == ["127.0.0.1:8080"] * 100
    assert _origin_netloc.cache_info().hits == 99  # the quick way: one reading for the origin


def test_column_folder_and_membership():
    column = column_of("http://h/xxgk/zwdc/index_3.shtml")
    assert column == "http://h/xxgk/zwdc/"
    assert in_column("http://h/xxgk/zwdc/202001/t20200101_1.shtml", column)
    assert not in_column("http://h/xxgk/other/index_1.shtml", column)
    assert not in_column("http://h2/xxgk/zwdc/index_1.shtml", column)


@pytest.mark.parametrize("url, canonical", [
    ("http://h/c/detail.jsp?docId=7&from=list", "http://h/c/detail.jsp?docId=7"),
    ("http://h/c/detail.html?id=5&utm_source=wx&spm=a.b", "http://h/c/detail.html?id=5"),
    ("http://h/c/show.do?articleId=9&_=1700000000000&t=1700000000", "http://h/c/show.do?articleId=9"),
    ("http://h/c/show.do?view=print&articleId=9&mobile=1", "http://h/c/show.do?articleId=9"),
    ("http://h/c/list.jsp?pageNo=2&channelId=7", "http://h/c/list.jsp?channelId=7&pageNo=2"),
    ("http://h/art/2024/3/5/art_1229_42.html?from=timeline", "http://h/art/2024/3/5/art_1229_42.html"),
])
def test_canonical_urls_keep_the_parameters_that_identify_a_document(url, canonical):
    assert canonical_url(url) == canonical
    assert canonical_url(canonical) == canonical


def test_two_documents_never_share_a_canonical_url():
    urls = ["http://h/c/detail.jsp?docId=1", "http://h/c/detail.jsp?docId=2", "http://h/c/detail.jsp?id=1",
            "http://h/c/info.jsp?docId=1", "http://h/c/detail.jsp?docId=1&siteId=2"]
    assert len({canonical_url(url) for url in urls}) == len(urls)


def test_one_document_reached_two_ways_gets_one():
    assert canonical_url("http://H/c/d.jsp?b=2&a=1#x") == canonical_url("http://h:80/c/./d.jsp?a=1&b=2&utm_medium=x")


def test_a_list_s_urls_made_canonical_at_once_as_each_alone():
    """``LinkResolver.canonical_urls`` looks for TRS views in all of a list's URLs at once (a list
    may carry 100,000): for plain paths with and without a view or page suffix, in either case,
    the same URLs as :func:`canonical_url` of each."""
    stems = ["t20200916_2183980", "T20200916_2183980", "t2020091_1", "t20200916_", "t20200916_7x", "at20200916_1"]
    views = ["", "_slhxq", "_APP", "_2", "_123", "_1234", "_x", "_slhxq_2"]
    exts = [".shtml", ".HTML", ".htm", ".html5", ".php"]
    folders = ["./202009/", "/xxgk/zwdc/202009/", "", "t/"]
    resolver = LinkResolver("http://www.example.gov.cn/xxgk/zwdc/index.shtml")
    odd = ["http://WWW.example.gov.cn:80/xxgk/zwdc/202009/t20200916_1_2.shtml", "../202009/t20200916_2_slhxq.shtml", "../list/t20200916_9.shtml",
           "t20200916_3_2.shtml?id=1", "./a b/t20200916_4_2.shtml", "javascript:void(0)", "//other.cn/t20200916_5.htm",
           "/.hidden/t20200916_6_2.shtml", "202009//t20200916_7_2.shtml", "#top", "./", "/"]
    for chosen, mixed in product((views, [""]), ([], odd)):  # views or none; plain paths alone or mixed with odd ones
        hrefs = [folder + stem + view + ext for folder, stem, view, ext in product(folders, stems, chosen, exts)]
        hrefs[len(hrefs) // 2:len(hrefs) // 2] = mixed
        each = [url and canonical_url(url) for url in map(resolver.web_url, hrefs)]
        assert resolver.canonical_urls(hrefs) == each
    assert resolver.canonical_urls(["./202009/t20200916_2183980_slhxq.shtml", "./202009/T20200916_2183980_2.HTML"]) == [
        "http://www.example.gov.cn/xxgk/zwdc/202009/t20200916_2183980.shtml",
        "http://www.example.gov.cn/xxgk/zwdc/202009/T20200916_2183980.HTML"]
