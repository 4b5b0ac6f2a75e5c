"""Does a fetched page prove it is the bulletin before it replaces the archived one?

Portals answer HTTP 200 with "page not found", "系统维护中" or a firewall's block page in their
own template; stored over an archived row, such a page would erase the bulletin's text from
the table and the search. :func:`replacement_refusal` judges a newly extracted record against
the archived row (both plain dicts, columns of ``bulletins``) and says why it must not be
stored, or ``None``. Pure: the caller reads the row, records the refusal and keeps the row.

Real edits pass: a bulletin keeps its metadata block, title and date when it is corrected, and
a rewritten body under the same title is still that bulletin.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Fields only a page's metadata block carries (see ``pipelines.extraction.BLOCK_FIELDS``).
BLOCK_LABELS = {"index_no": "索引号", "doc_no": "文号", "category": "主题分类", "validity": "有效性"}
#: Fields whose equality means nothing would be replaced.
CONTENT_FIELDS = ("index_no", "doc_no", "publisher", "category", "validity", "published", "issued",
                  "title", "body")
#: An error page's title is short (characters); a bulletin *about* a maintenance is not.
SHORT_TITLE = 20
#: An untitled page this short (characters of body) may be an error page.
SHORT_BODY = 1000
#: Below this share of the archived text's character pairs, a body "shares almost nothing".
MIN_SHARED = 0.2
#: Bodies shorter than this (characters) are too short to compare.
MIN_COMPARED = 40

#: What error pages say, by kind: the phrases portals and their firewalls put in a 200 page.
SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a 'page not found' page", re.compile(
        r"页面不存在|页面未找到|找不到(?:该|您要访问的|您访问的|相关)?页面|页面(?:已)?(?:被)?删除"
        r"|(?:信息|文章|内容|稿件)(?:不存在|已(?:被)?删除)|(?<![\d.第])404(?![\d.次号])|not found", re.I)),
    ("a maintenance page", re.compile(
        r"系统维护|维护中|升级维护|网站维护|系统升级中|暂停服务|服务暂不可用|暂时无法访问"
        r"|service unavailable|under maintenance", re.I)),
    ("a firewall (WAF) page", re.compile(
        r"访问受限|访问被拒绝|拒绝访问|禁止访问|访问被阻断|(?:请求|访问)(?:已)?被拦截|网站防火墙"
        r"|非法请求|疑似(?:黑客)?攻击|安全威胁|access denied|forbidden|request blocked", re.I)),
)

_TEXT_RUN = re.compile(r"[0-9A-Za-z\u3400-\u9fff]+")


def _has_block(row: Mapping[str, Any]) -> bool:
    return any(row.get(field) for field in BLOCK_LABELS)


def error_page_shape(record: Mapping[str, Any]) -> str | None:
    """Which known error page ``record`` is (``"a maintenance page ('系统维护')"``), or ``None``.

    Only a page without a metadata block qualifies, by its short title or, untitled, by its
    short body: a bulletin about a system's maintenance has its block and a title of its own.
    """
    if _has_block(record):
        return None
    title, body = record.get("title") or "", record.get("body") or ""
    if title:
        text = title if len(title) <= SHORT_TITLE else ""
    else:
        text = body if len(body) < SHORT_BODY else ""
    for kind, pattern in SHAPES:
        found = pattern.search(text)
        if found:
            return f"{kind} ({found.group(0)!r})"
    return None


def _pairs(text: str) -> set[str]:
    """Character pairs of each run of letters, digits and CJK: what two versions share."""
    return {run[i:i + 2] for run in _TEXT_RUN.findall(text.lower()) for i in range(max(1, len(run) - 1))}


def shared_share(archived_body: str, new_body: str) -> float:
    """How much of the archived body's character pairs the new body still has (0..1)."""
    old = _pairs(archived_body)
    return len(old & _pairs(new_body)) / len(old) if old else 1.0


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def replacement_refusal(archived: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str | None:
    """Why the page extracted as ``new`` must not be stored over ``archived``; ``None`` if it may.

    ``archived`` is the archived row (``None`` when the URL is new: then only a known error
    page is refused).
    """
    if archived is not None and all((archived.get(f) or "") == (new.get(f) or "") for f in CONTENT_FIELDS):
        return None  # nothing would be replaced
    shape = error_page_shape(new)
    if shape:
        return f"not a bulletin: {shape}"
    if archived is None:
        return None
    if _has_block(archived) and not _has_block(new):
        had = "、".join(label for field, label in BLOCK_LABELS.items() if archived.get(field))
        return f"not replaced: the page lost its metadata block (the archived version has {had})"
    if archived.get("title") and not new.get("title"):
        return "not replaced: the page has no title (the archived version has one)"
    if archived.get("published") and not new.get("published"):
        return "not replaced: the page has no date (the archived version has one)"
    old_body, new_body = archived.get("body") or "", new.get("body") or ""
    if (archived.get("title") or "") != (new.get("title") or "") and len(old_body) >= MIN_COMPARED:
        share = shared_share(old_body, new_body)
        if share < MIN_SHARED:
            return (f"not replaced: a different page? the title changed "
                    f"({_short(archived.get('title') or '')!r} -> {_short(new.get('title') or '')!r}) "
                    f"and the body keeps {share:.0%} of the archived text")
    return None
