"""The metadata block (索引号, 文号, 发布机构, …) found by its labels, whatever the markup.

Portals lay the block out as ``li`` lists, two-pairs-per-row tables or ``p > span`` pairs,
and word the labels in many ways. The page is first rendered to lines of tab-separated cells
(:func:`pipelines.text.element_lines`); labels are then matched as *families* of synonyms,
with any spacing between their characters and with or without a colon. A portal wording a
label in a way no family knows can add its synonyms (a site profile's ``labels``, passed in
by the caller): they join the field's strongest tier.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

#: field -> label synonyms, strongest first. A later tier only counts when no earlier
#: tier of the same field is on the page (``来源`` is a weaker publisher than ``发布机构``).
LABEL_FAMILIES: dict[str, list[list[str]]] = {
    "index_no": [["索引号", "索取号", "信息索引号", "索引编号", "文档索引号", "内容索引号"]],
    "doc_no": [["文号", "发文字号", "发文文号", "文件编号", "文件字号", "文件文号", "发文号"]],
    "publisher": [
        ["发布机构", "发文单位", "发文机关", "发文机构", "发布单位", "发布部门", "制发机关",
         "成文单位", "公开单位", "公开主体", "发布主体", "发布者"],
        ["信息来源", "来源"],
    ],
    "category": [["主题分类", "信息分类", "内容分类", "公开分类", "主题类别", "所属分类", "分类"]],
    "validity": [["有效性", "时效性", "效力状态", "有效状态", "是否有效", "时效"]],
    "published": [["发布日期", "公开日期", "发布时间", "公开时间", "生成日期", "发表日期", "发表时间"]],
    "issued": [["发文日期", "成文日期", "印发日期", "发文时间", "成文时间", "签发日期", "制发日期"]],
    "title": [["名称", "标题", "文件名称", "文件标题", "信息名称", "公文标题", "文章标题"]],
}

#: Values that mean "nothing here".
EMPTY_VALUES = frozenset({"无", "暂无", "空", "-", "--", "—", "/", "无文号", "null", "None"})

_GAP = r"[\s\u3000\xa0]*"
_COLON = r"[:：︰]"


def _spaced(label: str) -> str:
    return _GAP.join(re.escape(char) for char in label)


_SPACES = re.compile(r"[\s\u3000\xa0]+")
#: Extra synonyms, as :func:`parse_metadata` takes them in a hashable form.
ExtraLabels = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class _Labels:
    """The label patterns of one set of synonyms (the families, plus a profile's extras)."""

    rank: dict[str, tuple[str, int]]
    #: A label at the start of a segment, with its colon if any.
    leading: re.Pattern[str]
    #: A label inside a segment only counts with a colon after it (``索引号:X文号:Y``).
    inline: re.Pattern[str]


@lru_cache(maxsize=32)
def _labels(extra: ExtraLabels = ()) -> _Labels:
    rank = {label: (field, tier) for field, tiers in LABEL_FAMILIES.items()
            for tier, labels in enumerate(tiers) for label in labels}
    rank.update({_SPACES.sub("", label): (field, 0) for field, labels in extra for label in labels if label.strip()})
    alternation = "|".join(_spaced(label) for label in sorted(rank, key=len, reverse=True))
    return _Labels(rank, re.compile(rf"{_GAP}(?P<label>{alternation}){_GAP}(?P<colon>{_COLON})?{_GAP}"),
                   re.compile(rf"(?P<label>{alternation}){_GAP}{_COLON}"))


def extra_labels(labels: Mapping[str, Sequence[str]] | None) -> ExtraLabels:
    """A profile's ``{field: [label, …]}`` in the hashable form :func:`parse_metadata` takes.

    Raises ``ValueError`` naming a field that is not one of :data:`LABEL_FAMILIES`.
    """
    unknown = sorted(set(labels or {}) - set(LABEL_FAMILIES))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (fields: {', '.join(LABEL_FAMILIES)})")
    return tuple(sorted((field, tuple(values)) for field, values in (labels or {}).items()))


@dataclass(frozen=True)
class _Found:
    field: str
    tier: int
    value: str


def _leading_label(segment: str, labels: _Labels) -> re.Match[str] | None:
    """A label that opens the segment: followed by a colon, or the whole segment."""
    match = labels.leading.match(segment)
    if match and (match["colon"] or match.end() == len(segment)):
        return match
    return None


def _clean_value(value: str) -> str:
    value = value.strip(" \t\u3000\xa0")
    return "" if value in EMPTY_VALUES else value


def _split_pairs(segment: str, labels: _Labels) -> list[tuple[str, str]]:
    """``索引号:X文号:Y`` -> [(索引号, X), (文号, Y)] for a segment opening with a label."""
    pairs: list[tuple[str, str]] = []
    match = _leading_label(segment, labels)
    while match:
        rest = segment[match.end():]
        following = labels.inline.search(rest)
        value = rest[: following.start()] if following else rest
        pairs.append((match["label"], value))
        if not following:
            break
        segment = rest[following.start():]
        match = _leading_label(segment, labels)
    return pairs


def parse_metadata(lines: list[str], extra: ExtraLabels = ()) -> dict[str, str]:
    """Labelled values found in ``lines`` (tab-separated cells), one per field.

    The first occurrence of the strongest tier wins. A label standing alone (its own cell
    or line) takes the next segment as its value, unless that segment is itself a label.
    ``extra``: a portal's own synonyms (:func:`extra_labels`), in the strongest tier.
    """
    labels = _labels(extra)
    segments = [cell for line in lines for cell in line.split("\t")]
    found: list[_Found] = []
    index = 0
    while index < len(segments):
        pairs = _split_pairs(segments[index], labels)
        index += 1
        if not pairs:
            continue
        last_label, last_value = pairs[-1]
        if len(pairs) == 1 and not last_value.strip() and index < len(segments):
            following = segments[index]
            if not _leading_label(following, labels):
                pairs[-1] = (last_label, following)
                index += 1
        for label, value in pairs:
            field, tier = labels.rank[_SPACES.sub("", label)]
            found.append(_Found(field, tier, _clean_value(value)))
    result: dict[str, str] = {}
    for field in LABEL_FAMILIES:
        candidates = [item for item in found if item.field == field]
        if candidates:
            best_tier = min(item.tier for item in candidates)
            result[field] = next(item.value for item in candidates if item.tier == best_tier)
    return result
