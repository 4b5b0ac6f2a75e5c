"""Extraction: ``extract_record`` per bulletin page, known TRS containers vs the trafilatura fallback.

Each page's bytes are fetched from the replica once (urllib, outside the timing); then only
:func:`pipelines.extraction.extract_record` is timed, a few passes over every page, keeping
each page's fastest pass (the noise of this machine only ever adds time).
"""
from __future__ import annotations

import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from benchmarks.common import Figure, median, ms, percentile, progress, verdict
from spiders.items import BulletinPage
from pipelines.extraction import extract_record
from tests.replica.server import ReplicaPortal

#: Target: median extraction time per page with a known TRS container.
TARGET_SECONDS = 0.005
#: The family whose pages have no known container (trafilatura finds the body).
FALLBACK_FAMILY = "scripted-count"


@dataclass(frozen=True)
class Page:
    """A fetched bulletin page and the family that rendered it."""

    family: str
    page: BulletinPage


def fetch_pages(portal: ReplicaPortal, per_family: int | None = None) -> Iterator[Page]:
    """Every listed bulletin's page as the crawler would receive it (bytes and headers)."""
    for name, column in portal.columns.items():
        for truth in column.bulletins[:per_family]:
            with urllib.request.urlopen(truth["url"], timeout=30) as answer:
                headers = dict(answer.headers.items())
                body = answer.read()
                final = answer.url
            yield Page(name, BulletinPage(url=truth["url"], source_url=final, status=200, headers=headers,
                                          body=body, fetched_at="2025-01-01T00:00:00+00:00",
                                          list_url=column.start_url))


def time_extraction(pages: list[Page], passes: int) -> dict[str, list[float]]:
    """Per family, each page's fastest ``extract_record`` time over ``passes`` passes."""
    best = [float("inf")] * len(pages)
    for _ in range(passes):
        for index, page in enumerate(pages):
            started = time.perf_counter()
            extract_record(page.page)
            best[index] = min(best[index], time.perf_counter() - started)
    by_family: dict[str, list[float]] = defaultdict(list)
    for page, seconds in zip(pages, best):
        by_family[page.family].append(seconds)
    return by_family


def run(per_family: int = 500, sample: int | None = 200, passes: int = 3) -> list[Figure]:
    """Time extraction over ``sample`` pages per family of a ``per_family`` replica."""
    with ReplicaPortal(per_family=per_family, seed=1) as portal:
        progress(f"extraction: fetching up to {sample or per_family} pages per family")
        pages = list(fetch_pages(portal, sample))
    progress(f"extraction: timing extract_record on {len(pages)} pages, {passes} passes")
    extract_record(pages[0].page)  # imports and caches warm
    by_family = time_extraction(pages, passes)
    known = [t for family, times in by_family.items() if family != FALLBACK_FAMILY for t in times]
    fallback = by_family.get(FALLBACK_FAMILY, [])
    figures = [
        Figure("extraction", f"known TRS containers: median per page ({len(known)} pages)", ms(median(known)),
               f"≤ {ms(TARGET_SECONDS)}", verdict(median(known) <= TARGET_SECONDS)),
        Figure("extraction", "known TRS containers: p95 per page", ms(percentile(known, 95))),
    ]
    if fallback:
        figures += [
            Figure("extraction", f"trafilatura fallback ({FALLBACK_FAMILY}): median per page",
                   ms(median(fallback)), f"{median(fallback) / median(known):.1f}× the known-container median"),
            Figure("extraction", "trafilatura fallback: p95 per page", ms(percentile(fallback, 95))),
        ]
    figures += [
        Figure("extraction", f"family {family}: median / p95", f"{ms(median(times))} / {ms(percentile(times, 95))}")
        for family, times in by_family.items()
    ]
    return figures
