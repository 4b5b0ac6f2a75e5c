"""The one place that declares the archive's tables, indexes and views.

Each table and view is declared once (:data:`TABLES`): its columns in order with their kind,
English title and bilingual description, and its primary key. The database is created from it,
exports type their columns by it, and ``datapackage.json`` describes them with it.

Every command opens the archive through :func:`open_archive`, which calls
:func:`ensure_db_shape`; so a new column or table lands in old archives too.
Column names of ``bulletins`` are a contract that scripts outside the repo use.
"""
from __future__ import annotations

import functools
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from archive.lending import Lender

@dataclass(frozen=True)
class Field:
    """A column: name, kind, English title, and a description starting with the Chinese term.

    ``kind`` is what the stored value stands for: ``string``, ``integer``, ``number``, ``date``
    (ISO text), ``timestamp`` (ISO text, UTC), ``attachments`` (JSON list of {name, url}) or
    ``string_list`` (JSON list of text); exports type their columns by it.
    """

    name: str
    kind: str
    title: str
    description: str

    @property
    def sqlite_type(self) -> type:
        return {"integer": int, "number": float}.get(self.kind, str)


@dataclass(frozen=True)
class Table:
    """A table or view: what it holds, its fields in order and its primary key."""

    name: str
    title: str
    description: str
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...] = ()
    #: For a view: its SELECT.
    view_sql: str | None = None

    @property
    def columns(self) -> dict[str, type]:
        """Column name -> Python type, as sqlite-utils creates tables from."""
        return {f.name: f.sqlite_type for f in self.fields}

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def _fields(*specs: tuple[str, str, str, str]) -> tuple[Field, ...]:
    return tuple(Field(*spec) for spec in specs)


_URL = ("url", "string", "URL", "网址 (URL): canonical address of the document.")
_BULLETIN_URL = ("bulletin_url", "string", "Bulletin URL", "通报网址 (bulletin URL): the bulletin it was read from.")
_CAPTURE_ID = ("capture_id", "integer", "Capture id", "抓取记录编号 (capture id): the WARC capture (see captures) it came from.")

#: The document's own fields: what extraction fills, what versions keep, what stats count.
_CONTENT_FIELDS = _fields(
    ("index_no", "string", "Index number", "索引号 (index number): the portal's public-information index number."),
    ("doc_no", "string", "Document number",
     "文号 (document number), e.g. 国办发〔2020〕1号; empty when the page says none (无)."),
    ("publisher", "string", "Publisher", "发布机构 / 发文单位 / 发文机关 (publishing or issuing body)."),
    ("category", "string", "Category", "主题分类 (subject category) as given by the portal."),
    ("validity", "string", "Validity", "有效性 (validity), e.g. 有效 (in force) or 失效 (repealed)."),
    ("published", "date", "Publication date", "发布日期 (publication date), ISO YYYY-MM-DD."),
    ("issued", "date", "Date issued",
     "发文日期 / 成文日期 (date written or issued), ISO YYYY-MM-DD; empty when not given."),
    ("title", "string", "Title", "名称 / 标题 (title): the document's name, else its heading."),
    ("body", "string", "Body text",
     "正文 (body text): plain text, one paragraph per line, table rows as tab-separated cells."),
    ("attachments", "attachments", "Attachments", "附件 (attachments): list of {name, url}, one per linked file."),
)
#: Columns whose change means the document changed (capture bookkeeping excluded).
CONTENT_COLUMNS: tuple[str, ...] = tuple(f.name for f in _CONTENT_FIELDS)

BULLETINS = Table(
    "bulletins", "Government supervision bulletins",
    "政务督查通报 (government supervision bulletins) collected from Chinese government portals: "
    "one row per published document.",
    _fields(
        ("url", "string", "URL", "网址 (URL): canonical address of the document; primary key."),
        ("site", "string", "Site", "站点 (site): host name (and port) of the portal that published it."),
        ("portal", "string", "Portal",
         "门户 (portal): the portal's short name in the registry (sites.toml), else its host."),
    ) + _CONTENT_FIELDS + _fields(
        ("fetched_at", "timestamp", "Fetched at",
         "抓取时间 (fetch time): UTC timestamp of the capture this row came from."),
        ("source_url", "string", "Source URL",
         "来源网址 (source URL): address the page was served from, after redirects."),
        ("list_url", "string", "List page URL", "列表页网址 (list page URL): the list page that linked to the document."),
        ("content_hash", "string", "Content hash",
         "内容哈希 (content hash): SHA-256 of the content columns; changes with the text."),
        ("first_seen", "timestamp", "First seen", "首次发现时间 (first seen): UTC timestamp of the first capture."),
        ("last_seen", "timestamp", "Last seen",
         "最近确认时间 (last seen): UTC timestamp of the latest capture or revalidation."),
        ("missing_since", "timestamp", "Missing since",
         "下线时间 (missing since): when the portal was first found without it; empty while online."),
        _CAPTURE_ID,
        ("etag", "string", "ETag", "实体标签 (ETag): validator the server sent, for conditional re-fetches."),
        ("last_modified", "string", "Last-Modified", "最后修改时间 (Last-Modified): the server's HTTP header, as sent."),
    ),
    primary_key=("url",),
)

