"""Distributed crawl on the big replica: one process, then 2 and 4 workers sharing a real Redis,
then ``merge`` of the workers' archives.

Every worker is a ``python -m crawler crawl --scheduler redis://…`` child process with the
crawl benchmark's settings (politeness lifted, the same concurrency); all of them run on this
machine, so they share its cores with each other and with the replica. What the figures say:
how the work splits (bulletins per worker), what sharing the queue costs in CPU, the wall time
to the last bulletin fetched, and the merge. Each worker also waits out the idle time after the
queue empties (``SHARED_QUEUE_IDLE_TIMEOUT``, set short here); the wall time counts it.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import PYTHON, REPO, Figure, progress, run_child
from benchmarks.crawling import CrawlSession
from tests.redis_server import RedisServer
from tests.replica.server import ReplicaPortal

#: Seconds a worker waits on an idle queue before it stops (the default is 30).
IDLE_TIMEOUT = 2.0
WORKERS = (2, 4)
_DETAIL = re.compile(r"/t\d{8}_\d+\.\w+$")


@dataclass(frozen=True)
class Spread:
    """One distributed crawl: its workers' archives, timings and what each fetched."""

    workers: int
    wall: float
    cpu: float
    fetch_span: float  # first request to last bulletin page served
    archives: list[Path]
    bulletins: list[int]
    duplicates: int  # bulletin pages fetched more than once


def _archived(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM bulletins").fetchone()[0]


def _fetch_span(crawl: CrawlSession) -> tuple[float, int]:
    requests = crawl.portal.requests
    details = [r for r in requests if _DETAIL.search(r["path"].split("?")[0])]
    paths = [r["path"] for r in details]
    return details[-1]["time"] - requests[0]["time"], len(paths) - len(set(paths))


def spread(crawl: CrawlSession, redis_url: str, workers: int) -> Spread:
    """``workers`` crawl processes of the whole replica through one Redis, to the end."""
    crawl.portal.clear_requests()
    folder = crawl.scratch / f"workers-{workers}"
    folder.mkdir(parents=True, exist_ok=True)
    starts = [arg for column in crawl.portal.columns.values() for arg in ("--start-url", column.start_url)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    archives = [folder / f"worker-{number}.db" for number in range(1, workers + 1)]
    started = time.perf_counter()
    children = [subprocess.Popen(
        [PYTHON, "-m", "crawler", "crawl", *starts, "--archive", str(archive), "--scheduler", redis_url,
         *crawl.args, "-s", f"SHARED_QUEUE_IDLE_TIMEOUT={IDLE_TIMEOUT}"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for archive in archives]
    cpu = 0.0
    for child in children:
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
        if child.returncode != 0:
            raise RuntimeError(f"worker failed ({child.returncode}): {child.stderr.read().decode()[-2000:]}")
    wall = time.perf_counter() - started
    span, duplicates = _fetch_span(crawl)
    return Spread(workers, wall, cpu, span, archives, [_archived(path) for path in archives], duplicates)


@contextmanager
def session(per_family: int = 500, concurrency: int = 8) -> Iterator[CrawlSession]:
    """The big replica, its attachment files made by a first, untimed crawl (the replica makes
    each file on its first request), and a scratch directory."""
    scratch = Path(tempfile.mkdtemp(prefix="zwdc-bench-distributed-"))
    try:
        with ReplicaPortal(per_family=per_family, seed=1) as portal:
            crawl = CrawlSession(portal, scratch, concurrency)
            progress(f"distributed: a first crawl of {crawl.bulletins} bulletins makes the replica's files (untimed)")
            crawl.fresh_project()
            yield crawl
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(per_family: int = 500, concurrency: int = 8) -> list[Figure]:
    with session(per_family, concurrency) as crawl:
        return _run(crawl)


def _run(crawl: CrawlSession) -> list[Figure]:
    figures: list[Figure] = []
    progress(f"distributed: one process, no Redis ({crawl.bulletins} bulletins)")
    single = crawl.fresh_project()
    span, _ = _fetch_span(crawl)
    figures.append(Figure("distributed", f"one process: wall time, CPU (no Redis; {crawl.archived()} bulletins)",
                          f"{single.child.wall:.1f} s, CPU {single.child.cpu:.1f} s",
                          f"last bulletin fetched after {span:.1f} s"))
    with RedisServer() as redis:
        for workers in WORKERS:
            progress(f"distributed: {workers} workers sharing one Redis")
            result = spread(crawl, redis.url, workers)
            figures.append(Figure(
                "distributed", f"{workers} workers on this machine: wall time (each waits {IDLE_TIMEOUT:.0f} s "
                               f"on the empty queue), CPU of all",
                f"{result.wall:.1f} s, CPU {result.cpu:.1f} s",
                f"one process {single.child.wall:.1f} s, CPU {single.child.cpu:.1f} s "
                f"({result.cpu / single.child.cpu:.2f}× CPU)"))
            figures.append(Figure(
                "distributed", f"{workers} workers: last bulletin fetched after; bulletins per worker; "
                               "bulletin pages fetched twice",
                f"{result.fetch_span:.1f} s; {' + '.join(map(str, result.bulletins))} = {sum(result.bulletins)}; "
                f"{result.duplicates}", f"one process {span:.1f} s; {crawl.bulletins}; 0"))
            progress(f"distributed: merging the {workers} workers' archives")
            target = result.archives[0].with_name("merged.db")
            merged = run_child(["-m", "crawler", "merge", "--archive", str(target),
                                *(str(path) for path in result.archives)])
            if merged.returncode != 0:
                raise RuntimeError(f"merge failed ({merged.returncode}): {merged.stderr.strip()[-2000:]}")
            figures.append(Figure(
                "distributed", f"merge of the {workers} archives (captures copied, ingested): wall, CPU",
                f"{merged.wall:.1f} s, CPU {merged.cpu:.1f} s",
                f"{_archived(target)} bulletins (expected {crawl.bulletins})"))
    return figures
