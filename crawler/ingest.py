"""Ingest: from captures to the archive, the one place where a fetched page becomes archive rows.

The crawl only fetches and captures (WARC records and ``captures`` rows, see
:class:`crawler.extensions.ArchiveRun`); every row the archive derives from a capture is built
here, by one code path, whether it runs during a crawl (a batch every
``ARCHIVE_COMMIT_INTERVAL``), at its end (``crawl`` ingests what is left before judging the
run), as ``python -m crawler ingest`` (what a killed run left, or named WARC files) or as
``reprocess`` (every archived bulletin again, with the current extractor). Per capture of a
bulletin:

* 200: read back from its WARC file (and checked to be the record of its URL), with the
  further pages of a split document captured in the same run; extracted
  (:func:`pipelines.extraction.extract_record`); refused with a recorded reason when it is
  no bulletin (a script-only challenge, an empty page); else stored with its versions, search
  index entry and supervision items (:func:`store_record`), the URL it was listed under as an
  alias, and its attachments linked to the files archived for them (:func:`archived_file`),
  whose text is then read by :mod:`crawler.attachments_ingest`;
* 304: the bulletin is still there (``last_seen``); 404/410: it is marked missing.

A batch is read and extracted first (:func:`extract_capture`: WARC bytes in, record and
supervision items out; pure, so it runs in a worker process beside the crawl or beside the
writes of the previous batch, see :class:`ExtractionPool`), then written in one transaction
(bulletins, versions, index, structure, attachments, failures, and the captures marked
``ingested``), so a killed ingest loses at most its open batch, which the next one does again. Ingesting a capture twice changes nothing (same content
hash: no version, no index write), and a capture older than the one a bulletin was last built
from is skipped, so the order captures are ingested in never matters.
"""
from __future__ import annotations

import ctypes
import gc
import hashlib
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from archive.attachments import mark_stale
from archive.layout import ArchiveLayout
from archive.portals import portal_of_site
from archive.schema import ATTACHMENT_KEY, insert_row, open_archive, upsert_row
from archive.search import PendingIndex
from archive.store import (
    UNREAD, CONTENT_COLUMNS, Capture, Outcome, archived_bulletin, mark_missing, mark_seen, save_alias,
    save_bulletin,
)
from archive.structure import save_structure
from archive.warc import read_capture
from crawler.attachments_ingest import TextWrites, save_attachment_items
from pipelines.body import stored_name
from pipelines.bulletin import not_a_bulletin
from pipelines.challenges import SCRIPT_ONLY
from pipelines.dates import utc_now
from pipelines.guard import replacement_refusal
from pipelines.extraction import LARGE_PAGE, NO_HINTS, Hints, extract_record
from pipelines.records import BulletinRecord, Page, PagePart
from pipelines.structure import parse_structure
from pipelines.urls import canonical_url, document_page, netloc_of

logger = logging.getLogger(__name__)

#: Captures per transaction: large enough that commits and index flushes are cheap per page,
#: small enough that a killed ingest redoes little.
BATCH_SIZE = 200
#: Pages an ingest extracts here before it starts its worker processes: starting one (a fresh
#: interpreter importing lxml and trafilatura) costs more than extracting a few pages.
POOL_MIN_PAGES = 50
#: Fields counted in the run's "fields filled" summary.
SUMMARY_FIELDS = CONTENT_COLUMNS

_CAPTURE_COLUMNS = ("id, run_id, url, kind, status, fetched_at, content_type, warc_file, warc_offset,"
                    " list_url, requested_url")