URL_ALIASES = Table(
    "url_aliases", "URL aliases", "网址别名 (URL aliases): listed URLs that redirect to an archived bulletin.",
    _fields(
        ("alias", "string", "Alias", "别名网址 (alias): the URL as listed; primary key."),
        ("url", "string", "URL", "网址 (URL): the bulletin it redirects to."),
        ("seen_at", "timestamp", "Seen at", "发现时间 (seen at): UTC timestamp of the redirect."),
    ),
    primary_key=("alias",),
)

VERSIONS = Table(
    "versions", "Versions of bulletins",
    "版本 (versions): every extracted state a bulletin has had; bulletins holds the latest.",
    _fields(
        ("id", "integer", "Version id", "版本编号 (version id): row number; primary key."),
        _URL,
        ("content_hash", "string", "Content hash", "内容哈希 (content hash): SHA-256 of the content columns."),
        ("seen_at", "timestamp", "Seen at", "发现时间 (seen at): UTC timestamp of the capture showing this state."),
        _CAPTURE_ID,
    ) + _CONTENT_FIELDS,
    primary_key=("id",),
)

CAPTURES = Table(
    "captures", "Captures", "抓取记录 (captures): one row per HTTP response written to a WARC file.",
    _fields(
        ("id", "integer", "Capture id", "抓取记录编号 (capture id): row number; primary key."),
        ("run_id", "integer", "Run id", "运行编号 (run id): the crawl run (see crawl_runs)."),
        ("url", "string", "URL", "网址 (URL) requested."),
        ("kind", "string", "Kind", "类型 (kind): list, bulletin, attachment, robots …"),
        ("status", "integer", "HTTP status", "状态码 (HTTP status) of the response."),
        ("fetched_at", "timestamp", "Fetched at", "抓取时间 (fetch time), UTC."),
        ("content_type", "string", "Content type", "内容类型 (Content-Type header)."),
        ("warc_file", "string", "WARC file", "WARC文件 (WARC file) holding the record."),
        ("warc_offset", "integer", "WARC offset", "偏移量 (offset) of the record in the WARC file, in bytes."),
        ("warc_length", "integer", "WARC length", "长度 (length) of the record in the WARC file, in bytes."),
        ("payload_sha256", "string", "Payload SHA-256", "内容哈希 (payload hash): SHA-256 of the response body."),
        ("list_url", "string", "List page URL", "列表页网址 (list page URL): the list page that linked the bulletin."),
        ("requested_url", "string", "Requested URL",
         "请求网址 (requested URL): the URL asked for, when a redirect led to this one."),
        ("ingest_state", "string", "Ingest state",
         "入库状态 (ingest state) of a bulletin's response: fetched (its further pages and files are still "
         "being fetched), ready (to be ingested), ingested, abandoned (its run died before its pages and files were "
         "all fetched: fetched again by the next crawl); empty: nothing to ingest (lists, robots.txt, files…)."),
    ),
    primary_key=("id",),
)
#: ``captures.ingest_state`` values (see the field's description).
INGEST_STATES = ("fetched", "ready", "ingested", "abandoned")

