"""Describe exported files as a Frictionless Data Package (``datapackage.json``).

Exports leave the archive, so each file travels with a machine-readable description:
column titles in English, descriptions in Chinese and English (the source pages are
Chinese, most tools and readers are not), types, the primary key, the row count and
the filters that produced it. Several exports can share one directory; each one adds or
replaces its own resource and keeps the others.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

PACKAGE_FILENAME = "datapackage.json"


class DataPackageError(ValueError):
    """An existing ``datapackage.json`` cannot be read, so it must not be overwritten."""


@dataclass(frozen=True)
class FieldDoc:
    """English title plus a description that starts with the Chinese term."""

    title: str
    description: str


@dataclass(frozen=True)
class TableDoc:
    """What a table holds, and what each of its columns means."""

    title: str
    description: str
    fields: dict[str, FieldDoc] = field(default_factory=dict)


#: Documentation of the exportable tables. A later table (meetings, items, ...) adds an
#: entry here; a column without an entry is still exported, with a generic description.
TABLES: dict[str, TableDoc] = {
    "bulletins": TableDoc(
        title="Government supervision bulletins",
        description=(
            "政务督查通报 (government supervision bulletins) collected from Chinese "
            "government portals: one row per published document."
        ),
        fields={
            "url": FieldDoc("URL", "网址 (URL): canonical address of the document; primary key."),
            "site": FieldDoc("Site", "站点 (site): host name of the portal that published it."),
            "portal": FieldDoc(
                "Portal", "门户 (portal): the portal's short name in the registry (sites.toml), else its host."),
            "index_no": FieldDoc(
                "Index number", "索引号 (index number): the portal's public-information index number."
            ),
            "doc_no": FieldDoc(
                "Document number",
                "文号 (document number), e.g. 国办发〔2020〕1号; empty when the page says none (无).",
            ),
            "publisher": FieldDoc(
                "Publisher", "发布机构 / 发文单位 / 发文机关 (publishing or issuing body)."
            ),
            "category": FieldDoc("Category", "主题分类 (subject category) as given by the portal."),
            "validity": FieldDoc("Validity", "有效性 (validity), e.g. 有效 (in force) or 失效 (repealed)."),
            "published": FieldDoc("Publication date", "发布日期 (publication date), ISO YYYY-MM-DD."),
            "issued": FieldDoc(
                "Date issued",
                "发文日期 / 成文日期 (date written or issued), ISO YYYY-MM-DD; empty when not given.",
            ),
            "title": FieldDoc("Title", "名称 / 标题 (title): the document's name, else its heading."),
            "body": FieldDoc(
                "Body text",
                "正文 (body text): plain text, one paragraph per line, table rows as tab-separated cells.",
            ),
            "attachments": FieldDoc(
                "Attachments", "附件 (attachments): list of {name, url}, one per linked file."
            ),
            "fetched_at": FieldDoc(
                "Fetched at", "抓取时间 (fetch time): UTC timestamp of the capture this row came from."
            ),
            "source_url": FieldDoc(
                "Source URL", "来源网址 (source URL): address the page was served from, after redirects."
            ),
            "list_url": FieldDoc(
                "List page URL", "列表页网址 (list page URL): the list page that linked to the document."
            ),
            "content_hash": FieldDoc(
                "Content hash", "内容哈希 (content hash): SHA-256 of the content columns; changes with the text."
            ),
            "first_seen": FieldDoc("First seen", "首次发现时间 (first seen): UTC timestamp of the first capture."),
            "last_seen": FieldDoc(
                "Last seen", "最近确认时间 (last seen): UTC timestamp of the latest capture or revalidation."
            ),
            "missing_since": FieldDoc(
                "Missing since",
                "下线时间 (missing since): when the portal was first found without it; empty while online.",
            ),
            "capture_id": FieldDoc(
                "Capture id", "抓取记录编号 (capture id): the WARC capture this row was extracted from."
            ),
            "etag": FieldDoc("ETag", "实体标签 (ETag): validator the server sent, for conditional re-fetches."),
            "last_modified": FieldDoc(
                "Last-Modified", "最后修改时间 (Last-Modified): the server's HTTP header, as sent."
            ),
        },
    ),
    "meetings": TableDoc(
        title="Meetings reported in bulletins",
        description="会议 (meetings) whose decisions a bulletin reports on, e.g. 市政府第5次常务会议.",
        fields={
            "id": FieldDoc("Meeting id", "会议编号 (meeting id): row number; primary key."),
            "bulletin_url": FieldDoc("Bulletin URL", "通报网址 (bulletin URL): the bulletin it was read from."),
            "date": FieldDoc("Meeting date", "会议日期 (meeting date), ISO YYYY-MM-DD."),
            "number": FieldDoc("Meeting number", "会议次数 (meeting number): N of 第N次; empty when unnumbered."),
            "kind": FieldDoc("Meeting kind", "会议类型 (kind of meeting), e.g. 常务会议 / 全体会议 / 专题会议."),
            "heading": FieldDoc("Heading", "标题 (heading) as written in the bulletin, with its (一)."),
        },
    ),
    "items": TableDoc(
        title="Decisions and their progress",
        description="督办事项 (supervised items): each decision or task a bulletin reports, with its progress.",
        fields={
            "id": FieldDoc("Item id", "事项编号 (item id): row number; primary key."),
            "bulletin_url": FieldDoc("Bulletin URL", "通报网址 (bulletin URL): the bulletin it was read from."),
            "meeting_id": FieldDoc("Meeting id", "会议编号 (meeting id): see meetings; empty outside a meeting."),
            "position": FieldDoc("Position", "序号 (position): the item's written number within its group."),
            "section": FieldDoc("Section", "栏目 (section) as written, e.g. 尚未完全落实事项."),
            "status": FieldDoc(
                "Status", "落实状态 (status), normalised: pending / mostly_done / done / other."
            ),
            "subject": FieldDoc("Subject", "事项内容 (subject): the decision as written, minus numbering."),
            "documents": FieldDoc("Documents", "相关文件 (documents): titles quoted with 《》 in the subject."),
            "progress": FieldDoc("Progress", "进展情况 (progress): the paragraphs that follow, one per line."),
            "group_heading": FieldDoc(
                "Group heading", "分组标题 (group heading): the (一)… sub-heading when it is not a meeting."
            ),
        },
    ),
    "item_units": TableDoc(
        title="Units responsible for items",
        description="责任单位 (responsible units): one row per unit named for an item.",
        fields={
            "item_id": FieldDoc("Item id", "事项编号 (item id): see items."),
            "unit": FieldDoc("Unit", "责任单位 (responsible unit) as named in the bulletin."),
        },
    ),
}

MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv",
    "jsonl": "application/jsonl",
    "parquet": "application/vnd.apache.parquet",
}

#: How our CSV files are written (see :mod:`archive.export`), in Frictionless terms.
CSV_DIALECT: dict[str, Any] = {
    "delimiter": ",",
    "quoteChar": '"',
    "doubleQuote": True,
    "lineTerminator": "\r\n",
    "header": True,
}


def field_descriptor(
    table: str, name: str, field_type: str, *, required: bool = False, unique: bool = False
) -> dict[str, Any]:
    """One schema field: name, Frictionless type, English title, bilingual description."""
    doc = TABLES.get(table, TableDoc("", "")).fields.get(name)
    if doc is None:
        doc = FieldDoc(name.replace("_", " ").capitalize(), f"{name} (column of table {table}).")
    descriptor: dict[str, Any] = {
        "name": name,
        "type": field_type,
        "title": doc.title,
        "description": doc.description,
    }
    if field_type == "string" and (name == "url" or name.endswith("_url")):
        descriptor["format"] = "uri"
    constraints = {key: True for key, on in (("required", required), ("unique", unique)) if on}
    if constraints:
        descriptor["constraints"] = constraints
    return descriptor


def resource_name(path: Path) -> str:
    """A valid, unique-per-directory resource name: the file name, lowercased and slugged."""
    return re.sub(r"[^a-z0-9._-]+", "-", path.name.lower()).strip("-") or "data"


def resource_descriptor(
    *,
    table: str,
    path: Path,
    fmt: str,
    fields: list[dict[str, Any]],
    primary_key: list[str],
    rows: int,
    filters: dict[str, Any],
    created: datetime | None = None,
) -> dict[str, Any]:
    """Describe one exported file; ``path`` is the file itself (its name goes in ``path``)."""
    doc = TABLES.get(table)
    created = created or datetime.now(timezone.utc)
    resource: dict[str, Any] = {
        "name": resource_name(path),
        "path": path.name,
        "profile": "tabular-data-resource",
        "title": doc.title if doc else table,
        "description": doc.description if doc else f"Rows of table {table}.",
        "format": fmt,
        "mediatype": MEDIA_TYPES[fmt],
    }
    if fmt != "parquet":  # text formats only; Parquet strings are always UTF-8
        resource["encoding"] = "utf-8"
    if fmt == "csv":
        resource["dialect"] = CSV_DIALECT
    schema: dict[str, Any] = {"fields": fields, "missingValues": [""]}
    if primary_key:
        schema["primaryKey"] = primary_key
    resource["schema"] = schema
    resource["bytes"] = path.stat().st_size
    resource["stats"] = {"rows": rows, "bytes": resource["bytes"]}
    resource["table"] = table
    resource["filters"] = {key: value for key, value in filters.items() if value is not None}
    resource["created"] = _iso(created)
    return resource


def load_package(directory: Path) -> dict[str, Any] | None:
    """Read the package in ``directory``; ``None`` if absent; error if it is not ours to merge."""
    path = directory / PACKAGE_FILENAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        package = json.loads(text)
    except ValueError as error:
        raise DataPackageError(f"{path} is not valid JSON ({error}); move it away first") from None
    if not isinstance(package, dict) or not isinstance(package.get("resources", []), list):
        raise DataPackageError(f"{path} is not a data package (no resources list); move it away first")
    return package


def write_resource(directory: Path, resource: dict[str, Any]) -> Path:
    """Add or replace ``resource`` (same name or path) in ``directory``'s package, atomically."""
    package = load_package(directory) or {
        "name": "supervision-bulletins",
        "title": "政务督查 (government supervision) archive exports",
        "profile": "data-package",
        "resources": [],
    }
    package["resources"] = [
        other
        for other in package.get("resources", [])
        if not isinstance(other, dict)
        or (other.get("name") != resource["name"] and other.get("path") != resource["path"])
    ] + [resource]
    package["created"] = resource["created"]
    path = directory / PACKAGE_FILENAME
    temporary = directory / f".{PACKAGE_FILENAME}.{os.getpid()}.part"
    try:
        temporary.write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