def _lacks_structure_tables(path: Path) -> bool:
    """An existing archive from before the structure tables (they are filled on its next ingest)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        db = sqlite_utils.Database(path)
        try:
            tables = set(db.table_names())
        finally:
            db.close()
    except Exception:  # not an archive: open_archive says so in one line
        return False
    return "bulletins" in tables and "items" not in tables


def open_for_ingest(path: str | Path) -> sqlite_utils.Database:
    """Open (or create) the archive for writing, with what an older archive lacks filled in."""
    layout = ArchiveLayout.of(path)
    backfill = _lacks_structure_tables(layout.db)
    db = open_archive(layout.db)
    if backfill:
        rebuild_structures(db)
        db.conn.commit()
    return db


#: Characters of a body that is large (a large page's, about: :data:`~pipelines.extraction.LARGE_PAGE`).
#: A large page's items are parsed when its row is stored (see :func:`extract_capture`), and the
#: memory its extraction and writes freed is given back before its items are parsed and before
#: the batch's index write (:func:`_return_freed_memory`).
LARGE_BODY = LARGE_PAGE // 4


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, where there is one."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, TypeError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def _return_freed_memory() -> None:
    """Give freed memory back to the system: the C heap's free pages (``malloc_trim``), and the
    Python arenas that only the object free lists kept (a full collection empties them).

    A large page's tree (libxml2's nodes) and its row's writes (SQLite's copies of the body) are
    freed into the C heap, which the Python objects made next (the items, in arenas of their
    own) and the index's stream (a mapping of its own) cannot reuse; the items' parse leaves
    freed tuples in free lists scattered over otherwise empty arenas: the process would keep
    their size besides. Measured by ``python -m benchmarks.run largepage``: only where it lowers
    the peak.
    """
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _structure_rows(body: str) -> dict[str, list[dict[str, Any]]]:
    """The parsed structure as the plain mappings :func:`archive.structure.save_structure` takes."""
    structure = parse_structure(body or "")
    return {"meetings": [vars(meeting) for meeting in structure.meetings],
            "items": [vars(item) for item in structure.items]}


def store_record(
    db: sqlite_utils.Database,
    record: BulletinRecord,
    capture: Capture = Capture(),
    pending_index: PendingIndex | None = None,
    *,
    content: dict[str, object] | None = None,
    previous: dict[str, object] | None = UNREAD,
    structure: dict[str, list[dict[str, Any]]] | None = None,
    restructure: bool = False,
) -> Outcome:
    """Store one extracted bulletin: its row, versions, index entry and supervision items, atomically.

    What the caller has at hand already is passed in: the row (``content``, default
    ``record.row()``), the archived row (``previous``, see :func:`archive.store.save_bulletin`)
    and the parsed structure (``structure``, default parsed here when needed). ``restructure``:
    the items are stored even when the body is unchanged (``reprocess``: the parser may be new).
    """
    with db.atomic():
        outcome = save_bulletin(db, content or record.row(), capture, pending_index, previous)
        if outcome != "unchanged" or restructure:  # else the same body parses to the same items
            if structure is None and len(record.body) >= LARGE_BODY:
                _return_freed_memory()  # the row's writes left the body's size twice in the C heap
            structure = structure or _structure_rows(record.body)
            save_structure(db, record.url, structure["meetings"], structure["items"], new=outcome == "new")
        if outcome == "changed":  # its files' items leave out what the page now says itself
            save_attachment_items(db, record.url)
    return outcome


def rebuild_structures(db: sqlite_utils.Database, parsed: Container[str] = frozenset()) -> int:
    """Re-parse every bulletin's body (but those ``parsed`` already) and its attachments' text
    (after the parser changed); return how many bulletins."""
    count = 0
    with db.atomic():
        # A cursor, not fetchall: bodies are streamed (writes go to other tables).
        for url, body in db.conn.execute("select url, body from bulletins order by rowid"):
            if url not in parsed:
                structure = _structure_rows(body)
                save_structure(db, url, structure["meetings"], structure["items"])
            save_attachment_items(db, url)
            count += 1
    return count


def archived_file(db: sqlite_utils.Database, layout: ArchiveLayout, url: str) -> dict[str, Any] | None:
    """The archived file downloaded from ``url`` (an ``attachments`` row's file columns), if any.

    A file is archived once it is stored under its content hash in the archive's files: it
    was accepted as a file (:class:`crawler.pipelines.AttachmentFiles`). Its capture says
    where it came from; the hash is the file's own (of the bytes after any content-encoding
    the server used, which the capture keeps as sent).
    """
    cursor = db.conn.execute(
        "select mime_type, size, sha256, path, fetched_at, capture_id from attachments where url = ? limit 1", [url])
    found = cursor.fetchone()
    if found is not None and (layout.folder / found[3]).is_file():
        return dict(zip((column[0] for column in cursor.description), found))
    capture = db.execute(
        "select id, content_type, fetched_at, payload_sha256, warc_file, warc_offset from captures"
        " where url = ? and kind = 'attachment' and status = 200 order by id desc limit 1", [url]).fetchone()
    if capture is None:
        return None
    capture_id, content_type, fetched_at, sha256, warc_file, warc_offset = capture
    stored = stored_name(sha256, url)
    if not (layout.files / stored).is_file():  # sent encoded (or refused): hash what was stored
        try:
            body = read_capture(layout.warc(warc_file), warc_offset, url).body
        except (OSError, ValueError):
            return None
        sha256 = hashlib.sha256(body).hexdigest()
        stored = stored_name(sha256, url)
        if not (layout.files / stored).is_file():
            return None
    return {
        "mime_type": (content_type or "").split(";")[0].strip() or "application/octet-stream",
        "size": (layout.files / stored).stat().st_size, "sha256": sha256,
        "path": layout.file_path(stored), "fetched_at": fetched_at, "capture_id": capture_id,
    }


@dataclass(frozen=True)
class ExtractJob:
    """Where one bulletin capture's bytes are, and what its record needs besides (picklable)."""

    url: str  # canonical
    source_url: str  # as captured (the WARC record's URL)
    fetched_at: str
    list_url: str
    warc: Path
    offset: int
    #: Further pages of a split document: (URL, WARC file, offset), in order.
    parts: tuple[tuple[str, Path, int], ...] = ()
    #: The extraction overrides of its portal's profile.
    hints: Hints = NO_HINTS


