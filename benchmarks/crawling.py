"""Crawl benchmarks on the replica: overhead against a bare Scrapy spider, peak memory, nightly runs.

The replica serves from a thread of this process; every crawl runs as a child process
(``python -m crawler crawl`` for the project, ``python -m benchmarks.bare`` for the reference),
so its wall time, CPU time (``wait4``) and peak RSS (its ``VmHWM``) are its own. Both sides get the same
settings: politeness lifted and the same concurrency.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import ChildRun, Figure, median, mib, progress, run_child, verdict
from tests.replica.server import ReplicaPortal

#: Target: the project crawl's wall time at most this many times the bare spider's.
TARGET_RATIO = 1.5
#: Target: the crawl without its ingest batches (fetching and capturing) against the bare spider.
TARGET_FETCH_RATIO = 1.3
#: Target: bulletins ingested per second of one core's CPU time.
TARGET_INGEST_RATE = 400
#: New bulletins published before the second nightly run, one family after another.
NEW_BULLETINS = 5
#: What a request of the replica's log was for, by its path.
_KINDS = (("robots.txt", re.compile(r"^/robots\.txt$")), ("list", re.compile(r"/index(_\d+)?\.\w+$")),
          ("bulletin", re.compile(r"/t\d{8}_\d+\.\w+$")),
          ("further page of a split bulletin", re.compile(r"/t\d{8}_\d+_\d+\.\w+$")),
          ("attachment/other", re.compile("")))


def request_kinds(paths: list[str]) -> str:
    """``1 robots.txt + 8 list + 5 bulletin + 9 attachment/other`` for a list of requested paths."""
    counts = {kind: 0 for kind, _ in _KINDS}
    for path in paths:
        counts[next(kind for kind, pattern in _KINDS if pattern.search(path.split("?")[0]))] += 1
    return " + ".join(f"{n} {kind}" for kind, n in counts.items() if n)


def setting_args(concurrency: int) -> list[str]:
    """``-s`` arguments both sides get: politeness lifted, equal concurrency, quiet logs."""
    settings = {
        "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING",
        "CONCURRENT_REQUESTS": concurrency, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
    }
    return [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]


@dataclass(frozen=True)
class CrawlRun:
    """One crawl: the child's timings plus what the replica saw and Scrapy counted."""

    child: ChildRun
    requests: int
    kinds: str  # what the requests were for (request_kinds)
    engine_seconds: float  # Scrapy's elapsed_time_seconds: the crawl without start-up and imports
    ingest_seconds: float = 0.0  # wall time the reactor's thread spent on ingest (planning, writing batches)
    ingest_cpu: float = 0.0  # CPU time of ingest: the reactor thread's and the extraction workers'
    extraction_cpu: float = 0.0  # of which the extraction workers'
    ingested: int = 0  # bulletins they stored (new, changed or unchanged)
    reactor_cpu: float = 0.0  # CPU time of the thread running the reactor (start-up included)

    @property
    def pages_per_second(self) -> float:
        return self.requests / self.child.wall

    @property
    def fetch_wall(self) -> float:
        """The crawl's wall time without its ingest batches: fetching and capturing."""
        return self.child.wall - self.ingest_seconds


