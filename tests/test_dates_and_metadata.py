"""Dates and the label-based metadata parser, on the layouts portals use."""
import pytest

from pipelines.dates import parse_date
from pipelines.metadata import parse_metadata
from pipelines.text import element_lines, parse_html


@pytest.mark.parametrize(
    "text, iso",
    [
        ("2020年09月16日", "2020-09-16"),
        ("2020年9月6日 10:20:00", "2020-09-06"),
        ("2020-09-16", "2020-09-16"),
        ("2020/9/16", "2020-09-16"),
        ("2020.09.16", "2020-09-16"),
        ("发布日期：2021-03-05 10:20", "2021-03-05"),
        ("2020年2月30日", None),
        ("无", None),
        ("", None),
    ],
)
def test_dates_to_iso(text, iso):
    assert parse_date(text) == iso


def test_compact_dates_only_when_asked():
    assert parse_date("t20200916_2183980") is None
    assert parse_date("t20200916_2183980", compact=True) == "2020-09-16"


def lines_of(html: str) -> list[str]:
    return element_lines(parse_html(html))


XIANNING_LIST = """<ul>
<li>索 引 号：011336909/2020-13926</li><li>文&nbsp;&nbsp;号：</li>
<li>发布机构： 咸宁市政府办公室</li><li>主题分类：政务督查</li><li>有　效　性：有效</li>
<li>发布日期：2020年09月16日</li><li>名&nbsp; 称：关于督查通报</li></ul>"""

PAIRS_TABLE = """<table>
<tr><td>索引号:</td><td>011336909/2022-00001</td><td>文号:</td><td>咸政办发〔2022〕1号</td></tr>
<tr><td>主题分类</td><td>政务督查</td><td>发文单位</td><td>咸宁市人民政府办公室</td></tr>
<tr><td>名称:</td><td>关于印发某办法的通知</td><td>发布日期:</td><td>2022-01-05</td></tr>
<tr><td>有效性:</td><td>有效</td><td>发文日期:</td><td>2021-12-30</td></tr></table>"""

SPAN_PAIRS = """<div><p><span class="lab">索取号:</span><span>MB1/2021-7</span></p>
<p><span>发文字号:</span><span>无</span></p><p><span>发文机关:</span><span>市政府督查室</span></p>
<p><span>信息分类:</span><span>政务督查</span></p><p><span>时效性:</span><span>有效</span></p>
<p><span>公开日期:</span><span>2021-03-05</span></p><p><span>成文日期:</span><span>2021年3月1日</span></p>
<p><span>标题:</span><span>关于X的通报</span></p><p>来源:别处</p></div>"""


def test_label_list_with_padded_labels_and_fullwidth_colons():
    assert parse_metadata(lines_of(XIANNING_LIST)) == {
        "index_no": "011336909/2020-13926", "doc_no": "", "publisher": "咸宁市政府办公室",
        "category": "政务督查", "validity": "有效", "published": "2020年09月16日",
        "title": "关于督查通报",
    }


def test_two_pairs_per_row_table():
    found = parse_metadata(lines_of(PAIRS_TABLE))
    assert found["index_no"] == "011336909/2022-00001"
    assert found["doc_no"] == "咸政办发〔2022〕1号"
    assert found["category"] == "政务督查"
    assert found["publisher"] == "咸宁市人民政府办公室"
    assert found["title"] == "关于印发某办法的通知"
    assert parse_date(found["published"]) == "2022-01-05"
    assert parse_date(found["issued"]) == "2021-12-30"
    assert found["validity"] == "有效"


def test_span_pairs_with_synonym_labels_and_weaker_source():
    found = parse_metadata(lines_of(SPAN_PAIRS))
    assert found == {
        "index_no": "MB1/2021-7", "doc_no": "", "publisher": "市政府督查室",
        "category": "政务督查", "validity": "有效", "published": "2021-03-05",
        "issued": "2021年3月1日", "title": "关于X的通报",
    }


def test_several_pairs_in_one_line_and_source_as_last_resort():
    found = parse_metadata(["索引号:A-1文号:咸政发〔2020〕6号", "来源:咸宁市政府办公室"])
    assert found == {"index_no": "A-1", "doc_no": "咸政发〔2020〕6号", "publisher": "咸宁市政府办公室"}


def test_label_words_inside_text_are_not_labels():
    assert parse_metadata(["关于名称变更的通知", "发布日期较晚的文号问题"]) == {}
