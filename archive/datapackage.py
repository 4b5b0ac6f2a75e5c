"""Describe exported files as a Frictionless Data Package (``datapackage.json``).

Exports leave the archive, so each file travels with a machine-readable description:
column titles in English, descriptions in Chinese and English (the source pages are
Chinese, most tools and readers are not; both declared once in :mod:`archive.schema`),
types, the primary key, the row count and the filters that produced it. Several exports can share one directory; each one adds or
replaces its own resource and keeps the others.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from archive import atomic
from archive.schema import TABLES

PACKAGE_FILENAME = "datapackage.json"


class DataPackageError(ValueError):
    """An existing ``datapackage.json`` cannot be read, so it must not be overwritten."""


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
    declared = TABLES[table].field(name) if table in TABLES else None
    title = declared.title if declared else name.replace("_", " ").capitalize()
    description = declared.description if declared else f"{name} (column of table {table})."
    descriptor: dict[str, Any] = {
        "name": name,
        "type": field_type,
        "title": title,
        "description": description,
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
    if fmt != "parquet":  # Frictionless cannot count the bytes it reads through pyarrow
        resource["bytes"] = path.stat().st_size
    resource["stats"] = {"rows": rows, **({"bytes": resource["bytes"]} if "bytes" in resource else {})}
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


def is_resource(directory: Path, name: str) -> bool:
    """Whether file ``name`` in ``directory`` is described by its package (an earlier export)."""
    package = load_package(directory) or {}
    return any(isinstance(r, dict) and r.get("path") == name for r in package.get("resources", []))


def write_resource(directory: Path, resource: dict[str, Any]) -> Path:
    """Add or replace ``resource`` (same name or path) in ``directory``'s package, atomically.

    Read and rewritten under a lock on the folder itself (no lock file left in it): exports into
    one folder at once each listed their file in what they read, and the last one written won.
    """
    folder = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        return _add_resource(directory, resource)
    finally:
        os.close(folder)  # the lock goes with it


def _add_resource(directory: Path, resource: dict[str, Any]) -> Path:
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
    atomic.write_text(path, json.dumps(package, ensure_ascii=False, indent=2) + "\n")
    return path


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
