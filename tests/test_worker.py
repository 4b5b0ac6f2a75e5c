"""The worker-process machinery (crawler/worker.py) on a small service of its own: order,
answers, failures, a worker that dies, the bounded outbox, the process name."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from crawler import worker as worker_module
from crawler.worker import Service, WorkerFailed, WorkerProcess


class Recorder(Service):
    """A service that remembers what it was sent; ``fail`` raises, ``delay`` slows each message."""

    def __init__(self, delay: float = 0.0) -> None:
        self.seen: list[tuple[str, tuple[Any, ...]]] = []
        self.delay = delay

    def handle(self, method: str, args: tuple[Any, ...]) -> Any:
        time.sleep(self.delay)
        if method == "fail":
            raise ValueError(args[0])
        if method == "seen":
            return list(self.seen)
        if method == "finish":
            return len(self.seen)
        self.seen.append((method, args))
        return None


class Failures:
    """Collects ``on_failure`` reasons (they arrive from the worker's answer thread)."""

    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.arrived = threading.Event()

    def __call__(self, reason: str) -> None:
        self.reasons.append(reason)
        self.arrived.set()


@pytest.fixture
def failures() -> Failures:
    return Failures()


def start(failures: Failures, delay: float = 0.0) -> WorkerProcess:
    return WorkerProcess("test worker", "zwdc-test", f"{__name__}:Recorder", {"delay": delay}, failures)


def test_messages_are_handled_in_order_and_answered(failures):
    worker = start(failures)
    worker.send("write", 1, b"\x00bytes")
    worker.send("write", 2, {"text": "督查"})
    assert worker.call("seen").result(30) == [("write", (1, b"\x00bytes")), ("write", (2, {"text": "督查"}))]
    assert worker.finish(timeout=30) == 2
    assert worker.process.exitcode == 0
    assert failures.reasons == []


def test_a_failed_write_is_reported_and_a_failed_call_raised(failures):
    worker = start(failures)
    worker.send("fail", "disk full")
    assert failures.arrived.wait(30)
    assert failures.reasons == ["test worker failed: ValueError: disk full"]
    with pytest.raises(WorkerFailed, match="^test worker failed: ValueError: no such page$"):
        worker.call("fail", "no such page").result(30)
    assert worker.finish(timeout=30) == 0


def test_a_worker_that_dies_fails_what_waits_and_says_so(failures):
    worker = start(failures, delay=1.0)
    pending = worker.call("seen")
    os.kill(worker.process.pid, signal.SIGKILL)
    with pytest.raises(WorkerFailed, match=r"^the test worker stopped \(exit code -9\)$"):
        pending.result(30)
    assert failures.arrived.wait(30)
    assert failures.reasons == ["the test worker stopped (exit code -9)"]
    with pytest.raises(WorkerFailed, match="stopped"):  # and so does anything asked later
        worker.call("seen").result(30)


def test_the_outbox_is_bounded_in_bytes(failures, monkeypatch):
    monkeypatch.setattr(worker_module, "OUTBOX_BYTES", 20_000)
    worker = start(failures, delay=0.02)
    page = b"x" * 5_000
    most = 0
    for number in range(40):
        worker.send("write", number, page)
        most = max(most, worker._outbox_bytes)
    assert most <= 20_000 + 6_000  # the limit plus the message that crossed it
    assert len(worker.call("seen").result(60)) == 40
    worker.finish(timeout=30)


def test_the_worker_is_named_for_ps(failures):
    worker = start(failures)
    worker.call("seen").result(30)  # started and serving
    assert Path(f"/proc/{worker.process.pid}/comm").read_text().strip() == "zwdc-test"
    worker.finish(timeout=30)
