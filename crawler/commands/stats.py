"""``stats``: what the archive holds, per site, and how each column fared in the last run."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from archive.schema import open_archive
from archive.stats import archive_stats
from crawler.commands import refuse_unknown_values
from crawler.output import inert, json_line

HELP = "show counts, date range and field coverage of the archive, and the last run per column"


def last_run_columns(db: Any) -> tuple[int, str, dict[str, dict[str, Any]]] | None:
    """The last finished run's id, outcome and per-column reports (``crawl_runs.stats``)."""
    row = next(db.query("select id, outcome, stats from crawl_runs where stats is not null order by id desc limit 1"),
               None)
    if row is None:
        return None
    try:
        columns = json.loads(row["stats"]).get("scrapy", {}).get("columns") or {}
    except (ValueError, AttributeError):
        columns = {}
    return row["id"], row["outcome"], columns if isinstance(columns, dict) else {}


def column_line(start_url: str, report: dict[str, Any]) -> str:
    announced = report.get("announced")
    pages = f"{report.get('pages_read', 0)}" + (f"/{announced}" if announced else "")
    failures = report.get("pages_failed") or {}
    problems = report.get("problems") or []
    verdict = ("; ".join(problems) if problems else "ok" if report.get("entries")
               else f"no entries: {next(iter(failures.values()))}" if failures else "no entries")
    return (f"  {start_url}\n    list pages {pages} ({report.get('pagination', 'none')}), "
            f"entries {report.get('entries', 0)}, bulletins stored {report.get('bulletins', 0)}, "
            f"already archived {report.get('known', 0)}, not bulletins {report.get('not_bulletins', 0)}, "
            f"failed {report.get('bulletins_failed', 0)}, failed list pages {len(failures)}: {verdict}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive")
    parser.add_argument("--portal", metavar="NAME", help="only this portal's sites (its short name, see 'sites')")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object: archive, bulletins, sites (counts, dates, fields filled), "
                             "last_run (id, outcome, each column's report)")


def run(args: argparse.Namespace) -> int:
    db = open_archive(args.archive, read_only=True)
    refuse_unknown_values(db, portal=args.portal)
    sites = archive_stats(db, args.portal)
    last = last_run_columns(db)
    if args.json:
        print(json_line({
            "archive": args.archive, "bulletins": sum(site.bulletins for site in sites),
            "sites": [asdict(site) for site in sites],
            "last_run": None if last is None else dict(zip(("id", "outcome", "columns"), last)),
        }))
        return 0
    if not sites:  # an unknown --portal was refused above
        print(inert(f"{args.archive}: empty archive (0 bulletins)"))
        _print_columns(last)
        return 0
    total = sum(site.bulletins for site in sites)
    print(f"{inert(args.archive)}: {total} bulletins from {len(sites)} site(s)")
    for site in sites:
        portal = f" (portal {site.portal})" if site.portal and site.portal != site.site else ""
        print(inert(f"\n{site.site}{portal}: {site.bulletins} bulletins, "
                    f"published {site.first_published} .. {site.last_published}", lines=True))
        for name, count in site.filled.items():
            share = 100 * count / site.bulletins
            print(f"  {name:<12} {count:>6}/{site.bulletins} ({share:5.1f}%)")
    _print_columns(last)
    return 0


def _print_columns(last: tuple[int, str, dict[str, dict[str, Any]]] | None) -> None:
    if last is None or not last[2]:
        return
    run_id, outcome, columns = last
    print(f"\nlast run ({run_id}, {outcome}), per column:")
    for start_url, report in columns.items():
        print(inert(column_line(start_url, report), lines=True))
