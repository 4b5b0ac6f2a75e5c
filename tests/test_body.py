"""Body extraction: Word span soup, tables, chrome, encodings, unknown templates."""
import pytest
from lxml import etree

from spiders.items import BulletinPage
from pipelines.body import container_names, extract_body
from pipelines.extraction import extract_record
from pipelines.text import decode_html, parse_html, parse_html_checked

WORD_SOUP = (
    '<div class="TRS_Editor"><p class="MsoNormal" style="text-indent:32pt">'
    '<span style="font-family:仿宋_GB2312">　　</span><span lang="EN-US">2019</span>'
    '<span style="font-family:仿宋_GB2312">年</span><span lang="EN-US">11</span>'
    '<span style="font-family:仿宋_GB2312">月</span><span lang="EN-US">-2020</span>'
    '<span>年</span><span lang="EN-US">6</span><span>月市政府共召开</span>'
    '<span lang="EN-US">10<o:p></o:p></span><span>次常务会议并印发纪要。</span></p>'
    '<p class="MsoNormal"><b><span>(一)</span></b><span>2019</span><span>年</span>'
    '<span>11</span><span>月</span><span>21</span><span>日市政府第</span><span>16</span>'
    '<span>次常务会议</span></p>'
    '<p class="MsoNormal">&nbsp;</p>'
    '<table class="MsoTableGrid"><tr><td><p class="MsoNormal"><span>指标</span></p></td>'
    '<td><p class="MsoNormal"><span>完成</span></p></td></tr>'
    '<tr><td><p>GDP</p></td><td><p>616.57<span>亿元</span></p></td></tr></table>'
    "<p>责任编辑：李四</p>"
    '<p>附件：<a href="./P020200916.pdf">1.督查通报.pdf</a></p></div>'
)


def page(html: str, content_type: str = "text/html; charset=utf-8", url: str | None = None) -> BulletinPage:
    url = url or "http://h/zwdc/202009/t20200916_1.shtml"
    body = html.encode("utf-8") if isinstance(html, str) else html
    return BulletinPage(url, url, 200, {"Content-Type": content_type}, body, "2026-01-01T00:00:00+00:00")


def test_word_span_soup_keeps_split_dates_and_every_character():
    body = extract_body(parse_html(f"<html><body>{WORD_SOUP}</body></html>"))
    assert body.container == "div.TRS_Editor"
    assert body.lines == [
        "2019年11月-2020年6月市政府共召开10次常务会议并印发纪要。",
        "(一)2019年11月21日市政府第16次常务会议",
        "指标\t完成",
        "GDP\t616.57亿元",
    ]


def test_gbk_page_declared_only_in_meta_decodes_without_mojibake():
    html = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
            '<title>关于督查通报_某市</title></head><body><h1>关于督查通报</h1>'
            '<div class="Custom_UnionStyle"><p>咸宁市政府政务督查室〔2020〕7号“通报”</p></div>'
            "</body></html>")
    raw = html.encode("gbk")
    text, encoding, _declared = decode_html(raw, "text/html")
    assert encoding == "gb18030" and "咸宁市政府政务督查室〔2020〕7号“通报”" in text
    record = extract_record(page(raw, content_type="text/html"))
    assert record.body == "咸宁市政府政务督查室〔2020〕7号“通报”"
    assert record.title == "关于督查通报"


def test_header_lying_about_charset_loses_to_the_bytes():
    raw = "<html><body><div id='zoom'><p>督查通报</p></div></body></html>".encode("gbk")
    assert extract_record(page(raw, content_type="text/html; charset=utf-8")).body == "督查通报"


def test_title_never_takes_the_browser_title_suffix_and_falls_back_to_url_date():
    html = ("<html><head><title>关于某项工作的督查通报_咸宁市人民政府</title></head><body>"
            "<div class='logo'><h1>咸宁市人民政府</h1></div><h1>关于某项工作的督查通报</h1>"
            "<div id='zoom'><p>正文。</p></div></body></html>")
    record = extract_record(page(html))
    assert record.title == "关于某项工作的督查通报"
    assert record.published == "2020-09-16"  # from t20200916_ in the URL
    assert record.index_no == "" and record.issued is None


