"""Serve the replica portal for the demo: ``python -m tests.replica [--port N] [--per-family N]
[--seed N] [--urls-file PATH]``.

Prints each column's start URL (one per line) and, once listening, writes them to
``--urls-file`` (atomically, so a Makefile can wait for the file). Runs until SIGINT/SIGTERM.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from .server import ReplicaPortal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.replica", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--per-family", type=int, default=35, help="bulletins per template family")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic corpus")
    parser.add_argument("--urls-file", type=Path, help="write the start URLs here once listening")
    parser.add_argument("--families", default=None, metavar="NAME,...",
                        help="template families to serve (default: every family but js-list, the list "
                             "built by JavaScript from /api/list)")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    families = [name.strip() for name in args.families.split(",") if name.strip()] if args.families else None
    portal = ReplicaPortal(per_family=args.per_family, seed=args.seed, port=args.port, families=families).start()
    urls = [column.start_url for column in portal.columns.values()]
    print("\n".join(urls), flush=True)
    print(f"replica portal serving {portal.base_url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    if args.urls_file:
        partial = args.urls_file.with_name(args.urls_file.name + ".part")
        partial.write_text("\n".join(urls) + "\n", encoding="utf-8")
        os.replace(partial, args.urls_file)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        portal.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
