"""Attachments read in limited child processes: memory, CPU and time limits per file.

Why: attachments come from the web. A zip bomb, a PDF whose stream inflates to gigabytes, a
file that sends a parser into an endless loop or crashes LibreOffice must cost one recorded
``error``, never the crawl or the ingest. :class:`AttachmentReader` keeps one small server
process (``python -m pipelines.attachment_sandbox``, single-threaded, the parsers imported and
warmed up once: :mod:`pipelines.attachment_warmup`) that forks a reading child; the child leads
a process group of its own, sets its ``RLIMIT_AS``, and reads files one after another, raising
its ``RLIMIT_CPU`` before each by one file's allowance. The server kills the group (the child and
any LibreOffice or Tesseract it started) when a file's wall-time limit passes, and answers with
what the child found or why it died. A child retires after :data:`READS_PER_CHILD` files, once
its address space grew, or when something it started is still running; a file that fails in a
child that read others before it is read again in a fresh child, so every answer is the one a
child of its own would give. Forking from that server, not from the caller, is what makes it
safe in a threaded caller and cheap (milliseconds, not an interpreter start).
"""
from __future__ import annotations

import ctypes
import gc
import itertools
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
from typing import Any, BinaryIO, NoReturn

from pipelines.attachment_text import AttachmentText, Tools, extract_attachment
from pipelines.attachment_warmup import warm_up

_HEADER = struct.Struct("!Q")
_REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Limits:
    """Per file: address space of the reading process, its CPU seconds, the wall time of it all
    (the address space is the reading child's, for its life: see :func:`_answer`)."""

    memory: int = 1024 * 2 ** 20
    cpu: int = 120
    wall: float = 300.0


class AttachmentReader:
    """Reads attachments in limited children, each answer the one a fresh child gives; never
    raises because of a file.

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
    return pickle.loads(_receive_pickled(stream, timeout))


def _receive_pickled(stream: BinaryIO | None, timeout: float | None = None) -> bytes:
    assert stream is not None
    if timeout is not None and not select.select([stream], [], [], timeout)[0]:
        raise TimeoutError(f"no answer in {timeout:g} s")
    header = _read_exactly(stream, _HEADER.size)
    return _read_exactly(stream, _HEADER.unpack(header)[0])


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

# A reading child reads this many files, then retires and the next file gets a fresh child.
# Children's CPU a file (40 files, forked from the warmed server): a child per file, PDF 28.0 ms,
# DOCX 7.9 ms; a child per 5 files, 20.0 and 2.9 ms; per 20 files, 17.5 and 1.9 ms (each new
# child copies ~1,750 of the server's pages for a PDF; an empty fork and exit is 2.4 ms). Past 20
# the fork's share of a file is under a millisecond, while whatever earlier files left in a child
# (a fragmented heap, grown caches) keeps weighing on the next ones.
READS_PER_CHILD = 20
# A child also retires once its address space is this share of the memory limit larger than a
# fresh child's: it is VmSize that RLIMIT_AS bounds (not VmRSS, the pages touched), so that much
# less is left for the next file, which would fail there and be read again in a fresh child.
_GROWTH_SHARE = 8
_PR_SET_CHILD_SUBREAPER = 36
#: A reading child's exit code when it leaves a failed file to be read again in a fresh child.
_LEFT_TO_A_FRESH_CHILD = 5


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
    child: _ReadingChild | None = None
    try:
        while True:
            try:
                job = _receive_pickled(jobs)  # passed on to the child as it came
            except EOFError:
                return
            answer, child = _answer(job, child)
            _send_pickled(answers, answer)
    finally:
        if child is not None:
            child.end()


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


def _answer(job: bytes, child: _ReadingChild | None) -> tuple[bytes, _ReadingChild | None]:
    """The answer to ``job`` (both pickled: the child's answer is passed on as it is), and the
    child to read the next file (None: a fresh one)."""
    limits = Limits(**pickle.loads(job)["limits"])
    if child is not None and child.limits != limits:
        child.end()
        child = None
    fresh = child is None
    child = child or _ReadingChild(limits)
    try:
        answer = child.ask(job)
    except TimeoutError:  # answered, not read again: a file as slow as that is as slow in a fresh child
        child.end()
        return _pickled(AttachmentText(error=f"took longer than {limits.wall:g} s: stopped").as_dict()), None
    except (EOFError, OSError):  # it died (a limit, a crash, a failure it left to a fresh child)
        status = child.end(wait=5)
        if fresh:
            return _pickled(AttachmentText(error=_death(status, limits)).as_dict()), None
        return _answer(job, None)
    if child.worn():
        child.end()
        child = None
    return answer, child


class _ReadingChild:
    """A child forked from the server that reads one file after another: jobs come over one pipe,
    answers go back over another. It leads a process group of its own (with the tools it starts),
    its address space is limited for its life, its CPU per file."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.files = 0
        self._start_size = _address_space(os.getpid())
        job_end, jobs = os.pipe()
        answers, answer_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(jobs)
            os.close(answers)
            _read_files(job_end, answer_end, limits)
        os.close(job_end)
        os.close(answer_end)
        self._jobs = os.fdopen(jobs, "wb")
        self._answers = os.fdopen(answers, "rb", buffering=0)
        self._exited = os.pidfd_open(self.pid)  # readable once the child has ended

    def ask(self, job: bytes) -> bytes:
        """Its answer to ``job``, both pickled. TimeoutError past the wall time; EOFError or
        OSError if it died."""
        deadline = time.monotonic() + self.limits.wall
        _send_pickled(self._jobs, job)
        answer = _receive_pickled(self._answers, max(deadline - time.monotonic(), 0))
        self.files += 1
        return answer

    def worn(self) -> bool:
        """Whether it retires now: its quota read, its address space grown, or something it started
        still running (orphans come to it: it is their subreaper)."""
        if self.files >= READS_PER_CHILD:
            return True
        try:
            grown = _address_space(self.pid) - self._start_size
            return grown > self.limits.memory // _GROWTH_SHARE or any(
                Path(task, "children").read_text() for task in Path(f"/proc/{self.pid}/task").iterdir())
        except OSError:  # a kernel without /proc/…/children: what it left is unknown, so it retires
            return True

    def end(self, wait: float = 0) -> int:
        """Its exit status, its process group killed (the child, and whatever it left running),
        after ``wait`` seconds at most for it to end by itself (its own death is then the one told)."""
        select.select([self._exited], [], [], wait)
        _kill_group(self.pid)
        _, status = os.waitpid(self.pid, 0)
        for stream in (self._jobs, self._answers):
            try:
                stream.close()
            except OSError:  # a job it never read: the flush of the pipe fails
                pass
        os.close(self._exited)
        return status