def test_unknown_template_falls_back_to_trafilatura_located_container():
    paragraphs = [f"第{i}段:市政府政务督查室对常务会议纪要确定事项进行了督办,现将有关情况通报如下。" for i in range(6)]
    html = ("<html><head><meta name='ArticleTitle' content='关于X的通报'>"
            "<meta name='PubDate' content='2021-03-05 10:20'></head><body>"
            "<div class='nav'><a href='/'>首页</a> <a href='/zwgk/'>政务公开</a></div>"
            "<div class='main'><h1>关于X的通报</h1><div class='wz_article_text'>"
            + "".join(f"<p>　　{p}</p>" for p in paragraphs)
            + "<p>责任编辑：王五</p></div></div><div class='footer'>主办单位：咸宁市人民政府办公室 "
            "鄂ICP备05003311号</div></body></html>")
    record = extract_record(page(html, url="http://h/zwgk/zwdc/202103/t20210305_9.html"))
    assert record.extraction["container"] == "trafilatura"
    assert record.body == "\n".join(paragraphs)
    assert record.title == "关于X的通报" and record.published == "2021-03-05"


def test_attachment_lists_become_attachments_not_body():
    record = extract_record(page(f"<html><body><h1>T</h1>{WORD_SOUP}</body></html>"))
    assert [a.name for a in record.attachments] == ["1.督查通报.pdf"]
    assert record.attachments[0].url == "http://h/zwdc/202009/P020200916.pdf"
    assert "附件" not in record.body and "责任编辑" not in record.body


def test_broken_and_empty_html_never_raise():
    for junk in [b"", b"\x00\xff\xfe", b"<html><body><div class='TRS_Editor'><p>a<p>b</td></body>",
                 b"<?xml version='1.0' encoding='utf-8'?><html><body>x</body></html>"]:
        extract_record(page(junk))


#: A bulletin page declaring ``{charset}`` in its ``<meta>``: title, metadata block, body.
CHARSET_PAGE = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">'
    "<title>编码测试：关于督查情况的通报_某市</title></head><body>"
    "<ul><li>索引号：011352/2024-00012</li><li>发布机构：市政府办公室</li><li>主题分类：其他</li></ul>"
    "<h1>编码测试：关于督查情况的通报</h1><div class='TRS_Editor'>"
    + "".join(f"<p>第{i}项：市政府督查室会同有关部门开展专项督查，整改落实到位。</p>" for i in range(1, 30))
    + "</div></body></html>"
)


def _with_stray_byte(raw: bytes, encoding: str, stray: bytes) -> bytes:
    """``raw`` with its first body "。" replaced by one byte no decoder of ``encoding`` accepts."""
    full_stop = "。".encode(encoding)
    at = raw.index(full_stop, raw.index("第1项".encode(encoding)))
    return raw[:at] + stray + raw[at + len(full_stop):]


def _expected_body() -> str:
    lines = [f"第{i}项：市政府督查室会同有关部门开展专项督查，整改落实到位。" for i in range(1, 30)]
    lines[0] = lines[0].replace("。", "\ufffd", 1)
    return "\n".join(lines)


def test_a_lying_charset_plus_one_stray_byte_costs_one_character():
    """GBK sent as UTF-8 with one \\xff, and UTF-8 sent as GBK with one \\x80: the bytes win."""
    cases = [
        (CHARSET_PAGE.format(charset="utf-8").encode("gbk"), "gbk", b"\xff", "utf-8", "gb18030"),
        (CHARSET_PAGE.format(charset="gbk").encode("utf-8"), "utf-8", b"\x80", "gbk", "utf-8"),
    ]
    for raw, actual, stray, declared, used in cases:
        damaged = _with_stray_byte(raw, actual, stray)
        decoded = decode_html(damaged, f"text/html; charset={declared}")
        assert (decoded.encoding, decoded.overruled) == (used, True)
        assert decoded.text.count("\ufffd") == 1
        record = extract_record(page(damaged, content_type=f"text/html; charset={declared}"))
        assert record.title == "编码测试：关于督查情况的通报"
        assert (record.index_no, record.publisher) == ("011352/2024-00012", "市政府办公室")
        assert record.body == _expected_body()
        assert record.extraction["encoding"] == used
        assert record.extraction["declared_encoding"] == decode_html(b"", f"text/html; charset={declared}").declared


