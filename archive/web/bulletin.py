"""``/-/bulletin?url=…``: one bulletin to read, with everything the archive knows about it.

Title, the metadata card, the body (paragraphs, and its tables: a body keeps table rows as
tab-separated cells), the attachments (archived file and original link, and the text read from
the file: shown open when the page says only "详见附件", folded otherwise), the supervision items
parsed from it and its files, its versions with a diff between any two (``&from=ID&to=ID``), and links to the
original URL and to the raw capture.

``/-/capture/ID`` serves a capture's payload as the portal sent it, read back from its WARC
record; ``/-/file/SHA256`` an archived attachment. Both are archived bytes from the web, so they
are served sandboxed (``Content-Security-Policy: sandbox``): no script runs, nothing is loaded.
"""
from __future__ import annotations

import asyncio
import difflib
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from datasette.utils import tilde_encode
from datasette.utils.asgi import Response

from archive.layout import attachment_file, capture_file
from archive.warc import read_capture
from archive.web.common import (
    BULLETIN_PATH, CAPTURE_PATH, FILE_PATH, ITEMS_PATH, PAGE_HEADERS, bulletin_page, error_page,
    read, render, safe_href, served_archive, translator, url_with,
)

#: Archived bytes from the web, shown by the browser as a document of no origin: no script,
#: no request to anywhere (images and styles of the original page stay unloaded).
SANDBOX_HEADERS = {"Content-Security-Policy": "sandbox; default-src 'none'; style-src 'unsafe-inline'",
                   "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
#: The metadata card: (column, message id), in the order of the portals' own blocks.
CARD = (("index_no", "index_no"), ("doc_no", "doc_no"), ("publisher", "publisher"),
        ("category", "category"), ("validity", "validity"), ("published", "published"),
        ("issued", "issued"))
#: Fields compared by a diff besides the body, in this order.
DIFF_FIELDS = (("title", "field_title"), *CARD, ("attachments", "field_attachments"))
DIFF_CONTEXT = 3
#: A body that only sends the reader to its attachment ("……具体内容详见附件。").
SEE_ATTACHMENT = re.compile(r"见附件")
#: Characters of an attachment's text shown on the page (the archived file holds the rest).
ATTACHMENT_TEXT_SHOWN = 200_000


# --- the body ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A paragraph (``rows`` is None) or a table (rows of cells) of a body."""

    text: str = ""
    rows: tuple[tuple[str, ...], ...] | None = None


def body_blocks(body: str | None) -> list[Block]:
    """Lines become paragraphs; consecutive lines with tabs (table rows) become one table."""
    blocks: list[Block] = []
    table: list[tuple[str, ...]] = []
    for line in (body or "").splitlines():
        if "\t" in line:
            table.append(tuple(cell.strip() for cell in line.split("\t")))
            continue
        if table:
            blocks.append(Block(rows=tuple(table)))
            table = []
        if line.strip():
            blocks.append(Block(text=line.strip()))
    if table:
        blocks.append(Block(rows=tuple(table)))
    return blocks


# --- versions and their diff ---------------------------------------------------------------


def version_lines(version: dict[str, Any], t) -> list[str]:
    """A version as lines to compare: its fields, one per line, then the body's lines."""
    lines = []
    for column, key in DIFF_FIELDS:
        value = version.get(column)
        if column == "attachments":
            value = "; ".join(f"{a.get('name') or ''} <{a.get('url') or ''}>" for a in _attachment_list(value))
        lines.append(f"{t(key)}: {value or ''}")
    return lines + [""] + (version.get("body") or "").splitlines()


def _inline(old: str, new: str) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """Both lines cut into (text, changed) pieces, character by character (Chinese has no spaces)."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    before: list[tuple[str, bool]] = []
    after: list[tuple[str, bool]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if old[i1:i2]:
            before.append((old[i1:i2], tag != "equal"))
        if new[j1:j2]:
            after.append((new[j1:j2], tag != "equal"))
    return before, after


def diff(old: list[str], new: list[str]) -> list[dict[str, Any]]:
    """Hunks of changed lines with :data:`DIFF_CONTEXT` lines around them.

    Each line: ``kind`` (``same``, ``del``, ``add``), line numbers, and ``pieces`` of text marking
    what changed inside a line replaced by another.
    """
    hunks = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for group in matcher.get_grouped_opcodes(DIFF_CONTEXT):
        lines = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [{"kind": "same", "old": i + 1, "new": j + 1, "pieces": [(old[i], False)]}
                          for i, j in zip(range(i1, i2), range(j1, j2))]
                continue
            removed, added = old[i1:i2], new[j1:j2]
            pairs = len(removed) == len(added)
            for offset, line in enumerate(removed):
                pieces = _inline(line, added[offset])[0] if pairs else [(line, True)]
                lines.append({"kind": "del", "old": i1 + offset + 1, "new": None, "pieces": pieces})
            for offset, line in enumerate(added):
                pieces = _inline(removed[offset], line)[1] if pairs else [(line, True)]
                lines.append({"kind": "add", "old": None, "new": j1 + offset + 1, "pieces": pieces})
        hunks.append(lines)
    return hunks


# --- what the page shows -------------------------------------------------------------------


def _json_list(value: str | None) -> list:
    """A JSON list column; anything else (unreadable, not a list) as an empty list."""
    try:
        loaded = json.loads(value or "[]")
    except ValueError:
        return []
    return loaded if isinstance(loaded, list) else []


def _attachment_list(value: str | None) -> list[dict[str, Any]]:
    return [item for item in _json_list(value) if isinstance(item, dict)]


def _find(db: sqlite_utils.Database, url: str) -> dict[str, Any] | None:
    row = next(db.query("select rowid, * from bulletins where url = ?", [url]), None)
    if row is None and "url_aliases" in db.table_names():
        alias = db.execute("select url from url_aliases where alias = ?", [url]).fetchone()
        if alias:
            row = next(db.query("select rowid, * from bulletins where url = ?", [alias[0]]), None)
    return row


def only_points_to_attachments(body: str | None) -> bool:
    """Whether the body is no more than a line sending the reader to the attachment."""
    lines = [line for line in (body or "").splitlines() if line.strip()]
    return len(lines) <= 1 and bool(SEE_ATTACHMENT.search(lines[0] if lines else "见附件"))


def _shown_file(file: dict[str, Any] | None, open_text: bool) -> dict[str, Any]:
    """What the page shows of an archived file: link, and its text as blocks (open or folded)."""
    if file is None:
        return {"file": None, "file_url": None, "blocks": [], "open": False, "cut": False}
    text = file["text"] or ""
    return {"file": file, "file_url": FILE_PATH + file["sha256"] if file["sha256"] else None,
            "blocks": body_blocks(text[:ATTACHMENT_TEXT_SHOWN]), "open": open_text,
            "cut": len(text) > ATTACHMENT_TEXT_SHOWN}


def _attachments(db: sqlite_utils.Database, bulletin: dict[str, Any]) -> list[dict[str, Any]]:
    stored = {row["url"]: row for row in db.query(
        "select url, name, mime_type, size, sha256, path, text, text_method, pages, error, ocr_confidence,"
        " extractor_version from attachments where bulletin_url = ?", [bulletin["url"]])}
    open_text = only_points_to_attachments(bulletin["body"])
    shown = []
    for item in _attachment_list(bulletin["attachments"]):
        url = item.get("url") or ""
        file = stored.pop(url, None)
        shown.append({"name": item.get("name") or url, "url": url, "href": safe_href(url),
                      **_shown_file(file, open_text)})
    for url, file in stored.items():  # downloaded but no longer listed by the page
        shown.append({"name": file["name"] or url, "url": url, "href": safe_href(url),
                      **_shown_file(file, open_text)})
    return shown


def _structure(db: sqlite_utils.Database, url: str) -> list[dict[str, Any]]:
    """The bulletin's items in the order ``items`` lists them (the page's, then each attachment's),
    in groups of consecutive items of one meeting (or of none), each with its meeting's heading
    and the attachment it was read from."""
    names = {row["url"]: row["name"] for row in db.query(
        "select url, name from attachments where bulletin_url = ?", [url])}
    meetings = {row["id"]: row for row in db.query(
        "select id, date, number, kind, heading from meetings where bulletin_url = ?", [url])}
    units: dict[int, list[str]] = {}
    for item_id, unit in db.execute(
        "select u.item_id, u.unit from item_units u join items i on i.id = u.item_id "
        "where i.bulletin_url = ? order by u.rowid", [url],
    ):
        units.setdefault(item_id, []).append(unit)
    groups: list[dict[str, Any]] = []
    for item in db.query(
        "select id, meeting_id, position, section, status, subject, documents, progress, group_heading, deadline,"
        " nullif(source, bulletin_url) as attachment_url from items where bulletin_url = ?"
        " order by source != bulletin_url, id", [url],
    ):
        item["units"] = [{"name": unit, "url": url_with(ITEMS_PATH, {"unit": unit})} for unit in units.get(item["id"], [])]
        item["documents"] = [d for d in _json_list(item["documents"]) if isinstance(d, str)]
        source = item["attachment_url"]
        if not groups or (groups[-1]["meeting_id"], groups[-1]["attachment_url"]) != (item["meeting_id"], source):
            meeting = meetings.get(item["meeting_id"]) or {}
            groups.append({"meeting_id": item["meeting_id"], "heading": meeting.get("heading"),
                           "attachment_url": source, "attachment_name": names.get(source) or source, "items": []})
        groups[-1]["items"].append(item)
    return groups


def _versions(db: sqlite_utils.Database, url: str) -> list[dict[str, Any]]:
    versions = list(db.query(
        "select id, content_hash, seen_at, capture_id, title, index_no, doc_no, publisher, category, "
        "validity, published, issued, body, attachments from versions where url = ? order by seen_at, id", [url]))
    for number, version in enumerate(versions, 1):
        version["number"] = number
    return versions


def load_bulletin(db: sqlite_utils.Database, url: str, compare: tuple[str, str] | None, t) -> dict[str, Any] | None:
    bulletin = _find(db, url)
    if bulletin is None:
        return None
    versions = _versions(db, bulletin["url"])
    capture = None
    if bulletin["capture_id"] is not None:
        capture = next(db.query("select id, url, status, fetched_at, content_type from captures where id = ?",
                                [bulletin["capture_id"]]), None)
    comparison = None
    if len(versions) > 1:
        by_id = {str(v["id"]): v for v in versions}
        old_id, new_id = compare or (str(versions[-2]["id"]), str(versions[-1]["id"]))
        missing = [value for value in (old_id, new_id) if value not in by_id]
        if missing:
            comparison = {"error": t("bad_version", id=missing[0])}
        else:
            old, new = by_id[old_id], by_id[new_id]
            comparison = {"old": old, "new": new,
                          "hunks": diff(version_lines(old, t), version_lines(new, t))}
    return {
        "bulletin": bulletin,
        "card": [(t(key), bulletin[column]) for column, key in CARD if bulletin[column]],
        "blocks": body_blocks(bulletin["body"]),
        "attachments": _attachments(db, bulletin),
        "body_in_attachment": only_points_to_attachments(bulletin["body"]),
        "meetings": _structure(db, bulletin["url"]),
        "versions": versions,
        "comparison": comparison,
        "capture": capture,
    }


async def bulletin_view(datasette, request):
    archive = await served_archive(datasette)
    if archive is None:
        return await error_page(datasette, request, "no_archive", status=500)
    url = (request.args.get("url") or "").strip()
    compare = None
    if request.args.get("from") or request.args.get("to"):
        compare = (request.args.get("from") or "", request.args.get("to") or "")
    t = translator(request)
    found = await read(datasette, archive, lambda db: load_bulletin(db, url, compare, t)) if url else None
    if found is None:
        return await error_page(datasette, request, "not_found", status=404, detail=url)
    bulletin = found["bulletin"]
    if bulletin["url"] != url:  # listed under another URL that redirects to this one
        return Response.redirect(bulletin_page(bulletin["url"]))
    found.update({
        "original_href": safe_href(bulletin["url"]),
        "row_url": datasette.urls.row(archive.name, "bulletins", tilde_encode(bulletin["url"])),
        "capture_url": f"{CAPTURE_PATH}{bulletin['capture_id']}" if found["capture"] else None,
        "capture_path": CAPTURE_PATH,
        "page_path": BULLETIN_PATH,
    })
    return await render(datasette, request, "zwdc_bulletin.html", found)


# --- raw bytes -------------------------------------------------------------------------------


def _sandboxed(body: bytes, content_type: str, disposition: str | None = None) -> Response:
    headers = dict(SANDBOX_HEADERS)
    if disposition:
        headers["Content-Disposition"] = disposition
    return Response(body, headers=headers, content_type=content_type or "application/octet-stream")


async def capture_view(datasette, request):
    """The payload of capture ``id`` as the portal sent it (decompressed), sandboxed."""
    archive = await served_archive(datasette)
    if archive is None:
        return Response.text("no archive database is served\n", status=500)
    capture_id = request.url_vars["id"]
    row = await read(datasette, archive, lambda db: next(db.query(
        "select warc_file, warc_offset, content_type from captures where id = ?", [int(capture_id)]), None))
    path = capture_file(archive.path, row["warc_file"]) if row else None
    if path is None or row["warc_offset"] is None:
        return Response.text(f"no capture {capture_id}\n", status=404, headers=dict(PAGE_HEADERS))
    try:
        stored = await asyncio.to_thread(read_capture, path, row["warc_offset"])
    except (OSError, ValueError, StopIteration) as error:
        return Response.text(f"capture {capture_id} cannot be read: {error}\n", status=404,
                             headers=dict(PAGE_HEADERS))
    return _sandboxed(stored.body, row["content_type"] or stored.headers.get("Content-Type", ""))


async def file_view(datasette, request):
    """An archived attachment, by its sha256, under the name the portal gave it."""
    archive = await served_archive(datasette)
    if archive is None:
        return Response.text("no archive database is served\n", status=500)
    digest = request.url_vars["sha256"]
    row = await read(datasette, archive, lambda db: next(db.query(
        "select name, mime_type, path from attachments where sha256 = ? limit 1", [digest]), None))
    path = attachment_file(archive.path, row["path"]) if row else None
    if path is None or not path.is_file():
        return Response.text(f"no archived file {digest}\n", status=404, headers=dict(PAGE_HEADERS))
    body = await asyncio.to_thread(path.read_bytes)
    name = (row["name"] or path.name).replace("/", "_").replace("\\", "_")
    disposition = "attachment; filename*=UTF-8''" + urllib.parse.quote(name, safe="")
    return _sandboxed(body, row["mime_type"] or "application/octet-stream", disposition)
