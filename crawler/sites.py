"""The registry of portals (``sites.toml``): who they are, where their columns start, their hosts.

Why: researchers compare cities, so a nightly run covers many portals, each named once here
and crawled by name (``crawl --site NAME``, ``crawl --all-sites``). The shipped registry is
``sites.toml`` at the top of the repository; ``--sites PATH`` adds a user's portals to it
(an entry of the same name replaces the shipped one; ``extends_shipped = false`` at the top
of the file makes it stand alone, as the tests' registry of replica portals does).

Every mistake in a registry file is reported in one line naming the file (and the entry).
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.errors import CommandError
from pipelines.urls import netloc_of

#: The registry shipped with the code.
SHIPPED = Path(__file__).resolve().parent.parent / "sites.toml"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
#: Keys of an entry; ``region`` and ``start_urls`` are required.
_ENTRY_KEYS = {"region", "start_urls", "hosts", "delay", "concurrency"}
_TOP_KEYS = {"sites", "extends_shipped"}


class RegistryError(CommandError):
    """A registry file that cannot be used, or a name it does not hold (exit code 2)."""

    def __init__(self, message: str):
        super().__init__(message, exit_code=2)


@dataclass(frozen=True)
class Site:
    """One portal: its short name, city/region, column start URLs, hosts and politeness."""

    name: str
    region: str
    start_urls: tuple[str, ...]
    #: Every host (``host[:port]``) of the portal, the start URLs' hosts first.
    hosts: tuple[str, ...]
    #: Seconds between requests to each of its hosts (``None``: the crawl's ``DOWNLOAD_DELAY``).
    delay: float | None = None
    #: Requests in flight per host (``None``: ``CONCURRENT_REQUESTS_PER_DOMAIN``).
    concurrency: int | None = None


@dataclass(frozen=True)
class Registry:
    sites: dict[str, Site]

    def site(self, name: str) -> Site:
        try:
            return self.sites[name]
        except KeyError:
            known = ", ".join(sorted(self.sites)) or "none"
            raise RegistryError(f"no site {name!r} in the registry (known: {known})") from None

    def portal_of(self, host: str) -> str | None:
        """The name of the portal serving ``host``, if the registry has it."""
        return next((site.name for site in self.sites.values() if host in site.hosts), None)


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
                float(delay) if delay is not None else None, concurrency)


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
    for file in files:
        for name, data in _read(file).get("sites", {}).items():
            sites[name] = _entry(file, name, data)
    owners: dict[str, str] = {}
    for site in sites.values():
        for host in site.hosts:
            if host in owners:
                raise RegistryError(f"host {host} belongs to two sites: {owners[host]} and {site.name}")
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
            "hosts": list(site.hosts), "delay": site.delay, "concurrency": site.concurrency}


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
