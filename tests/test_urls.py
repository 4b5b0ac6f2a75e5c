"""Canonical URLs, TRS document shapes and hosts."""
import pytest

from pipelines.urls import canonical_url, column_of, docid_of, in_column, is_detail_url, netloc_of

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


def test_column_folder_and_membership():
    column = column_of("http://h/xxgk/zwdc/index_3.shtml")
    assert column == "http://h/xxgk/zwdc/"
    assert in_column("http://h/xxgk/zwdc/202001/t20200101_1.shtml", column)
    assert not in_column("http://h/xxgk/other/index_1.shtml", column)
    assert not in_column("http://h2/xxgk/zwdc/index_1.shtml", column)
