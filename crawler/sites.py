"""The registry of portals (``sites.toml``): who they are, where their columns start, their hosts,
and, only where detection gets a portal wrong, its profile of overrides.

Why: researchers compare cities, so a nightly run covers many portals, each named once here
and crawled by name (``crawl --site NAME``, ``crawl --all-sites``). The shipped registry is
``sites.toml`` at the top of the repository; ``--sites PATH`` adds a user's portals to it
(an entry of the same name replaces the shipped one; ``extends_shipped = false`` at the top
of the file makes it stand alone, as the tests' registry of replica portals does).

The profile is the escape hatch of discovery (``python -m crawler probe URL`` says what to
write): ``list_container`` (CSS of the list's block), ``entry_link`` (regex of the entries'
URLs), ``pager`` (the further list pages' names, ``index_{n}.shtml``), ``body_container``
(CSS of the body), ``labels`` (the portal's own words for metadata labels, per field) and
``render`` (auto, always, never, api). It applies to every host of the portal, whether
crawled by name or by ``--start-url``, and to what ``ingest`` and ``reprocess`` rebuild.

Every mistake in a registry file is reported in one line naming the file (and the entry).
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lxml.cssselect import CSSSelector, SelectorError

from spiders.browser import RENDER_MODES
from crawler.errors import CommandError
from pipelines.metadata import LABEL_FAMILIES
from pipelines.urls import netloc_of
from spiders.pagination import PAGE_PLACEHOLDERS

#: The registry shipped with the code.
SHIPPED = Path(__file__).resolve().parent.parent / "sites.toml"
#: The portal crawled when a crawl names none (no ``--site``, no ``--start-url``).
DEFAULT_SITE = "xianning"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
#: Keys of a profile: overrides for when detection gets the portal wrong.
PROFILE_KEYS = ("list_container", "entry_link", "pager", "body_container", "labels", "render")
#: Keys of an entry; ``region`` and ``start_urls`` are required.
_ENTRY_KEYS = {"region", "start_urls", "hosts", "delay", "concurrency", *PROFILE_KEYS}
_TOP_KEYS = {"sites", "extends_shipped"}


class RegistryError(CommandError):
    """A registry file that cannot be used, or a name it does not hold (exit code 2)."""

    def __init__(self, message: str):
        super().__init__(message, exit_code=2)


@dataclass(frozen=True)
class Profile:
    """A portal's overrides of detection (all optional; none: detection decides)."""

    #: CSS selector of the list's block: its links are the entries.
    list_container: str | None = None
    #: Regular expression the entries' URLs match.
    entry_link: str | None = None
    #: The column's further list pages, relative to its start page: ``index_{n}.shtml``.
    pager: str | None = None
    #: CSS selector of a bulletin's body.
    body_container: str | None = None
    #: The portal's own label words per field (``{"doc_no": ["文件号"]}``), as pairs.
    labels: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: ``RENDER_MODE`` for the portal's lists.
    render: str | None = None

    def __bool__(self) -> bool:
        return any(asdict(self).values())

    def as_setting(self) -> dict[str, Any]:
        """The overrides that are set, as plain values (setting ``PORTAL_PROFILES``)."""
        values = {key: value for key, value in asdict(self).items() if value}
        if self.labels:
            values["labels"] = {name: list(words) for name, words in self.labels}
        return values


@dataclass(frozen=True)
class Site:
    """One portal: its short name, city/region, column start URLs, hosts, politeness and profile."""

    name: str
    region: str
    start_urls: tuple[str, ...]
    #: Every host (``host[:port]``) of the portal, the start URLs' hosts first.
    hosts: tuple[str, ...]
    #: Seconds between requests to each of its hosts (``None``: the crawl's ``DOWNLOAD_DELAY``).
    delay: float | None = None
    #: Requests in flight per host (``None``: ``CONCURRENT_REQUESTS_PER_DOMAIN``).
    concurrency: int | None = None
    profile: Profile = field(default_factory=Profile)


@dataclass(frozen=True)
class Registry:
    sites: dict[str, Site]

    def profiles(self) -> dict[str, dict[str, Any]]:
        """``host -> profile`` of every portal that has one (setting ``PORTAL_PROFILES``)."""
        return {host: site.profile.as_setting() for site in self.sites.values() if site.profile
                for host in site.hosts}

    def site(self, name: str) -> Site:
        try:
            return self.sites[name]
        except KeyError:
            known = ", ".join(sorted(self.sites)) or "none"
            raise RegistryError(f"no site {name!r} in the registry (known: {known})") from None

    def portal_of(self, host: str) -> str | None:
        """The name of the portal serving ``host``, if the registry has it."""
        return next((site.name for site in self.sites.values() if host in site.hosts), None)


