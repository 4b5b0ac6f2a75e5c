"""One writer per archive at a time: an exclusive, non-blocking lock file beside it.

Taken by every command that writes the archive (``crawl``, ``reprocess``, ``reindex``) and by
``serve --immutable``. ``flock`` locks die with their process, so a crawl killed with SIGKILL
never leaves a stale lock behind. The archive's path is resolved first, so a symbolic link to
an archive and the archive itself share one lock.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from archive.schema import ArchiveError


class ArchiveBusy(Exception):
    """Another process holds the archive's lock."""


class ArchiveLock:
    def __init__(self, archive: str | Path):
        self.archive = Path(archive)
        self.path = Path(f"{self.archive.resolve()}.lock")
        self._handle = None

    def __enter__(self) -> "ArchiveLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+")
        except OSError as error:
            raise ArchiveError(f"cannot lock {self.archive} for writing: cannot create {self.path} "
                               f"({error.strerror})") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ArchiveBusy(
                f"another crawl is already running on {self.archive} ({holder})"
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
