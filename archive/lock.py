"""One writer per archive at a time: an exclusive, non-blocking lock file beside it.

Taken by every command that writes the archive (``crawl``, ``ingest``, ``reprocess``, ``reindex``) and by
``serve --immutable``. ``flock`` locks die with their process, so a crawl killed with SIGKILL never leaves a stale
lock behind. The path is resolved first (a symlink to the archive takes the archive's own
lock), and the lock file is removed when released: taking it checks that the file locked is
still the one at the path, so removing it never lets a second process in.
"""
from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from types import TracebackType
from typing import TextIO

from archive.layout import ArchiveLayout

from archive.schema import ArchiveError


#: What a lock file says: ``pid 123 reprocess`` (``pid 123`` before the command was written).
_HOLDER = re.compile(r"pid (\d+)(?: (\S+))?")


class ArchiveBusy(Exception):
    """Another process holds the archive's lock."""


class ArchiveLock:
    """Held by ``command`` (what the lock file names, for whoever finds the archive busy)."""

    def __init__(self, archive: str | Path, command: str = "crawl"):
        self.archive = ArchiveLayout.of(archive).db
        self.path = ArchiveLayout.of(archive).lock
        self.command = command
        self._handle: TextIO | None = None

    def __enter__(self) -> "ArchiveLock":
        while True:
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
                holder = _HOLDER.fullmatch(handle.read().strip())
                handle.close()
                command, pid = (holder.group(2) or "crawl", f" (pid {holder.group(1)})") if holder else ("crawl", "")
                raise ArchiveBusy(f"another {command} is already running on {self.archive}{pid}") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:  # its holder removed it as we opened it
                same = False
            if same:
                break
            handle.close()
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} {self.command}")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        if self._handle is not None:
            self.path.unlink(missing_ok=True)  # still locked: nobody can take the file removed
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