def _css(where: str, key: str, value: str) -> str:
    try:
        CSSSelector(value)
    except SelectorError as error:
        raise RegistryError(f"{where}: {key!r} is not a valid CSS selector: {error}") from None
    return value


def _profile(where: str, data: Mapping[str, Any]) -> Profile:
    """The entry's profile keys, each checked (one line naming the key)."""
    for key in PROFILE_KEYS:
        value = data.get(key)
        if key != "labels" and value is not None and (not isinstance(value, str) or not value.strip()):
            raise RegistryError(f"{where}: {key!r} must be a non-empty string")
    values: dict[str, Any] = {key: data[key].strip() for key in PROFILE_KEYS if key != "labels" and key in data}
    for key in ("list_container", "body_container"):
        if key in values:
            _css(where, key, values[key])
    if "entry_link" in values:
        try:
            re.compile(values["entry_link"])
        except re.error as error:
            raise RegistryError(f"{where}: 'entry_link' is not a valid pattern: {error}") from None
    if "pager" in values and sum(values["pager"].count(mark) for mark in PAGE_PLACEHOLDERS) != 1:
        raise RegistryError(f"{where}: 'pager' names the page number once, with {{n}} (2 for the second page) "
                            'or {n-1}, e.g. "index_{n}.shtml"')
    if "render" in values and values["render"] not in RENDER_MODES:
        raise RegistryError(f"{where}: 'render' must be one of {', '.join(RENDER_MODES)}")
    labels = data.get("labels", {})
    if not isinstance(labels, dict) or not all(
            isinstance(words, list) and words and all(isinstance(w, str) and w.strip() for w in words)
            for words in labels.values()):
        raise RegistryError(f"{where}: 'labels' is a table of fields, each a list of label words "
                            '(labels = {doc_no = ["文件号"]})')
    unknown = sorted(set(labels) - set(LABEL_FAMILIES))
    if unknown:
        raise RegistryError(f"{where}: 'labels' has no field {unknown[0]!r} (fields: {', '.join(LABEL_FAMILIES)})")
    values["labels"] = tuple(sorted((name, tuple(w.strip() for w in words)) for name, words in labels.items()))
    return Profile(**values)


def _entry(path: Path, name: Any, data: Any) -> Site:
    where = f"{path}: site {name!r}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise RegistryError(f"{where}: a name is lower-case letters, digits and '-' (at most 40)")
    if not isinstance(data, dict):
        raise RegistryError(f"{where}: expected a table ([sites.{name}])")
    unknown = sorted(set(data) - _ENTRY_KEYS)
    if unknown:
        raise RegistryError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_ENTRY_KEYS))})")
    region = data.get("region")
    if not isinstance(region, str) or not region.strip():
        raise RegistryError(f"{where}: 'region' (the city or region, in Chinese) is required")
    start_urls = data.get("start_urls")
    if (not isinstance(start_urls, list) or not start_urls
            or not all(isinstance(url, str) and netloc_of(url) for url in start_urls)):
        raise RegistryError(f"{where}: 'start_urls' must be a non-empty list of http(s) URLs")
    hosts = data.get("hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(host, str) and host.strip() for host in hosts):
        raise RegistryError(f"{where}: 'hosts' must be a list of host names")
    delay = data.get("delay")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0):
        raise RegistryError(f"{where}: 'delay' must be a number of seconds (>= 0)")
    concurrency = data.get("concurrency")
    if concurrency is not None and (isinstance(concurrency, bool) or not isinstance(concurrency, int)
                                    or concurrency < 1):
        raise RegistryError(f"{where}: 'concurrency' must be a whole number (>= 1)")
    all_hosts = dict.fromkeys([netloc_of(url) for url in start_urls] + [host.strip().lower() for host in hosts])
    return Site(name, region.strip(), tuple(start_urls), tuple(all_hosts),
                float(delay) if delay is not None else None, concurrency, _profile(where, data))


