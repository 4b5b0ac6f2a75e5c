"""Site profiles: where a portal's supervision column starts, and what it needs.

A profile is only a name, start URLs and Scrapy setting overrides: the crawler relies on
what all TRS portals share, so a new portal usually needs nothing beyond its column URL
(``python -m crawler crawl --start-url …``).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SiteProfile:
    name: str
    start_urls: tuple[str, ...]
    #: Other hosts of the same portal whose bulletin links are followed.
    extra_hosts: tuple[str, ...] = ()
    #: Scrapy settings this portal needs (e.g. a slower ``DOWNLOAD_DELAY``).
    settings: dict[str, object] = field(default_factory=dict)
    #: ``RENDER_MODE`` for this portal (``auto``/``always``/``never``/``api``); ``None``: the default.
    render: str | None = None


XIANNING = SiteProfile(
    name="xianning",
    start_urls=("http://www.xianning.gov.cn/xxgk/xxgkml/qtzdgknr/zwdc/index.shtml",),
    extra_hosts=("xianning.gov.cn",),
)

PROFILES: dict[str, SiteProfile] = {profile.name: profile for profile in (XIANNING,)}
DEFAULT_PROFILE = XIANNING
