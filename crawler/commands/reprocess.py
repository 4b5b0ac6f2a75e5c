"""``reprocess``: re-extract every bulletin from its stored capture (no network)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from archive.schema import open_archive

HELP = "re-run extraction over the archive from its WARC captures, offline"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive")


def run(args: argparse.Namespace) -> int:
    from crawler.reprocess import reprocess_archive  # here: extraction's imports only when used

    db = open_archive(args.archive, create=False)
    total = db["bulletins"].count
    with tqdm(total=total, unit="bulletin", disable=not sys.stderr.isatty()) as bar:
        outcomes = reprocess_archive(db, Path(args.archive), progress=bar.update)
    print(
        f"reprocessed {outcomes['new'] + outcomes['changed'] + outcomes['unchanged']} of {total} "
        f"bulletins: changed {outcomes['changed']}, unchanged {outcomes['unchanged']}; "
        f"without capture {outcomes['without_capture']}, unreadable {outcomes['capture_unreadable']}"
    )
    return 1 if outcomes["capture_unreadable"] else 0
