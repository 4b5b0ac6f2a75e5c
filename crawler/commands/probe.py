"""``probe URL [--json]``: what detection finds on a column page, before any crawl.

How a user adds a portal in minutes: the first entries (url, title, date), the pagination
kind and page count, the data endpoint if any, and for one bulletin its metadata fields and
body length; when detection gets something wrong, what to write into ``sites.toml``. The page is
fetched plainly and rendered with Chromium only when its list is left to scripts that show
no endpoint. It reads the same code the crawl runs (``spiders.listing``, ``spiders.pagination``,
``spiders.scripted``, ``pipelines.extraction``), so what it prints is what a crawl would do.
"""
from __future__ import annotations

import argparse
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from collections.abc import Collection
from typing import Any
from urllib.parse import urlencode, urlsplit
from urllib.robotparser import RobotFileParser

from spiders.browser import find_chromium, launch_options
from crawler.errors import CommandError
from crawler.output import inert, json_line
from spiders.items import BulletinPage
from crawler.run import project_settings
from crawler.sites import Profile, load_registry
from pipelines.urls import column_of, netloc_of
from pipelines.bulletin import NOT_A_LIST, not_a_bulletin
from pipelines.extraction import NO_HINTS, Hints, extract_record
from pipelines.text import decode_html, parse_html
from spiders.list_page import read_list_page
from spiders.listing import Entry, ListHint, read_list
from spiders.pagination import Pager, templated_pager
from spiders.scripted import (
    ApiEndpoint, entries_in_answer, find_endpoint, is_document_page, looks_script_built,
)

HELP = "show what detection finds on a column page: entries, pagination, endpoint, one bulletin's fields"
#: Entries shown (the JSON carries as many).
SHOWN_ENTRIES = 10
TIMEOUT = 30
#: Fields of the sample bulletin reported (the metadata block and what the page says).
SAMPLE_FIELDS = ("title", "published", "issued", "index_no", "doc_no", "publisher", "category", "validity")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="a column's list page")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--sites", metavar="PATH", default=None,
                        help="a registry file adding portals (and profiles) to the shipped sites.toml")


@dataclass
class Fetched:
    url: str
    status: int
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return decode_html(self.body, self.content_type)[0]


@dataclass
class Probe:
    """What detection found on one column page."""

    url: str
    entries: list[Entry] = field(default_factory=list)
    pagination: str = "none"
    pages: int | None = None
    endpoint: str | None = None
    rendered: bool = False
    sample: dict[str, Any] | None = None
    advice: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "entries": [{"url": e.url, "title": e.title, "date": e.date} for e in self.entries],
            "pagination": self.pagination, "pages": self.pages, "endpoint": self.endpoint,
            "rendered": self.rendered, "sample": self.sample, "advice": self.advice,
        }


class Fetcher:
    """Plain requests as the crawl makes them: its User-Agent, robots.txt obeyed."""

    def __init__(self, user_agent: str, obey_robots: bool) -> None:
        self.user_agent = user_agent
        self.obey_robots = obey_robots
        self._robots: dict[str, RobotFileParser] = {}

    def allowed(self, url: str) -> bool:
        if not self.obey_robots:
            return True
        parts = urlsplit(url)
        host = netloc_of(url)
        if host not in self._robots:
            parser = RobotFileParser()
            try:
                robots = self.get(f"{parts.scheme}://{parts.netloc}/robots.txt", check=False)
                parser.parse(robots.text.splitlines() if robots.status == 200 else [])
            except CommandError:
                parser.parse([])
            self._robots[host] = parser
        return self._robots[host].can_fetch(self.user_agent, url)

    def get(self, url: str, form: dict[str, str] | None = None, check: bool = True) -> Fetched:
        if check and not self.allowed(url):
            raise CommandError(f"robots.txt forbids {url}", 1)
        data = urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(url, data=data, headers={"User-Agent": self.user_agent})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                return Fetched(answer.geturl(), answer.status, answer.headers.get("Content-Type", ""), answer.read())
        except urllib.error.HTTPError as error:
            return Fetched(url, error.code, error.headers.get("Content-Type", "") if error.headers else "",
                           error.read() or b"")
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise CommandError(f"cannot fetch {url}: {reason}", 1) from None

    def call(self, endpoint: ApiEndpoint, page: int) -> Fetched:
        return self.get(endpoint.url(page), endpoint.formdata(page) if endpoint.method == "POST" else None)


