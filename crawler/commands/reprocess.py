"""``reprocess``: re-extract every bulletin from its stored capture (no network)."""
from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from archive.layout import ArchiveLayout
from archive.lock import ArchiveBusy, ArchiveLock
from archive.schema import ArchiveMissing
from crawler.errors import CommandError

HELP = "re-run extraction over the archive from its WARC captures, offline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive")


def run(args: argparse.Namespace) -> int:
    from crawler.ingest import Ingest, open_for_ingest, rebuild_structures  # extraction's imports only when used

    layout = ArchiveLayout.of(args.archive)
    if not layout.db.exists():
        raise ArchiveMissing(f"no archive at {args.archive} (run 'python -m crawler crawl' first)")
    try:
        with ArchiveLock(layout.db):
            db = open_for_ingest(layout.db)
            total = db["bulletins"].count
            without = db.execute("select count(*) from bulletins where capture_id is null").fetchone()[0]
            with tqdm(total=total - without, unit="bulletin", disable=not sys.stderr.isatty()) as bar:
                ingest = Ingest(db, layout, progress=bar.update)
                ingest.archived()
            # Unchanged bodies keep their items when re-ingested; a better parser must still reach them.
            rebuild_structures(db)
            db.conn.commit()
            db.close()
    except ArchiveBusy as busy:
        raise CommandError(str(busy), exit_code=75) from None
    counts = ingest.counts
    print(
        f"reprocessed {counts['ingest/new'] + counts['ingest/changed'] + counts['ingest/unchanged']} of {total} "
        f"bulletins: changed {counts['ingest/changed']}, unchanged {counts['ingest/unchanged']}; "
        f"without capture {without}, unreadable {counts['ingest/unreadable']}, refused {counts['ingest/refused']}"
    )
    return 1 if counts["ingest/unreadable"] else 0
