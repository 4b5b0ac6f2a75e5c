"""One crawl per archive at a time: an exclusive, non-blocking lock file beside it.

``flock`` locks die with their process, so a crawl killed with SIGKILL never leaves a stale
lock behind.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType


class ArchiveBusy(Exception):
    """Another process holds the archive's lock."""


class ArchiveLock:
    def __init__(self, archive: str | Path):
        self.path = Path(f"{archive}.lock")
        self._handle = None

    def __enter__(self) -> "ArchiveLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ArchiveBusy(
                f"another crawl is already running on {self.path.with_suffix('')} ({holder})"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        if self._handle is not None:
            self._handle.truncate(0)
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