def _read(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise RegistryError(f"no registry file at {path}") from None
    except IsADirectoryError:
        raise RegistryError(f"{path} is a folder, not a registry file") from None
    except OSError as error:
        raise RegistryError(f"cannot read {path}: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RegistryError(f"{path}: not valid TOML: {error}") from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise RegistryError(f"{path}: unknown top-level key {unknown[0]!r} (portals go in [sites.NAME] tables)")
    if not isinstance(data.get("sites", {}), dict):
        raise RegistryError(f"{path}: 'sites' must hold one [sites.NAME] table per portal")
    if not isinstance(data.get("extends_shipped", True), bool):
        raise RegistryError(f"{path}: 'extends_shipped' must be true or false")
    return data


def load_registry(path: str | Path | None = None) -> Registry:
    """The shipped registry, extended (or replaced, see the module doc) by the file at ``path``."""
    files = [SHIPPED]
    if path is not None:
        user = _read(Path(path))
        files = [SHIPPED, Path(path)] if user.get("extends_shipped", True) else [Path(path)]
    sites: dict[str, Site] = {}
    read_from: dict[str, Path] = {}
    for file in files:
        for name, data in _read(file).get("sites", {}).items():
            sites[name], read_from[name] = _entry(file, name, data), file
    owners: dict[str, str] = {}
    for site in sites.values():
        for host in site.hosts:
            if host in owners:
                where = dict.fromkeys((read_from[owners[host]], read_from[site.name]))
                raise RegistryError(f"{' and '.join(map(str, where))}: host {host} belongs to two sites: "
                                    f"{owners[host]} and {site.name}")
            owners[host] = site.name
    return Registry(sites)


def portal_hosts(registry: Registry, sites: Iterable[Site], start_urls: Iterable[str]) -> dict[str, str]:
    """``host -> portal name`` for a crawl: the registry's name, else the host itself.

    A start URL outside the registry is a portal of its own, named by its host.
    """
    names = {host: site.name for site in sites for host in site.hosts}
    for url in start_urls:
        host = netloc_of(url)
        names.setdefault(host, registry.portal_of(host) or host)
    return names


@dataclass(frozen=True)
class CrawlPlan:
    """What a crawl of some portals and start URLs takes from the registry."""

    start_urls: list[str]
    #: Settings: the portals' further hosts, politeness, profiles, render mode.
    settings: dict[str, Any]
    #: host -> portal name (every portal gets its verdict).
    portals: dict[str, str]


def crawl_plan(registry: Registry, sites: Iterable[Site], start_urls: Iterable[str]) -> CrawlPlan:
    """The crawl of ``sites`` (their start URLs) and ``start_urls``; a start URL on a host of the
    registry crawls as that portal (its hosts, politeness and profile)."""
    sites = list(sites)
    urls = list(dict.fromkeys([url for site in sites for url in site.start_urls] + list(start_urls)))
    for url in urls:
        if not netloc_of(url):
            raise CommandError(f"not a web URL: {url!r} (expected http:// or https://)", 2)
    owners = {registry.portal_of(netloc_of(url)) for url in urls} - {None}
    crawled = list({site.name: site for site in [*sites, *(registry.sites[name] for name in sorted(owners))]}.values())
    settings: dict[str, Any] = {
        "PORTAL_EXTRA_HOSTS": [host for site in crawled for host in site.hosts],
        "PORTAL_PROFILES": registry.profiles(),
    }
    slots = politeness_slots(crawled)
    if slots:
        settings["DOWNLOAD_SLOTS"] = slots
    renders = {site.profile.render: site.name for site in crawled if site.profile.render}
    if len(renders) > 1:
        raise RegistryError("these portals' profiles ask for different render modes ("
                            + ", ".join(f"{name}: {mode}" for mode, name in renders.items()) + "): crawl them apart")
    if renders:
        settings["RENDER_MODE"] = next(iter(renders))
    return CrawlPlan(urls, settings, portal_hosts(registry, sites, urls))


def politeness_slots(sites: Iterable[Site]) -> dict[str, dict[str, float | int]]:
    """Scrapy ``DOWNLOAD_SLOTS`` for the sites' own delay and concurrency, one slot per host."""
    slots: dict[str, dict[str, float | int]] = {}
    for site in sites:
        slot: dict[str, float | int] = {}
        if site.delay is not None:
            slot["delay"] = site.delay
        if site.concurrency is not None:
            slot["concurrency"] = site.concurrency
        if slot:
            slots.update({host: dict(slot) for host in site.hosts})
    return slots


def as_dict(site: Site) -> Mapping[str, Any]:
    return {"name": site.name, "region": site.region, "start_urls": list(site.start_urls),
            "hosts": list(site.hosts), "delay": site.delay, "concurrency": site.concurrency,
            "profile": site.profile.as_setting()}


_URL = re.compile(r"https?://[^\s()]+")


def site_verdicts(problems: Iterable[str], names: Mapping[str, str]) -> dict[str, list[str]]:
    """Each portal's problems in a run (none: healthy), from the run's one-line problems.

    A problem naming a URL (a start page, a column) is its portal's; one naming none (a
    worker that died, challenges counted over the run) is every portal's.
    """
    verdicts: dict[str, list[str]] = {portal: [] for portal in dict.fromkeys(names.values())}
    for problem in problems:
        hosts = {netloc_of(url) for url in _URL.findall(problem)}
        portals = [names[host] for host in hosts if host in names] or list(verdicts)
        for portal in dict.fromkeys(portals):
            verdicts[portal].append(problem)
    return verdicts
