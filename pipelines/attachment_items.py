"""Supervision items from an attachment: its text read like a body, its supervision-list tables by column.

Why: many portals publish the 督查事项 as a spreadsheet or a table in a Word/PDF file
(序号 / 督查事项 / 责任单位 / 完成时限 / 进展情况), and the bulletin page only says "详见附件". The
rows become the same :class:`~pipelines.structure.Structure` (meetings, items, units) that
:func:`~pipelines.structure.parse_structure` makes of bodies, so one set of tables and
exports holds both; where an item came from (bulletin or attachment) is recorded by the caller.

A table is a supervision list when one of its first rows is a header naming the item column
and at least one of the units, deadline, progress or status columns. Below it:

* a row with one distinct non-empty cell, first or spanning the row (a merged row), is a heading: a meeting
  (``(一)2021年4月15日市政府第5次常务会议``) or a status section (``一、尚未完全落实事项``);
* a row repeating the header (a table continued on the next page) and 合计/小计 rows are skipped;
* a row without an item but with progress continues the item above;
* every other row is an item: its number, subject (documents in 《》 taken from it), units split
  like a 责任单位 clause, deadline, progress, and status from a status column, else from its
  section heading; the meeting from a meeting column, else from the heading row above.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipelines.structure import (Item, Meeting, Structure, documents_in, fold, meeting_of, parse_structure,
                                 section_status, split_units)

#: Column -> header words, most specific first (a header cell takes the first column it matches).
_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("position", ("序号", "编号")),
    ("meeting", ("会议名称", "议定会议", "事项来源", "会议")),
    ("units", ("责任单位", "牵头单位", "责任部门", "牵头部门", "承办单位", "主办单位")),
    ("deadline", ("完成时限", "办结时限", "时限要求", "完成时间", "时限")),
    ("status", ("办理状态", "完成状态", "是否办结", "是否完成", "状态")),
    ("progress", ("进展情况", "落实情况", "办理情况", "完成情况", "推进情况", "工作进展", "进展")),
    ("subject", ("督查事项", "督办事项", "议定事项", "工作事项", "重点任务", "工作任务", "任务内容", "事项内容",
                 "事项名称", "事项", "任务")),
)
_HEADER_ROWS = 5
_SECTION_PREFIX = re.compile(r"^\s*[一二三四五六七八九十]+\s*[、.]\s*")
_TOTAL = ("合计", "小计", "总计")


@dataclass
class _Columns:
    """Index of each recognised column in the header row."""

    index: dict[str, int] = field(default_factory=dict)

    def get(self, row: list[str], name: str) -> str:
        i = self.index.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""


def header_columns(row: list[str]) -> dict[str, int] | None:
    """The columns a header row names, or None when it is not a supervision list's header."""
    found: dict[str, int] = {}
    for i, cell in enumerate(row):
        text = re.sub(r"\s+", "", fold(cell or ""))
        if not text or len(text) > 12:
            continue
        for name, words in _COLUMNS:
            if name not in found and any(word in text for word in words):
                found[name] = i
                break
    if "subject" in found and {"units", "deadline", "progress", "status"} & found.keys():
        return found
    return None


def items_from_tables(tables: list[list[list[str]]]) -> Structure:
    """Meetings and items of every supervision-list table; an empty Structure when there is none."""
    out = Structure()
    meetings: dict[str, int] = {}
    for rows in tables:
        _read_table(rows, out, meetings)
    return out


def attachment_structure(text: str, tables: list[list[list[str]]]) -> Structure:
    """An attachment's items: its text parsed as a body, then its supervision-list tables."""
    listed = Structure()
    consumed: set[str] = set()
    meetings: dict[str, int] = {}
    for rows in tables:
        if _read_table(rows, listed, meetings):
            consumed.update("\t".join(row) for row in rows)
    body = parse_structure("\n".join(line for line in text.split("\n") if line not in consumed))
    offset = len(body.meetings)
    for item in listed.items:
        if item.meeting_index is not None:
            item.meeting_index += offset
    return Structure(body.meetings + listed.meetings, body.items + listed.items)


def _read_table(rows: list[list[str]], out: Structure, meetings: dict[str, int]) -> bool:
    """Append the table's meetings and items to ``out`` (``meetings``: heading -> index there, one
    meeting per heading across the tables); False when it is not a supervision list."""
    for header_at, row in enumerate(rows[:_HEADER_ROWS]):
        found = header_columns(row)
        if found:
            break
    else:
        return False
    columns = _Columns(found)
    header = [cell.strip() for cell in rows[header_at]]
    section: str | None = None
    status = "other"
    meeting_index: int | None = None
    count = 0
    last: Item | None = None
    for row in rows[header_at + 1:]:
        cells = [cell.strip() for cell in row]
        if cells == header or not any(cells):
            continue
        distinct = list(dict.fromkeys(cell for cell in cells if cell))
        merged = len(cells) < len(header) or cells[0] == distinct[0]  # spans the row, or stands first
        if len(distinct) == 1 and merged and not columns.get(cells, "progress") and not columns.get(cells, "units"):
            heading = distinct[0]
            meeting = meeting_of(heading)
            if meeting is not None:
                meeting_index = _meeting_index(out, meetings, meeting)
            else:
                section = _SECTION_PREFIX.sub("", heading).strip() or heading
                status, meeting_index = section_status(section), None
            continue
        position_text, subject = columns.get(cells, "position"), columns.get(cells, "subject")
        if any(word in position_text or subject.startswith(word) for word in _TOTAL):
            continue
        progress = columns.get(cells, "progress")
        if not subject:
            if last is not None and progress:
                last.progress = "\n".join(filter(None, [last.progress, progress]))
            continue
        count += 1
        meeting_cell = columns.get(cells, "meeting")
        row_meeting = meeting_of(meeting_cell) if meeting_cell else None
        index = _meeting_index(out, meetings, row_meeting) if row_meeting else meeting_index
        status_cell = columns.get(cells, "status")
        last = Item(
            meeting_index=index,
            position=int(position_text) if position_text.isdecimal() else count,
            section=section,
            status=section_status(status_cell) if status_cell else status,
            subject=subject,
            documents=documents_in(subject),
            units=split_units(columns.get(cells, "units")),
            progress=progress,
            deadline=columns.get(cells, "deadline"),
        )
        out.items.append(last)
    return True


def _meeting_index(out: Structure, seen: dict[str, int], meeting: Meeting) -> int:
    """One meeting per distinct heading in a table (a meeting column repeats it on every row)."""
    if meeting.heading not in seen:
        out.meetings.append(meeting)
        seen[meeting.heading] = len(out.meetings) - 1
    return seen[meeting.heading]