def test_truthful_and_single_byte_declarations():
    gbk = CHARSET_PAGE.format(charset="gb2312").encode("gbk")
    damaged = _with_stray_byte(gbk, "gbk", b"\xff")  # declared right: still one character lost
    decoded = decode_html(damaged, "text/html")
    assert (decoded.encoding, decoded.overruled, decoded.text.count("\ufffd")) == ("gb18030", False, 1)
    # A server's default ISO-8859-1 decodes anything without an error: no evidence at all.
    assert decode_html(gbk, "text/html; charset=iso-8859-1").encoding == "gb18030"
    assert decode_html(b"\xef\xbb\xbf" + "编码测试".encode(), "text/html; charset=gbk").text == "编码测试"
    assert decode_html(b"<p>ascii</p>", None) == ("<p>ascii</p>", "utf-8", "")


def test_nesting_deeper_than_the_parser_keeps_is_parsed_whole():
    """libxml2 stops at 256 levels and drops the rest of the page; the page is flattened instead."""
    wrapped = "<div>" * 1_000_000 + WORD_SOUP + "</div>" * 1_000_000
    html = f"<html><body><h1>深层嵌套的通报</h1>{wrapped}<p>页尾的说明。</p></body></html>"
    record = extract_record(page(html))
    plain = extract_record(page(f"<html><body><h1>深层嵌套的通报</h1>{WORD_SOUP}<p>页尾的说明。</p></body></html>"))
    assert record.body == plain.body and record.title == plain.title == "深层嵌套的通报"
    assert record.extraction["container"] == "div.TRS_Editor"
    assert "flattened" in record.extraction["nesting"] and "nesting" not in plain.extraction


UTF8_PAGES = [
    f"<html><head><title>通报</title></head><body>{WORD_SOUP}</body></html>",
    f"<?xml version='1.0' encoding='gbk'?>\n<html><body>{WORD_SOUP}</body></html>",  # lxml refuses it as text
    "<?xml version='1.0'?><?xml version='1.0' encoding='gbk'?><p>督查</p>",  # ... once left after the first
    '<meta charset="gbk"><div id="ZOOM"><p>督查\x00通报\x0b😀</p></div>',  # a declaration the bytes overrule
    "\u3000 \n\u3000",  # blank to a text
    "",
    "<p>1</p>" + "<div>" * 300 + "深层" + "</div>" * 300 + "<p>尾</p>",  # flattened
]


@pytest.mark.parametrize("html", UTF8_PAGES)
def test_valid_utf8_is_parsed_as_its_bytes_into_the_tree_of_its_text(html: str) -> None:
    """Extraction parses a valid UTF-8 page as bytes (no text of the page beside its tree): the
    same tree, nesting flag and container names as its text gives."""
    raw = html.encode("utf-8")
    kept, decoded = decode_html(raw, "text/html; charset=gbk", keep_utf8=True), decode_html(raw, "text/html; charset=gbk")
    assert kept.text == raw and (kept.encoding, kept.declared) == (decoded.encoding, decoded.declared)
    (tree, flattened), (text_tree, text_flattened) = parse_html_checked(kept.text), parse_html_checked(decoded.text)
    assert etree.tostring(tree, encoding="unicode") == etree.tostring(text_tree, encoding="unicode")
    assert flattened == text_flattened and container_names(kept.text) == container_names(decoded.text)


def test_bytes_that_are_not_utf8_are_decoded_as_before() -> None:
    raw = "<p>咸宁市督查通报</p>".encode("gbk")
    assert decode_html(raw, "text/html; charset=gbk", keep_utf8=True) == decode_html(raw, "text/html; charset=gbk")