#: Primary key of ``attachments``: a file is linked once per bulletin.
ATTACHMENT_KEY = ("bulletin_url", "url")
ATTACHMENTS = Table(
    "attachments", "Attachment files", "附件文件 (attachment files), stored by content hash beside the archive.",
    _fields(
        _BULLETIN_URL,
        ("url", "string", "URL", "附件网址 (attachment URL)."),
        ("name", "string", "Name", "附件名称 (name) as linked in the bulletin."),
        ("mime_type", "string", "MIME type", "文件类型 (MIME type)."),
        ("size", "integer", "Size", "文件大小 (size) in bytes."),
        ("sha256", "string", "SHA-256", "文件哈希 (SHA-256) of the file."),
        ("path", "string", "Stored path", "存储路径 (stored path), relative to the archive's files folder."),
        ("fetched_at", "timestamp", "Fetched at", "抓取时间 (fetch time), UTC."),
        _CAPTURE_ID,
        ("text", "string", "Text",
         "附件正文 (text) read from the file: one paragraph per line, table rows as tab-separated cells; "
         "searched with the bulletin."),
        ("text_method", "string", "Text method",
         "提取方式 (text method): pdf, ocr, pdf+ocr, docx, xlsx, xls, antiword or libreoffice."),
        ("pages", "integer", "Pages", "页数 (pages) of a PDF or scan, sheets of a spreadsheet; empty for Word files."),
        ("error", "string", "Error",
         "提取错误 (error): why the file could not be read (wholly or in part), e.g. encrypted PDF, zip bomb; "
         "empty when it was read."),
        ("ocr_confidence", "number", "OCR confidence",
         "识别置信度 (OCR confidence): Tesseract's mean word confidence, 0-100, for text read by OCR."),
        ("needs_ocr", "integer", "Needs OCR",
         "待识别 (needs OCR): 1 when scanned pages or images were left unread because OCR was off (--ocr)."),
        ("tables", "string", "Tables",
         "表格 (tables) of the file as JSON: a list of tables, each a list of rows of cell texts."),
        ("extractor_version", "integer", "Extractor version",
         "提取程序版本 (extractor version) that made text; empty while the text is still to be made."),
    ),
    primary_key=ATTACHMENT_KEY,
)

CRAWL_RUNS = Table(
    "crawl_runs", "Crawl runs", "抓取运行 (crawl runs): what each crawl did and how it ended.",
    _fields(
        ("id", "integer", "Run id", "运行编号 (run id); primary key."),
        ("started_at", "timestamp", "Started at", "开始时间 (start), UTC."),
        ("finished_at", "timestamp", "Finished at", "结束时间 (end), UTC."),
        ("mode", "string", "Mode", "模式 (mode): incremental, full, or sample (part of each column, on purpose)."),
        ("outcome", "string", "Outcome", "结果 (outcome): ok, failed, interrupted, killed, running."),
        ("start_urls", "string", "Start URLs", "起始网址 (start URLs), JSON list."),
        ("requests", "integer", "Requests", "请求数 (requests) made."),
        ("new", "integer", "New", "新增 (new bulletins)."),
        ("changed", "integer", "Changed", "变更 (changed bulletins)."),
        ("unchanged", "integer", "Unchanged", "未变 (unchanged bulletins)."),
        ("removed", "integer", "Removed", "下线 (bulletins found removed)."),
        ("errors", "integer", "Errors", "错误数 (errors)."),
        ("problems", "string", "Problems", "问题 (problems) that made the run unhealthy, JSON list."),
        ("warc_file", "string", "WARC file", "WARC文件 (WARC file) of the run."),
        ("stats", "string", "Stats", "统计 (Scrapy stats), JSON."),
    ),
    primary_key=("id",),
)

#: Which portal each host belongs to, as of the last crawl of that host: bulletins.portal follows it.
PORTAL_HOSTS = Table(
    "portal_hosts", "Hosts of portals", "门户主机 (portal hosts): which portal each host belongs to.",
    _fields(
        ("host", "string", "Host", "主机 (host) name and port; primary key."),
        ("portal", "string", "Portal", "门户 (portal): its short name in the registry, else the host."),
    ),
    primary_key=("host",),
)

PORTAL_RUNS = Table(
    "portal_runs", "Portals in crawl runs",
    "门户运行结果 (portal verdicts): each portal's verdict in each run that crawled it.",
    _fields(
        ("run_id", "integer", "Run id", "运行编号 (run id): see crawl_runs."),
        ("portal", "string", "Portal", "门户 (portal) short name."),
        ("outcome", "string", "Outcome", "结果 (outcome): ok or failed."),
        ("problems", "string", "Problems", "问题 (problems) that made the portal unhealthy, JSON list."),
        ("bulletins", "integer", "Bulletins", "通报数 (bulletins) of the portal in the archive after the run."),
        ("new", "integer", "New", "新增 (new bulletins) in the run."),
        ("changed", "integer", "Changed", "变更 (changed bulletins) in the run."),
        ("errors", "integer", "Errors", "错误数 (errors) on the portal's hosts in the run."),
    ),
    primary_key=("run_id", "portal"),
)

