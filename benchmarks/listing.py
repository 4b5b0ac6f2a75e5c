"""List pages: reading a hostile list page of 100,000 links (issue #14: once 133 s, quadratic).

The page is generated and parsed outside the timing; only the list reading the crawl does per
page is timed, best of a few passes: one pass over its links (:func:`spiders.pagination.page_links`)
for both its entries (:func:`spiders.listing.read_list`) and its pager
(:func:`spiders.pagination.read_pager`).

Then the whole of it in a crawl: ``python -m crawler crawl --sample 3`` of a replica column whose
list page carries the 100,000 links more (and its template's scripts), and the event loop's
longest stall in it (``reactor/longest_stall_seconds``, :mod:`crawler.stalls`): the page is
read in a thread (:mod:`spiders.list_page`), its links then sorted on the loop; best of a few
crawls.
"""
from __future__ import annotations

import gc
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from lxml.etree import _Element, tostring

from benchmarks.common import Figure, ms, progress, run_child, verdict
from pipelines.text import parse_html
from spiders.list_page import read_list_page
from spiders.listing import read_list
from spiders.pagination import page_links, read_pager
from tests.replica import faults
from tests.replica.server import ReplicaPortal

#: Target: a 100k-link list page read well under a second.
TARGET_SECONDS = 0.5
#: Target: a crawl meeting such a page never holds its event loop near a second (the page is read
#: in a thread; what is left on the loop is the crawl's bookkeeping of its 100,000 links).
TARGET_STALL_SECONDS = 0.5
LINKS = 100_000


def hostile_page(links: int = LINKS) -> str:
    items = "".join(f'<li><a href="/art/2024/1/1/art_1_{n}.html">第{n}号督查通报</a><span>2024-01-01</span></li>'
                    for n in range(links))
    return f'<html><body><ul>{items}</ul><a href="index_1.html">下一页</a></body></html>'


def lxml_reading(tree: _Element) -> tuple[list[str | None], list[str | None], list[str]]:
    """What lxml itself does for a reading of the page's links, with no test or bookkeeping of
    ours: each link's text and target, its parent, each parent's text. The reference for this
    machine's speed at the hour of the run (it swings up to 2x from hour to hour)."""
    links = list(tree.iter("a"))
    parents = [link.getparent() for link in links]
    return ([link.text for link in links], [link.get("href") for link in links],
            [tostring(parent, method="text", encoding=str, with_tail=False) for parent in parents])


def crawl_stall(crawls: int = 3) -> Figure:
    """The longest stall of the event loop in a sample crawl meeting the hostile list page."""
    stalls = []
    with ReplicaPortal(per_family=4, seed=34) as portal, tempfile.TemporaryDirectory() as scratch:
        column = portal.columns["xianning"]
        portal.faults[urlsplit(column.start_url).path] = faults.many_entries(LINKS)
        for n in range(crawls):
            progress(f"listing: crawl {n + 1} of {crawls} meeting a list page of {LINKS:,} links")
            archive = Path(scratch) / str(n) / "archive.db"
            child = run_child(["-m", "crawler", "crawl", "--start-url", column.start_url, "--archive", str(archive),
                               "--sample", "3", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False"])
            if child.returncode != 0:
                raise RuntimeError(f"crawl failed ({child.returncode}): {child.stderr.strip()[-2000:]}")
            with sqlite3.connect(archive) as db:
                stats = json.loads(db.execute("SELECT stats FROM crawl_runs").fetchone()[0])["scrapy"]
            assert stats["column/bulletin_links"] > LINKS
            stalls.append(stats["reactor/longest_stall_seconds"])
    best = min(stalls)
    return Figure("listing", f"a crawl meeting that page in a replica column (with its template's scripts; "
                             f"--sample 3): the event loop's longest stall, best of {crawls} crawls "
                             f"({', '.join(ms(s) for s in stalls)})",
                  ms(best), f"< {ms(TARGET_STALL_SECONDS)}", verdict(best < TARGET_STALL_SECONDS))


def whole_page(text: str, url: str, passes: int = 3) -> Figure:
    """The page read as the crawl's thread reads it (:func:`spiders.list_page.read_list_page`):
    parsed, checked for a challenge, its list, embedded list and pager read."""
    best = float("inf")
    for _ in range(passes):
        started = time.perf_counter()
        page = read_list_page(text, 200, url, "http://h/c/")
        best = min(best, time.perf_counter() - started)
        assert len(page.reading.entries) == LINKS
        del page
    return Figure("listing", f"that page read whole as the crawl reads it, in a thread: parsed, checked for a "
                             f"challenge, list and pager read (read_list_page, best of {passes})", ms(best), "reported")


def run(passes: int = 7) -> list[Figure]:
    progress(f"listing: parsing a page of {LINKS:,} links")
    text = hostile_page()
    tree = parse_html(text)
    url = "http://h/c/index.html"
    best = best_cpu = floor_cpu = float("inf")
    for _ in range(passes):  # the best of several: the machine is shared, and the quietest pass is the truest
        started, started_cpu = time.perf_counter(), time.process_time()
        links = page_links(tree, url)
        entries = read_list(tree, url, "http://h/c/", links=links).entries
        read_pager(tree, url, "http://h/c/", links)
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - started_cpu)
        assert len(entries) == LINKS
        del links, entries  # freed outside the timing (it freed the last pass's inside the next one)
        gc.disable()  # as the reading holds it off (spiders.listing._collector_paused)
        started_cpu = time.process_time()
        lxml_reading(tree)
        floor_cpu = min(floor_cpu, time.process_time() - started_cpu)
        gc.enable()
    # The CPU time beside it: steadier on a shared machine, where the wall time swings with the others' load.
    return [Figure("listing", f"read a list page of {LINKS:,} links (entries + pager; best of {passes} passes; "
                              f"best CPU time of a pass {ms(best_cpu)})", ms(best), f"< {ms(TARGET_SECONDS)}",
                   verdict(best < TARGET_SECONDS)),
            Figure("listing", "lxml's own part of that reading, timed in the same run (each link's text, target and "
                              "parent, each parent's text; best CPU time): the machine's speed this hour",
                   ms(floor_cpu), f"the reading: {best_cpu / floor_cpu:.2f}× it"),
            whole_page(text, url), crawl_stall()]