def _rendered_html(url: str, user_agent: str) -> str | None:
    """The page as Chromium shows it after its scripts ran (None without a browser)."""
    executable = find_chromium()
    if executable is None:
        return None
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options(executable))
            try:
                page = browser.new_page(user_agent=user_agent)
                page.goto(url, wait_until="networkidle", timeout=TIMEOUT * 1000)
                return page.content()
            finally:
                browser.close()
    except PlaywrightError as error:
        raise CommandError(f"cannot render {url}: {str(error).splitlines()[0]}", 1) from None


def _pagination(fetcher: Fetcher, pager: Pager, column: str, url: str) -> tuple[str, int | None]:
    """The pager's kind, with a script's naming checked the way the crawl checks it."""
    if not pager.guesses:
        return pager.kind, pager.announced
    for guess in pager.guesses:
        answer = fetcher.get(guess.probe)
        if answer.status == 200:
            entries = read_list(parse_html(answer.text), guess.probe, column).entries
            first = read_list(parse_html(fetcher.get(url).text), url, column).entries
            if entries and {e.url for e in entries} - {e.url for e in first}:
                return f"script, pages named {guess.convention}", pager.announced
    return "script (no naming of its pages answered)", pager.announced


def _sample(fetcher: Fetcher, entry: Entry, list_url: str, hints: Hints = NO_HINTS) -> dict[str, Any]:
    answer = fetcher.get(entry.url)
    if answer.status != 200:
        return {"url": entry.url, "fields": {}, "body_chars": 0, "bulletin": False, "reason": f"HTTP {answer.status}"}
    record = extract_record(BulletinPage(
        url=entry.url, source_url=answer.url, status=answer.status, headers={"Content-Type": answer.content_type},
        body=answer.body, fetched_at="", list_url=list_url), hints)
    reason = not_a_bulletin(record)
    return {
        "url": entry.url,
        "fields": {name: getattr(record, name) for name in SAMPLE_FIELDS if getattr(record, name)},
        "body_chars": len(record.body), "bulletin": reason is None, "reason": reason,
        "body_container": record.extraction.get("container"),
    }


def probe(url: str, fetcher: Fetcher, profile: Profile = Profile(), hosts: Collection[str] = ()) -> Probe:
    """Read the column page at ``url`` as the crawl would (with the portal's profile, if it
    has one), and one of its bulletins. Entries are those the crawl would fetch: on the portal's
    ``hosts`` (the page's own when none are given) and allowed by robots.txt."""
    answer = fetcher.get(url)
    if answer.status != 200:
        raise CommandError(f"the column page answered HTTP {answer.status}: {url}", 1)
    column = column_of(url)
    result = Probe(url)
    hint = ListHint(profile.list_container, profile.entry_link)
    page = read_list_page(answer.text, answer.status, url, column, hint)  # as the crawl reads it
    tree, reading, embedded, pager = page.tree, page.reading, page.embedded, page.pager
    entries = reading.entries
    if profile.pager:
        pager = templated_pager(pager, url, profile.pager, url)
    result.pagination, result.pages = _pagination(fetcher, pager, column, url)
    endpoint = find_endpoint(tree, url, {netloc_of(url)})
    if is_document_page(tree, reading, embedded):  # as the crawl judges a start page
        result.advice = _DOCUMENT_ADVICE
        return result
    if embedded is not None and (reading.in_chrome or len(embedded.entries) >= len(entries)):
        entries = embedded.entries
        result.pagination, result.pages = embedded.kind, embedded.pages
    elif looks_script_built(tree, entries, reading.in_chrome) or (pager.kind == "none" and endpoint
                                                                   and endpoint.paged):
        if endpoint is not None and endpoint.paged:
            data = fetcher.call(endpoint, 1)
            found, count = entries_in_answer(data.text, data.content_type, url, column)
            entries = list({e.url: e for e in entries + found}.values()) if found else entries
            result.pagination, result.pages = "endpoint", count
        elif not entries or reading.in_chrome:
            html = _rendered_html(url, fetcher.user_agent)
            if html is not None:
                result.rendered = True
                rendered = parse_html(html)
                reading = read_list(rendered, url, column, hint)
                if is_document_page(rendered, reading, None, rendered=True):
                    result.advice = _DOCUMENT_ADVICE
                    return result
                entries = reading.entries
    if endpoint is not None and (result.pagination.startswith(("endpoint", "xml-records", "json"))):
        result.endpoint = endpoint.describe()
        if embedded is not None and endpoint.paged:
            result.pagination = f"{embedded.kind}+endpoint"
    portal = set(hosts) or {netloc_of(url)}
    result.entries = [entry for entry in entries if netloc_of(entry.url) in portal and fetcher.allowed(entry.url)]
    if result.entries:
        hints = Hints.make(profile.body_container, dict(profile.labels))
        result.sample = _sample(fetcher, result.entries[0], url, hints)
    result.advice = _advice(result, url, profile)
    return result


