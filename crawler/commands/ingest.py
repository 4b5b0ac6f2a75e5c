"""``ingest``: build archive rows from captures not ingested yet, or from the named WARC files."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from archive.layout import ArchiveLayout
from archive.lock import ArchiveBusy, ArchiveLock
from archive.schema import existing_archive
from archive.store import mark_killed_runs
from crawler.commands import add_readers_argument
from crawler.errors import CommandError
from crawler.sites import load_registry

HELP = "ingest captures not yet in the archive (what a killed crawl left), or the WARC files named"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive")
    parser.add_argument("--sites", metavar="PATH", default=None,
                        help="a registry file adding portals (and their profiles) to the shipped sites.toml")
    parser.add_argument("warc", nargs="*", metavar="WARC",
                        help="WARC files of this archive to ingest again (default: what is not ingested yet)")
    parser.add_argument("--ocr", action="store_true",
                        help="read scanned PDFs and images with Tesseract (seconds a page; off by default)")
    add_readers_argument(parser)


def run(args: argparse.Namespace) -> int:
    from crawler.attachments_ingest import read_texts, texts_summary  # extraction's imports only when used
    from crawler.ingest import Ingest, open_for_ingest

    profiles = load_registry(args.sites).profiles()  # the portals' body containers and labels
    layout = ArchiveLayout.of(existing_archive(args.archive))  # anything else is refused, left as it is
    try:
        with ArchiveLock(layout.db, "ingest"):
            db = open_for_ingest(layout.db)
            mark_killed_runs(db)
            names = [Path(name).name for name in args.warc]
            known = {name for (name,) in db.execute("select distinct warc_file from captures")}
            unknown = [name for name in names if name not in known]
            if unknown:
                raise CommandError(f"not a WARC file of {layout.db}: {', '.join(unknown)}", exit_code=2)
            with tqdm(unit="capture", disable=not sys.stderr.isatty()) as bar:
                with Ingest(db, layout, progress=bar.update, profiles=profiles, processes=1) as ingest:
                    # extraction in a worker process, beside the writes
                    count = ingest.warc_files(names) if names else ingest.ready()
            texts = read_texts(db, layout, ocr=args.ocr, readers=args.readers)
            db.close()
    except ArchiveBusy as busy:
        raise CommandError(str(busy), exit_code=75) from None
    counts = ingest.counts
    outcomes = ", ".join(f"{key.split('/', 1)[1]} {number}" for key, number in sorted(counts.items())
                         if key.startswith("ingest/"))
    print(f"ingested {count} capture(s){': ' + outcomes if outcomes else ''}{texts_summary(texts)}")
    return 1 if counts["ingest/unreadable"] else 0