class CrawlSession:
    """A replica portal and a scratch directory shared by the crawl benchmarks of one run."""

    def __init__(self, portal: ReplicaPortal, scratch: Path, concurrency: int):
        self.portal = portal
        self.scratch = scratch
        self.args = setting_args(concurrency)
        self.rounds = 0
        #: The archive of the latest complete project crawl (what a nightly run starts from).
        self.archive: Path | None = None

    @property
    def bulletins(self) -> int:
        return sum(len(column.bulletins) for column in self.portal.columns.values())

    def project(self, archive: Path) -> CrawlRun:
        """``python -m crawler crawl`` of every column into ``archive``."""
        self.portal.clear_requests()
        starts = [arg for column in self.portal.columns.values() for arg in ("--start-url", column.start_url)]
        child = run_child(["-m", "crawler", "crawl", *starts, "--archive", str(archive), *self.args])
        if child.returncode != 0:
            raise RuntimeError(f"project crawl failed ({child.returncode}): {child.stderr.strip()[-2000:]}")
        with sqlite3.connect(archive) as db:
            stats = json.loads(db.execute("SELECT stats FROM crawl_runs ORDER BY id DESC").fetchone()[0])
        self.archive = archive
        scrapy = stats["scrapy"]
        return self._run(child, float(scrapy["elapsed_time_seconds"]), float(scrapy.get("ingest/seconds", 0)),
                         float(scrapy.get("ingest/cpu_seconds", 0)), float(scrapy.get("ingest/worker_cpu_seconds", 0)),
                         int(scrapy.get("archive/bulletins", 0)), float(scrapy.get("run/reactor_thread_cpu_seconds", 0)))

    def _run(self, child: ChildRun, engine_seconds: float, *ingest: float | int) -> CrawlRun:
        paths = [request["path"] for request in self.portal.requests]
        return CrawlRun(child, len(paths), request_kinds(paths), engine_seconds, *ingest)

    def fresh_project(self) -> CrawlRun:
        self.rounds += 1
        return self.project(self.scratch / f"project-{self.rounds}" / "archive.db")

    def url_file(self) -> Path:
        """What the latest project crawl asked the replica for (robots.txt aside), list pages marked."""
        assert self.archive is not None
        with sqlite3.connect(self.archive) as db:
            lists = {url for (url,) in db.execute("SELECT url FROM captures WHERE kind = 'list'")}
        urls = dict.fromkeys(self.portal.base_url + r["path"] for r in self.portal.requests if r["path"] != "/robots.txt")
        path = self.scratch / "bare-urls.txt"
        path.write_text("".join(f"{'L' if url in lists else '-'} {url}\n" for url in urls), encoding="utf-8")
        return path

    def bare(self, url_file: Path, *extra: str) -> CrawlRun:
        """The bare spider over ``url_file`` (``extra``: more ``-s`` arguments)."""
        self.portal.clear_requests()
        child = run_child(["-m", "benchmarks.bare", str(url_file), *self.args, *extra])
        if child.returncode != 0:
            raise RuntimeError(f"bare crawl failed ({child.returncode}): {child.stderr.strip()[-2000:]}")
        stats = json.loads(child.stdout.strip().splitlines()[-1])
        return self._run(child, float(stats["elapsed_time_seconds"]))

    def archived(self) -> int:
        assert self.archive is not None
        with sqlite3.connect(self.archive) as db:
            return db.execute("SELECT count(*) FROM bulletins").fetchone()[0]


@contextmanager
def session(per_family: int = 500, concurrency: int = 8) -> Iterator[CrawlSession]:
    """A ``per_family`` × 8 replica (one column a template family) on 127.0.0.1 and a scratch directory, both removed afterwards."""
    scratch = Path(tempfile.mkdtemp(prefix="zwdc-bench-"))
    try:
        with ReplicaPortal(per_family=per_family, seed=1) as portal:
            progress(f"crawl: making the replica's {portal.site.make_attachment_files()} attachment files (untimed)")
            yield CrawlSession(portal, scratch, concurrency)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


#: Scrapy's own default of a setting the project lowers (see crawler/settings.py), for context.
SCRAPY_DEFAULT_ITEMS = ("-s", "CONCURRENT_ITEMS=100")


