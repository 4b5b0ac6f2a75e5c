"""Is a finished crawl healthy? One place for the rules the exit code follows.

A nightly job runs unattended: anything that means "the archive silently stopped growing"
must turn into a non-zero exit with a one-line reason.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crawler.browser import INSTALL_HINT

#: Below this many bulletin pages a metadata-loss ratio means little.
MIN_PAGES_FOR_RATIO = 3


def needs_rendering_problems(stats: Mapping[str, Any]) -> list[str]:
    """Columns whose list is built by scripts and was not read (``render/needs_rendering``)."""
    unread = stats.get("render/needs_rendering") or {}
    if not isinstance(unread, Mapping):
        return []
    missing = stats.get("render/browser_missing") or "no browser"
    reasons = {
        "never": "needs JavaScript rendering (use --render auto)",
        "no-browser": f"needs JavaScript rendering, but {missing}: {INSTALL_HINT}",
        "no-endpoint": "needs JavaScript rendering: its scripts show no JSON endpoint (use --render auto)",
        "empty-endpoint": "needs JavaScript rendering: the JSON endpoint in its scripts listed nothing "
                          "(use --render auto)",
    }
    return [
        f"the list of {column} links no bulletin without its scripts: it "
        + reasons.get(why, "needs JavaScript rendering (use --render auto)")
        for column, why in sorted(unread.items())
    ]


def stat_count(stats: Mapping[str, Any], key: str) -> int:
    """A Scrapy stats counter as an int (absent counters are 0)."""
    return int(stats.get(key, 0) or 0)


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def run_problems(
    stats: Mapping[str, Any],
    start_outcomes: Mapping[str, str],
    column_links: Mapping[str, int],
    previous: Mapping[str, Any] | None,
) -> list[str]:
    """Reasons the run was not healthy (empty: healthy).

    ``previous`` is the stats of the last healthy run on this archive (its
    ``column_links`` and metadata counts), or ``None`` for a first run.
    """
    def count(key: str) -> int:
        return stat_count(stats, key)

    problems = [
        f"start page failed: {url} ({outcome})"
        for url, outcome in start_outcomes.items()
        if outcome != "ok"
    ]
    problems += needs_rendering_problems(stats)
    challenges = count("column/challenges")
    if challenges:
        problems.append(f"bot challenge instead of content on {challenges} page(s); nothing archived from them")
    previous_links = dict((previous or {}).get("column_links", {}))
    for column, links in column_links.items():
        if links == 0 and previous_links.get(column, 0) > 0:
            problems.append(
                f"template changed? the list of {column} parsed to zero bulletins "
                f"(the last run found {previous_links[column]})"
            )
    pages = count("extract/pages")
    without = count("extract/without_metadata")
    if pages >= MIN_PAGES_FOR_RATIO and _ratio(without, pages) > 0.5:
        before = (previous or {}).get("metadata_ratio")
        if before is not None and before <= 0.5:
            problems.append(
                f"metadata block lost: {without} of {pages} bulletin pages had none "
                f"(the last run: {before:.0%} without)"
            )
    linked = count("column/bulletin_links")
    failed = count("column/bulletin_failed")
    # (A start page another process of a shared queue took is not this run's to judge.)
    if not problems and linked == 0 and (start_outcomes or count("column/list_pages")):
        problems.append(
            "no bulletins found: the list pages linked to no bulletin page "
            f"({count('column/list_pages')} list pages read)"
        )
    elif not problems and failed and not count("archive/bulletins") + count("archive/not_modified"):
        problems.append(f"no bulletins archived: {linked} bulletin links found, {failed} failed")
    return problems
