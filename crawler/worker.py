"""The crawl's worker processes: page extraction and every archive write, beside Scrapy.

Scrapy's reactor runs on one core. Extracting a page and storing it (versions, search index,
structure, WARC, attachment files) costs more CPU than fetching it, so that work runs in
child processes fed through pipes, on the machine's other cores, while the crawl process
goes on fetching: one extracts pages (:class:`Extraction`), one makes every write of the run
(:class:`archive.writer.RunWriter`). Two rather than one, so the extraction of a page and
the storage of the one before it overlap, and the cores never wait for a single child.

Each child runs a :class:`Service`: ``handle(method, args)`` for each message,
``seconds_idle()`` (how long to wait for one before ``tick()``; ``None``: forever), ``tick()``
after each message and when idle, ``close()`` when the crawl process went away without
``finish``.
Messages are handled in the order sent: ``(call_id, method, args)``, where ``call_id`` 0
means nobody waits for the answer (the writes); an answer is ``(call_id, error, value)``. A
failed write is reported to ``on_failure`` (the writer has rolled its batch back and refuses
more); a failed call is raised to its caller as :class:`WorkerFailed`.

The children die with the crawl process (``PR_SET_PDEATHSIG``): a crawl killed by SIGKILL
leaves no writer behind holding the archive, and loses at most the uncommitted batch. They
ignore SIGINT and SIGTERM, which a terminal or systemd send to the whole process group:
the crawl process decides how the run ends, and tells them with ``finish``.
"""
from __future__ import annotations

import asyncio
import ctypes
import importlib
import itertools
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1
#: The method that ends a worker: the run's last message.
FINISH = "finish"
#: Bytes of messages waiting for a worker before the crawl waits too (memory stays bounded).
OUTBOX_BYTES = 64 * 1024 * 1024


class WorkerFailed(RuntimeError):
    """The worker could not do what was asked, or is gone; the message says why."""


class ServiceRefused(RuntimeError):
    """Raised by a service for a message it refuses; its text says why in full."""


def _describe(error: Exception) -> str:
    return str(error) if isinstance(error, ServiceRefused) else f"{type(error).__name__}: {error}"