def run_overhead(crawl: CrawlSession, rounds: int = 3) -> list[Figure]:
    """Project crawl and bare spider, alternated ``rounds`` times; medians and their ratio.

    Each round also runs the bare spider with Scrapy's default ``CONCURRENT_ITEMS``: the
    project's lower value makes Scrapy itself (so the reference) about twice as fast.
    """
    project: list[CrawlRun] = []
    bare: list[CrawlRun] = []
    bare_default: list[CrawlRun] = []
    for round_ in range(1, rounds + 1):
        progress(f"crawl: round {round_}/{rounds}: project crawl of {crawl.bulletins} bulletins")
        project.append(crawl.fresh_project())
        progress(f"crawl: round {round_}/{rounds}: project {project[-1].child.wall:.1f} s; bare spider")
        bare.append(crawl.bare(crawl.url_file()))
        progress(f"crawl: round {round_}/{rounds}: bare {bare[-1].child.wall:.1f} s; "
                 "bare spider with Scrapy's default CONCURRENT_ITEMS")
        bare_default.append(crawl.bare(crawl.url_file(), *SCRAPY_DEFAULT_ITEMS))
        progress(f"crawl: round {round_}/{rounds}: bare (Scrapy default) {bare_default[-1].child.wall:.1f} s")
    archived = crawl.archived()

    def med(runs: list[CrawlRun], value) -> float:
        return median([value(run) for run in runs])

    wall_p, wall_b = med(project, lambda r: r.child.wall), med(bare, lambda r: r.child.wall)
    engine_p, engine_b = med(project, lambda r: r.engine_seconds), med(bare, lambda r: r.engine_seconds)
    cpu_p, cpu_b = med(project, lambda r: r.child.cpu), med(bare, lambda r: r.child.cpu)
    ratios = [p.child.wall / b.child.wall for p, b in zip(project, bare)]
    ratio = median(ratios)
    fetch_ratios = [p.fetch_wall / b.child.wall for p, b in zip(project, bare)]
    fetch_ratio = median(fetch_ratios)
    rates = [run.ingested / run.ingest_cpu for run in project if run.ingest_cpu]
    rate = median(rates) if rates else 0.0
    ceilings = [run.ingested / run.extraction_cpu for run in project if run.extraction_cpu]
    wall_d = med(bare_default, lambda r: r.child.wall)
    cores = len(os.sched_getaffinity(0))
    reactor_p = med(project, lambda r: r.reactor_cpu)
    n = f"median of {rounds}"
    return [
        Figure("crawl", f"project crawl: wall time ({n}; {archived} bulletins archived; "
                        f"{project[-1].requests} requests: {project[-1].kinds})", f"{wall_p:.1f} s",
               f"bare spider {wall_b:.1f} s ({bare[-1].requests} requests)"),
        Figure("crawl", "wall-time ratio project / bare, side by side (median of the rounds' ratios: "
                        + ", ".join(f"{r:.2f}" for r in ratios) + f"; ratio of the medians {wall_p / wall_b:.2f}×)",
               f"{ratio:.2f}×", f"≤ {TARGET_RATIO}×", verdict(ratio <= TARGET_RATIO)),
        Figure("crawl", "fetch phase (the crawl's wall time minus the time its reactor spent on ingest, the "
                        "extraction in the worker process overlapping: fetching, WARC, captures, "
                        "attachment files) / bare, side by side (rounds: "
                        + ", ".join(f"{r:.2f}" for r in fetch_ratios) + ")",
               f"{fetch_ratio:.2f}×", f"≤ {TARGET_FETCH_RATIO}×", verdict(fetch_ratio <= TARGET_FETCH_RATIO)),
        Figure("crawl", "ingest during the crawl: bulletins per CPU second (one core; extraction, versions, "
                        "search index, structure, attachments; rounds: " + ", ".join(f"{r:.0f}" for r in rates) + ")",
               f"{rate:.0f}/s", f"≥ {TARGET_INGEST_RATE}/s", verdict(rate >= TARGET_INGEST_RATE)),
        Figure("crawl", "ingest ceiling set by extraction alone: bulletins per CPU second of the extraction workers "
                        "(were the writes free; rounds: " + ", ".join(f"{r:.0f}" for r in ceilings) + ")",
               f"{median(ceilings) if ceilings else 0:.0f}/s", f"≥ {TARGET_INGEST_RATE}/s needs extraction under "
                                                                 f"{1000 / TARGET_INGEST_RATE:.1f} ms a bulletin"),
        Figure("crawl", "ingest: reactor wall time / CPU time, the extraction worker's included (median)",
               f"{med(project, lambda r: r.ingest_seconds):.1f} s / {med(project, lambda r: r.ingest_cpu):.1f} s"),
        Figure("crawl", "pages/s (requests served / wall time)",
               f"{med(project, lambda r: r.pages_per_second):.0f}/s",
               f"bare spider {med(bare, lambda r: r.pages_per_second):.0f}/s"),
        Figure("crawl", "bulletins archived/s", f"{archived / wall_p:.0f}/s"),
        Figure("crawl", "Scrapy engine time (elapsed_time_seconds, no start-up)", f"{engine_p:.1f} s",
               f"bare spider {engine_b:.1f} s ({engine_p / engine_b:.2f}×)"),
        Figure("crawl", "CPU time of the crawl (user+sys)",
               f"{cpu_p:.1f} s", f"bare spider {cpu_b:.1f} s ({cpu_p / cpu_b:.2f}×)"),
        Figure("crawl", f"CPU floor of the wall-time ratio, against the bare spider's wall time: the crawl's CPU time "
                        f"spread perfectly over this machine's {cores} cores ({cpu_p / cores / wall_b:.2f}×), or the CPU "
                        f"time of its reactor's thread alone ({reactor_p:.1f} s: {reactor_p / wall_b:.2f}×), whichever "
                        "is more: the ratio cannot go below it without less CPU, or less of it on that thread",
               f"{max(cpu_p / cores, reactor_p) / wall_b:.2f}×",
               f"≤ {TARGET_RATIO}× needs CPU ≤ {TARGET_RATIO * wall_b * cores:.1f} s (now {cpu_p:.1f} s) and on the "
               f"reactor's thread ≤ {TARGET_RATIO * wall_b:.1f} s"),
        Figure("crawl", "the bare spider with Scrapy's default CONCURRENT_ITEMS=100 (context: the project sets 4)",
               f"{wall_d:.1f} s", f"project / this: {wall_p / wall_d:.2f}×"),
        Figure("memory", f"peak RSS of the {archived:,}-bulletin crawl process (VmHWM, max over rounds)",
               mib(max(run.child.max_rss for run in project)),
               f"bare spider {mib(max(run.child.max_rss for run in bare))}"),
    ]


