"""A crawl spread over two processes through a real Redis, one of them killed midway, merged.

Real parts: Debian's ``redis-server`` on a free port (``tests/redis_server.py``), the replica
portal, ``python -m crawler crawl --scheduler`` in child processes told apart by their
User-Agent in the replica's request log, ``python -m crawler merge``.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
import urllib.request
from urllib.parse import urljoin, urlsplit

import pytest
import sqlite_utils

from tests.conftest import FAST, REPO, crawl, run_cli
from tests.redis_server import RedisServer
from tests.replica.server import ReplicaPortal

#: A bulletin's own page (not a list page, robots.txt, a further page or a file).
DETAIL = re.compile(r"/t\d{8}_\d+\.\w+$")
#: The idle time after which a worker stops, short for the tests.
IDLE = ["-s", "SHARED_QUEUE_IDLE_TIMEOUT=2"]
#: Longer than :class:`TakeTurns` holds a request (120 s): a request that timed out while it waited
#: would be sent again, and its retries logged as the same bulletin fetched 4 times.
WAIT = ["-s", "DOWNLOAD_TIMEOUT=180"]


def start_worker(archive: Path, start_urls: list[str], redis_url: str, name: str, *extra: str) -> subprocess.Popen:
    urls = [arg for url in start_urls for arg in ("--start-url", url)]
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", *urls, "--archive", str(archive), "--scheduler", redis_url,
         *FAST, *IDLE, *WAIT, "-s", f"USER_AGENT=zwdc-test-{name}", *extra],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def detail_fetches(requests: list[dict], agent: str | None = None) -> Counter:
    return Counter(r["path"] for r in requests if DETAIL.search(r["path"].split("?")[0])
                   and (agent is None or r["headers"].get("User-Agent") == agent))


def truth_urls(portal: ReplicaPortal) -> set[str]:
    return {bulletin["url"] for column in portal.columns.values() for bulletin in column.bulletins}


def document_ids(paths) -> set[str]:
    """The document ids of bulletin page paths (``t20231205_3359488.shtml``: an alias such as
    ``old/t…_3359488.shtml`` names the same document)."""
    return {re.search(r"_(\d+)\.\w+$", path).group(1) for path in paths}


def truth_paths(portal: ReplicaPortal) -> set[str]:
    return {urlsplit(url).path for url in truth_urls(portal)}


#: Columns compared between the merged archive and a single-process crawl.
COMPARED = ("url", "site", "portal", "index_no", "doc_no", "publisher", "category", "validity", "published",
            "issued", "title", "body", "attachments", "source_url", "missing_since")


def archive_content(path: Path) -> dict[str, object]:
    """What an archive holds, without what differs between two crawls (times, ids, file names)."""
    db = sqlite_utils.Database(path)
    return {
        "bulletins": {row["url"]: {key: row[key] for key in COMPARED} for row in db["bulletins"].rows},
        "versions": sorted(db.execute("select url, content_hash, title, body from versions").fetchall()),
        "attachments": sorted(db.execute(
            "select bulletin_url, url, name, mime_type, size, sha256, text, error, extractor_version"
            " from attachments").fetchall()),
        "items": sorted(db.execute(
            "select bulletin_url, source, position, ifnull(section, ''), status, subject, progress,"
            " ifnull(deadline, '') from items").fetchall()),
        "units": sorted(db.execute(
            "select i.bulletin_url, i.position, u.unit from item_units u join items i on i.id = u.item_id").fetchall()),
    }


def table_counts(path: Path) -> dict[str, int]:
    db = sqlite_utils.Database(path)
    return {name: db[name].count for name in db.table_names() if not name.startswith("bulletins_fts")}


class TakeTurns:
    """Replica faults on every bulletin page that make two workers share a crawl whatever their
    start-up times (a busy machine may start one seconds after the other finished alone): worker
    b's bulletin requests wait until worker a has had ``first`` answered; a's further ones are
    never answered (``a_held`` says one arrived: a is under way and may be killed)."""

    def __init__(self, portal: ReplicaPortal, paths: set[str], first: int) -> None:
        self.first = first
        self.lock = threading.Lock()
        self.answered_a = 0
        self.a_had_its_turn, self.a_held, self.release = threading.Event(), threading.Event(), threading.Event()
        self.portal, self.paths = portal, paths
        for path in paths:
            portal.faults[path] = self.answer

    def end(self) -> None:
        """Answer everything again, as the replica does without these faults."""
        for path in self.paths:
            self.portal.faults.pop(path, None)
        self.a_had_its_turn.set()
        self.release.set()

    def answer(self, handler) -> None:
        if handler.headers.get("User-Agent") == "zwdc-test-a":
            with self.lock:
                turn = self.answered_a < self.first
                self.answered_a += turn
            if not turn:
                self.a_held.set()
                self.release.wait(120)
                handler.close_connection = True
                return
            handler.serve_normally()
            with self.lock:
                if self.answered_a >= self.first:
                    self.a_had_its_turn.set()
        else:
            self.a_had_its_turn.wait(120)
            handler.serve_normally()


@pytest.fixture(scope="module")
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def distributed(redis_server, tmp_path_factory):
    """Two workers (one killed midway), their merge, the run that redoes what was lost, and a
    single-process crawl of the same replica."""
    folder = tmp_path_factory.mktemp("distributed")
    # Families with a metadata block only: the run-wide "metadata block lost" rule would judge the
    # run that redoes a few lost pages by whichever family they happen to come from.
    with ReplicaPortal(per_family=30, seed=41, families=("xianning", "table", "gbk")) as portal:
        start_urls = [column.start_url for column in portal.columns.values()]
        turns = TakeTurns(portal, truth_paths(portal), first=15)
        try:
            killed = start_worker(folder / "a.db", start_urls, redis_server.url, "a")
            survivor = start_worker(folder / "b.db", start_urls, redis_server.url, "b")
            turns.a_held.wait(120)  # a has had its 15 bulletins and waits for more: b goes on
            killed.send_signal(signal.SIGKILL)
            killed.wait(timeout=30)
            out, err = survivor.communicate(timeout=240)
        finally:
            turns.end()
        workers_log = portal.requests
        portal.clear_requests()
        merged = folder / "merged.db"
        merge = run_cli("merge", "--archive", str(merged), str(folder / "a.db"), str(folder / "b.db"))
        before_recovery = table_counts(merged) if merge.returncode == 0 else {}
        archived_before_recovery = {url for (url,) in sqlite_utils.Database(merged).execute(
            "select url from bulletins")} if merge.returncode == 0 else set()
        recovery = crawl(merged, *start_urls)
        recovery_log = portal.requests
        single = crawl(folder / "single.db", *start_urls)
        yield {
            "portal": portal, "folder": folder, "killed": killed, "survivor": (survivor.returncode, out, err),
            "workers_log": workers_log, "merge": merge, "merged": merged, "before_recovery": before_recovery,
            "archived_before_recovery": archived_before_recovery,
            "recovery": recovery, "recovery_log": recovery_log, "single": single,
            "keys_left": sorted(key.decode() for key in redis_server.client().keys("zwdc:*")),
        }


def test_the_killed_worker_died_and_the_other_finished_on_its_own(distributed):
    assert distributed["killed"].returncode == -signal.SIGKILL
    returncode, out, err = distributed["survivor"]
    assert returncode == 0, err[-2000:]
    assert out.startswith("run 1: ok")


def test_the_survivor_judged_each_column_on_what_both_workers_read(distributed):
    (stats,) = [json.loads(row[0]) for row in sqlite_utils.Database(distributed["folder"] / "b.db").execute(
        "select stats from crawl_runs").fetchall()]
    reports = stats["scrapy"]["columns"]
    assert len(reports) == 3
    for report in reports.values():
        assert report["pages_read"] >= max(report["pages_read_here"], report["announced"] or 1), report


def test_both_workers_shared_one_queue_and_no_bulletin_was_fetched_twice(distributed):
    log = distributed["workers_log"]
    by_worker = {name: detail_fetches(log, f"zwdc-test-{name}") for name in "ab"}
    assert by_worker["a"] and by_worker["b"], "both workers fetched bulletins"
    everything = detail_fetches(log)
    assert max(everything.values()) == 1, [path for path, n in everything.items() if n > 1]
    assert not set(by_worker["a"]) & set(by_worker["b"])


def test_the_worker_s_redis_keys_are_gone_once_the_crawl_is_over(distributed):
    assert distributed["keys_left"] == []


def test_the_next_run_redoes_only_what_the_killed_worker_lost(distributed):
    assert distributed["merge"].returncode == 0, distributed["merge"].stderr[-2000:]
    assert distributed["recovery"].returncode == 0, distributed["recovery"].stderr[-2000:]
    redone = document_ids(detail_fetches(distributed["recovery_log"]))
    # Only bulletins the merged archive lacked (the killed worker's in flight, or behind them:
    # a listed URL redirecting to one) are fetched again; none that worker b archived.
    lost = document_ids(truth_paths(distributed["portal"])) - document_ids(
        urlsplit(url).path for url in distributed["archived_before_recovery"])
    assert redone <= lost
    assert not redone & document_ids(urlsplit(url).path for (url,) in sqlite_utils.Database(
        distributed["folder"] / "b.db").execute("select url from bulletins"))
    merged = sqlite_utils.Database(distributed["merged"])
    assert {row["url"] for row in merged["bulletins"].rows} == truth_urls(distributed["portal"])


def test_the_merged_archive_equals_a_single_process_crawl(distributed):
    assert distributed["single"].returncode == 0, distributed["single"].stderr[-2000:]
    merged, single = archive_content(distributed["merged"]), archive_content(distributed["folder"] / "single.db")
    assert merged["bulletins"] == single["bulletins"]
    for part in ("versions", "attachments", "items", "units"):
        assert merged[part] == single[part], part
    found = [sorted(json.loads(line)["url"] for line in run_cli(
        "search", "督查", "--limit", "500", "--json", "--archive", str(path)).stdout.splitlines())
        for path in (distributed["merged"], distributed["folder"] / "single.db")]
    assert found[0] and found[0] == found[1]


def test_merged_runs_keep_each_worker_s_outcome(distributed):
    runs = sqlite_utils.Database(distributed["merged"]).execute(
        "select outcome from crawl_runs order by id").fetchall()
    assert sorted(outcome for (outcome,) in runs) == ["killed", "ok", "ok"]


def test_merging_again_changes_nothing(distributed):
    folder, merged = distributed["folder"], distributed["merged"]
    before = table_counts(merged)
    again = run_cli("merge", "--archive", str(merged), str(folder / "a.db"), str(folder / "b.db"))
    assert again.returncode == 0, again.stderr[-2000:]
    assert table_counts(merged) == before


@pytest.mark.parametrize("url, code, message", [
    ("http://127.0.0.1:1/0", 2, "not a Redis URL"),
    ("redis://127.0.0.1:{closed}/0", 1, "cannot reach Redis at"),
])
def test_a_bad_or_unreachable_scheduler_is_one_line(tmp_path, url, code, message):
    from tests.redis_server import free_port

    result = run_cli("crawl", "--start-url", "http://127.0.0.1:9/zwdc/index.html", "--archive",
                     str(tmp_path / "a.db"), "--scheduler", url.format(closed=free_port()))
    assert result.returncode == code
    assert not (tmp_path / "a.db").exists()
    assert result.stderr.strip().count("\n") == 0 and message in result.stderr


def test_a_column_read_by_two_workers_is_judged_on_what_both_read(redis_server):
    """Worker a reads page 2 of a 3-page column, worker b the other two: b's own walk saw 2
    of the 3 announced pages, the crawl read all 3, and the column is healthy."""
    from crawler.distributed import SharedColumnCounts
    from crawler.health import column_problems
    from spiders.walk import ColumnWalk

    server = redis_server.client()
    start = "http://127.0.0.1:1/zwdc/index.html"
    counts_a = SharedColumnCounts(server, "zwdc:test-counts:column")
    counts_b = SharedColumnCounts(server, "zwdc:test-counts:column")
    walk = ColumnWalk(start, "http://127.0.0.1:1/zwdc/")
    walk.report.update(announced=3, bulletins=4)
    for url, links in ((start, ["t1", "t2"]), (start.replace("index", "index_2"), ["t3", "t4"])):
        walk.page_read()
        walk.fresh(links)
        counts_b.record(start, url, 1, links)
    counts_a.record(start, start.replace("index", "index_1"), 1, ["t5", "t6"])
    walk.finish(True)
    partial = {start: dict(walk.report, problems=[])}
    assert column_problems(partial, {start: "ok"}, {}, {}) == [
        f"column {start}: read 2 of the 3 list pages its pager announces"]

    counts_b.make_crawl_wide(partial)
    report = partial[start]
    assert (report["pages_read"], report["pages_read_here"], report["entries"]) == (3, 2, 6)
    assert column_problems(partial, {start: "ok"}, {}, {}) == []
    counts_b.record(start, start, 1, ["t1", "t2"])  # a page read again counts once
    assert counts_a.totals(start) == (3, 6)
    server.delete(*server.keys("zwdc:test-counts:*"))


def test_a_start_page_another_worker_judged_is_left_to_it_and_one_nobody_judged_fails(redis_server):
    """Worker b queued three start pages; worker a took two of them from the queue and read one,
    failed the other; nobody read the third. b leaves the first two to a, as it does a start page
    dropped as queued already, and keeps the third "pending": a start page never read fails the run."""
    from crawler.distributed import SharedColumnCounts
    from crawler.health import run_problems
    from spiders.column import ColumnSpider

    server = redis_server.client()
    starts = [f"http://127.0.0.1:1/c{n}/index.html" for n in range(3)]
    counts_a = SharedColumnCounts(server, "zwdc:test-starts:column")
    counts_b = SharedColumnCounts(server, "zwdc:test-starts:column")
    counts_a.judge_start(starts[0])
    counts_a.judge_start(starts[1])
    assert counts_b.judged(starts) == starts[:2]
    spider_b = ColumnSpider(start_urls=starts)
    spider_b.start_outcomes = dict.fromkeys(starts, "pending")
    spider_b.column_links = {f"http://127.0.0.1:1/c{n}/": 0 for n in range(3)}
    for start_url in counts_b.judged(starts):
        spider_b.leave_start(start_url)
    assert spider_b.start_outcomes == {starts[2]: "pending"}
    assert spider_b.column_links == {"http://127.0.0.1:1/c2/": 0}
    assert run_problems({}, spider_b.start_outcomes, {}, None) == [f"start page failed: {starts[2]} (pending)"]
    server.delete(*server.keys("zwdc:test-starts:*"))


def test_start_pages_a_worker_queued_and_another_read_leave_both_runs_ok(redis_server, tmp_path):
    """Worker b queues the three start pages and, one request at a time, is held on the first
    it took; worker a, started then, finds its own start pages queued already and reads b's two
    others. Both runs are ok: b learns from Redis that a judged the pages b never read."""
    with ReplicaPortal(per_family=4, seed=45, families=("xianning", "table", "gbk")) as portal:
        start_urls = [column.start_url for column in portal.columns.values()]
        start_paths = {urlsplit(url).path for url in start_urls}
        held, release = threading.Event(), threading.Event()

        def hold_b_once(handler) -> None:
            if handler.headers.get("User-Agent") == "zwdc-test-b" and not held.is_set():
                held.set()
                release.wait(60)
            handler.serve_normally()

        def read_by_a() -> set[str]:
            return {r["path"] for r in portal.requests
                    if r["path"] in start_paths and r["headers"].get("User-Agent") == "zwdc-test-a"}

        for path in start_paths:
            portal.faults[path] = hold_b_once
        workers = []
        try:
            workers.append(start_worker(tmp_path / "b.db", start_urls, redis_server.url, "b",
                                        "-s", "CONCURRENT_REQUESTS=1"))
            assert held.wait(60), "worker b never asked for a start page"
            workers.append(start_worker(tmp_path / "a.db", start_urls, redis_server.url, "a"))
            for _ in range(600):
                if len(read_by_a()) == 2 or workers[1].poll() is not None:
                    break
                time.sleep(0.1)
            assert len(read_by_a()) == 2, "worker a read b's two other start pages"
        finally:
            release.set()
        outputs = [worker.communicate(timeout=180) for worker in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0 and out.startswith("run 1: ok"), err[-2000:]


def test_list_pages_a_dead_worker_took_go_back_to_the_queue(redis_server):
    """The scheduler keeps each list page it hands out in its worker's in-flight set until the
    page is read; once the worker's key is gone, what it still held is queued again."""
    from scrapy import Request, Spider
    from scrapy.utils.test import get_crawler

    from crawler.distributed import requeue_orphans, shared_queue_settings, worker_id
    from crawler.shared_scheduler import SharedScheduler
    from spiders.walk import list_page_read

    start = "http://127.0.0.1:1/requeue/index.html"
    settings = shared_queue_settings(redis_server.url, [start])
    crawler = get_crawler(Spider, settings)
    spider = Spider.from_crawler(crawler, name="requeue")
    scheduler = SharedScheduler.from_crawler(crawler)
    scheduler.open(spider)
    server = redis_server.client()
    inflight = f"{settings['SHARED_QUEUE_INFLIGHT_KEY']}:{worker_id()}"
    try:
        for url, kind, priority in ((start, "list", 10), (start.replace("index", "index_1"), "list", 10),
                                    ("http://127.0.0.1:1/requeue/t1.html", "bulletin", 0)):
            assert scheduler.enqueue_request(Request(url, meta={"page_kind": kind}, priority=priority))
        taken = [scheduler.next_request() for _ in range(3)]
        assert taken[2].url.endswith("t1.html")  # list pages first, bulletins are not kept in flight
        assert server.zcard(inflight) == 2
        crawler.signals.send_catch_log(list_page_read, start_url=start, url=start, pages=1, links=[],
                                       request=taken[0])
        assert server.zrange(inflight, 0, -1, withscores=True)[0][1] == -10  # index_1 is still held

        # This worker "dies": no worker key says it is alive, so its held page is queued again.
        moved = requeue_orphans(server, settings["SCHEDULER_QUEUE_KEY"], f"{settings['SHARED_QUEUE_INFLIGHT_KEY']}:",
                                f"{settings['SHARED_QUEUE_WORKERS_KEY']}:")
        assert moved == 1 and not server.exists(inflight)
        again = scheduler.next_request()
        assert again.url == start.replace("index", "index_1") and again.priority == 10
        # A worker whose key is alive keeps what it holds.
        server.set(f"{settings['SHARED_QUEUE_WORKERS_KEY']}:{worker_id()}", "busy")
        assert requeue_orphans(server, settings["SCHEDULER_QUEUE_KEY"], f"{settings['SHARED_QUEUE_INFLIGHT_KEY']}:",
                               f"{settings['SHARED_QUEUE_WORKERS_KEY']}:") == 0
        assert server.zcard(inflight) == 1
    finally:
        scheduler.close("finished")
        server.delete(*(server.keys(settings["SCHEDULER_QUEUE_KEY"].rsplit(":", 1)[0] + ":*") or ["-"]))
    assert not server.exists(inflight)


