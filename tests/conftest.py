"""Shared fixtures: the replica portal on 127.0.0.1 and a way to run the command line."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.replica.server import ReplicaPortal

REPO = Path(__file__).resolve().parent.parent

# The suite's Ctrl-C tests send SIGINT to the commands they start, as a terminal does to its
# foreground job. A suite started in the background (``make test &``, a script) inherits SIGINT
# ignored, and so would every command it starts; with a handler here, they start with the
# default a terminal gives.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
#: Lifts the politeness limits for the local replica (the live defaults stay polite).
FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=WARNING"]


def on_a_terminal(*args: str, stdout_too: bool = False) -> tuple[int, str, str]:
    """``python -m crawler ARGS`` with stderr (and with ``stdout_too`` stdout) on a pseudo-terminal
    of 30 rows, 120 columns: (status, what stdout got if piped, what the terminal got)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "crawler", *args], cwd=REPO,
                               stdout=terminal if stdout_too else subprocess.PIPE, stderr=terminal,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    stdout = "" if stdout_too else process.stdout.read().decode()
    return process.wait(timeout=120), stdout, shown.decode(errors="replace")


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """``python -m crawler ARGS`` in a child process, as a user or cron runs it."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )


def crawl(archive: Path, *start_urls: str, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    urls = [arg for url in start_urls for arg in ("--start-url", url)]
    return run_cli("crawl", *urls, "--archive", str(archive), *FAST, *extra)


#: The ``bulletins`` columns compared with the replica's truth (attachments as a list).
COMPARED = ("url", "site", "index_no", "doc_no", "publisher", "category", "validity",
            "published", "issued", "title", "body", "attachments")


def truth_row(bulletin: dict) -> dict:
    """A replica truth dict in the shape of a ``bulletins`` row."""
    return {key: bulletin[key] for key in COMPARED}


def stored_row(row: dict) -> dict:
    """A stored ``bulletins`` row in the shape of :func:`truth_row` (attachments decoded)."""
    result = {key: row[key] for key in COMPARED}
    result["attachments"] = json.loads(row["attachments"])
    return result


@pytest.fixture(scope="session")
def portal() -> Iterator[ReplicaPortal]:
    """One replica portal for read-only tests (tests that change it make their own)."""
    with ReplicaPortal(per_family=20, seed=7) as replica:
        yield replica
