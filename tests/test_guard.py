"""The judge of replacements (``pipelines.guard``): error pages never replace a bulletin, edits do.

The crawl through it, against the replica's error pages, is in ``tests/test_hostile_portal.py``.
"""
from __future__ import annotations

import pytest

from pipelines.guard import error_page_shape, replacement_refusal

ARCHIVED = {
    "url": "http://h/zwdc/202401/t20240115_1.html", "index_no": "011352/2024-00012", "doc_no": "",
    "publisher": "市政府办公室", "category": "其他", "validity": "有效", "published": "2024-01-15",
    "issued": None, "title": "关于2023年第四季度市政府常务会议决定事项落实情况的通报",
    "body": "一、已落实事项\n（一）2023年10月12日市政府第21次常务会议\n"
            "1.审议《咸宁市城市更新行动方案》的落实情况。（责任单位：市住建局）\n"
            "目前方案已印发实施，首批12个片区改造项目全部开工。",
}


def page(**fields) -> dict:
    """A freshly extracted record: the archived one with ``fields`` changed."""
    return {**ARCHIVED, **fields}


NO_BLOCK = {"index_no": "", "doc_no": "", "category": "", "validity": ""}


@pytest.mark.parametrize("title, body, kind", [
    ("页面不存在", "首页\n信息公开\n404 页面不存在\n抱歉,您访问的页面不存在或已被删除。", "not found"),
    ("404 Not Found", "", "not found"),
    ("系统维护中", "本网站正在进行系统升级维护,预计今日18:00恢复访问。", "maintenance"),
    ("访问受限", "您的访问请求可能对网站造成安全威胁,已被网站防火墙拦截。", "firewall"),
    ("", "Access Denied - request blocked by WAF", "firewall"),
])
def test_error_pages_are_refused_over_an_archived_bulletin_and_as_new_ones(title, body, kind):
    error_page = page(title=title, body=body, **NO_BLOCK)
    for archived in (ARCHIVED, None):
        reason = replacement_refusal(archived, error_page)
        assert reason and reason.startswith("not a bulletin") and kind in reason, reason


def test_real_edits_still_become_versions():
    rewritten = page(body="一、已落实事项\n修订后的落实情况说明。")  # same title and block
    assert replacement_refusal(ARCHIVED, rewritten) is None
    assert replacement_refusal(ARCHIVED, page(title=ARCHIVED["title"] + "（更正）")) is None
    assert replacement_refusal(ARCHIVED, page(validity="失效", body=ARCHIVED["body"] + "\n补充说明。")) is None
    assert replacement_refusal(ARCHIVED, dict(ARCHIVED)) is None  # unchanged: nothing replaced
    assert replacement_refusal(None, page()) is None  # a new bulletin


def test_a_bulletin_about_a_maintenance_is_a_bulletin():
    notice = page(title="关于市政务服务系统升级维护期间暂停服务的通知",
                  body="因系统升级维护，市政务服务系统将于3月2日暂停服务。")
    assert error_page_shape(notice) is None and replacement_refusal(None, notice) is None
    short_title_with_block = page(title="系统维护中", body="正文。")  # its metadata block says bulletin
    assert error_page_shape(short_title_with_block) is None
    assert error_page_shape(page(title="2024年第404次常务会议纪要", **NO_BLOCK)) is None


def test_a_page_without_what_made_it_the_bulletin_is_refused():
    assert "metadata block" in replacement_refusal(ARCHIVED, page(**NO_BLOCK))
    assert "no title" in replacement_refusal(ARCHIVED, page(title=""))
    assert "no date" in replacement_refusal(ARCHIVED, page(published=None))
    list_text = page(title="政务督查", body="\n".join(
        f"关于第{i}批重点项目建设情况的通报 2023-0{i}-01" for i in range(1, 9)))
    reason = replacement_refusal(ARCHIVED, list_text)
    assert reason and "title changed" in reason and "keeps" in reason
