"""``reprocess``: re-extract every bulletin from its stored capture (no network).

Takes the crawl lock (a crawl running meanwhile: exit 75), since it rewrites rows. A capture
that no longer extracts as its bulletin is not stored over the row (see
:mod:`pipelines.guard`): each is named on stderr with its reason, and the exit status is 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from archive.lock import ArchiveLock
from archive.schema import existing_archive, open_archive
from crawler.output import inert

HELP = "re-run extraction over the archive from its WARC captures, offline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive")


def _refused(url: str, reason: str) -> None:
    tqdm.write(f"kept {inert(url)}: {inert(reason)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from crawler.reprocess import reprocess_archive  # here: extraction's imports only when used

    with ArchiveLock(existing_archive(args.archive)):  # held by a crawl: ArchiveBusy, exit 75
        db = open_archive(args.archive, create=False)
        total = db["bulletins"].count
        with tqdm(total=total, unit="bulletin", disable=not sys.stderr.isatty()) as bar:
            outcomes = reprocess_archive(db, Path(args.archive), progress=bar.update, on_refusal=_refused)
        db.close()
    print(
        f"reprocessed {outcomes['new'] + outcomes['changed'] + outcomes['unchanged']} of {total} "
        f"bulletins: changed {outcomes['changed']}, unchanged {outcomes['unchanged']}; "
        f"kept (not a bulletin any more) {outcomes['refused']}; "
        f"without capture {outcomes['without_capture']}, unreadable {outcomes['capture_unreadable']}"
    )
    return 1 if outcomes["capture_unreadable"] or outcomes["refused"] else 0