RUN_FAILURES = Table(
    "run_failures", "Failures of crawl runs", "失败记录 (failures): each URL a run could not archive, and why.",
    _fields(
        ("id", "integer", "Failure id", "失败编号 (failure id); primary key."),
        ("run_id", "integer", "Run id", "运行编号 (run id): see crawl_runs."),
        ("url", "string", "URL", "网址 (URL) that failed."),
        ("kind", "string", "Kind", "类型 (kind) of failure."),
        ("reason", "string", "Reason", "原因 (reason), one line."),
        ("at", "timestamp", "At", "时间 (time), UTC."),
    ),
    primary_key=("id",),
)

_SOURCE = ("source", "string", "Source",
           "来源 (source): the bulletin's URL when read from its page, else the URL of the attachment it was read from.")
#: Structure parsed from each bulletin's body (``pipelines.structure``); replaced per bulletin.
MEETINGS = Table(
    "meetings", "Meetings reported in bulletins",
    "会议 (meetings) whose decisions a bulletin reports on, e.g. 市政府第5次常务会议.",
    _fields(
        ("id", "integer", "Meeting id", "会议编号 (meeting id): row number; primary key."),
        _BULLETIN_URL,
        ("date", "date", "Meeting date", "会议日期 (meeting date), ISO YYYY-MM-DD."),
        ("number", "integer", "Meeting number", "会议次数 (meeting number): N of 第N次; empty when unnumbered."),
        ("kind", "string", "Meeting kind", "会议类型 (kind of meeting), e.g. 常务会议 / 全体会议 / 专题会议."),
        ("heading", "string", "Heading", "标题 (heading) as written in the bulletin, with its (一)."),
        _SOURCE,
    ),
    primary_key=("id",),
)
_ITEM_FIELDS = _fields(
    ("id", "integer", "Item id", "事项编号 (item id): row number; primary key."),
    _BULLETIN_URL,
    ("meeting_id", "integer", "Meeting id", "会议编号 (meeting id): see meetings; empty outside a meeting."),
    ("position", "integer", "Position", "序号 (position): the item's written number within its group."),
    ("section", "string", "Section", "栏目 (section) as written, e.g. 尚未完全落实事项."),
    ("status", "string", "Status", "落实状态 (status), normalised: pending / mostly_done / done / other."),
    ("subject", "string", "Subject", "事项内容 (subject): the decision as written, minus numbering."),
    ("documents", "string_list", "Documents", "相关文件 (documents): titles quoted with 《》 in the subject."),
    ("progress", "string", "Progress", "进展情况 (progress): the paragraphs that follow, one per line."),
    ("group_heading", "string", "Group heading",
     "分组标题 (group heading): the (一)… sub-heading when it is not a meeting."),
    _SOURCE,
    ("deadline", "string", "Deadline", "完成时限 (deadline) as written, where a supervision list gives one."),
)
ITEMS = Table(
    "items", "Decisions and their progress",
    "督办事项 (supervised items): each decision or task a bulletin reports, with its progress.",
    _ITEM_FIELDS, primary_key=("id",),
)
ITEM_UNITS = Table(
    "item_units", "Units responsible for items", "责任单位 (responsible units): one row per unit named for an item.",
    _fields(
        ("item_id", "integer", "Item id", "事项编号 (item id): see items."),
        ("unit", "string", "Unit", "责任单位 (responsible unit) as named in the bulletin."),
    ),
    primary_key=("item_id", "unit"),
)

