"""Ingest of attachment files: their text, search entry and supervision items, from the stored files.

The crawl downloads each file once, by content hash (:class:`crawler.pipelines.AttachmentFiles`),
and ingest links it to its bulletin (``attachments`` rows, :meth:`crawler.ingest.Ingest._link_attachments`).
Here each stored file whose text is not made yet (or was made by an older
:data:`~pipelines.attachment_text.EXTRACTOR_VERSION`, or without OCR it needed, or while a tool
was missing) is read through :class:`~pipelines.attachment_sandbox.AttachmentReader`, a limited
child process per file, so a hostile file costs one recorded ``error`` and nothing else. The
text is stored on every row of the file, indexed with its bulletins (:mod:`archive.attachments`),
and the file's supervision lists become items with the attachment as their ``source``.

Offline, whenever the stored files are at hand: ``ingest`` and ``merge`` read what is pending
(:meth:`AttachmentTexts.run`), ``reprocess`` reads every file again. During a crawl, reading a
file takes from milliseconds (DOCX) to seconds (a Word 97 file through LibreOffice, OCR), so it
never runs on the reactor's thread: :class:`CrawlTexts` reads in threads of their own beside the
fetching, from the moment a file is downloaded, and the run's ingest batches store the results
on the reactor's thread.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sqlite_utils
from twisted.internet import defer, task

from archive.attachments import (
    PendingFile, attachment_sources, decoded_tables, is_linked, known_text, pending_files, save_text, text_values, unread_files,
)
from archive.layout import ArchiveLayout, attachment_file
from archive.search import PendingIndex
from archive.structure import save_structure
from crawler.settings import ATTACHMENT_READERS
from pipelines.attachment_items import attachment_structure
from pipelines.structure import Structure
from pipelines.attachment_sandbox import AttachmentReader
from pipelines.attachment_text import EXTRACTOR_VERSION, MISSING, Tools, kind_needs_name

logger = logging.getLogger(__name__)

_SPACE = re.compile(r"\s+")


@dataclass
class TextWrites:
    """What storing several texts in one transaction leaves to its end: the bulletins' re-indexing
    (each written once) and the bulletins whose attachment items are to be made again (each once,
    however many of its files got their text)."""

    index: PendingIndex = field(default_factory=PendingIndex)
    bulletins: set[str] = field(default_factory=set)

    def finish(self, db: sqlite_utils.Database) -> None:
        """Inside the transaction, before it commits."""
        for url in sorted(self.bulletins):
            save_attachment_items(db, url)
        self.bulletins.clear()
        self.index.flush(db)


class AttachmentTexts:
    """Reads and stores the text of an archive's attachment files (``ocr``: scans too).

    ``counts`` adds up what happened under the crawl's stats names (``attachments/text_read`` …).
    A context manager: it owns the readers' processes (one for each thread reading at once).
    ``warn`` is told, once per run and tool, the line naming the Debian package of a tool a
    file needed and this machine lacks.
    """

    def __init__(self, db: sqlite_utils.Database, layout: ArchiveLayout, *, ocr: bool = False,
                 warn: Callable[[str], None] = logger.warning, tools: Tools | None = None):
        self.db = db
        self.layout = layout
        self.ocr = ocr
        self.warn = warn
        self.counts: Counter[str] = Counter()
        self._tools = tools
        self._readers: list[AttachmentReader] = []  # every reader made
        self._idle: list[AttachmentReader] = []  # those no thread is reading with
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        #: The lines of tools that are here now: files that failed for want of them are read again.
        self._redo_errors: list[str] | None = None

    def __enter__(self) -> "AttachmentTexts":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            readers, self._readers, self._idle = self._readers, [], []
        for reader in readers:
            reader.close()

    def abort(self) -> None:
        """From another thread: end the reads in flight (their results are not stored)."""
        with self._lock:
            readers = list(self._readers)
        for reader in readers:
            reader.abort()

    @property
    def redo_errors(self) -> list[str]:
        if self._redo_errors is None:
            tools = self._tools or Tools.discover()
            self._redo_errors = [line for name, line in MISSING.items() if getattr(tools, name) is not None]
        return self._redo_errors

    # --- which files ------------------------------------------------------------------
    def pending(self, everything: bool = False) -> list[PendingFile]:
        """Files whose text is to be made (``everything``: all, as ``reprocess`` does)."""
        return pending_files(self.db, EXTRACTOR_VERSION, ocr=self.ocr, redo_errors=self.redo_errors,
                             everything=everything)

    def unread(self) -> list[PendingFile]:
        """Files linked since the last look that have no text yet (cheap enough for every batch)."""
        return unread_files(self.db)

    def known(self, file: PendingFile) -> dict[str, Any] | None:
        """The text columns another row of the same file has (made by this extractor, and not an
        error for want of a tool that is here now), or None: the file is to be read."""
        known = known_text(self.db, file.sha256, EXTRACTOR_VERSION, ocr=self.ocr)
        return None if known is None or known["error"] in self.redo_errors else known

    def copy_known(self, file: PendingFile, writes: TextWrites | None = None) -> bool:
        """Store the text another row of the same file already has (made by this extractor); False
        when there is none and the file must be read. ``writes``: see :meth:`store`."""
        known = self.known(file)
        if known is None:
            return False
        self._save(file, known, writes)
        self.counts["attachments/text_copied"] += 1
        return True

    # --- reading (no database: safe in other threads, several at once) --------------------
    def read(self, file: PendingFile) -> dict[str, Any]:
        """What reading the stored file gives (an AttachmentText as a mapping); never raises."""
        started = time.perf_counter()
        path = next((found for stored in file.paths
                     if (found := attachment_file(self.layout.db, stored)) is not None and found.is_file()), None)
        if path is None:
            return {"error": "the archived file is missing from the archive's files folder"}
        try:
            data = path.read_bytes()
        except OSError as error:
            return {"error": f"the archived file cannot be read: {error.strerror or error}"}
        with self._lock:
            reader = self._idle.pop() if self._idle else None
            if reader is None:
                reader = AttachmentReader(ocr=self.ocr, tools=self._tools)
                self._readers.append(reader)
        try:
            result = reader.read(data, file.name, file.mime_type).as_dict()
        finally:
            with self._lock:
                if reader in self._readers:  # not closed meanwhile
                    self._idle.append(reader)
        result["seconds"] = time.perf_counter() - started
        return result

    # --- storing (the database's thread) -------------------------------------------------
    def store(self, file: PendingFile, result: dict[str, Any], writes: TextWrites | None = None) -> None:
        """Store what reading ``file`` gave on every row holding it, with index and items.

        ``writes``: the re-indexing and items of its bulletins are left there, for the caller to
        finish in the same transaction (see :meth:`CrawlTexts.tick`).
        """
        self._save(file, text_values(result, EXTRACTOR_VERSION), writes)
        error = result.get("error")
        self.counts["attachments/text_read"] += 1
        self.counts["attachments/text_seconds"] += result.get("seconds") or 0.0
        if result.get("needs_ocr"):  # a scan left for --ocr: not a failure of the reading
            self.counts["attachments/text_needs_ocr"] += 1
        elif error:
            self.counts["attachments/text_failed"] += 1
        if error in MISSING.values() and error not in self._warned:
            self._warned.add(error)
            self.warn(error)

    def _save(self, file: PendingFile, values: dict[str, Any], writes: TextWrites | None) -> None:
        if writes is not None:
            writes.bulletins.update(save_text(self.db, file.sha256, values, writes.index))
            return
        with self.db.atomic():
            for url in save_text(self.db, file.sha256, values):
                save_attachment_items(self.db, url)

    def run(self, everything: bool = False, progress: Callable[[int], None] | None = None,
            readers: int = 1) -> int:
        """Read and store every pending file here and now, committing each; return how many.

        ``readers`` files are read at once in other threads (each through its own sandbox
        server), a few ahead of the one stored here, in order; an interrupt ends the reads in
        flight at once.
        """
        files = self.pending(everything)

        def stored() -> None:
            self.db.conn.commit()
            if progress is not None:
                progress(1)

        unread = []
        for file in files:
            if not everything and self.copy_known(file):
                stored()
            else:
                unread.append(file)
        pool = ThreadPoolExecutor(max(1, readers), thread_name_prefix="zwdc-attachments")
        ahead: deque[tuple[PendingFile, Future[dict[str, Any]]]] = deque()

        def store_first() -> None:
            file, reading = ahead.popleft()
            self.store(file, reading.result())
            stored()

        try:
            for file in unread:
                ahead.append((file, pool.submit(self.read, file)))
                if len(ahead) > 2 * readers:
                    store_first()
            while ahead:
                store_first()
        except BaseException:
            self.abort()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return len(files)


def read_texts(db: sqlite_utils.Database, layout: ArchiveLayout, *, ocr: bool = False,
               everything: bool = False, readers: int = ATTACHMENT_READERS) -> Counter[str]:
    """The commands' way (``ingest``, ``reprocess``, ``merge``): read the pending files (every file
    with ``everything``), ``readers`` at once (the crawl's default), with a progress bar on a
    terminal and a warning per missing tool on stderr; return the counts."""
    import sys

    from tqdm import tqdm

    def warn(line: str) -> None:
        tqdm.write(f"warning: {line}", file=sys.stderr)

    with AttachmentTexts(db, layout, ocr=ocr, warn=warn) as texts:
        with tqdm(unit="file", desc="attachment texts", disable=not sys.stderr.isatty()) as bar:
            texts.run(everything, progress=bar.update, readers=readers)
    return texts.counts


def texts_summary(counts: Counter[str]) -> str:
    """``; attachment texts: 12 read (2 failed), 3 copied …``: what :func:`read_texts` did, for the
    end of a command's last line; empty when it did nothing."""
    read, failed, copied, scans = (counts[f"attachments/text_{name}"] for name in ("read", "failed", "copied", "needs_ocr"))
    if not (read or copied):
        return ""
    scanned = f", {scans} scanned left for --ocr" if scans else ""
    return f"; attachment texts: {read} read ({failed} failed{scanned}), {copied} copied from the same file"


def _key(subject: str, progress: str) -> tuple[str, str]:
    return _SPACE.sub("", subject), _SPACE.sub("", progress or "")


@lru_cache(maxsize=128)
def _parsed(text: str, tables: str | None) -> Structure:
    """:func:`attachment_structure` of a file's stored text and tables, parsed once for a while: a
    bulletin's items are made again from all its files whenever one of them gets its text (in a
    crawl, three parses for each text). Read-only: callers copy what they change."""
    return attachment_structure(text, decoded_tables(tables))


def save_attachment_items(db: sqlite_utils.Database, bulletin_url: str) -> None:
    """The supervision items of each attachment of a bulletin, with the attachment as their source.

    Read like a body, plus its supervision-list tables (:func:`pipelines.attachment_items.attachment_structure`).
    An attachment repeating the page (the bulletin as a PDF) adds nothing twice: an item whose
    subject and progress the page, or an attachment before it, already gave is left out, and so
    is a meeting left without items.
    """
    seen = {_key(subject, progress) for subject, progress in db.execute(
        "select subject, progress from items where bulletin_url = ? and source = ?", [bulletin_url, bulletin_url])}
    for source in attachment_sources(db, bulletin_url):
        structure = _parsed(source["text"], source["tables"]) if source["text"] else None
        items = []
        for item in structure.items if structure else ():
            key = _key(item.subject, item.progress)
            if key not in seen:
                seen.add(key)
                items.append(dict(vars(item)))
        used = sorted({item["meeting_index"] for item in items if item["meeting_index"] is not None})
        renumbered = {old: new for new, old in enumerate(used)}
        meetings = [vars(structure.meetings[index]) for index in used] if structure else []
        for item in items:
            if item["meeting_index"] is not None:
                item["meeting_index"] = renumbered[item["meeting_index"]]
        save_structure(db, bulletin_url, meetings, items, source=source["url"])


class CrawlTexts:
    """During a crawl: files read in threads of their own, results stored on the reactor's thread.

    A file is queued for the threads (``ATTACHMENT_READERS``) as soon as it is downloaded
    (:meth:`read_early`); each ingest batch, before its index flush, and each :meth:`tick` store
    the texts read since (:meth:`store`), copy the text of files already read for another
    bulletin, and queue the files newly linked and not read yet. The threads read the queue in
    order without waiting for the batches.
    Reading never blocks the reactor; :meth:`drain` (the crawl's end) waits for what is left
    without blocking it either, so a stop signal still gets through, and :meth:`stop` leaves the
    rest for the next run (nothing is lost: a file without text stays pending).
    """

    def __init__(self, texts: AttachmentTexts, *, enabled: bool = True, readers: int = 1):
        self.texts = texts
        #: ``readers`` files read at once, each in a child process of its own reader.
        self._pool = ThreadPoolExecutor(max(1, readers), thread_name_prefix="zwdc-attachments")
        #: sha256 -> a file handed to the threads (queued, being read, or read and waiting for
        #: its link) and its read, until the result is stored.
        self._running: dict[str, tuple[PendingFile, Future[dict[str, Any]]]] = {}
        self._first_look = True
        #: Reads nothing (``ATTACHMENT_TEXT = False``, told to stop, or the archive failed).
        self.stopped = not enabled

    def read_early(self, file: PendingFile, data: bytes) -> None:
        """A file just downloaded, before ingest links it to its bulletin: read it now, so that its
        text is mostly stored by the ingest batch that indexes its bulletin (:meth:`store`),
        in that bulletin's one index write. Read once linked, the text rewrote the entry: the
        body's tokens taken out and put in again, the largest part of storing texts.

        An OLE2 file with neither a Word nor an Excel stream (``data``: the file's bytes) waits
        for its link: what kind it is takes the name the page gives it.
        """
        if (self.stopped or file.sha256 in self._running or kind_needs_name(data)
                or self.texts.known(file) is not None):
            return  # being read, or read already (its next link copies the text)
        self._submit(file)

    def _submit(self, file: PendingFile) -> None:
        self._running[file.sha256] = (file, self._pool.submit(self._read, file))

    def store(self, writes: TextWrites) -> int:
        """Store the texts read since whose files are linked (a file read early waits for its
        link), copy those of files read before, queue the files linked since for reading. On the
        database's thread, in the caller's transaction: the tick's, or an ingest batch's before its
        index flush, so that the bulletins it indexes have their texts in their first index write.
        Returns how many texts were stored."""
        if self.stopped:
            return 0
        stored = 0
        for file, reading in self._finished(linked=True):
            del self._running[file.sha256]
            self.texts.store(file, reading.result(), writes)
            stored += 1
        files = self.texts.pending() if self._first_look else self.texts.unread()
        self._first_look = False
        for file in files:
            if file.sha256 in self._running:
                continue
            if self.texts.copy_known(file, writes):
                stored += 1
            else:
                self._submit(file)
        return stored

    def forget_unlinked(self) -> None:
        """At the crawl's end, once everything is ingested: files read early that no bulletin
        linked (it was refused, or failed) have nothing to store their text on."""
        for file, _reading in self._finished(linked=False):
            del self._running[file.sha256]

    def _finished(self, linked: bool) -> list[tuple[PendingFile, Future[dict[str, Any]]]]:
        """The reads ended whose file a bulletin links (``linked``), or none does (or cancelled)."""
        db = self.texts.db
        return [(file, reading) for file, reading in list(self._running.values()) if reading.done()
                and (not reading.cancelled() and is_linked(db, file.sha256)) == linked]

    def tick(self) -> None:
        """Store what was read, look for new files, keep the thread busy (the reactor's thread).

        One transaction, each bulletin's re-indexing and items written once at its end: stored one
        by one, each text cost a commit and an index segment, and a bulletin was re-indexed (its
        body tokenized twice) and its items made again once per attachment: a third of the crawl
        process's time.
        """
        if self.stopped:
            return
        writes, db = TextWrites(), self.texts.db
        with db.atomic():
            self.store(writes)
            writes.finish(db)

    def _read(self, file: PendingFile) -> dict[str, Any]:
        try:
            return self.texts.read(file)
        except Exception as error:  # a bug in reading: recorded as the file's error, the crawl goes on
            return {"error": f"attachment reading failed: {type(error).__name__}: {error}"}

    @property
    def left(self) -> int:
        return len(self._running)

    def drain(self, tick: Callable[[], None], interval: float = 0.1) -> defer.Deferred:
        """A Deferred firing once every file is read and stored (or :meth:`stop` was called);
        ``tick`` (the run's: :meth:`tick`, then commit) is called meanwhile."""
        from twisted.internet import reactor

        if self.left:
            logger.info("reading the text of %d attachment file(s) left", self.left)
        done: defer.Deferred = defer.Deferred()

        def step() -> None:
            tick()
            self.forget_unlinked()
            if self.stopped or not self.left:
                looping.stop()

        looping = task.LoopingCall(step)
        looping.clock = reactor
        looping.start(interval, now=True).addBoth(lambda _: done.callback(None))
        return done

    def stop(self) -> None:
        """Read no more: the files not stored stay pending for the next run."""
        self.stopped = True
        for _file, reading in self._running.values():
            reading.cancel()

    def close(self) -> None:
        """Stop, end the read in flight at once, then the thread and the reader."""
        self.stop()
        self.texts.abort()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.texts.close()
