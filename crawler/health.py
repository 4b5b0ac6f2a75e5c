"""Is a finished crawl healthy? One place for the rules the exit code follows.

A nightly job runs unattended: anything that means "the archive silently stopped growing"
must turn into a non-zero exit with a one-line reason.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spiders.browser import INSTALL_HINT

#: Below this many bulletin pages a metadata-loss ratio means little.
MIN_PAGES_FOR_RATIO = 3
#: This many pages refused as replacements (error pages at 200…) make a run unhealthy, as does
#: more than half of the run's pages.
MIN_REFUSED = 3


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


def column_problems(
    reports: Mapping[str, Mapping[str, Any]],
    start_outcomes: Mapping[str, str],
    previous_links: Mapping[str, int],
    unread: Mapping[str, str],
) -> list[str]:
    """Each column's own verdict (issue #12): a dead column fails the run even beside healthy ones.

    ``reports`` maps each start URL to its walk's report (``spiders.walk``): list pages read
    of those announced, entries listed, bulletins stored, failures, problems.
    """
    problems: list[str] = []
    for start_url, report in reports.items():
        if start_outcomes.get(start_url, "ok") != "ok" or report.get("column") in unread:
            continue  # already said: the start page failed, or the list needs rendering
        name = f"column {start_url}"
        problems += [f"{name}: {problem}" for problem in report.get("problems", [])]
        failed = dict(report.get("pages_failed") or {})
        if failed:
            url, reason = next(iter(failed.items()))
            more = f" and {len(failed) - 1} more" if len(failed) > 1 else ""
            problems.append(f"{name}: list page {url} failed ({reason}){more}")
        announced, read = report.get("announced"), int(report.get("pages_read") or 0)
        if report.get("whole") and announced and read < announced:
            named = ", ".join(report.get("pages_unread") or [])
            problems.append(f"{name}: read {read} of the {announced} list pages its pager announces"
                            + (f" (not read: {named})" if named else ""))
        entries = int(report.get("entries") or 0)
        column = report.get("column", start_url)
        if entries == 0:
            if previous_links.get(column, 0) > 0:
                problems.append(f"template changed? the list of {column} parsed to zero bulletins "
                                f"(the last run found {previous_links[column]})")
            else:
                problems.append(f"{name} yields no bulletin: its list shows no entries "
                                f"({read} list page(s) read)")
        elif not report.get("bulletins") and not report.get("known"):
            refused = int(report.get("not_bulletins") or 0) + int(report.get("bulletins_failed") or 0)
            if refused:
                problems.append(f"{name} yields no bulletin: {entries} entries listed, "
                                f"{report.get('not_bulletins', 0)} not bulletins, "
                                f"{report.get('bulletins_failed', 0)} failed")
    return problems


def run_problems(
    stats: Mapping[str, Any],
    start_outcomes: Mapping[str, str],
    column_links: Mapping[str, int],
    previous: Mapping[str, Any] | None,
) -> list[str]:
    """Reasons the run was not healthy (empty: healthy).

    ``previous`` is the stats of the last healthy run on this archive (its
    ``column_links`` and metadata counts), or ``None`` for a first run. Per-column
    verdicts come from ``stats["columns"]`` when the spider kept them.
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
    refused = count("archive/refused")
    if refused >= MIN_REFUSED or refused * 2 > max(count("extract/pages"), 1):
        problems.append(
            f"{refused} re-fetched page(s) did not prove to be their bulletin (error, maintenance or "
            "firewall pages?): recorded as failures, the archived versions kept")
    previous_links = dict((previous or {}).get("column_links", {}))
    reports = stats.get("columns")
    if isinstance(reports, Mapping) and reports:
        unread = stats.get("render/needs_rendering") or {}
        problems += column_problems(reports, start_outcomes, previous_links,
                                    unread if isinstance(unread, Mapping) else {})
    else:
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
    if not problems and linked == 0 and not reports and (start_outcomes or count("column/list_pages")):
        problems.append(
            "no bulletins found: the list pages linked to no bulletin page "
            f"({count('column/list_pages')} list pages read)"
        )
    elif not problems and failed and not count("archive/bulletins") + count("archive/not_modified"):
        problems.append(f"no bulletins archived: {linked} bulletin links found, {failed} failed")
    return problems