#: Views over the structure tables. "Open" = pending in the latest bulletin reporting that
#: decision (same meeting date/number/kind and subject), so a decision reported done later
#: no longer counts; work-report items (no meeting) are one decision per bulletin.
OPEN_ITEMS = Table(
    "open_items", "Open items with their units",
    "未落实事项 (open items): one row per pending decision's item and responsible unit, in the "
    "latest bulletin reporting the decision.",
    _fields(
        ("item_id", "integer", "Item", "事项编号 (item id) in items."),
        ("unit", "string", "Unit", "责任单位 (responsible unit)."),
        ("decision", "string", "Decision", "决策键 (decision key): meeting and subject."),
        _BULLETIN_URL,
        ("published", "date", "Publication date", "发布日期 (publication date) of the bulletin."),
    ),
    view_sql="""
with mention as (
  select i.id, i.status, i.bulletin_url, coalesce(b.published, '') as published,
         coalesce(m.date || '|' || coalesce(m.number, '') || '|' || m.kind, i.bulletin_url)
           || '|' || i.subject as decision
  from items i
  left join meetings m on m.id = i.meeting_id
  left join bulletins b on b.url = i.bulletin_url
),
latest as (select decision, max(published) as published from mention group by decision)
select me.id as item_id, u.unit as unit, me.decision as decision, me.bulletin_url as bulletin_url,
       me.published as published
from mention me
join latest l on l.decision = me.decision and l.published = me.published
join item_units u on u.item_id = me.id
where me.status = 'pending'""",
)
OPEN_ITEMS_PER_UNIT = Table(
    "open_items_per_unit", "Open items per responsible unit",
    "未落实事项 (open items) per responsible unit: decisions still pending in the latest bulletin "
    "reporting them.",
    _fields(
        ("unit", "string", "Unit", "责任单位 (responsible unit)."),
        ("open_items", "integer", "Open items", "未落实事项数 (open items): distinct pending decisions."),
        ("bulletins", "integer", "Bulletins", "通报数 (bulletins) reporting them."),
        ("latest_published", "date", "Latest publication date", "最近发布日期 (latest publication date) of those."),
    ),
    view_sql="""
select unit, count(distinct decision) as open_items, count(distinct bulletin_url) as bulletins,
       max(published) as latest_published
from open_items
group by unit
order by open_items desc, unit""",
)
ITEMS_PER_MEETING = Table(
    "items_per_meeting", "Items per meeting", "各次会议事项 (items per meeting) by status.",
    _fields(
        ("date", "date", "Meeting date", "会议日期 (meeting date), ISO YYYY-MM-DD."),
        ("number", "integer", "Meeting number", "会议次数 (meeting number)."),
        ("kind", "string", "Meeting kind", "会议类型 (kind of meeting)."),
        _BULLETIN_URL,
        ("published", "date", "Publication date", "发布日期 (publication date) of the bulletin."),
        ("items", "integer", "Items", "事项数 (items) reported."),
        ("pending", "integer", "Pending", "未落实 (pending) items."),
        ("mostly_done", "integer", "Mostly done", "基本落实 (mostly done) items."),
        ("done", "integer", "Done", "已落实 (done) items."),
        ("other", "integer", "Other", "其他 (other) items."),
    ),
    view_sql="""
select m.date as date, m.number as number, m.kind as kind, m.bulletin_url as bulletin_url,
       b.published as published, count(i.id) as items,
       count(case when i.status = 'pending' then 1 end) as pending,
       count(case when i.status = 'mostly_done' then 1 end) as mostly_done,
       count(case when i.status = 'done' then 1 end) as done,
       count(case when i.status = 'other' then 1 end) as other
from meetings m
left join items i on i.meeting_id = m.id
left join bulletins b on b.url = m.bulletin_url
group by m.bulletin_url, m.date, m.number, m.kind
order by m.date, m.number, b.published, m.bulletin_url""",
)
#: Each item with what a reader needs beside it (its meeting, its bulletin, its units): what
#: ``export --table items`` writes, so nobody joins four tables by hand.
ITEM_DETAILS = Table(
    "item_details", "Decisions and their progress, with meeting, bulletin and units",
    "督办事项 (supervised items) with their meeting, bulletin and responsible units: one row per item.",
    _ITEM_FIELDS + _fields(
        ("meeting_date", "date", "Meeting date", "会议日期 (meeting date), ISO YYYY-MM-DD; empty outside a meeting."),
        ("meeting_number", "integer", "Meeting number", "会议次数 (meeting number): N of 第N次."),
        ("meeting_kind", "string", "Meeting kind", "会议类型 (kind of meeting), e.g. 常务会议."),
        ("bulletin_title", "string", "Bulletin title", "通报标题 (bulletin title)."),
        ("published", "date", "Publication date", "发布日期 (publication date) of the bulletin, ISO YYYY-MM-DD."),
        ("site", "string", "Site", "站点 (site): host of the portal that published the bulletin."),
        ("portal", "string", "Portal", "门户 (portal): short name of the portal that published the bulletin."),
        ("units", "string_list", "Units", "责任单位 (responsible units) named for the item, in order."),
    ),
    primary_key=("id",),
    view_sql="""
select i.id as id, i.bulletin_url as bulletin_url, i.meeting_id as meeting_id, i.position as position,
       i.section as section, i.status as status, i.subject as subject, i.documents as documents,
       i.progress as progress, i.group_heading as group_heading, i.source as source, i.deadline as deadline,
       m.date as meeting_date, m.number as meeting_number, m.kind as meeting_kind,
       b.title as bulletin_title, b.published as published, b.site as site, b.portal as portal,
       (select json_group_array(unit) from
          (select unit from item_units where item_id = i.id order by rowid)) as units
from items i
left join meetings m on m.id = i.meeting_id
left join bulletins b on b.url = i.bulletin_url""",
)

