"""Files that appear under their name only once complete, and leave nothing when interrupted.

The data goes to ``.NAME.PID.part`` beside the target and is renamed over it when complete. An
exception (Ctrl-C included) removes the part file at once. A process killed outright (SIGKILL,
SIGTERM's default) runs no code, so a small guardian process, forked when the file is created,
waits on a pipe from the writer: when the pipe closes without the word that the file was
committed, the writer is gone and the guardian removes the part file. And a later write to the
same name removes part files whose writer no longer runs (say, the guardian was killed too).

(Linux ``O_TMPFILE`` would need ``linkat`` through ``/proc/self/fd``, which some kernels and
sandboxes refuse with EXDEV; this works everywhere.)
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_COMMITTED = b"c"


def remove_stale(path: Path) -> None:
    """Remove ``.NAME.PID-….part`` files left beside ``path`` by writers that no longer run."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)-[0-9a-f]+\.part")
    for candidate in path.parent.glob(f".{path.name}.*.part"):
        found = pattern.fullmatch(candidate.name)
        if found is None or int(found.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(found.group(1)), 0)
        except ProcessLookupError:
            candidate.unlink(missing_ok=True)
        except PermissionError:  # another user's live process
            pass


def _guard(part: Path) -> tuple[int, int]:
    """Fork the guardian of ``part``; (its pid, the pipe's write end the writer keeps)."""
    read_end, write_end = os.pipe()
    # Signals wait until the fork is done: a Ctrl-C landing in the fork's own handlers is lost.
    stops = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    pid = -1
    try:
        pid = os.fork()
    finally:
        if pid != 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
    if pid == 0:  # the guardian: only system calls, then _exit (no cleanup of the writer's state)
        try:
            os.close(write_end)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # and so may a service manager's stop
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
            word = b""
            while chunk := os.read(read_end, 1):
                word = chunk
            if word != _COMMITTED:
                os.unlink(part)
        except BaseException:  # noqa: BLE001 - nothing may escape into the writer's code
            pass
        os._exit(0)
    os.close(read_end)
    return pid, write_end


@contextmanager
def stops_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM have no effect while the block runs: it makes a finished write visible
    (the file named, its description written), and a stop halfway would leave a file the user is
    told is not there, or one its description does not list. A stop then comes too late: the
    write completes. In the main thread (where Python runs signal handlers); elsewhere it just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, _too_late) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _too_late(_number: int, _frame: object) -> None:
    """A stop that came while a finished write was being made visible (see :func:`stops_held`)."""


class AtomicFile:
    """Write through :meth:`fileno` (a descriptor of one's own each call), then :meth:`commit`;
    :meth:`discard` (or the writer's death before ``commit``) leaves the target as it was."""

    def __init__(self, path: Path):
        self.path = path
        remove_stale(path)
        self.part = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
        # The guardian first: a writer killed right after creating the file leaves nothing.
        self._guardian, self._pipe = _guard(self.part)
        try:
            self._fd = os.open(self.part, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o666)
        except BaseException:  # the guardian then finds nothing to remove
            os.close(self._pipe)
            os.waitpid(self._guardian, 0)
            raise

    def fileno(self) -> int:
        """A new descriptor of the file, for a writer that closes what it is given."""
        return os.dup(self._fd)

    def commit(self) -> None:
        """Give the complete file its name (replacing what was there)."""
        try:
            os.fsync(self._fd)
            os.replace(self.part, self.path)
            os.write(self._pipe, _COMMITTED)
        finally:
            self.discard()

    def discard(self) -> None:
        """Drop the part file (if not committed) and let the guardian go."""
        if self._fd < 0:
            return
        os.close(self._fd)
        self._fd = -1
        self.part.unlink(missing_ok=True)
        os.close(self._pipe)
        os.waitpid(self._guardian, 0)


def write_text(path: Path, text: str) -> None:
    """Replace ``path``'s content by ``text`` (UTF-8) atomically."""
    target = AtomicFile(path)
    try:
        with open(target.fileno(), "w", encoding="utf-8") as file:
            file.write(text)
        target.commit()
    except BaseException:
        target.discard()
        raise
