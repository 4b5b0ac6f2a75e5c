"""``scrapy crawl column``: Scrapy's command, crawling as ``python -m crawler crawl`` does.

Scrapy's options keep their meaning (``-a`` spider arguments, ``-s``, ``-o``/``-O`` feeds,
``-L``); the crawl itself is the project's: ``-a start_url=URL`` (or ``start_urls=A,B``) or
else the registry's default portal, the registry's hosts, politeness and profiles
(``-s SITES_FILE=PATH`` adds a registry file), the archive lock and the run's verdict. An
unhealthy run (a start page that cannot be fetched, a column yielding nothing) ends with its
one-line reason on stderr and exit status 1, never a traceback.
"""
from __future__ import annotations

import argparse
import sys

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

from archive.lock import ArchiveBusy
from archive.schema import ArchiveError
from crawler.cli import EXIT_BUSY
from crawler.errors import CommandError
from crawler.output import inert
from crawler.progress import CrawlProgress, on_terminal
from crawler.run import crawl_and_report
from crawler.sites import DEFAULT_SITE, crawl_plan, load_registry
from spiders.column import ColumnSpider, sample_size


class Command(ScrapyCrawl):
    #: The project makes its own crawler process (run_crawl), with its signal handling.
    requires_crawler_process = False

    def short_desc(self) -> str:
        return "Crawl the column spider into the archive (as python -m crawler crawl)"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1 or args[0] != ColumnSpider.name:
            raise UsageError(f"this project has one spider: scrapy crawl {ColumnSpider.name} -a start_url=URL")
        spargs = dict(opts.spargs)
        try:
            sample_size(spargs.get("sample"))
        except ValueError as error:
            raise UsageError(str(error), print_help=False) from None
        try:
            urls = [url.strip() for url in [spargs.pop("start_url", ""), *spargs.pop("start_urls", "").split(",")]]
            urls = [url for url in urls if url]
            registry = load_registry(self.settings.get("SITES_FILE"))
            plan = crawl_plan(registry, [] if urls else [registry.site(DEFAULT_SITE)], urls)
            self.settings.setdict(plan.settings, priority="project")  # -s stays above the registry
            crawl_and_report(plan, self.settings, spargs, CrawlProgress() if on_terminal() and
                             self.settings.get("LOG_LEVEL") not in ("DEBUG", "INFO") else None)
        except CommandError as error:
            self._fail(str(error), error.exit_code)
        except ArchiveBusy as busy:
            self._fail(str(busy), EXIT_BUSY)
        except ArchiveError as error:
            self._fail(str(error), 2)

    def _fail(self, message: str, code: int) -> None:
        print(f"error: {inert(message)}", file=sys.stderr)
        self.exitcode = code
