"""Command line: ``python -m crawler <command> ...``.

Each module in :mod:`crawler.commands` is one subcommand. It defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Commands raise :class:`CommandError` for
anything the user can fix; it is printed as one line and turned into an exit code, never
into a traceback (see :mod:`crawler.errors`).
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from archive.schema import ArchiveError
from crawler import commands
from crawler.errors import CommandError


def command_names() -> list[str]:
    """Subcommands, one per module of :mod:`crawler.commands`, found without importing them."""
    return sorted(info.name for info in pkgutil.iter_modules(commands.__path__))


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with ``only`` of that one command alone.

    Each command module imports what it needs (Scrapy for ``crawl``, Datasette for ``serve``), so
    a run imports only its own command's module: ``search`` answers without loading Scrapy.
    """
    parser = argparse.ArgumentParser(
        prog="python -m crawler",
        description="Crawl, archive, search and export supervision bulletins (政务督查).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in command_names():
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"crawler.commands.{name}")
        command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command_parser)
        command_parser.set_defaults(run=module.run)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The command ``argv`` names (its first word), if it names one."""
    first = next(iter(argv), None)
    return first if first in command_names() else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(_command_in(argv)).parse_args(argv)
        return int(args.run(args) or 0)
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except ArchiveError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