def kill_a_while_the_replica_holds(redis_server, portal: ReplicaPortal, column, held_path: str,
                                   folder: Path) -> subprocess.CompletedProcess:
    """Start worker a on ``column``, kill it while the replica holds its first request for
    ``held_path`` unanswered, then run worker b to its end (b is answered normally)."""
    release, held = threading.Event(), threading.Event()

    def hold_for_a(handler) -> None:
        if handler.headers.get("User-Agent") == "zwdc-test-a":
            held.set()
            release.wait(60)  # no answer: worker a dies waiting
            handler.close_connection = True
        else:
            handler.serve_normally()

    portal.faults[held_path] = hold_for_a
    try:
        a = start_worker(folder / "a.db", [column.start_url], redis_server.url, "a")
        assert held.wait(60), f"worker a never asked for {held_path}"
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=30)
        b = start_worker(folder / "b.db", [column.start_url], redis_server.url, "b")
        out, err = b.communicate(timeout=180)
    finally:
        release.set()
    return subprocess.CompletedProcess(b.args, b.returncode, out, err)


def archived_paths(archive: Path) -> set[str]:
    return {urlsplit(url).path for (url,) in sqlite_utils.Database(archive).execute("select url from bulletins")}


def test_a_worker_killed_while_fetching_a_list_page_does_not_lose_it(redis_server, tmp_path):
    """Worker a is killed while the replica holds its request for list page 2 (a page its pager
    script names, so a probe); worker b, started then, finds the page back in the queue once a's
    key has expired, reads it though it never read the pager script, and archives its bulletins."""
    with ReplicaPortal(per_family=30, seed=43, families=("xianning",)) as portal:
        (column,) = portal.columns.values()
        page_2 = urlsplit(column.list_pages[1]).path
        with urllib.request.urlopen(column.list_pages[1]) as answer:  # its bulletins, read by a test regex
            linked = {urlsplit(urljoin(column.list_pages[1], href)).path for href in re.findall(
                r'href="([^"]*t\d{8}_\d+\.\w+)"', answer.read().decode("utf-8"))}
        on_page_2 = {path for path in linked if path.startswith(urljoin(urlsplit(column.start_url).path, "./"))}
        portal.clear_requests()
        b = kill_a_while_the_replica_holds(redis_server, portal, column, page_2, tmp_path)
        assert b.returncode == 0, b.stderr[-2000:]
        assert "put back in the queue" in b.stderr and "Traceback" not in b.stderr
        assert [r["headers"].get("User-Agent") for r in portal.requests if r["path"] == page_2] == [
            "zwdc-test-a", "zwdc-test-b"]
        assert len(on_page_2) >= 10 and not on_page_2 & set(detail_fetches(portal.requests, "zwdc-test-a"))
        assert on_page_2 <= archived_paths(tmp_path / "b.db"), sorted(on_page_2 - archived_paths(tmp_path / "b.db"))