@dataclass
class Extracted:
    """What :func:`extract_capture` made of a capture: its record and items, or why there is none."""

    record: BulletinRecord | None = None
    headers: dict[str, str] = field(default_factory=dict)
    structure: dict[str, list[dict[str, Any]]] | None = None
    #: Why nothing was extracted: the capture could not be read back, or extraction raised.
    failure: str = ""
    unreadable: bool = False
    #: CPU seconds the extraction took (where it ran).
    cpu: float = 0.0
    #: Bytes of the page (its first), for what a large one needs (see :data:`LARGE_PAGE`).
    page_size: int = 0


def extract_capture(job: ExtractJob) -> Extracted:
    """Read a bulletin capture (and its further pages) back from WARC, extract its record and its
    supervision items. Pure: files in, values out, so it runs wherever there is a core free."""
    started = time.process_time()
    try:
        stored = read_capture(job.warc, job.offset, job.source_url)
        parts = [PagePart(url, read.headers, read.body)
                 for url, read in ((url, read_capture(warc, offset, url)) for url, warc, offset in job.parts)]
    except (OSError, ValueError) as error:
        return Extracted(failure=f"capture unreadable: {error}", unreadable=True,
                         cpu=time.process_time() - started)
    page = Page(url=job.url, source_url=job.source_url, status=200, headers=stored.headers, body=stored.body,
                fetched_at=job.fetched_at, list_url=job.list_url, parts=parts)
    headers, size = stored.headers, len(stored.body)
    del stored  # the page's bytes are the page's alone: extraction lets them go once parsed
    try:
        record = extract_record(page, job.hints, handed_over=True)
        # A large page's items are parsed when its row is stored, once the row's writes are done
        # (store_record): not held through them.
        structure = _structure_rows(record.body) if size < LARGE_PAGE else None
    except Exception as error:  # a bug in extraction: recorded, the run goes on
        return Extracted(headers=headers, failure=f"extraction failed: {type(error).__name__}: {error}",
                         cpu=time.process_time() - started)
    return Extracted(record, headers, structure, cpu=time.process_time() - started, page_size=size)