#: Every table and view of the archive, by name, in creation order.
TABLES: dict[str, Table] = {t.name: t for t in (
    BULLETINS, URL_ALIASES, VERSIONS, CAPTURES, ATTACHMENTS, CRAWL_RUNS, PORTAL_HOSTS, PORTAL_RUNS, RUN_FAILURES,
    MEETINGS, ITEMS, ITEM_UNITS, OPEN_ITEMS, OPEN_ITEMS_PER_UNIT, ITEMS_PER_MEETING, ITEM_DETAILS,
)}
#: Column name -> Python type of each table (the contract scripts outside the repo rely on).
BULLETIN_COLUMNS: dict[str, type] = BULLETINS.columns
#: A column's kind by its name alone, for tables not declared here (first declaration wins).
KIND_BY_NAME: dict[str, str] = {}
for _table in TABLES.values():
    for _field in _table.fields:
        KIND_BY_NAME.setdefault(_field.name, _field.kind)


def _ensure_table(db: sqlite_utils.Database, table: Table, **kwargs) -> None:
    """Create ``table`` or add the columns an older archive lacks."""
    existing = db[table.name]
    pk = table.primary_key if len(table.primary_key) > 1 else (table.primary_key or (None,))[0]
    if table.name not in db.table_names():
        existing.create(table.columns, pk=pk, **kwargs)
        return
    have = set(existing.columns_dict)
    for field in table.fields:
        if field.name not in have:
            existing.add_column(field.name, field.sqlite_type)


def _ensure_captures(db: sqlite_utils.Database) -> None:
    """``captures``; in an archive from before ingest, every bulletin capture was stored already."""
    stored_before = "captures" in db.table_names() and "ingest_state" not in db["captures"].columns_dict
    _ensure_table(db, CAPTURES)
    if stored_before:
        with db.atomic():
            db.execute("update captures set ingest_state = 'ingested' where kind = 'bulletin'")
    db["captures"].create_index(["url"], if_not_exists=True)
    db.execute("CREATE INDEX IF NOT EXISTS captures_to_ingest ON captures (ingest_state, id)"
               " WHERE ingest_state IS NOT NULL AND ingest_state != 'ingested'")


def _ensure_structure_tables(db: sqlite_utils.Database) -> None:
    """Meetings, items and their units, plus the views over them.

    A view is re-created only when its SQL changed (``create_view(replace=True)`` compares), so
    opening the archive writes nothing in the usual case. (An archive from before these tables
    gets them filled by its next ingest: :func:`crawler.ingest.open_for_ingest`.)
    """
    sourceless = [name for name in ("meetings", "items")
                  if name in db.table_names() and "source" not in db[name].columns_dict]
    _ensure_table(db, MEETINGS, foreign_keys=[("bulletin_url", "bulletins", "url")])
    db["meetings"].create_index(["bulletin_url"], if_not_exists=True)
    _ensure_table(db, ITEMS, foreign_keys=[
        ("bulletin_url", "bulletins", "url"), ("meeting_id", "meetings", "id")])
    for name in sourceless:  # from before attachments had items: every row was read from the page
        with db.atomic():
            db.execute(f"update [{name}] set source = bulletin_url where source is null")
    db["items"].create_index(["bulletin_url"], if_not_exists=True)
    db["items"].create_index(["meeting_id"], if_not_exists=True)
    db["items"].create_index(["status"], if_not_exists=True)
    _ensure_table(db, ITEM_UNITS, foreign_keys=[("item_id", "items", "id")])
    db["item_units"].create_index(["unit"], if_not_exists=True)
    for view in TABLES.values():
        if view.view_sql is not None:
            with db.atomic():
                db.create_view(view.name, view.view_sql.strip(), replace=True)


#: Texts longer than this (characters) are lent to a write rather than bound (:func:`_write_row`).
_BOUND_CHARS = 1 << 16
#: The long texts of a row being written, as the UTF-8 the statement asks for.
_LENDER = Lender("zwdc_lent_text", lambda text: text.encode("utf-8"))


