"""The subcommands of ``python -m crawler``; what several of them share."""
from __future__ import annotations

import argparse

from crawler.settings import ATTACHMENT_READERS


def _at_least_one(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"at least 1, not {number}")
    return number


def add_readers_argument(parser: argparse.ArgumentParser) -> None:
    """``--readers N``: attachment files read at once (``ingest``, ``reprocess``)."""
    parser.add_argument("--readers", type=_at_least_one, default=ATTACHMENT_READERS, metavar="N",
                        help="attachment files read at once, each in a limited child process "
                             "(default: one a core, at most 4; here %(default)s)")
