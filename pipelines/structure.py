"""Structure of a supervision bulletin: which decisions, of which meeting, how far each got.

A 督查通报 is a list of decisions grouped by status section (``一、尚未完全落实事项``), then by
meeting (``(一)2020年4月15日市政府第5次常务会议``) or, in work reports, by sub-heading
(``(一)经济发展主要预期目标完成情况``); each item is a line ``1.审议《…》的落实情况。(责任单位:…)``
followed by progress paragraphs. :func:`parse_structure` reads that from the body text as the
extractor stores it (paragraphs as lines, table rows as tab-joined cells) and never raises.

Rules (why each exists is noted where it is applied):

* Matching is done on a *folded* copy of each line (full-width digits, parentheses, colon, full
  stop, comma, semicolon and U+3000 mapped 1:1 to ASCII), so ``（一）``/``(一)``, ``１．``/``1.``,
  ``责任单位：``/``责任单位:`` are the same; everything returned is sliced from the text as written.
* A line may hold several parts (heading + first item, item + progress, progress + next
  item): it is cut before a strong marker following ``。``/``)``/``:``/``;`` and each heading found
  at the start of a part is peeled off before the rest is read.
* Section ``一、名称``: the ordinal must go up (by 1 or 2) and the name must be short, so a
  progress paragraph ``二、关于…。…`` stays progress. ``status`` comes from the name.
* Meeting heading: a date ``YYYY年M月D日`` then ``…会议`` (optionally ``第N次``), with or without
  ``(一)``; without it, the heading must stand alone or be followed by an item.
* Sub-heading ``(一)…`` (not a meeting): short, and its ordinal must go up within the section.
* Item: ``1.`` ``1、`` ``(1)`` numbering, the number following the previous item's in the group;
  or, right after a heading, the first paragraph (a group of one item is not numbered).
  Once an item's progress holds a numbered paragraph (``1.完成了初稿``, not the next number),
  later numbered lines without ``(责任单位:…)`` continue that sub-list, not new items.
  Items outside any heading count only in a status section.
* ``subject`` keeps its trailing 。 (it is the sentence as written, minus numbering and units);
  ``progress`` is the following paragraphs joined by ``"\\n"`` (text after the units clause on
  the item's own line comes first); table rows inside an item are kept in its progress.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

#: Normalised item statuses, in the order a bulletin usually lists them.
STATUSES: tuple[str, ...] = ("pending", "mostly_done", "done", "other")

#: Words of a section name -> status; checked in order (尚未完全落实 before 落实, 基本完成 before 完成).
_STATUS_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pending", ("尚未", "未完成", "未落实", "未办结", "正在推进", "推进中", "正在落实", "正在办理", "持续推进")),
    ("mostly_done", ("基本完成", "基本落实", "基本办结")),
    ("done", ("已落实", "已完成", "已办结", "已经落实", "已经完成", "全部完成", "全面完成")),
)

#: Meeting kinds recognised as a suffix of the heading when it has no 第N次.
_KINDS: tuple[str, ...] = (
    "市长办公会议", "常务会议", "全体会议", "专题会议", "办公会议", "党组会议", "联席会议", "调度会议",
)
_ORGANISERS = re.compile(r"^(?:[市县区省]人民政府|[市县区省]政府|人民政府|政府)")

_CN = "一二三四五六七八九十"
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0}

#: 1:1 folding, so indices in the folded text are indices in the original.
_FOLD_PAIRS = tuple(
    {chr(0xFF10 + i): str(i) for i in range(10)}.items()
    | {"（": "(", "）": ")", "：": ":", "．": ".", "，": ",", "；": ";", "\u3000": " ", "\xa0": " "}.items()
)

_SECTION = re.compile(rf"\s*([{_CN}]+)\s*[、.]\s*")
_KNOWN_SECTION = re.compile(r"(?:尚未|正在|已基本|已经|已|未|基本)[^\s,。;:()]{0,8}?事项")
_DATE = r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
_MEETING = re.compile(rf"\s*(?:\(\s*([{_CN}]+)\s*\)\s*)?{_DATE}\s*([^\s,.;:!?。、()《》“”]{{0,24}}?会议)")
_DATE_ANYWHERE = re.compile(_DATE)
_NUMBER = re.compile(r"第\s*(\d{1,3}|[零〇一二三四五六七八九十百]+)\s*次")
_GROUP = re.compile(rf"\s*\(\s*([{_CN}]+)\s*\)\s*")
_ORDINAL_PREFIX = re.compile(rf"^[\s\u3000]*[(（]\s*[{_CN}]+\s*[)）]")
_ITEM = re.compile(r"\s*(?:(\d{1,2})\s*[.、](?!\d)|\(\s*(\d{1,2})\s*\))\s*")
_ITEM_ANYWHERE = re.compile(r"(?<![\d.])(?:\d{1,2}[.、](?!\d)|\(\d{1,2}\))")
_UNITS_OPEN = re.compile(r"\(\s*(?:责任单位|牵头单位|责任部门|牵头部门)\s*:?\s*")
_UNIT_SEPARATORS = frozenset("、,;")
#: Where a glued line is cut: after a sentence/clause end, before a meeting heading with its
#: ordinal, a status section, or a numbered item whose first sentence carries 责任单位.
_CUT = re.compile(
    r"(?<=[。);:])\s*(?="
    rf"\(\s*[{_CN}]+\s*\)\s*{_DATE}"
    rf"|[{_CN}]+[、.]\s*{_KNOWN_SECTION.pattern}"
    r"|(?:\d{1,2}[.、](?!\d)|\(\d{1,2}\))[^。\n]{0,200}?。?\s*\(\s*(?:责任|牵头)(?:单位|部门)"
    r")"
)
_DOC_TITLE = re.compile(r"《([^《》]+)》")
_TRIM = " \t\r\u3000\xa0"
#: Longest section name / sub-heading still taken for a heading (longer text is a paragraph).
_MAX_SECTION, _MAX_GROUP = 30, 40


@dataclass
class Meeting:
    """A meeting heading as written; one per heading, so a meeting in two sections appears twice."""

    date: str | None  # ISO YYYY-MM-DD
    number: int | None  # 第N次, None for unnumbered kinds (专题会议)
    kind: str  # 常务会议, 全体会议, …
    heading: str  # as written, with its (一)


@dataclass
class Item:
    """One decision (or work-report target/task) and what the bulletin says about its progress."""

    meeting_index: int | None  # index into Structure.meetings, None outside a meeting
    position: int  # written number, 1 for a group's single unnumbered item
    section: str | None  # status section as written (尚未完全落实事项)
    status: str  # one of STATUSES
    subject: str
    documents: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    progress: str = ""
    group_heading: str | None = None  # the (一)… sub-heading when it is not a meeting
    deadline: str = ""  # 完成时限 as written (supervision-list tables have a column for it)


@dataclass
class Structure:
    meetings: list[Meeting] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)


def fold(text: str) -> str:
    """Full-width punctuation/digits as ASCII, same length (so slices map back to ``text``).

    One ``str.replace`` per character present: ``str.translate`` looks every character of a
    non-ASCII text up in the table, several times slower on Chinese text.
    """
    for wide, narrow in _FOLD_PAIRS:
        if wide in text:
            text = text.replace(wide, narrow)
    return text


def section_status(name: str | None) -> str:
    """Normalised status of a section name; ``other`` when it names no status."""
    for status, words in _STATUS_WORDS:
        if name and any(word in name for word in words):
            return status
    return "other"


def documents_in(subject: str) -> list[str]:
    """Titles quoted with 《》 in a subject, in order."""
    return _DOC_TITLE.findall(subject)


def meeting_of(heading: str) -> Meeting | None:
    """The meeting a heading or table cell names (``2020年4月15日市政府第5次常务会议``), else None."""
    fields = _meeting_fields(heading.strip(_TRIM))
    return Meeting(*fields, heading=heading.strip(_TRIM)) if fields else None


def split_units(text: str) -> list[str]:
    """Units of a 责任单位 list: split on 、,， (and ;) outside nested parentheses, trimmed, unique."""
    folded = fold(text)
    units: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(folded + "、"):
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char in _UNIT_SEPARATORS and depth == 0:
            unit = text[start:i].strip(_TRIM + "。")
            if unit and unit not in units:
                units.append(unit)
            start = i + 1
    return units


def cn_number(text: str) -> int | None:
    """``十三`` -> 13, ``二十`` -> 20, ``105`` -> 105; None for anything else."""
    if text.isdecimal():
        return int(text)
    total, digit, last_unit = 0, None, 1000
    for char in text:
        if char in _CN_DIGITS:
            if digit:  # two digits in a row (一二); 零 is only a placeholder (一百零五)
                return None
            digit = _CN_DIGITS[char]
        elif char in "十百":
            unit = 10 if char == "十" else 100
            if unit >= last_unit:  # 十十, 十百
                return None
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            return None
    total += digit or 0
    return total or None


def parse_structure(body: str) -> Structure:
    """Meetings and items of a bulletin body; an empty Structure when it has none."""
    parser = _Parser()
    body = body or ""
    # Folded once for the whole body (folding keeps lengths, so lines stay aligned).
    for line, folded in zip(_lines(body), _lines(fold(body))):
        parser.feed(line, folded)
    return parser.finish()


def _lines(text: str) -> Iterator[str]:
    """``text.split("\n")`` a line at a time: the list of a large body's lines weighs more than the body."""
    start = 0
    while (end := text.find("\n", start)) >= 0:
        yield text[start:end]
        start = end + 1
    yield text[start:]


