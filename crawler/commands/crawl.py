"""``crawl``: fetch portals' supervision columns into the archive.

On a terminal it shows live progress and ends with its summary lines; without one (cron) it
prints the summary and problems only (Scrapy's log at ``WARNING``); ``-v`` or ``--log-level``
brings Scrapy's log back (``-s LOG_LEVEL=…`` works as in Scrapy's own commands).
"""
from __future__ import annotations

import argparse

from scrapy.settings import BaseSettings, Settings

from spiders.browser import RENDER_MODES
from crawler.distributed import shared_queue_settings
from crawler.errors import CommandError
from crawler.progress import CrawlProgress, on_terminal
from crawler.run import crawl_and_report, project_settings
from crawler.sites import DEFAULT_SITE, crawl_plan, load_registry
from spiders.column import sample_size

HELP = "crawl supervision columns into the archive (default: Xianning's column)"
#: Scrapy's log in a crawl that names no level: problems only (the summary is printed apart).
QUIET_LOG_LEVEL = "WARNING"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _sample(value: str) -> int:
    try:
        return sample_size(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start-url", action="append", default=[], metavar="URL",
        help=f"a column's list page (repeatable); default: the registry's {DEFAULT_SITE}",
    )
    parser.add_argument(
        "--site", action="append", default=[], metavar="NAME",
        help="a portal of the registry (repeatable; see 'python -m crawler sites')",
    )
    parser.add_argument("--all-sites", action="store_true", help="every portal of the registry")
    parser.add_argument(
        "--sites", metavar="PATH", default=None,
        help="a registry file adding portals (and profiles) to the shipped sites.toml",
    )
    parser.add_argument(
        "--scheduler", metavar="redis://HOST:PORT/DB", default=None,
        help="share the request queue and duplicate filter with other crawl processes "
             "through this Redis (each keeps its own archive; see 'merge')",
    )
    parser.add_argument("--archive", default=None, help="SQLite archive (default: data/archive.db)")
    parser.add_argument(
        "--full", action="store_true",
        help="walk every list page and re-validate every archived bulletin "
             "(default: incremental, only what is new)",
    )
    parser.add_argument(
        "--sample", type=_sample, default=0, metavar="N",
        help="a trial run: at most N bulletins per column (recorded as a sample; the next run walks whole)",
    )
    parser.add_argument(
        "--render", choices=RENDER_MODES, default=None,
        help="lists built by JavaScript: auto (browser only where a list needs it; default), "
             "always, never, api (read the JSON endpoint the page calls, no browser)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="Scrapy's log at INFO (as --log-level INFO)")
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, default=None, metavar="LEVEL",
                        help=f"Scrapy's log level: {', '.join(LOG_LEVELS)} (default: {QUIET_LOG_LEVEL}, "
                             "problems only)")
    parser.add_argument(
        "--ocr", action="store_true",
        help="read scanned PDFs and images among the attachments with Tesseract "
             "(seconds a page; off by default)",
    )
    parser.add_argument(
        "-s", "--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
        help="override a Scrapy setting, e.g. -s DOWNLOAD_DELAY=0",
    )


#: How a setting whose value (Scrapy's default or the project's) is of a kind reads a string, and
#: what to ask for when it cannot (bool before int: a bool is an int).
_SETTING_KINDS: tuple[tuple[type | tuple[type, ...], str, str], ...] = (
    (bool, "getbool", "true or false (1 or 0)"), (int, "getint", "a whole number"),
    (float, "getfloat", "a number"), ((dict, BaseSettings), "getdict", "a JSON object"),
)


def parse_setting_overrides(pairs: list[str]) -> dict[str, str]:
    """``-s NAME=VALUE`` pairs, each value checked against the kind of the setting's value now (a
    bad number failed deep inside the crawl, with tracebacks and a run left ``running``)."""
    overrides: dict[str, str] = {}
    known = project_settings()
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CommandError(f"bad setting {pair!r}: use -s NAME=VALUE", exit_code=2)
        current = known.get(name)
        for kind, read, wanted in _SETTING_KINDS:
            if isinstance(current, kind):
                try:
                    getattr(Settings({name: value}), read)(name)
                except (ValueError, TypeError):
                    raise CommandError(f"bad setting {pair!r}: {name} takes {wanted}", exit_code=2) from None
                break
        overrides[name] = value
    return overrides


def run(args: argparse.Namespace) -> int:
    registry = load_registry(args.sites)
    if args.all_sites and args.site:
        raise CommandError("give --site NAME or --all-sites, not both", exit_code=2)
    sites = list(registry.sites.values()) if args.all_sites else [registry.site(n) for n in dict.fromkeys(args.site)]
    if args.all_sites and not sites:
        raise CommandError("the registry holds no site", exit_code=2)
    if not sites and not args.start_url:
        sites = [registry.site(DEFAULT_SITE)]
    plan = crawl_plan(registry, sites, args.start_url)
    overrides: dict[str, object] = {**plan.settings, "LOG_LEVEL": QUIET_LOG_LEVEL}
    overrides.update(parse_setting_overrides(args.settings))
    if args.verbose or args.log_level:
        overrides["LOG_LEVEL"] = args.log_level or "INFO"
    if args.archive:
        overrides["ARCHIVE_PATH"] = args.archive
    if args.full:
        overrides["CRAWL_FULL"] = True
    if args.render:
        overrides["RENDER_MODE"] = args.render
    if args.ocr:
        overrides["ATTACHMENT_OCR"] = True
    if args.scheduler:
        if args.render in ("auto", "always"):
            raise CommandError(f"--render {args.render} cannot go with --scheduler: a shared queue carries "
                               "plain requests only (use --render api or never)", exit_code=2)
        overrides.setdefault("RENDER_MODE", "api")  # the JSON endpoint, not the browser
        if overrides["RENDER_MODE"] not in ("api", "never"):
            raise CommandError("a shared queue carries plain requests only: use RENDER_MODE api or never", 2)
        overrides.update(shared_queue_settings(args.scheduler, plan.start_urls))
    settings = project_settings(overrides)
    level = str(settings.get("LOG_LEVEL")).upper()
    if level not in LOG_LEVELS and not level.isdigit():
        raise CommandError(f"bad LOG_LEVEL {settings.get('LOG_LEVEL')!r}: use one of {', '.join(LOG_LEVELS)}", 2)
    crawl_and_report(plan, settings, {"sample": args.sample} if args.sample else None,
                     CrawlProgress() if on_terminal() else None)  # another crawl running: ArchiveBusy, exit 75
    return 0