def test_a_worker_killed_while_fetching_an_endpoint_page_does_not_lose_the_column(redis_server, tmp_path):
    """A list filled from a JSON endpoint: worker a dies while the replica holds its first request
    to the endpoint; worker b, whose start page a had taken, never reads the page naming the
    endpoint: it learns the endpoint from the request put back, and archives the whole column."""
    with ReplicaPortal(per_family=30, seed=44, families=("json-api",)) as portal:
        (column,) = portal.columns.values()
        endpoint = urlsplit(column.endpoint or "").path
        assert endpoint, "the json-api family names its endpoint"
        b = kill_a_while_the_replica_holds(redis_server, portal, column, endpoint, tmp_path)
        assert b.returncode == 0, b.stderr[-2000:]
        assert "put back in the queue" in b.stderr and "Traceback" not in b.stderr
        start_fetchers = {r["headers"].get("User-Agent") for r in portal.requests
                          if r["path"] == urlsplit(column.start_url).path}
        assert start_fetchers == {"zwdc-test-a"}, "b never read the page naming the endpoint"
        with urllib.request.urlopen(column.start_url) as answer:  # the page only a read
            on_start_page = set(re.findall(r"docId=\d+", answer.read().decode("utf-8")))
        truth = {urlsplit(bulletin["url"]).query for bulletin in column.bulletins}
        archived = {urlsplit(url).query for (url,) in sqlite_utils.Database(tmp_path / "b.db").execute(
            "select url from bulletins")}
        assert archived <= truth and len(archived) >= len(truth) - 10
        # What b lacks is what a had taken from the start page it read (bulletins in flight go
        # down with their worker; the next run fetches them): every endpoint page's bulletin is there.
        assert truth - archived <= on_start_page, sorted(truth - archived)