@functools.lru_cache(maxsize=64)
def _write_sql(table: str, columns: tuple[str, ...], conflict: tuple[str, ...], lent: tuple[int, ...] = ()) -> str:
    names = ", ".join(f"[{c}]" for c in columns)
    values = ", ".join(_LENDER.sql(lent.index(i)) if i in lent else "?"
                       for i in range(len(columns)))
    sql = f"INSERT INTO [{table}] ({names}) VALUES ({values})"
    if conflict:
        updates = ", ".join(f"[{c}] = excluded.[{c}]" for c in columns if c not in conflict)
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates}"
    return sql


def _write_row(db: sqlite_utils.Database, table: str, row: dict[str, Any], conflict: tuple[str, ...]) -> sqlite3.Cursor:
    """Insert (or upsert on ``conflict``) ``row``; its long texts lent, not bound
    (:mod:`archive.lending`: a large body was held twice more until the next bulletin)."""
    values = tuple(row.values())
    lent = tuple(i for i, value in enumerate(values) if isinstance(value, str) and len(value) > _BOUND_CHARS)
    if not lent:
        return db.conn.execute(_write_sql(table, tuple(row), conflict), values)
    _LENDER.register(db)
    with _LENDER.lending([values[i] for i in lent]):
        return db.conn.execute(_write_sql(table, tuple(row), conflict, lent),
                               tuple(value for i, value in enumerate(values) if i not in lent))


