"""``stats``: what the archive holds, per site."""
from __future__ import annotations

import argparse

from archive.schema import open_archive
from archive.stats import archive_stats

HELP = "show counts, date range and field coverage of the archive"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", default="data/archive.db", help="SQLite archive")
    parser.add_argument("--portal", metavar="NAME", help="only this portal's sites (its short name, see 'sites')")


def run(args: argparse.Namespace) -> int:
    db = open_archive(args.archive, create=False)
    sites = archive_stats(db, args.portal)
    if not sites:
        print(f"{args.archive}: no bulletins of portal {args.portal}" if args.portal
              else f"{args.archive}: empty archive (0 bulletins)")
        return 0
    total = sum(site.bulletins for site in sites)
    print(f"{args.archive}: {total} bulletins from {len(sites)} site(s)")
    for site in sites:
        portal = f" (portal {site.portal})" if site.portal and site.portal != site.site else ""
        print(f"\n{site.site}{portal}: {site.bulletins} bulletins, "
              f"published {site.first_published} .. {site.last_published}")
        for name, count in site.filled.items():
            share = 100 * count / site.bulletins
            print(f"  {name:<12} {count:>6}/{site.bulletins} ({share:5.1f}%)")
    return 0
