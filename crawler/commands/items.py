"""``items``: the decisions bulletins follow up, by responsible unit, status or meeting date."""
from __future__ import annotations

import argparse
import sys
from datetime import date

from archive.schema import open_archive
from archive.structure import list_items
from crawler.commands import refuse_unknown_values
from crawler.errors import CommandError
from crawler.output import inert, json_line
from pipelines.structure import STATUSES

HELP = "list supervision items (decisions and their progress) parsed from the bulletins"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive")
    parser.add_argument("--unit", metavar="NAME", help="only items whose responsible unit contains NAME (e.g. 财政局)")
    # No argparse ``choices``: a bad value gets our one-line message and exit status 2.
    parser.add_argument("--status", metavar="|".join(STATUSES), help="only items with this status")
    parser.add_argument("--meeting-date", metavar="DATE", help="only items of meetings held on DATE (YYYY-MM-DD)")
    parser.add_argument("--portal", metavar="NAME", help="only items of this portal's bulletins (see 'sites')")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def _meeting_date(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise CommandError(f"--meeting-date: {value!r} is not a date (expected YYYY-MM-DD)", 2) from None


def run(args: argparse.Namespace) -> int:
    if args.status is not None and args.status not in STATUSES:
        raise CommandError(f"--status: unknown status {args.status!r} (expected one of {', '.join(STATUSES)})", 2)
    meeting_date = _meeting_date(args.meeting_date)
    db = open_archive(args.archive, read_only=True)
    refuse_unknown_values(db, portal=args.portal)
    count = 0
    for row in list_items(db, unit=args.unit, status=args.status, meeting_date=meeting_date,
                          portal=args.portal):
        count += 1
        if args.json:
            record = {key: row[key] for key in (
                "bulletin_url", "portal", "published", "meeting_date", "meeting_number", "meeting_kind", "section",
                "status", "position", "group_heading", "subject", "units", "documents", "progress", "deadline",
                "source")}
            print(json_line(record))
        else:
            print(_describe(row))
    if count == 0:
        # on stderr with --json, so stdout stays valid (empty) JSON Lines
        print("no items match", file=sys.stderr if args.json else sys.stdout)
    elif not args.json:
        print(f"{count} item(s)")
    return 0


def _describe(row: dict) -> str:
    """Two or three lines per item: where it comes from, what it is, who is responsible.

    Every field is the portal's text: printed inert (:func:`crawler.output.inert`).
    """
    row = {key: [inert(unit) for unit in value] if key == "units" else
           inert(value) if isinstance(value, str) else value for key, value in row.items()}
    if row["meeting_date"]:
        number = f"第{row['meeting_number']}次" if row["meeting_number"] is not None else ""
        origin = f"{row['meeting_date']} {number}{row['meeting_kind']}"
    else:
        origin = row["group_heading"] or row["published"] or ""
    lines = [f"[{row['status']}] {origin} · {row['section'] or '-'} · {row['position']}. {row['subject']}"]
    if row["units"] or row["deadline"]:
        lines.append("    " + " · ".join(filter(None, [row["units"] and f"责任单位: {'、'.join(row['units'])}",
                                                     row["deadline"] and f"完成时限: {row['deadline']}"])))
    lines.append(f"    {row['bulletin_url']}")
    if row["source"] and row["source"] != row["bulletin_url"]:
        lines.append(f"    附件 (attachment): {row['source']}")
    return "\n".join(lines)