def insert_row(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> None:
    """Insert ``row`` into a table declared here.

    For the crawl's many small writes: sqlite-utils' ``insert`` reads the table's columns on
    every call, which costs ten times the insert itself.
    """
    _write_row(db, table, row, ())


def upsert_row(db: sqlite_utils.Database, table: str, row: dict[str, Any], pk: tuple[str, ...]) -> int:
    """Insert ``row``, or update the given columns of the row with the same primary key ``pk``.

    Returns the rowid of an inserted row (undefined after an update).
    """
    return _write_row(db, table, row, pk).lastrowid


class ArchiveError(Exception):
    """The archive cannot be used: told to the user in one line (exit code 2)."""


class ArchiveMissing(ArchiveError):
    """Raised when a command needs an existing archive and none is there."""


def ensure_db_shape(db: sqlite_utils.Database) -> None:
    """Create or upgrade tables so the database matches this version of the code."""
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    portal_backfill = "bulletins" in db.table_names() and "portal" not in db["bulletins"].columns_dict
    _ensure_table(db, BULLETINS, not_null={"url", "site"})
    if portal_backfill:  # an archive from before portals: each host was its own portal
        db.execute("update bulletins set portal = site")
    db["bulletins"].create_index(["published"], if_not_exists=True)
    db["bulletins"].create_index(["site", "published"], if_not_exists=True)
    db["bulletins"].create_index(["portal", "published"], if_not_exists=True)
    _ensure_table(db, URL_ALIASES)
    _ensure_table(db, VERSIONS)
    db["versions"].create_index(["url", "seen_at"], if_not_exists=True)
    _ensure_captures(db)
    _ensure_table(db, ATTACHMENTS)
    db["attachments"].create_index(["sha256"], if_not_exists=True)
    # Ingest asks by URL whether a file is archived already (the key leads with the bulletin).
    db["attachments"].create_index(["url"], if_not_exists=True)
    db.execute("CREATE INDEX IF NOT EXISTS attachments_to_read ON attachments (sha256)"
               " WHERE extractor_version IS NULL")  # files whose text is still to be made
    _ensure_table(db, CRAWL_RUNS)
    _ensure_table(db, PORTAL_HOSTS)
    _ensure_table(db, PORTAL_RUNS)
    _ensure_table(db, RUN_FAILURES)
    db["run_failures"].create_index(["run_id"], if_not_exists=True)
    _ensure_structure_tables(db)
    from archive.search import ensure_search_shape

    ensure_search_shape(db)


#: The first bytes of every SQLite database file.
SQLITE_MAGIC = b"SQLite format 3\x00"


def _read_only_uri(path: Path, *, immutable: bool) -> str:
    """``file:`` URI opening ``path`` read-only; ``immutable`` also skips locks and the WAL files."""
    return f"{path.absolute().as_uri()}?mode=ro{'&immutable=1' if immutable else ''}"


def folder_writable(path: Path) -> bool:
    """Whether this user may create files beside ``path`` (its WAL index, its lock)."""
    return os.access(path.absolute().parent, os.W_OK | os.X_OK)


def _has_bulletins(conn: sqlite3.Connection) -> bool:
    return conn.execute(
        "select 1 from sqlite_master where type = 'table' and name = 'bulletins'").fetchone() is not None


def check_is_archive(path: Path) -> bool:
    """Refuse, in one line, a file that is not an archive; say whether it holds one already.

    False means an empty file or an SQLite database without tables, which a crawl may make an
    archive of. Reading never changes the file: the header is read first, then the schema
    through an immutable connection (through the WAL too when one is beside it, as while a
    crawl writes a new archive).
    """
    with open(path, "rb") as handle:
        header = handle.read(len(SQLITE_MAGIC))
    if not header:
        return False
    if header != SQLITE_MAGIC:
        raise ArchiveError(f"{path} is not an archive (not an SQLite database): left unchanged")
    wal = Path(f"{path}-wal")
    uses_wal = wal.exists() and wal.stat().st_size > 0 and folder_writable(path)
    try:
        conn = sqlite3.connect(_read_only_uri(path, immutable=not uses_wal), uri=True)
        try:
            archive = _has_bulletins(conn)
            if not archive and conn.execute("select count(*) from sqlite_master").fetchone()[0]:
                raise ArchiveError(
                    f"{path} is not an archive (an SQLite database without a bulletins table): left unchanged")
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise ArchiveError(f"{path} is not a usable archive ({error}): left unchanged") from None
    return archive


def refuse_non_archive(path: str | Path) -> None:
    """Refuse, in one line and without touching it, a path a crawl may not make an archive of:
    a folder, or a file holding something else. A missing path is fine (the crawl creates it)."""
    path = Path(path)
    if path.is_dir():
        raise ArchiveError(f"{path} is a folder, not an archive file")
    if path.exists():
        check_is_archive(path)


def existing_archive(path: str | Path) -> Path:
    """``path``, once it is known to hold an archive; else one line saying what it is instead.

    For commands that need an archive and must leave anything else untouched (no lock file
    beside it either).
    """
    path = Path(path)
    if not path.exists():
        raise ArchiveMissing(f"no archive at {path} (run 'python -m crawler crawl' first)")
    if path.is_dir():
        raise ArchiveError(f"{path} is a folder, not an archive file")
    try:
        if not check_is_archive(path):
            raise ArchiveError(f"{path} is not an archive (it has no bulletins table): left unchanged")
    except OSError as error:
        raise ArchiveError(f"cannot read archive {path}: {error.strerror}") from None
    return path


def open_archive(path: str | Path, *, create: bool = True, read_only: bool = False) -> sqlite_utils.Database:
    """Open (and shape) the archive at ``path``; refuse a missing one unless ``create``.

    ``read_only`` (the read commands): the file is opened so SQLite refuses any write
    (``immutable`` when its folder is not writable, as for another user's archive). A file
    that is not an archive is refused in one line and left unchanged, in every mode; an
    archive of an older version is upgraded once when it may be written.
    """
    path = Path(path)
    if read_only or not create:
        existing_archive(path)
    elif path.is_dir():
        raise ArchiveError(f"{path} is a folder, not an archive file")
    try:
        if read_only:
            return _open_read_only(path)
        if path.exists():
            check_is_archive(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(path)
        ensure_db_shape(db)
    except (sqlite3.DatabaseError, OSError) as error:
        raise ArchiveError(f"cannot open archive {path}: {error}") from None
    return db


def _open_read_only(path: Path, *, upgraded: bool = False) -> sqlite_utils.Database:
    """Open so SQLite refuses writes; ``immutable`` where this user could not even lock it."""
    immutable = not folder_writable(path)
    db = sqlite_utils.Database(sqlite3.connect(_read_only_uri(path, immutable=immutable), uri=True))
    try:
        ensure_db_shape(db)  # writes nothing when the archive is current; SQLite refuses if not
        return db
    except sqlite3.OperationalError as error:
        db.close()
        if "readonly" not in str(error) or upgraded:
            raise
    if immutable or not os.access(path, os.W_OK):
        raise ArchiveError(f"{path} was made by an older version and needs an upgrade, "
                           "which needs write access to it and its folder")
    open_archive(path).close()  # the one-time upgrade, then read-only again
    return _open_read_only(path, upgraded=True)