# --------------------------------------------------------------------------- internals


@dataclass
class _Draft:
    item: Item
    numbered: bool
    style: str | None
    paragraphs: list[str] = field(default_factory=list)
    sublist: bool = False  # a numbered paragraph was taken into the progress


def _meeting_fields(text: str) -> tuple[str, int | None, str] | None:
    """(ISO date, number, kind) of a heading holding a date and …会议 in either order, else None."""
    found = _DATE_ANYWHERE.search(fold(text))
    if found is None or "会议" not in text or "召开" in text:
        return None
    try:
        day = date(*(int(part) for part in found.groups())).isoformat()
    except ValueError:
        return None
    rest = _ORDINAL_PREFIX.sub("", text[: found.start()] + text[found.end():]).replace("()", "").replace("（）", "")
    core = rest[: rest.rfind("会议") + 2].strip(_TRIM)
    number_match = _NUMBER.search(fold(core))
    if number_match:
        return day, cn_number(number_match.group(1)), core[number_match.end():].strip(_TRIM)
    kind = next((k for k in _KINDS if core.endswith(k)), _ORGANISERS.sub("", core))
    return day, None, kind.strip(_TRIM)


def _close_paren(folded: str, start: int) -> int:
    """Index of the ``)`` closing a ``(`` opened before ``start``; ``len`` when it is missing."""
    depth = 1
    for i in range(start, len(folded)):
        if folded[i] == "(":
            depth += 1
        elif folded[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(folded)


def _item_fields(text: str, folded: str, start: int) -> tuple[str, list[str], str]:
    """(subject, units, text after the units clause) of an item line from ``start``."""
    clause = _UNITS_OPEN.search(folded, start)
    if clause is None:
        return text[start:].strip(_TRIM), [], ""
    end = _close_paren(folded, clause.end())
    return (text[start: clause.start()].strip(_TRIM), split_units(text[clause.end(): end]),
            text[end + 1:].strip(_TRIM))


def _cut(line: str, folded: str) -> list[tuple[str, str]]:
    """A glued line as its parts (see _CUT), each with its folded form."""
    starts = [0] + [m.start() for m in _CUT.finditer(folded) if m.start() > 0]
    return [(line[a:b], folded[a:b]) for a, b in zip(starts, starts[1:] + [len(line)])]


class _Parser:
    """Line-by-line state machine: current section, group (meeting or sub-heading), item."""

    def __init__(self) -> None:
        self.meetings: list[Meeting] = []
        self.drafts: list[_Draft] = []
        self.section: str | None = None
        self.status = "other"
        self.section_ordinal = 0
        self._new_section_state()

    def _new_section_state(self) -> None:
        self.group_ordinal = 0
        self.in_group = False
        self.meeting_index: int | None = None
        self.group_heading: str | None = None
        self.group: list[_Draft] = []
        self.current: _Draft | None = None

    def _new_group(self, meeting_index: int | None, heading: str | None) -> None:
        self.in_group, self.meeting_index, self.group_heading = True, meeting_index, heading
        self.group, self.current = [], None

    # ------------------------------------------------------------------ lines
    def feed(self, line: str, folded: str) -> None:
        if "\t" in line:  # a table row: never a heading; kept as progress inside an item
            if self.current is not None and line.strip(_TRIM):
                self.current.paragraphs.append(line.strip(_TRIM))
            return
        for part, folded_part in _cut(line, folded):
            self._part(part, folded_part)

    def _part(self, text: str, folded: str) -> None:
        pos = 0
        while True:
            while pos < len(text) and folded[pos] in _TRIM:
                pos += 1
            if pos >= len(text):
                return
            for heading in (self._section, self._meeting, self._group):
                end = heading(text, folded, pos)
                if end is not None:
                    pos = end
                    break
            else:
                if not self._item(text, folded, pos):
                    self._paragraph(text[pos:].strip(_TRIM))
                return

    # ------------------------------------------------------------------ headings
    def _section(self, text: str, folded: str, pos: int) -> int | None:
        match = _SECTION.match(folded, pos)
        if match is None:
            return None
        ordinal = cn_number(match.group(1))
        if ordinal is None or not self.section_ordinal < ordinal <= self.section_ordinal + 2:
            return None
        start = match.end()
        end = min((m.start() for m in (
            _MEETING.search(folded, start), _GROUP.search(folded, start), _ITEM_ANYWHERE.search(folded, start),
        ) if m is not None), default=len(text))
        name = text[start:end].strip(_TRIM + ":：")
        if not name or len(name) > _MAX_SECTION or "。" in name.rstrip("。"):
            known = _KNOWN_SECTION.match(folded, start)
            if known is None:
                return None
            name, end = text[start: known.end()], known.end()
        self.section, self.status, self.section_ordinal = name, section_status(name), ordinal
        self._new_section_state()
        return end

    def _meeting(self, text: str, folded: str, pos: int) -> int | None:
        match = _MEETING.match(folded, pos)
        if match is None:
            return None
        rest = folded[match.end():].strip(_TRIM)
        if match.group(1) is None and rest and not _ITEM.match(rest) and not _UNITS_OPEN.search(rest):
            return None  # a dated sentence, not a heading standing alone or followed by an item
        return self._add_meeting(text[pos: match.end()].strip(_TRIM), match.group(1), match.end())

    def _add_meeting(self, heading: str, ordinal: str | None, end: int) -> int | None:
        fields = _meeting_fields(heading)
        if fields is None:
            return None
        if ordinal is not None:
            self.group_ordinal = cn_number(ordinal) or self.group_ordinal
        self.meetings.append(Meeting(*fields, heading=heading))
        self._new_group(len(self.meetings) - 1, None)
        return end

    def _group(self, text: str, folded: str, pos: int) -> int | None:
        match = _GROUP.match(folded, pos)
        if match is None:
            return None
        ordinal = cn_number(match.group(1))
        if ordinal is None or ordinal <= self.group_ordinal:
            return None  # (一) inside an item's progress, not the next sub-heading
        marker = _ITEM_ANYWHERE.search(folded, match.end())
        end = marker.start() if marker else len(text)
        name = text[match.end(): end].strip(_TRIM)
        if not name or len(name) > _MAX_GROUP or "。" in name.rstrip("。"):
            return None
        heading = text[pos:end].strip(_TRIM)
        if _meeting_fields(heading) is not None:  # (一)市政府第5次常务会议(2020年4月15日)
            return self._add_meeting(heading, match.group(1), end)
        if self.meeting_index is not None:
            return None  # sections grouped by meeting have no other sub-headings: progress text
        self.group_ordinal = ordinal
        self._new_group(None, heading)
        return end

    # ------------------------------------------------------------------ items
    def _item(self, text: str, folded: str, pos: int) -> bool:
        match = _ITEM.match(folded, pos)
        if match is None or not (self.in_group or self.status != "other"):
            return False
        number = int(match.group(1) or match.group(2))
        style = "dot" if match.group(1) else "paren"
        has_units = _UNITS_OPEN.search(folded, match.end()) is not None
        if self.group:
            last = self.group[-1]
            if not last.numbered:  # a group's unnumbered first line was an introduction?
                if number != 1 or len(self.group) > 1 or last.item.units or last.paragraphs:
                    return False
                self.drafts.remove(last)
                self.group.clear()
            elif style != last.style or number != last.item.position + 1:
                return False
            elif last.sublist and not has_units:
                return False  # the next entry of a numbered list inside the progress
        self._open(text, folded, match.end(), number, style)
        return True

    def _paragraph(self, text: str) -> None:
        if not text:
            return
        if self.in_group and not self.group:
            self._open(text, fold(text), 0, 1, None)
        elif self.current is not None:
            self.current.paragraphs.append(text)
            self.current.sublist = self.current.sublist or _ITEM.match(fold(text)) is not None

    def _open(self, text: str, folded: str, start: int, position: int, style: str | None) -> None:
        subject, units, after = _item_fields(text, folded, start)
        item = Item(self.meeting_index, position, self.section, self.status, subject,
                    documents_in(subject), units, group_heading=self.group_heading)
        draft = _Draft(item, numbered=style is not None, style=style, paragraphs=[after] if after else [])
        self.drafts.append(draft)
        self.group.append(draft)
        self.current = draft

    def finish(self) -> Structure:
        for draft in self.drafts:
            draft.item.progress = "\n".join(draft.paragraphs)
        return Structure(self.meetings, [draft.item for draft in self.drafts])
