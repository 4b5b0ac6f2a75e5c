"""Each attachment read in a child process of its own, with memory, CPU and time limits.

Why: attachments come from the web. A zip bomb, a PDF whose stream inflates to gigabytes, a
file that sends a parser into an endless loop or crashes LibreOffice must cost one recorded
``error``, never the crawl or the ingest. :class:`AttachmentReader` keeps one small server
process (``python -m pipelines.attachment_sandbox``, single-threaded, the parsers imported and
warmed up once: :mod:`pipelines.attachment_warmup`) that forks a child per file; the child
leads a process group of its own, sets its ``RLIMIT_AS``/``RLIMIT_CPU`` and reads the file;
the server kills the group (the child and any LibreOffice or Tesseract it started) when the
wall-time limit passes, and answers with what the child found or why it died. Forking from
that server, not from the caller, is what makes it safe in a threaded caller and cheap
(milliseconds, not an interpreter start, per file).
"""
from __future__ import annotations

import gc
import logging
import os
import pickle
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from pipelines.attachment_text import AttachmentText, Tools, extract_attachment
from pipelines.attachment_warmup import warm_up

_HEADER = struct.Struct("!Q")
_REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Limits:
    """Per file: address space of the reading process, its CPU seconds, the wall time of it all."""

    memory: int = 1024 * 2 ** 20
    cpu: int = 120
    wall: float = 300.0