def _die_with_parent(parent_pid: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pipe's end of file stops the worker instead
        pass
    if os.getppid() != parent_pid:  # the crawl died before prctl took effect
        os._exit(1)


class Service:
    """What a worker process runs; subclasses handle messages, the rest defaults to nothing."""

    def handle(self, method: str, args: tuple[Any, ...]) -> Any:
        """Do what message ``method`` asks; the answer goes back to a caller that waits."""
        raise NotImplementedError

    def seconds_idle(self) -> float | None:
        """How long to wait for a message before :meth:`tick` (``None``: forever)."""
        return None

    def tick(self) -> None:
        """After each message, and when idle that long."""

    def close(self) -> None:
        """The crawl process went away without ``finish``."""


class Extraction(Service):
    """The extraction worker's service: a :class:`~crawler.items.BulletinRecord` per page."""

    def __init__(self) -> None:
        from pipelines.extraction import extract_record  # imported in the child only

        self.handlers: dict[str, Callable[..., Any]] = {"extract": extract_record, FINISH: lambda: None}

    def handle(self, method: str, args: tuple[Any, ...]) -> Any:
        return self.handlers[method](*args)


def _set_title(title: str) -> None:
    """Name the process for ``ps`` and ``top`` (Linux keeps 15 characters)."""
    try:
        Path("/proc/self/comm").write_text(title[:15])
    except OSError:  # not Linux: the name only helps people watching
        pass


def _serve(conn: Connection, title: str, service_path: str, service_args: dict[str, Any],
           parent_pid: int) -> None:
    """The child's loop: hand each message to the service, answer calls and failures."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    _set_title(title)
    module, _, name = service_path.partition(":")
    try:
        service = getattr(importlib.import_module(module), name)(**service_args)
    except Exception as error:
        conn.send((0, f"cannot start: {_describe(error)}", None))
        return
    try:
        while True:
            if not conn.poll(service.seconds_idle()):
                service.tick()  # idle: e.g. commit what came in
                continue
            call_id, method, args = conn.recv()
            try:
                value = service.handle(method, args)
            except Exception as error:
                conn.send((call_id, _describe(error), None))
            else:
                if call_id:
                    conn.send((call_id, None, value))
            if method == FINISH:
                return
            service.tick()
    except EOFError:  # the crawl process went away without finishing the run
        service.close()


class WorkerProcess:
    """The crawl process's end of a worker: starts it, posts messages, resolves answers.

    Messages wait, pickled, in an outbox that a thread of its own sends: the socket holds only
    a few pages, and the reactor must not stall on it while the worker is busy with one. Beyond
    :data:`OUTBOX_BYTES` waiting, the crawl waits too, so memory stays bounded.
    ``on_failure(reason)`` is called (from the answer-reading thread) when a write failed or
    the worker stopped before :meth:`finish`.
    """

    def __init__(self, name: str, title: str, service_path: str, service_args: dict[str, Any],
                 on_failure: Callable[[str], None]):
        """Start ``module:Class`` (``service_path``) with ``service_args`` in a child process.

        ``name`` is how messages call it; ``title`` its process name (``ps``).
        """
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited reactor
        self.name = name
        self._conn, child_end = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child_end, title, service_path, service_args, os.getpid()), name=name,
            daemon=True)
        self.process.start()
        child_end.close()
        self._on_failure = on_failure
        self._calls: dict[int, Future] = {}
        self._ids = itertools.count(1)
        # SimpleQueue: a C queue, several times cheaper per message than queue.Queue.
        self._outbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._outbox_bytes = 0
        self._outbox_lock = threading.Lock()
        self._finishing = False
        self._gone = False
        self._stopped = f"the {name} stopped"  # with its exit code once the reader knows it
        self._sender = threading.Thread(target=self._send_all, name=f"{name}-outbox", daemon=True)
        self._reader = threading.Thread(target=self._read, name=f"{name}-answers", daemon=True)
        self._sender.start()
        self._reader.start()

    def send(self, method: str, *args: Any) -> None:
        """A write; its failure, if any, reaches ``on_failure``."""
        self._post(0, method, args)

    def call(self, method: str, *args: Any) -> Future:
        future: Future = Future()
        call_id = next(self._ids)
        self._calls[call_id] = future
        self._post(call_id, method, args)
        if self._gone and self._calls.pop(call_id, None) is not None:  # else the reader failed it
            future.set_exception(WorkerFailed(self._stopped))
        return future

    async def ask(self, method: str, *args: Any) -> Any:
        """:meth:`call` for coroutines (Scrapy callbacks and pipelines)."""
        return await asyncio.wrap_future(self.call(method, *args))

    def finish(self, *args: Any, timeout: float) -> Any:
        """The last message: wait for the worker to handle everything sent, then to exit."""
        self._finishing = True
        try:
            return self.call(FINISH, *args).result(timeout)
        finally:
            self._outbox.put(None)
            self.process.join(timeout)
            if self.process.is_alive():
                self.process.kill()
            self._sender.join(timeout)
            self._conn.close()

    def _post(self, call_id: int, method: str, args: tuple[Any, ...]) -> None:
        message = ForkingPickler.dumps((call_id, method, args))  # what Connection.send would send
        while self._outbox_bytes > OUTBOX_BYTES and not self._gone:
            time.sleep(0.005)  # the worker is far behind: let it catch up
        if not self._gone:
            with self._outbox_lock:
                self._outbox_bytes += len(message)
            self._outbox.put(message)

    def _send_all(self) -> None:
        while (message := self._outbox.get()) is not None:
            with self._outbox_lock:
                self._outbox_bytes -= len(message)
            if self._gone:
                continue  # drain: nobody reads any more
            try:
                self._conn.send_bytes(message)  # the worker's recv() unpickles it
            except (OSError, ValueError):  # the worker is gone: the reader reports it
                self._gone = True

    def _read(self) -> None:
        while True:
            try:
                call_id, error, value = self._conn.recv()
            except (EOFError, OSError):
                break
            future = self._calls.pop(call_id, None) if call_id else None
            if future is None:
                self._on_failure(f"{self.name} failed: {error}")
            elif error is not None:
                future.set_exception(WorkerFailed(f"{self.name} failed: {error}"))
            else:
                future.set_result(value)
        if not self._finishing:  # one reason for whatever reports it first
            self.process.join(5)
            self._stopped = f"the {self.name} stopped (exit code {self.process.exitcode})"
        self._gone = True
        for call_id in list(self._calls):
            future = self._calls.pop(call_id, None)
            if future is not None:
                future.set_exception(WorkerFailed(self._stopped))
        if not self._finishing:
            self._on_failure(self._stopped)
