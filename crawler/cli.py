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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m crawler",
        description="Crawl, archive, search and export supervision bulletins (政务督查).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"crawler.commands.{info.name}")
        name = getattr(module, "NAME", info.name)
        command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command_parser)
        command_parser.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
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
