"""``sites``: the registry of portals, with each one's last run as the archive recorded it."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from archive.portals import last_portal_runs
from archive.schema import open_archive
from crawler.sites import as_dict, load_registry

HELP = "list the registry's portals with their last run's verdict and counts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sites", metavar="PATH", default=None,
                        help="a registry file adding portals to the shipped sites.toml")
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive (its runs)")
    parser.add_argument("--json", action="store_true", help="one JSON object per portal, one per line")


def _last_runs(archive: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """Each portal's last run (none for an archive not crawled yet)."""
    if not Path(archive).exists():
        return {}
    db = open_archive(archive, create=False)
    try:
        return last_portal_runs(db, names)
    finally:
        db.close()


def run(args: argparse.Namespace) -> int:
    registry = load_registry(args.sites)
    runs = _last_runs(args.archive, list(registry.sites))
    if args.json:
        for name, site in registry.sites.items():
            last = runs.get(name)
            print(json.dumps({
                **as_dict(site),
                "bulletins": last["bulletins"] if last else 0,
                "last_run": None if last is None else {
                    key: last[key] for key in ("run_id", "started_at", "finished_at", "outcome", "problems",
                                               "new", "changed", "errors")},
            }, ensure_ascii=False))
        return 0
    header = ("site", "region", "columns", "last run", "verdict", "bulletins", "new", "changed", "errors")
    rows = [header]
    for name, site in registry.sites.items():
        last = runs.get(name)
        if last is None:
            rows.append((name, site.region, str(len(site.start_urls)), "never", "-", "0", "-", "-", "-"))
            continue
        rows.append((name, site.region, str(len(site.start_urls)),
                     f"{last['run_id']} {(last['started_at'] or '')[:16]}", last["outcome"],
                     *(str(last[key]) for key in ("bulletins", "new", "changed", "errors"))))
    widths = [max(_width(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell + " " * (width - _width(cell)) for cell, width in zip(row, widths)).rstrip())
    for name, last in runs.items():
        for problem in last["problems"]:
            print(f"{name}: {problem}")
    return 0


def _width(text: str) -> int:
    """Columns on a terminal: CJK characters take two."""
    return sum(2 if ord(char) > 0x2E7F else 1 for char in text)
