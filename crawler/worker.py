"""The crawl's worker process: page extraction and every archive write, beside Scrapy.

Scrapy's reactor runs on one core. Extracting a page and storing it (versions, search index,
structure, WARC, attachment files) costs more CPU than fetching it, so that work runs in a
child process fed through a pipe, on the machine's other core, while the crawl process goes
on fetching. The child holds an :class:`archive.writer.RunWriter`.

Messages are handled in the order sent: ``(call_id, method, args)``, where ``call_id`` 0 means
nobody waits for the answer (the writes); an answer is ``(call_id, error, value)``. A failed
write is reported to ``on_failure`` (the writer has rolled its batch back and refuses more);
a failed call is raised to its caller as :class:`WorkerFailed`.

The child dies with the crawl process (``PR_SET_PDEATHSIG``): a crawl killed by SIGKILL
leaves no writer behind holding the archive, and loses at most the uncommitted batch. It
ignores SIGINT and SIGTERM, which a terminal or systemd send to the whole process group:
the crawl process decides how the run ends, and tells the worker with ``finish``.
"""
from __future__ import annotations

import asyncio
import ctypes
import itertools
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any

_PR_SET_PDEATHSIG = 1
#: The method that ends the worker: the run's last write.
FINISH = "finish"
#: Messages waiting for the worker before the crawl blocks (about this many pages in memory).
OUTBOX_MESSAGES = 2000


class WorkerFailed(RuntimeError):
    """The worker could not do what was asked, or is gone; the message says why."""


def _die_with_parent(parent_pid: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pipe's end of file stops the worker instead
        pass
    if os.getppid() != parent_pid:  # the crawl died before prctl took effect
        os._exit(1)


def _serve(conn: Connection, writer_args: dict[str, Any], parent_pid: int) -> None:
    """The child's loop: extract or write each message, commit the batch when due."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    from archive.writer import RunWriter
    from pipelines.extraction import extract_record

    try:
        writer = RunWriter(**writer_args)
    except Exception as error:
        conn.send((0, f"cannot open the run's archive files: {type(error).__name__}: {error}", None))
        return
    try:
        while True:
            if not conn.poll(None if writer.broken else writer.seconds_to_commit()):
                writer.commit_if_due()  # idle: commit what came in
                continue
            call_id, method, args = conn.recv()
            try:
                if method == "extract":  # the record, and which of its attachments are archived
                    record = extract_record(*args)
                    value = record, writer.apply("archived_attachments", (record,))
                else:
                    value = writer.apply(method, args)
            except Exception as error:
                conn.send((call_id, f"{type(error).__name__}: {error}", None))
            else:
                if call_id:
                    conn.send((call_id, None, value))
            if method == FINISH:
                return
            writer.commit_if_due()
    except EOFError:  # the crawl process went away without finishing the run
        writer.close()


class ArchiveWorker:
    """The crawl process's end of the worker: posts messages, resolves answers.

    Messages wait in an outbox that a thread of its own sends: the socket holds only a few
    pages, and the reactor must not stall on it while the worker is busy with one (up to
    :data:`OUTBOX_MESSAGES` wait; beyond that the crawl waits, so memory stays bounded).
    ``on_failure(reason)`` is called (from the answer-reading thread) when a write failed or
    the worker stopped before :meth:`finish`.
    """

    def __init__(self, writer_args: dict[str, Any], on_failure: Callable[[str], None]):
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited reactor
        self._conn, child_end = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child_end, writer_args, os.getpid()), name="archive-worker",
            daemon=True)
        self.process.start()
        child_end.close()
        self._on_failure = on_failure
        self._calls: dict[int, Future] = {}
        self._ids = itertools.count(1)
        self._outbox: queue.Queue[tuple[int, str, tuple[Any, ...]] | None] = queue.Queue(OUTBOX_MESSAGES)
        self._finishing = False
        self._gone = False
        self._sender = threading.Thread(target=self._send_all, name="archive-worker-outbox", daemon=True)
        self._reader = threading.Thread(target=self._read, name="archive-worker-answers", daemon=True)
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
            future.set_exception(WorkerFailed("the archive worker stopped"))
        return future

    async def ask(self, method: str, *args: Any) -> Any:
        """:meth:`call` for coroutines (Scrapy callbacks and pipelines)."""
        return await asyncio.wrap_future(self.call(method, *args))

    def finish(self, *args: Any, timeout: float) -> Any:
        """The last write: wait for the worker to handle everything sent, then to exit."""
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
        if not self._gone:
            self._outbox.put((call_id, method, args))

    def _send_all(self) -> None:
        while (message := self._outbox.get()) is not None:
            if self._gone:
                continue  # drain: nobody reads any more
            try:
                self._conn.send(message)
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
                self._on_failure(error)
            elif error is not None:
                future.set_exception(WorkerFailed(error))
            else:
                future.set_result(value)
        self._gone = True
        for call_id in list(self._calls):
            future = self._calls.pop(call_id, None)
            if future is not None:
                future.set_exception(WorkerFailed("the archive worker stopped"))
        if not self._finishing:
            self.process.join(5)
            self._on_failure(f"the archive worker stopped (exit code {self.process.exitcode})")