def run_reprocess(crawl: CrawlSession) -> list[Figure]:
    """``reprocess`` of the archive the last complete crawl built: every bulletin re-ingested."""
    if crawl.archive is None:
        progress(f"reprocess: first, a full crawl of {crawl.bulletins} bulletins")
        crawl.fresh_project()
    archived = crawl.archived()
    progress(f"reprocess: {archived} bulletins")
    child = run_child(["-m", "crawler", "reprocess", "--archive", str(crawl.archive)])
    if child.returncode != 0:
        raise RuntimeError(f"reprocess failed ({child.returncode}): {child.stderr.strip()[-2000:]}")
    return [
        Figure("reprocess", f"reprocess of the {archived:,}-bulletin archive (python -m crawler reprocess: "
                            "WARC read-back, extraction, store, structure rebuild; process wall time)",
               f"{child.wall:.1f} s", f"{archived / child.wall:.0f} bulletins/s; CPU {child.cpu:.1f} s "
                                      f"({archived / child.cpu:.0f} bulletins per CPU second)"),
    ]


def run_nightly(crawl: CrawlSession) -> list[Figure]:
    """Incremental runs over a complete archive: nothing new, then NEW_BULLETINS new bulletins."""
    if crawl.archive is None:
        progress(f"nightly: first, a full crawl of {crawl.bulletins} bulletins")
        crawl.fresh_project()
    before = crawl.archived()
    progress("nightly: a run with nothing new")
    idle = crawl.project(crawl.archive)
    families = list(crawl.portal.columns)
    for index in range(NEW_BULLETINS):
        crawl.portal.site.add_bulletin(families[index % len(families)])
    progress(f"nightly: a run with {NEW_BULLETINS} new bulletins")
    news = crawl.project(crawl.archive)
    added = crawl.archived() - before
    columns = len(families)
    return [
        Figure("nightly", f"nothing new: requests ({before} bulletins archived): {idle.kinds}", str(idle.requests),
               f"robots.txt + 1 list page per column = {1 + columns}", verdict(idle.requests <= 1 + columns)),
        Figure("nightly", "nothing new: wall time (process, engine)",
               f"{idle.child.wall:.1f} s, {idle.engine_seconds:.2f} s"),
        Figure("nightly", f"{NEW_BULLETINS} new bulletins: requests ({added} archived): {news.kinds}",
               str(news.requests), f"robots.txt + list pages up to the first with nothing new + "
                                   f"{NEW_BULLETINS} bulletins and their attachments",
               verdict(added == NEW_BULLETINS)),
        Figure("nightly", f"{NEW_BULLETINS} new bulletins: wall time (process, engine)",
               f"{news.child.wall:.1f} s, {news.engine_seconds:.2f} s"),
    ]
