"""``crawl``: fetch a portal's supervision column into the archive."""
from __future__ import annotations

import argparse

from archive.schema import refuse_non_archive
from spiders.browser import INSTALL_HINT, RENDER_MODES, find_chromium, missing_reason, render_mode
from crawler.distributed import shared_queue_settings
from crawler.errors import CommandError
from crawler.output import inert
from spiders.profiles import PROFILES, ProfileError, profile_for
from crawler.run import CrawlResult, project_settings, run_crawl
from crawler.sites import load_registry, politeness_slots, portal_hosts
from pipelines.urls import netloc_of

HELP = "crawl supervision columns into the archive (default: Xianning's column)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start-url", action="append", default=[], metavar="URL",
        help="a column's list page (repeatable); default: the profile's start URLs",
    )
    parser.add_argument(
        "--site", action="append", default=[], metavar="NAME",
        help="a portal of the registry (repeatable; see 'python -m crawler sites')",
    )
    parser.add_argument("--all-sites", action="store_true", help="every portal of the registry")
    parser.add_argument(
        "--sites", metavar="PATH", default=None,
        help="a registry file adding portals to the shipped sites.toml",
    )
    parser.add_argument(
        "--scheduler", metavar="redis://HOST:PORT/DB", default=None,
        help="share the request queue and duplicate filter with other crawl processes "
             "through this Redis (each keeps its own archive; see 'merge')",
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


def _unhealthy(result: CrawlResult) -> str:
    """The one-line reason of an unhealthy run; with several portals, each bad one named."""
    bad = result.unhealthy_portals
    if len(result.portals) > 1 and bad:
        return "unhealthy sites: " + "; ".join(
            f"{portal} ({'; '.join(problems)})" for portal, problems in bad.items())
    return "; ".join(result.problems) or f"run {result.outcome}"


def run(args: argparse.Namespace) -> int:
    registry = load_registry(args.sites)
    if args.all_sites and args.site:
        raise CommandError("give --site NAME or --all-sites, not both", exit_code=2)
    sites = list(registry.sites.values()) if args.all_sites else [registry.site(n) for n in dict.fromkeys(args.site)]
    if args.all_sites and not sites:
        raise CommandError("the registry holds no site", exit_code=2)
    profile = PROFILES[args.profile]
    chosen = sites or args.start_url
    start_urls = list(dict.fromkeys([url for site in sites for url in site.start_urls] + args.start_url))
    if not chosen:
        start_urls = list(profile.start_urls)
    for url in start_urls:
        if not netloc_of(url):
            raise CommandError(f"not a web URL: {url!r} (expected http:// or https://)", 2)
    overrides: dict[str, object] = dict(profile.settings)
    if not chosen:
        overrides["PORTAL_EXTRA_HOSTS"] = list(profile.extra_hosts)
    elif sites:
        overrides["PORTAL_EXTRA_HOSTS"] = [host for site in sites for host in site.hosts]
        overrides["DOWNLOAD_SLOTS"] = politeness_slots(sites)
    if profile.render:
        overrides["RENDER_MODE"] = profile.render
    overrides.update(parse_setting_overrides(args.settings))
    if args.archive:
        overrides["ARCHIVE_PATH"] = args.archive
    if args.full:
        overrides["CRAWL_FULL"] = True
    if args.render:
        overrides["RENDER_MODE"] = args.render
    portals = portal_hosts(registry, sites, start_urls)
    if args.scheduler:
        if args.render in ("auto", "always"):
            raise CommandError(f"--render {args.render} cannot go with --scheduler: a shared queue carries "
                               "plain requests only (use --render api or never)", exit_code=2)
        overrides.setdefault("RENDER_MODE", "api")  # the JSON endpoint, not the browser
        if overrides["RENDER_MODE"] not in ("api", "never"):
            raise CommandError("a shared queue carries plain requests only: use RENDER_MODE api or never", 2)
        overrides.update(shared_queue_settings(args.scheduler, start_urls))
    settings = project_settings(overrides)
    # Portals crawl side by side, each host at its own pace: room for all of them at once.
    side_by_side = len(set(portals.values())) * settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    settings.set("CONCURRENT_REQUESTS", max(settings.getint("CONCURRENT_REQUESTS"), side_by_side), "project")
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
    result = run_crawl(start_urls, settings, portals)  # another crawl running: ArchiveBusy, exit 75
    print(inert(result.summary(), lines=True))
    if result.outcome == "interrupted":
        raise CommandError("interrupted: the run was stopped and recorded as interrupted", 130)
    if not result.healthy:
        raise CommandError(_unhealthy(result), exit_code=1)
    return 0