def _read_files(jobs: int, answers: int, limits: Limits) -> NoReturn:
    """The reading child, until the server is gone: each job's file read, its answer sent."""
    code = 0
    try:
        os.setsid()
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        quiet = os.open(os.devnull, os.O_RDWR)
        os.dup2(quiet, 0)  # the server's pipes are not the child's (nor its tools')
        os.dup2(quiet, 1)
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory, hard))
        with os.fdopen(jobs, "rb") as incoming, os.fdopen(answers, "wb") as out:
            for read_before in itertools.count():
                job = _receive(incoming)
                # The CPU limit is per file: what it used so far (whole seconds, the limit's unit,
                # rounded down: never more than a fresh child has) plus the file's own.
                used = resource.getrusage(resource.RUSAGE_SELF)
                _, hard = resource.getrlimit(resource.RLIMIT_CPU)
                resource.setrlimit(resource.RLIMIT_CPU, (int(used.ru_utime + used.ru_stime) + limits.cpu, hard))
                result = extract_attachment(job["data"], job["name"], job["content_type"], ocr=job["ocr"],
                                            tools=Tools(**job["tools"]))
                if read_before and result.error is not None and not result.needs_ocr:
                    # A failure that what earlier files left may have caused (RLIMIT_AS counts it
                    # all): left to a fresh child, by ending here. A scan or an image unread for
                    # want of OCR (the frequent failure in a crawl) depends on the file alone.
                    os._exit(_LEFT_TO_A_FRESH_CHILD)
                _send(out, result.as_dict())
    except EOFError:  # the server has gone
        pass
    except MemoryError:
        code = 3
    except BaseException:
        code = 4
    os._exit(code)  # without cleanup of the server's state


def _address_space(pid: int) -> int:
    """VmSize of process ``pid``, in bytes (0 once it has ended)."""
    with open(f"/proc/{pid}/status") as status:
        return next((int(line.split()[1]) for line in status if line.startswith("VmSize:")), 0) * 1024


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
