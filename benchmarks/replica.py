"""The replica portal itself: how fast a 2,000-bulletin replica starts and serves its pages.

Tests and benchmarks start replicas all the time; a slow start-up or slow pages would pass
for a slow crawler. Figures: the start-up of 500 bulletins per family in the four TRS
families, and the serving of 50 of its bulletin pages one after another.
"""
from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

from benchmarks.common import Figure, ms, progress, verdict
from tests.replica import ReplicaPortal

FAMILIES = ("xianning", "table", "gbk", "scripted-count")
PER_FAMILY = 500
PAGES = 50
#: Targets: start-up of the 2,000-bulletin replica, and the 50 pages served.
START_TARGET = 4.0
PAGES_TARGET = 3.0


def _get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def run() -> list[Figure]:
    progress(f"replica: starting {PER_FAMILY * len(FAMILIES):,} bulletins")
    started = time.perf_counter()
    with ReplicaPortal(per_family=PER_FAMILY, seed=2, families=FAMILIES) as portal:
        start_up = time.perf_counter() - started
        bulletins = portal.columns["xianning"].bulletins[:PAGES]
        began = time.perf_counter()
        statuses = [_get(portal.port, urlsplit(b["url"]).path) for b in bulletins]
        serving = time.perf_counter() - began
    assert statuses == [200] * len(bulletins)
    return [
        Figure("replica", f"start-up with {PER_FAMILY * len(FAMILIES):,} bulletins", f"{start_up:.2f} s",
               f"< {START_TARGET:.0f} s", verdict(start_up < START_TARGET)),
        Figure("replica", f"{PAGES} bulletin pages served one after another",
               f"{serving:.2f} s ({ms(serving / PAGES)} each)", f"< {PAGES_TARGET:.0f} s",
               verdict(serving < PAGES_TARGET)),
    ]