#: The advice for a page that is a document (a bulletin), not a column's list.
_DOCUMENT_ADVICE = f"{NOT_A_LIST}; probe its column's list page"


def _entry(url: str, **overrides: str) -> str:
    """The ``sites.toml`` entry to write for the portal of ``url``, with ``overrides``."""
    name = re.sub(r"[^a-z0-9-]+", "-", netloc_of(url).split(":")[0].removeprefix("www.").lower()).strip("-")[:40]
    lines = [f"[sites.{name or 'portal'}]", 'region = "<city or region, in Chinese>"', f'start_urls = ["{url}"]',
             *(f"{key} = {value}" for key, value in overrides.items())]
    return "  ".join(lines)


def _advice(result: Probe, url: str, profile: Profile) -> str:
    """What to do next: nothing, or what to write into sites.toml (keys a profile has already
    are not advised again)."""
    def write(why: str, **overrides: str) -> str:
        return f"{why}: write into sites.toml (or a file for --sites): {_entry(url, **overrides)}"

    if not result.entries and not profile.list_container:
        return write("detection found no list", list_container='"<CSS of the list block>"',
                     entry_link='"<regex of entry URLs>"', render='"always"  # only if the list needs a browser')
    if result.sample and not result.sample.get("bulletin") and not profile.list_container:
        return write("the first entry is not a bulletin: the list picked may be the wrong one",
                     list_container='"<CSS of the list block>"', entry_link='"<regex of entry URLs>"')
    if (result.pagination.startswith("script (no naming") or (result.pagination == "none" and result.pages is None
                                                              and len(result.entries) >= 10)) and not profile.pager:
        return write("no further list page found: if the column has more",
                     pager='"<name of page n, e.g. index_{n}.html>"', render='"always"  # or this')
    if profile:
        return "detection works with the portal's profile"
    return "detection works: no profile needed"


def _print(result: Probe) -> None:
    """The probe for a reader; the portal's text made inert (it never drives the terminal)."""
    print(f"column page: {inert(result.url)}" + (" (rendered with Chromium)" if result.rendered else ""))
    print(f"entries: {len(result.entries)} on this page")
    for entry in result.entries[:SHOWN_ENTRIES]:
        print(f"  {entry.date or '----------'}  {inert(entry.title)}\n              {inert(entry.url)}")
    pages = f", {result.pages} pages" if result.pages else ""
    print(f"pagination: {result.pagination}{pages}")
    print(f"endpoint: {result.endpoint or 'none'}")
    if result.sample:
        sample = result.sample
        verdict = "a bulletin" if sample.get("bulletin") else sample.get("reason")
        print(f"sample: {inert(sample['url'])} ({inert(verdict)}; body {sample['body_chars']} characters, "
              f"container {sample.get('body_container')})")
        for name, value in sample["fields"].items():
            print(f"  {name:<10} {inert(value)}")
    print(f"advice: {inert(result.advice)}")


def run(args: argparse.Namespace) -> int:
    if not netloc_of(args.url):
        raise CommandError(f"not a web URL: {args.url!r} (expected http:// or https://)", 2)
    settings = project_settings()
    registry = load_registry(args.sites)
    owner = registry.portal_of(netloc_of(args.url))
    profile = registry.sites[owner].profile if owner else Profile()
    fetcher = Fetcher(settings.get("USER_AGENT"), settings.getbool("ROBOTSTXT_OBEY"))
    result = probe(args.url, fetcher, profile, registry.sites[owner].hosts if owner else ())
    if args.json:
        print(json_line(result.as_json()))
    else:
        _print(result)
    return 0
