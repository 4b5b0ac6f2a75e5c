"""The subcommands of ``python -m crawler``; what several of them share."""
from __future__ import annotations

import argparse

import sqlite_utils

from archive.search import Filters, QueryError, known_filter_values
from crawler.errors import CommandError
from crawler.output import inert
from crawler.settings import ATTACHMENT_READERS


#: Most attachment readers at once: each is a thread with a sandbox process of its own (and the
#: files read ahead are twice as many), so a large number started a process per file at once.
MAX_READERS = 16


def _readers(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= number <= MAX_READERS:
        raise argparse.ArgumentTypeError(f"from 1 to {MAX_READERS}, not {number}")
    return number


def add_readers_argument(parser: argparse.ArgumentParser) -> None:
    """``--readers N``: attachment files read at once (``ingest``, ``reprocess``)."""
    parser.add_argument("--readers", type=_readers, default=ATTACHMENT_READERS, metavar="N",
                        help="attachment files read at once, each in a limited child process "
                             "(default: one a core, at most 4; here %(default)s)")


def refuse_unknown_values(db: sqlite_utils.Database, *, site: str | None = None, portal: str | None = None,
                          publisher: str | None = None) -> None:
    """One line (exit 2) naming the values that exist, when a ``--site``, ``--portal`` or
    ``--publisher`` matches no bulletin: a typo answered "nothing" by one command and "unknown,
    these exist" by another."""
    try:
        filters = Filters.make(publisher=publisher, site=site, portal=portal)
    except QueryError as error:
        raise CommandError(str(error), 2) from None
    for name, known in known_filter_values(db, filters).items():
        listed = ", ".join(known) if known else "none: the archive is empty"
        raise CommandError(inert(f"--{name}: no bulletin has {name} {getattr(filters, name)!r} (known: {listed})"), 2)
