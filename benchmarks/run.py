"""``python -m benchmarks.run [NAME ...]``: run the benchmarks, print each figure beside its reference.

Names: ``replica``, ``extraction``, ``listing``, ``largepage``, ``attachments``, ``crawl``, ``reprocess``, ``nightly``,
``distributed``, ``search``, ``export`` (default: all, in that order; ``make bench ONLY=search,export``). Progress goes to stderr; the results table
(Markdown, with the machine) to stdout and to ``benchmarks/.cache/results-<time>.md``.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime

from benchmarks import (
    attachments, crawling, distributed, exporting, extraction, largepage, listing, replica, searching, synthetic,
)
from benchmarks.common import CACHE, Figure, machine, progress, results_table

NAMES = ("replica", "extraction", "listing", "largepage", "attachments", "crawl", "crawl-attachments", "reprocess", "nightly",
         "distributed", "search", "export")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run, space- or comma-separated: {', '.join(NAMES)} (default: all)")
    parser.add_argument("--rounds", type=int, default=3, help="project/bare crawl pairs, alternated (default 3)")
    parser.add_argument("--per-family", type=int, default=500,
                        help="replica bulletins per template family, 8 families (default 500: 4,000 bulletins)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="CONCURRENT_REQUESTS(_PER_DOMAIN) of both crawl sides (default 8)")
    parser.add_argument("--rows", type=int, default=100_000, help="bulletins in the synthetic archive (default 100,000)")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs of each search query (default 10)")
    parser.add_argument("--reindex", action="store_true",
                        help="time the search index build again on the cached archive (minutes)")
    parser.add_argument("--no-trace", action="store_true", help="skip the export's tracemalloc pass")
    args = parser.parse_args(argv)
    args.names = [n for arg in args.names for n in arg.replace(",", " ").split()] or list(NAMES)
    unknown = sorted(set(args.names) - set(NAMES))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    figures: list[Figure] = []
    with ExitStack() as stack:
        session: crawling.CrawlSession | None = None

        def crawl_session() -> crawling.CrawlSession:
            nonlocal session
            if session is None:
                session = stack.enter_context(crawling.session(args.per_family, args.concurrency))
            return session

        if args.reindex:
            synthetic.forget_index(args.rows)
        benchmarks: dict[str, Callable[[], list[Figure]]] = {
            "replica": replica.run,
            "extraction": lambda: extraction.run(per_family=args.per_family),
            "listing": listing.run,
            "largepage": largepage.run,
            "attachments": lambda: attachments.run(),
            "crawl": lambda: crawling.run_overhead(crawl_session(), args.rounds),
            "crawl-attachments": lambda: attachments.run_crawl(crawl_session()),
            "reprocess": lambda: crawling.run_reprocess(crawl_session()),
            "nightly": lambda: crawling.run_nightly(crawl_session()),
            "distributed": lambda: distributed.run(args.per_family, args.concurrency),
            "search": lambda: searching.run(args.rows, args.repeats),
            "export": lambda: exporting.run(args.rows, trace=not args.no_trace),
        }
        for name in NAMES:
            if name in args.names:
                progress(f"== {name}")
                figures += benchmarks[name]()
    header = "\n".join(f"- {key}: {value}" for key, value in machine().items())
    report = f"{header}\n\n{results_table(figures)}\n"
    print(report)
    CACHE.mkdir(parents=True, exist_ok=True)
    saved = CACHE / f"results-{datetime.now():%Y%m%d-%H%M%S}.md"
    saved.write_text(report, encoding="utf-8")
    progress(f"results saved to {saved}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