class AttachmentReader:
    """Reads attachments, each in a fresh limited child; never raises because of a file.

    A context manager: it owns the server process and LibreOffice's profile folder. ``missing``
    holds one line per external tool this machine lacks, naming its Debian package.
    """

    def __init__(self, *, ocr: bool = False, limits: Limits = Limits(), tools: Tools | None = None) -> None:
        self.ocr = ocr
        self.limits = limits
        self._profile = tempfile.mkdtemp(prefix="zwdc-lo-profile-")
        found = tools or Tools.discover()
        self.tools = Tools(found.soffice, found.antiword, found.tesseract, found.profile or self._profile)
        self.missing = self.tools.missing()
        self._server: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "AttachmentReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop_server()
        shutil.rmtree(self._profile, ignore_errors=True)

    def abort(self) -> None:
        """From another thread: end the read in flight at once (its answer: the reader stopped).

        The server is killed, not its pipes closed: the waiting reader then sees the end of the
        pipe instead of waiting out the time limit. The next read starts a new server.
        """
        server = self._server
        if server is not None and server.poll() is None:
            server.kill()

    def read(self, data: bytes, name: str = "", content_type: str = "") -> AttachmentText:
        """The text of one file; what stopped it (a limit, a crash, a timeout) in ``error``."""
        job = {"data": data, "name": name, "content_type": content_type, "ocr": self.ocr,
               "tools": asdict(self.tools), "limits": asdict(self.limits)}
        server = self._ensure_server()
        try:
            _send(server.stdin, job)
            answer = _receive(server.stdout, self.limits.wall + 30)
        except (OSError, EOFError, TimeoutError, pickle.UnpicklingError) as error:
            self._stop_server()
            return AttachmentText(error=f"the attachment reader stopped: {error or type(error).__name__}")
        return AttachmentText(**answer)

    def _ensure_server(self) -> subprocess.Popen[bytes]:
        if self._server is None or self._server.poll() is not None:
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")]))}
            self._server = subprocess.Popen(
                [sys.executable, "-m", "pipelines.attachment_sandbox"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=_REPO)
        return self._server

    def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        for stream in (server.stdin, server.stdout):
            try:
                stream.close()  # the server ends at EOF on its stdin
            except OSError:
                pass
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


# --------------------------------------------------------------------------- wire


def _send(stream: BinaryIO | None, message: Any) -> None:
    _send_pickled(stream, _pickled(message))


def _send_pickled(stream: BinaryIO | None, payload: bytes) -> None:
    assert stream is not None
    stream.write(_HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _pickled(message: Any) -> bytes:
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def _receive(stream: BinaryIO | None, timeout: float | None = None) -> Any:
    assert stream is not None
    if timeout is not None and not select.select([stream], [], [], timeout)[0]:
        raise TimeoutError(f"no answer in {timeout:g} s")
    header = _read_exactly(stream, _HEADER.size)
    return pickle.loads(_read_exactly(stream, _HEADER.unpack(header)[0]))


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the attachment reader closed its pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# --------------------------------------------------------------------------- server side


def serve(jobs: BinaryIO, answers: BinaryIO) -> None:
    """Answer each job read from ``jobs`` with the result of a limited child, until EOF."""
    import openpyxl, pypdfium2, xlrd  # noqa: E401,F401  the parsers, imported once for every child
    from PIL import Image  # noqa: F401

    logging.disable(logging.WARNING)  # the parsers' complaints about broken files are not errors here
    if _survives(warm_up):  # tried in a child first: a parser aborting (out of memory) would end the server
        warm_up()
    # What every child inherits is left out of its garbage collections: they walked all of it,
    # touching (and so copying) the server's pages in each child: a PDF cost 96–129 ms of CPU
    # without this, 76–85 ms with it.
    gc.freeze()
    while True:
        try:
            job = _receive(jobs)
        except EOFError:
            return
        _send_pickled(answers, _run_child(job))


def _survives(work: Callable[[], object]) -> bool:
    """Whether ``work`` returns, run in a forked child (a crash there costs the child only)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            work()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _run_child(job: dict[str, Any]) -> bytes:
    """The answer to ``job``, pickled: the child's own (passed on as it is, not read and pickled
    again), or what stopped it."""
    limits = Limits(**job["limits"])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: limits, read, answer, and leave without cleanup of the server's state
        os.close(read_end)
        code = 0
        try:
            os.setsid()
            quiet = os.open(os.devnull, os.O_RDWR)
            os.dup2(quiet, 0)  # the server's pipes are not the child's (nor its tools')
            os.dup2(quiet, 1)
            _, hard = resource.getrlimit(resource.RLIMIT_AS)
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory, hard))
            _, hard = resource.getrlimit(resource.RLIMIT_CPU)
            resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu, hard))
            result = extract_attachment(job["data"], job["name"], job["content_type"], ocr=job["ocr"],
                                        tools=Tools(**job["tools"]))
            with os.fdopen(write_end, "wb") as out:
                out.write(_pickled(result.as_dict()))
        except MemoryError:
            code = 3
        except BaseException:
            code = 4
        os._exit(code)
    os.close(write_end)
    exited = os.pidfd_open(pid)  # readable once the child has ended
    chunks: list[bytes] = []
    deadline = time.monotonic() + limits.wall
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        if select.select([read_end], [], [], left)[0]:
            chunk = os.read(read_end, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(read_end)
    if not timed_out:  # it is leaving: let it, woken as it ends (a pidfd), not by polling
        select.select([exited], [], [], max(deadline + 5 - time.monotonic(), 0))
    os.close(exited)
    _kill_group(pid)  # whatever it left running (a hung LibreOffice), and the child if still there
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return _pickled(AttachmentText(error=f"took longer than {limits.wall:g} s: stopped").as_dict())
    if chunks and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return b"".join(chunks)
    return _pickled(AttachmentText(error=_death(status, limits)).as_dict())


def _death(status: int, limits: Limits) -> str:
    memory = f"{limits.memory // 2 ** 20} MiB"
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number == signal.SIGXCPU:
            return f"used more than {limits.cpu} s of CPU: stopped"
        if number == signal.SIGKILL:
            return f"killed (more than {memory} of memory?)"
        if number == signal.SIGABRT:  # pdfium (C++) aborts when an allocation fails under the limit
            return f"too large: needed more than {memory} of memory"
        return f"the reader crashed ({signal.Signals(number).name})"
    if os.WEXITSTATUS(status) == 3:
        return f"too large: needed more than {memory} of memory"
    return f"the reader failed (exit {os.WEXITSTATUS(status)}; memory limit {memory})"


def _kill_group(pid: int) -> None:
    """SIGKILL to the process group the child leads (not yet reaped, so its id is still ours)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
