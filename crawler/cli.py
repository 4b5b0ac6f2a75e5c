"""Command line: ``python -m crawler <command> ...``.

Each module in :mod:`crawler.commands` is one subcommand. It defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Commands raise :class:`CommandError` for
anything the user can fix; it is printed as one line and turned into an exit code, never
into a traceback (see :mod:`crawler.errors`). Output piped into ``head`` ends quietly, as
other command-line tools do, and no message carries a control character from a page.
"""
from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys

from archive.lock import ArchiveBusy
from archive.schema import ArchiveError
from crawler import commands
from crawler.errors import CommandError
from crawler.output import inert, inert_log_records

#: Exit status when another process holds the archive's crawl lock (EX_TEMPFAIL: try later).
EXIT_BUSY = 75
#: Exit status when the reader of the output went away (as a tool killed by SIGPIPE).
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


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


def _fail(message: object, exit_code: int) -> int:
    print(f"error: {inert(str(message))}", file=sys.stderr)
    return exit_code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(_command_in(argv)).parse_args(argv)
        inert_log_records()
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # here, so a reader gone away is seen now, not at exit
        return code
    except BrokenPipeError:
        # Nothing more can be printed; point stdout at /dev/null so exit's flush is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except CommandError as error:
        return _fail(error, error.exit_code)
    except ArchiveBusy as busy:
        return _fail(busy, EXIT_BUSY)
    except ArchiveError as error:
        return _fail(error, 2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
