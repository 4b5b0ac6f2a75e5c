"""``python -m crawler export``: write an archive table to CSV, JSON Lines or Parquet.

The work is done by :func:`archive.export.export_table`; this module only turns the command
line into a call and every user-fixable problem into one line and exit status 2.
"""
from __future__ import annotations

import argparse
import sys

from archive.datapackage import DataPackageError
from archive.export import FORMATS, ExportError, export_table, format_for, parse_date
from archive.schema import open_archive
from crawler.commands import refuse_unknown_values
from crawler.errors import CommandError
from crawler.output import inert

HELP = "Export the archive (bulletins by default) to CSV, JSON Lines or Parquet, with datapackage.json."

DEFAULT_ARCHIVE = "data/archive.db"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # No argparse ``choices`` for --format: a bad value gets our one-line message instead.
    parser.add_argument(
        "--format", metavar="|".join(FORMATS),
        help="output format (default: from the --output suffix: .csv, .jsonl, .parquet)",
    )
    parser.add_argument("--output", "-o", required=True, metavar="PATH", help="file to write")
    parser.add_argument("--since", metavar="DATE", help="only rows published on or after DATE (YYYY-MM-DD)")
    parser.add_argument("--until", metavar="DATE", help="only rows published on or before DATE (YYYY-MM-DD)")
    parser.add_argument("--site", metavar="HOST", help="only rows from this site (host name, any port)")
    parser.add_argument("--portal", metavar="NAME", help="only rows from this portal (its short name, see 'sites')")
    parser.add_argument("--query", "-q", metavar="TEXT",
                        help="only bulletins matching this search (or rows of those bulletins)")
    parser.add_argument("--unit", metavar="TEXT", help="only items (or units) whose responsible unit contains TEXT")
    parser.add_argument("--publisher", metavar="TEXT", help="only bulletins whose publisher contains TEXT")
    parser.add_argument("--table", default="bulletins",
                        help="table or view to export (default: bulletins; items carries its meeting, "
                             "bulletin and units; e.g. open_items_per_unit)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing file that is not an earlier export")
    parser.add_argument(
        "--archive", default=DEFAULT_ARCHIVE, metavar="PATH",
        help=f"archive database (default: {DEFAULT_ARCHIVE})"
    )


def run(args: argparse.Namespace) -> int:
    try:  # check what needs no database first, so mistakes are reported at once
        fmt = format_for(args.format, args.output)
        since, until = parse_date(args.since, "--since"), parse_date(args.until, "--until")
    except ExportError as error:
        raise CommandError(str(error), 2) from None
    db = open_archive(args.archive, read_only=True)
    try:
        refuse_unknown_values(db, site=args.site, portal=args.portal, publisher=args.publisher)
        result = export_table(
            db, fmt, args.output,
            table=args.table, since=since, until=until, site=args.site, portal=args.portal, query=args.query,
            unit=args.unit, publisher=args.publisher, force=args.force, progress=sys.stderr.isatty(),
        )
    except (ExportError, DataPackageError) as error:
        raise CommandError(str(error), 2) from None
    except OSError as error:  # e.g. disk full mid-export; the partial file is already gone
        raise CommandError(f"export to {args.output} failed: {error}", 1) from None
    finally:
        db.close()
    print(inert(result.summary(), lines=True))
    return 0