def extract_all(jobs: Sequence[ExtractJob]) -> list[Extracted]:
    return [extract_capture(job) for job in jobs]


def _take(extracted: list[Extracted | None], job: int) -> Extracted | None:
    """The job's extraction, its slot emptied: once written it is let go (it is as large as its
    body, and the future holds the list too), with no name left holding it through the index flush."""
    record, extracted[job] = extracted[job], None
    return record


#: What a terminal (Ctrl-C) and systemd send the whole process group.
_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


def _start_worker() -> None:
    """A worker is stopped by its parent (which handles Ctrl-C and SIGTERM), never by the signal
    a terminal or systemd sends the whole group; and it says nothing: what goes wrong in it
    reaches the parent (a failed extraction as its reason, a dead worker as a broken pool), and
    its end after its parent was killed is no news."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)  # blocked since its start: see ExtractionPool.submit
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the worker's whole life)


class ExtractionPool:
    """Worker processes running :func:`extract_all`, started on first use.

    Extraction is pure Python work (lxml trees, the text walk, trafilatura, the structure
    parse) that a thread could not run beside the crawl (the GIL); a process can, on another
    core. Workers never touch the archive: the parent writes what they return, so crash
    safety is the parent's as before, and a worker whose parent dies finds its pipe closed
    and exits.
    """

    def __init__(self, processes: int):
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    @property
    def started(self) -> bool:
        return self._executor is not None

    def submit(self, jobs: Sequence[ExtractJob]) -> Future[list[Extracted]]:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker)
        # A worker is started by this call when one is wanted: with Ctrl-C and SIGTERM blocked, so
        # that it starts with them blocked (a signal mask outlives exec) and a Ctrl-C while it
        # imports cannot print its traceback; this process gets them when they are unblocked.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            return self._executor.submit(extract_all, list(jobs))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def close(self, wait: bool = True) -> None:
        """Stop the workers: ``wait``, after the jobs in hand; else at once, dropping the rest.

        At once means killed: a worker ignores the signals a terminal or systemd sends, and one
        interrupted while the pool was starting may never be told to end, which left the command
        waiting for it at exit. (Python 3.11's executor has no way to end its workers; its
        ``_processes`` are read for that.)
        """
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = [] if wait else list((executor._processes or {}).values())
        executor.shutdown(wait=wait, cancel_futures=not wait)
        for process in processes:
            process.kill()


@dataclass
class Batch:
    """Captures ingested together: their rows, and the extraction jobs of the bulletins among them."""

    captures: list[dict[str, Any]]
    jobs: list[ExtractJob]
    #: Extracted by a worker process (its CPU time is the worker's).
    in_worker: bool = False

    @property
    def ids(self) -> list[int]:
        return [capture["id"] for capture in self.captures]


#: How a capture's outcome counts in its list page's column (``Ingest.by_list``).
_LIST_OUTCOMES = {"new": "stored", "changed": "stored", "unchanged": "stored",
                  "not_bulletin": "not_bulletin", "refused": "refused", "unreadable": "refused",
                  "refused_replacement": "refused"}


class Ingest:
    """Builds archive rows from captures of one archive, in batches of one transaction each.

    ``counts`` adds up what happened, under the crawl's stats names (``extract/pages``,
    ``archive/new``, ``run/failures`` …), so a crawl adds them to its stats. With
    ``processes`` > 0, batches are extracted in that many worker processes
    (:class:`ExtractionPool`) once :data:`POOL_MIN_PAGES` pages came; :meth:`close` stops them.
    """

    def __init__(self, db: sqlite_utils.Database, layout: ArchiveLayout, batch_size: int = BATCH_SIZE,
                 progress: Callable[[int], None] | None = None,
                 on_refusal: Callable[[str, str], None] | None = None,
                 profiles: Mapping[str, Mapping[str, Any]] | None = None, processes: int = 0,
                 texts_read: Callable[[TextWrites], int] | None = None, restructure: bool = False):
        self.db = db
        self.layout = layout
        self.batch_size = batch_size
        #: Called with the number of captures of each batch once it is committed.
        self.progress = progress
        #: Told ``(url, reason)`` of each page refused as a replacement of its archived row.
        self.on_refusal = on_refusal
        #: host -> the extraction overrides of its portal's profile (``PORTAL_PROFILES``).
        self.hints = {host: Hints.make(profile.get("body_container"), profile.get("labels"))
                      for host, profile in (profiles or {}).items()}
        self.counts: Counter[str] = Counter()
        #: list page URL -> what became of the bulletins it linked (stored, not_bulletin,
        #: refused): the column's verdict needs it (see ``ColumnSpider.ingested``).
        self.by_list: defaultdict[str, Counter[str]] = defaultdict(Counter)
        #: CPU seconds of the extraction done in worker processes.
        self.worker_cpu = 0.0
        self.pool = ExtractionPool(processes) if processes > 0 else None
        self._pending_index = PendingIndex()
        #: Stores, in each batch's transaction before its index flush, the attachment texts read
        #: already (a crawl's :meth:`crawler.attachments_ingest.CrawlTexts.store`): a file
        #: read before its bulletin is ingested then costs that bulletin no second index write.
        self.texts_read = texts_read
        self._portals: dict[str, str] = {}
        self._pages = 0  # extracted so far (see POOL_MIN_PAGES)
        #: Store every bulletin's items, its body changed or not (``reprocess``; see :func:`store_record`).
        self.restructure = restructure
        #: The bulletins whose items were stored so (:func:`rebuild_structures` needs not parse them again).
        self.restructured: set[str] = set()

    def close(self, wait: bool = True) -> None:
        if self.pool is not None:
            self.pool.close(wait)

    def __enter__(self) -> Ingest:
        return self

    def __exit__(self, error_type: type[BaseException] | None, *_exc: object) -> None:
        """Workers stopped after their jobs, or at once when the block failed or was interrupted."""
        self.close(wait=error_type is None)

    # --- what to ingest -------------------------------------------------------------
    def ready(self) -> int:
        """Ingest every capture marked ready (oldest first); return how many."""
        return self.captures(self.ready_ids())

    def ready_ids(self, limit: int = -1) -> list[int]:
        """Captures marked ready, oldest first (at most ``limit``)."""
        return self._ids("ingest_state = 'ready' order by id limit ?", [limit])

    def warc_files(self, names: Iterable[str]) -> int:
        """Ingest again every bulletin capture in these WARC files (by file name) of the archive."""
        names = list(names)
        marks = ", ".join("?" * len(names))
        return self.captures(self._ids(f"kind = 'bulletin' and warc_file in ({marks}) order by id", names))

    def archived(self) -> int:
        """Ingest again the capture behind every archived bulletin (``reprocess``)."""
        return self.captures([capture_id for (capture_id,) in self.db.execute(
            "select capture_id from bulletins where capture_id is not null order by capture_id")])

    def _ids(self, where: str, params: Sequence[Any] = ()) -> list[int]:
        return [capture_id for (capture_id,) in self.db.execute(f"select id from captures where {where}", params)]

    # --- batches --------------------------------------------------------------------
    def captures(self, ids: Sequence[int]) -> int:
        """Ingest the captures ``ids`` in order, a transaction per batch; return how many.

        The next batch is extracted (in a worker, when there is one) while this one is written.
        """
        pending: tuple[Batch, Future[list[Extracted]]] | None = None
        for start in range(0, len(ids), self.batch_size):
            batch = self.plan(ids[start:start + self.batch_size])
            extracting = self.extract(batch)
            if pending is not None:
                self.apply(*pending)
            pending = (batch, extracting)
        if pending is not None:
            self.apply(*pending)
        return len(ids)

    def plan(self, ids: Sequence[int]) -> Batch:
        """The captures ``ids`` (in order) and what extracting their bulletins needs to read."""
        cursor = self.db.conn.execute(
            f"select {_CAPTURE_COLUMNS} from captures where id in ({', '.join('?' * len(ids))}) order by id", list(ids))
        names = [column[0] for column in cursor.description]
        captures = [dict(zip(names, row)) for row in cursor]
        jobs = []
        for capture in captures:
            if capture["status"] == 200 and capture["kind"] == "bulletin":
                capture["job"] = len(jobs)
                jobs.append(ExtractJob(
                    canonical_url(capture["url"]), capture["url"], capture["fetched_at"], capture["list_url"] or "",
                    self.layout.warc(capture["warc_file"]), capture["warc_offset"], self._parts(capture),
                    self.hints.get(netloc_of(capture["url"]), NO_HINTS)))
        return Batch(captures, jobs)

    def extract(self, batch: Batch) -> Future[list[Extracted]]:
        """Extract the batch's bulletins: in a worker process (the future completes later) or here."""
        self._pages += len(batch.jobs)
        if self.pool is not None and batch.jobs and (self.pool.started or self._pages >= POOL_MIN_PAGES):
            batch.in_worker = True
            return self.pool.submit(batch.jobs)
        done: Future[list[Extracted]] = Future()
        done.set_result(extract_all(batch.jobs))
        return done

    def apply(self, batch: Batch, extracting: Future[list[Extracted]]) -> None:
        """Write the batch's rows in one transaction, index flush included (waits for its extraction)."""
        try:
            extracted = extracting.result()
        except BrokenProcessPool:  # a worker died (killed, out of memory): extract here from now on
            logger.warning("extraction worker gone: extracting in this process")
            self.close(wait=False)
            self.pool, batch.in_worker = None, False
            extracted = extract_all(batch.jobs)
        if batch.in_worker:
            self.worker_cpu += sum(result.cpu for result in extracted)
        large = any(result.page_size >= LARGE_PAGE for result in extracted)
        if not self.db.conn.in_transaction:
            self.db.execute("BEGIN")  # one transaction for the batch, index flush included
        try:
            for capture in batch.captures:
                job = capture.get("job")
                outcome = self._ingest(capture, None if job is None else _take(extracted, job))
                self.counts[f"ingest/{outcome}"] += 1
                if capture["list_url"]:
                    self.by_list[capture["list_url"]][_LIST_OUTCOMES.get(outcome, "other")] += 1
            self.db.execute(
                f"update captures set ingest_state = 'ingested' where id in ({', '.join('?' * len(batch.ids))})"
                " and ingest_state is not null", batch.ids)
            if large:  # before the index takes a large body's stream twice (ours, then SQLite's copy)
                _return_freed_memory()
            writes = TextWrites(self._pending_index)
            if self.texts_read is not None:
                self.counts["attachments/text_stored_by_ingest"] += self.texts_read(writes)
            writes.finish(self.db)  # the attachment items those texts give, then the index flush
            self.db.conn.commit()
        except BaseException:
            self._pending_index.entries.clear()
            self.db.conn.rollback()
            raise
        if self.progress is not None:
            self.progress(len(batch.captures))

    # --- one capture --------------------------------------------------------------------
    def _ingest(self, capture: dict[str, Any], extracted: Extracted | None) -> str:
        """What ingesting this capture did: an outcome of the store, or why nothing was stored."""
        url = canonical_url(capture["url"])
        status = capture["status"]
        if status == 304:
            mark_seen(self.db, url, capture["fetched_at"])
            self.counts["archive/not_modified"] += 1
            return "seen"
        if status in (404, 410):
            removed = mark_missing(self.db, [url], capture["fetched_at"])
            self.counts["archive/removed"] += removed
            return "removed" if removed else "gone"
        if status != 200 or capture["kind"] != "bulletin" or extracted is None:
            return "skipped"
        archived = archived_bulletin(self.db, url)
        if archived is not None and (archived["capture_id"] or 0) > capture["id"]:
            return "superseded"
        if extracted.record is None:
            return self._refuse(capture, url, extracted.failure, "unreadable" if extracted.unreadable else "refused")
        record = extracted.record
        if not record.list_url and archived is not None:
            record.list_url = archived["list_url"] or ""
        self.counts["extract/pages"] += 1
        if record.extraction["script_only"] == "yes":
            self.counts["column/challenges"] += 1  # fails the run: see crawler.health
            return self._refuse(capture, url, SCRIPT_ONLY)
        if not record.title and not record.body:
            self.counts["extract/empty_pages"] += 1
            return self._refuse(capture, url, "empty page: no title and no body")
        reason = not_a_bulletin(record)
        if reason:
            self.counts["extract/not_bulletins"] += 1
            return self._refuse(capture, url, reason, "not_bulletin")
        content = record.row()
        refusal = replacement_refusal(archived, content)
        if refusal:  # an error page at 200, or one that lost what the bulletin had
            self.counts["archive/refused"] += 1
            if self.on_refusal is not None:
                self.on_refusal(url, refusal)
            return self._refuse(capture, url, refusal, "refused_replacement", counted=False)
        if record.extraction.get("metadata_block") == "no":
            self.counts["extract/without_metadata"] += 1
        self.counts[f"extract/container/{record.extraction['container']}"] += 1
        headers = {key.lower(): value for key, value in extracted.headers.items()}
        content["portal"] = self._portal(record.site)
        outcome = store_record(self.db, record, Capture(capture["id"], headers.get("etag"), headers.get("last-modified")),
                               self._pending_index, content=content, previous=archived, structure=extracted.structure,
                               restructure=self.restructure)
        if self.restructure:
            self.restructured.add(record.url)
        if capture["requested_url"] and capture["requested_url"] != url:
            save_alias(self.db, capture["requested_url"], url, capture["fetched_at"])
        self._link_attachments(record)
        self.counts["archive/bulletins"] += 1
        self.counts[f"archive/{outcome}"] += 1
        for name in SUMMARY_FIELDS:
            if getattr(record, name):
                self.counts[f"archive/filled/{name}"] += 1
        return outcome

    def _portal(self, site: str) -> str:
        if site not in self._portals:
            self._portals[site] = portal_of_site(self.db, site)
        return self._portals[site]

    def _parts(self, capture: dict[str, Any]) -> tuple[tuple[str, Path, int], ...]:
        """Where the further pages of a split document are, as captured in the same run, in order."""
        own = document_page(capture["url"])
        if own is None or own[1] != 0:
            return ()
        prefix = f"{capture['url'].rsplit('/', 1)[0]}/{own[0]}_"
        latest: dict[int, tuple[str, Path, int]] = {}
        for url, warc_file, warc_offset in self.db.execute(
                "select url, warc_file, warc_offset from captures where run_id = ? and kind = 'bulletin-part'"
                " and status = 200 and url >= ? and url < ? order by id", [capture["run_id"], prefix, prefix + "\U0010ffff"]):
            page = document_page(url)
            if page is not None and page[0] == own[0] and page[1] > 0:
                latest[page[1]] = (url, self.layout.warc(warc_file), warc_offset)
        return tuple(latest[number] for number in sorted(latest))

    def _link_attachments(self, record: BulletinRecord) -> None:
        """Link each file of the bulletin that is archived (downloaded now or for another bulletin)."""
        for attachment in record.attachments:
            found = archived_file(self.db, self.layout, attachment.url)
            if found is not None:
                mark_stale(self.db, record.url, attachment.url, found["sha256"])
                upsert_row(self.db, "attachments", {
                    "bulletin_url": record.url, "url": attachment.url, "name": attachment.name, **found,
                }, ATTACHMENT_KEY)

    def _refuse(self, capture: dict[str, Any], url: str, reason: str, outcome: str = "refused",
                counted: bool = True) -> str:
        """The page is not stored: record why, as a failure of the run that fetched it
        (``counted``: among the run's failures; refused replacements are counted apart)."""
        insert_row(self.db, "run_failures", {
            "run_id": capture["run_id"], "url": url, "kind": "bulletin", "reason": reason, "at": utc_now()})
        if counted:
            self.counts["run/failures"] += 1
        return outcome

