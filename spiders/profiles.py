"""Site profiles: where a portal's column starts, and the escape hatch when detection errs.

Detection needs no configuration (``python -m crawler probe URL`` shows what it finds). When
it gets a portal wrong, a TOML file of per-portal overrides sets it right without code
(setting ``SITE_PROFILES``, default ``profiles.toml``; a missing file is no profile)::

    [portal.example]
    hosts = ["www.example.gov.cn"]            # the portals it applies to
    start_urls = ["http://www.example.gov.cn/col/col123/index.html"]
    list_container = "div.news-list"          # CSS: the list's block (its links are the entries)
    entry_link = "/art/\\\\d{4}/"               # regex the entries' URLs match
    render = "never"                          # auto | always | never | api

A profile applies to every start URL on one of its ``hosts`` (or its ``start_urls``' hosts).
"""
from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from lxml.cssselect import CSSSelector, SelectorError

from pipelines.urls import netloc_of

#: Where the crawl looks for site profiles unless ``SITE_PROFILES`` says otherwise.
DEFAULT_PROFILES_FILE = "profiles.toml"
RENDER_VALUES = ("auto", "always", "never", "api")


class ProfileError(ValueError):
    """A profiles file that cannot be used (one line, for the command line)."""


@dataclass(frozen=True)
class SiteProfile:
    name: str
    start_urls: tuple[str, ...] = ()
    #: Other hosts of the same portal whose bulletin links are followed.
    extra_hosts: tuple[str, ...] = ()
    #: Scrapy settings this portal needs (e.g. a slower ``DOWNLOAD_DELAY``).
    settings: dict[str, object] = field(default_factory=dict)
    #: ``RENDER_MODE`` for this portal (``auto``/``always``/``never``/``api``); ``None``: the default.
    render: str | None = None
    #: Hosts the overrides below apply to (besides those of ``start_urls``).
    hosts: tuple[str, ...] = ()
    #: CSS selector of the list's block: its links are the entries.
    list_container: str | None = None
    #: Regular expression the entries' URLs match.
    entry_link: str | None = None

    @property
    def applies_to(self) -> frozenset[str]:
        return frozenset(h.lower() for h in self.hosts) | {netloc_of(url) for url in self.start_urls}


XIANNING = SiteProfile(
    name="xianning",
    start_urls=("http://www.xianning.gov.cn/xxgk/xxgkml/qtzdgknr/zwdc/index.shtml",),
    extra_hosts=("xianning.gov.cn",),
)
#: No overrides: detection decides everything.
NO_PROFILE = SiteProfile(name="")

PROFILES: dict[str, SiteProfile] = {profile.name: profile for profile in (XIANNING,)}
DEFAULT_PROFILE = XIANNING

_TUPLES = {"start_urls", "extra_hosts", "hosts"}


def _profile(name: str, table: Mapping[str, Any], source: str) -> SiteProfile:
    known = {f.name for f in fields(SiteProfile)} - {"name"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ProfileError(f"{source}: profile {name!r} has unknown keys: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in _TUPLES:
            if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ProfileError(f"{source}: {name}.{key} must be a list of strings")
            values[key] = tuple(value)
        elif key == "settings":
            if not isinstance(value, dict):
                raise ProfileError(f"{source}: {name}.settings must be a table")
            values[key] = dict(value)
        elif not isinstance(value, str):
            raise ProfileError(f"{source}: {name}.{key} must be a string")
        else:
            values[key] = value
    if values.get("render") not in (None, *RENDER_VALUES):
        raise ProfileError(f"{source}: {name}.render must be one of {', '.join(RENDER_VALUES)}")
    if values.get("entry_link"):
        try:
            re.compile(values["entry_link"])
        except re.error as error:
            raise ProfileError(f"{source}: {name}.entry_link is not a valid pattern: {error}") from None
    if values.get("list_container"):
        try:
            CSSSelector(values["list_container"])
        except SelectorError as error:
            raise ProfileError(f"{source}: {name}.list_container is not a valid CSS selector: {error}") from None
    return SiteProfile(name=name, **values)


def load_profiles(path: str | Path) -> dict[str, SiteProfile]:
    """The profiles of a TOML file (none when it does not exist); ProfileError when unusable."""
    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ProfileError(f"{path}: not a readable TOML file ({error})") from None
    portals = data.get("portal", {})
    if not isinstance(portals, dict) or set(data) - {"portal"}:
        raise ProfileError(f"{path}: profiles are tables named [portal.NAME]")
    return {name: _profile(name, table, str(path)) for name, table in portals.items()}


def profile_for(start_urls: Iterable[str], settings: Any) -> SiteProfile:
    """The file's profile for the portal of these start URLs, else :data:`NO_PROFILE`."""
    hosts = {netloc_of(url) for url in start_urls}
    for profile in load_profiles(settings.get("SITE_PROFILES") or DEFAULT_PROFILES_FILE).values():
        if profile.applies_to & hosts:
            return profile
    return NO_PROFILE
