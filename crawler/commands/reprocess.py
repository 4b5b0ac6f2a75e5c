"""``reprocess``: re-extract every bulletin from its stored capture, every attachment from its stored file (no network).

Extraction reads each portal's profile from the registry (``--sites PATH`` as for the crawl).
Takes the crawl lock (a crawl running meanwhile: exit 75), since it rewrites rows. A capture
that no longer extracts as its bulletin is not stored over the row (see
:mod:`pipelines.guard`): each is named on stderr with its reason, and the exit status is 1.
"""
from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from archive.layout import ArchiveLayout
from archive.lock import ArchiveLock
from archive.schema import existing_archive
from crawler.commands import add_readers_argument
from crawler.output import inert
from crawler.sites import load_registry

HELP = "re-run extraction over the archive from its WARC captures, offline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive")
    parser.add_argument("--sites", metavar="PATH", default=None,
                        help="a registry file adding portals (and their profiles) to the shipped sites.toml")
    parser.add_argument("--ocr", action="store_true",
                        help="read scanned PDFs and images with Tesseract (seconds a page; off by default)")
    add_readers_argument(parser)


def _refused(url: str, reason: str) -> None:
    tqdm.write(f"kept {inert(url)}: {inert(reason)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from crawler.attachments_ingest import read_texts, texts_summary  # extraction's imports only when used
    from crawler.ingest import Ingest, open_for_ingest, rebuild_structures

    profiles = load_registry(args.sites).profiles()  # the portals' body containers and labels
    layout = ArchiveLayout.of(existing_archive(args.archive))
    with ArchiveLock(layout.db, "reprocess"):  # held by a crawl: ArchiveBusy, exit 75
        db = open_for_ingest(layout.db)
        total = db["bulletins"].count
        without = db.execute("select count(*) from bulletins where capture_id is null").fetchone()[0]
        with tqdm(total=total - without, unit="bulletin", disable=not sys.stderr.isatty()) as bar:
            with Ingest(db, layout, progress=bar.update, on_refusal=_refused, profiles=profiles, processes=1,
                        restructure=True) as ingest:
                ingest.archived()  # extraction in a worker process, beside the writes
        texts = read_texts(db, layout, ocr=args.ocr, everything=True, readers=args.readers)
        # A better parser must reach every body: those re-ingested got their items stored then,
        # parsed in the worker beside the rest of their extraction; the others are parsed here.
        rebuild_structures(db, parsed=ingest.restructured)
        db.conn.commit()
        db.close()
    counts = ingest.counts
    print(
        f"reprocessed {counts['ingest/new'] + counts['ingest/changed'] + counts['ingest/unchanged']} of {total} "
        f"bulletins: changed {counts['ingest/changed']}, unchanged {counts['ingest/unchanged']}; "
        f"kept (not a bulletin any more) {counts['ingest/refused_replacement']}; "
        f"without capture {without}, unreadable {counts['ingest/unreadable']}, refused {counts['ingest/refused']}"
        f"{texts_summary(texts)}"
    )
    return 1 if counts["ingest/unreadable"] or counts["ingest/refused_replacement"] else 0
