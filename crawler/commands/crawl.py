"""``crawl``: fetch a portal's supervision column into the archive."""
from __future__ import annotations

import argparse

from archive.schema import refuse_non_archive
from crawler.browser import INSTALL_HINT, RENDER_MODES, find_chromium, missing_reason, render_mode
from crawler.errors import CommandError
from crawler.output import inert
from crawler.profiles import PROFILES, ProfileError, profile_for
from crawler.run import project_settings, run_crawl
from pipelines.urls import netloc_of

HELP = "crawl supervision columns into the archive (default: Xianning's column)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start-url", action="append", default=[], metavar="URL",
        help="a column's list page (repeatable); default: the profile's start URLs",
    )
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), default="xianning",
        help="site profile giving start URLs and settings (default: xianning)",
    )
    parser.add_argument("--archive", default=None, help="SQLite archive (default: data/archive.db)")
    parser.add_argument(
        "--full", action="store_true",
        help="walk every list page and re-validate every archived bulletin "
             "(default: incremental, only what is new)",
    )
    parser.add_argument(
        "--render", choices=RENDER_MODES, default=None,
        help="lists built by JavaScript: auto (browser only where a list needs it; default), "
             "always, never, api (read the JSON endpoint the page calls, no browser)",
    )
    parser.add_argument(
        "-s", "--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
        help="override a Scrapy setting, e.g. -s DOWNLOAD_DELAY=0",
    )


def parse_setting_overrides(pairs: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"bad setting {pair!r}: use -s NAME=VALUE", exit_code=2)
        overrides[name.strip()] = value
    return overrides


def run(args: argparse.Namespace) -> int:
    profile = PROFILES[args.profile]
    start_urls = args.start_url or list(profile.start_urls)
    for url in start_urls:
        if not netloc_of(url):
            raise CommandError(f"not a web URL: {url!r} (expected http:// or https://)", 2)
    overrides: dict[str, object] = dict(profile.settings)
    if not args.start_url:
        overrides["PORTAL_EXTRA_HOSTS"] = list(profile.extra_hosts)
    if profile.render:
        overrides["RENDER_MODE"] = profile.render
    overrides.update(parse_setting_overrides(args.settings))
    if args.archive:
        overrides["ARCHIVE_PATH"] = args.archive
    if args.full:
        overrides["CRAWL_FULL"] = True
    if args.render:
        overrides["RENDER_MODE"] = args.render
    settings = project_settings(overrides)
    try:
        site = profile_for(start_urls, settings)
    except ProfileError as error:
        raise CommandError(str(error), exit_code=2) from None
    if site.render and not args.render:
        settings.set("RENDER_MODE", site.render, priority="cmdline")
    try:
        mode = render_mode(settings)
    except ValueError as error:
        raise CommandError(str(error), exit_code=2) from None
    configured = settings.get("CHROMIUM_PATH") or None
    if mode == "always" and find_chromium(configured) is None:
        raise CommandError(f"--render always needs a browser, but {missing_reason(configured)}: {INSTALL_HINT}", 1)
    refuse_non_archive(settings.get("ARCHIVE_PATH"))  # one line, before Scrapy starts; file untouched
    result = run_crawl(start_urls, settings)  # another crawl running: ArchiveBusy, exit 75
    print(inert(result.summary(), lines=True))
    if result.outcome == "interrupted":
        raise CommandError("interrupted: the run was stopped and recorded as interrupted", 130)
    if not result.healthy:
        raise CommandError("; ".join(result.problems) or f"run {result.outcome}", exit_code=1)
    return 0
