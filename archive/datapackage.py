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
