"""``reindex``: rebuild the full-text search index from the archived bulletins.

Needed only after rows were written without going through the archive's store (the search
command warns when the index does not cover the table); a change of tokenising scheme rebuilds
by itself when the archive is opened. Takes the crawl lock: the rebuild is one long write
transaction that a concurrent crawl would otherwise wait on.
"""
from __future__ import annotations

import argparse
import sys
import time

from tqdm import tqdm

from archive.lock import ArchiveLock
from archive.schema import existing_archive, open_archive
from archive.search import rebuild_index

HELP = "rebuild the full-text search index"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive")


def run(args: argparse.Namespace) -> int:
    with ArchiveLock(existing_archive(args.archive), "reindex"):  # held by a crawl: ArchiveBusy, exit 75
        db = open_archive(args.archive, create=False)
        started = time.perf_counter()
        with tqdm(unit=" bulletins", disable=not sys.stderr.isatty(), desc="indexing") as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            count = rebuild_index(db, progress)
    print(f"indexed {count} bulletins in {time.perf_counter() - started:.1f} s")
    return 0
