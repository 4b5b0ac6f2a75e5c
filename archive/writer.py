"""Everything one crawl run writes: WARC records, captures, bulletins, attachments, failures.

A :class:`RunWriter` lives in the crawl's writer process (:mod:`crawler.worker`), so the
process running Scrapy only fetches and parses lists while this one stores. It owns the run's
WARC file and the archive's only write connection during the run, and commits in batches
(every ``commit_interval`` seconds, see :meth:`RunWriter.tick`): a crash loses at
most one batch, which the next run fetches again. Each write is applied whole or, when it
fails, the batch is rolled back and the writer refuses further writes (:class:`WriterBroken`),
so the archive never holds half a bulletin.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from archive.schema import ATTACHMENT_KEY, insert_row, open_archive, upsert_row
from archive.search import PendingIndex
from archive.store import (
    Capture,
    Outcome,
    archived_bulletin,
    mark_missing,
    mark_seen,
    save_alias,
    save_bulletin,
)
from archive.warc import WarcCaptureWriter
from crawler.items import Attachment, BulletinRecord
from crawler.worker import Service, ServiceRefused
from pipelines.body import ATTACHMENT_EXTENSIONS
from pipelines.guard import replacement_refusal

#: What :meth:`RunWriter.bulletin` answers for a page refused as a replacement.
Refused = Literal["refused"]


class WriterBroken(ServiceRefused):
    """A write failed earlier in this run; the batch was rolled back and nothing more is written.

    Its text is that first failure's.
    """


def stored_name(sha256: str, url: str) -> str:
    """``ab/abcdef….pdf``: a relative path made only of the hash and a listed extension."""
    ext = posixpath.splitext(urlsplit(url).path)[1].lower().lstrip(".")
    suffix = f".{ext}" if ext in ATTACHMENT_EXTENSIONS else ".bin"
    return f"{sha256[:2]}/{sha256}{suffix}"


def _write_once(path: Path, data: bytes) -> None:
    """Write atomically (temp file + rename); content-addressed files never change.

    The temp name is fixed by process and file (one writer per archive at a time), which is
    four times cheaper than ``tempfile.mkstemp``'s random names here.
    """
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".part-{os.getpid()}-{path.name}")
    with open(temp, "wb") as handle:
        handle.write(data)
    os.replace(temp, path)


class RunWriter(Service):
    """The write side of crawl run ``run_id`` (its ``crawl_runs`` row exists already)."""

    #: The messages a crawl process may send (see :meth:`handle`).
    WRITES = frozenset({"capture", "failure", "seen", "missing", "bulletin", "outcomes",
                        "archived_attachments", "attachment", "update_run", "finish"})

    def __init__(self, archive_path: str, run_id: int, warc_path: str, software: str,
                 commit_interval: float):
        self.db = open_archive(archive_path)
        self.run_id = run_id
        self.files = Path(archive_path).parent / "files"
        self.warc = WarcCaptureWriter(Path(warc_path), software=software)
        self.commit_interval = commit_interval
        self.pending_index = PendingIndex()
        self.counts = {"new": 0, "changed": 0, "unchanged": 0, "refused": 0, "removed": 0}
        self.broken: str | None = None
        self._last_commit = time.monotonic()
        self.db.conn.execute("BEGIN")

    # --- batches (the worker-service interface, see crawler.worker) -------------------
    def seconds_idle(self) -> float | None:
        """Until the batch is due (after a failed write nothing is due any more)."""
        if self.broken is not None:
            return None
        return max(0.0, self.commit_interval - (time.monotonic() - self._last_commit))

    def tick(self) -> None:
        """Commit the batch once ``commit_interval`` seconds have passed."""
        if self.broken is None and self.seconds_idle() == 0:
            self.commit()

    def commit(self) -> None:
        """Index the batch's bulletins, commit, and open the next batch."""
        self.pending_index.flush(self.db)
        self.db.conn.commit()
        self.db.conn.execute("BEGIN")
        self._last_commit = time.monotonic()

    def handle(self, method: str, args: tuple[Any, ...]) -> Any:
        """Run write ``method``; if it fails, roll the batch back and refuse what follows."""
        if method not in self.WRITES:
            raise ValueError(f"not a write of the run: {method!r}")
        if self.broken is not None and method != "finish":
            raise WriterBroken(self.broken)
        try:
            return getattr(self, method)(*args)
        except Exception as error:
            self.broken = f"{type(error).__name__}: {error}"
            self.pending_index.entries.clear()
            if self.db.conn.in_transaction:
                self.db.conn.rollback()
            raise

    # --- writes ---------------------------------------------------------------------
    def capture(self, capture_id: int, kind: str, url: str, method: str,
                request_headers: list[tuple[str, str]], status: int,
                response_headers: list[tuple[str, str]], body: bytes, fetched_at: str,
                content_type: str) -> None:
        """One exchange into the WARC file, and its ``captures`` row under ``capture_id``."""
        location = self.warc.write(
            url, method=method, request_headers=request_headers, status=status,
            response_headers=response_headers, body=body, fetched_at=fetched_at)
        insert_row(self.db, "captures", {
            "id": capture_id, "run_id": self.run_id, "url": url, "kind": kind, "status": status,
            "fetched_at": fetched_at, "content_type": content_type,
            "warc_file": location.warc_file, "warc_offset": location.offset,
            "warc_length": location.length, "payload_sha256": location.payload_sha256,
        })

    def failure(self, url: str, kind: str, reason: str, at: str) -> None:
        insert_row(self.db, "run_failures",
            {"run_id": self.run_id, "url": url, "kind": kind, "reason": reason, "at": at})

    def seen(self, url: str, at: str) -> None:
        mark_seen(self.db, url, at)

    def missing(self, urls: list[str], at: str) -> None:
        self.counts["removed"] += mark_missing(self.db, urls, at)

    def bulletin(self, record: BulletinRecord, capture: Capture, requested_url: str) -> Outcome | Refused:
        """Store the record (versions, structure, index); remember the listed URL it came from.

        A page that does not prove it is the bulletin (:mod:`pipelines.guard`) is recorded as a
        failure instead, and the archived row stays as it was.
        """
        refusal = replacement_refusal(archived_bulletin(self.db, record.url), asdict(record))
        if refusal:
            self.failure(record.url, "bulletin", refusal, record.fetched_at)
            self.counts["refused"] += 1
            return "refused"
        outcome = save_bulletin(self.db, record, capture, self.pending_index)
        if requested_url and requested_url != record.url:
            save_alias(self.db, requested_url, record.url, record.fetched_at)
        self.counts[outcome] += 1
        return outcome

    def outcomes(self) -> dict[str, int]:
        """Bulletins new, changed, unchanged and marked removed so far in this run."""
        return dict(self.counts)

    def archived_attachments(self, bulletin_url: str, attachments: list[Attachment]) -> list[str]:
        """URLs of these attachments of a bulletin archived already (now linked to it too)."""
        return [attachment.url for attachment in attachments
                if self._link_archived(attachment.url, bulletin_url, attachment.name)]

    def _link_archived(self, url: str, bulletin_url: str, name: str) -> bool:
        """Whether the file at ``url`` is archived already (then linked to this bulletin too)."""
        stored = next(self.db.query(
            "select * from attachments where url = ? order by bulletin_url = ? desc limit 1",
            [url, bulletin_url]), None)
        if stored is not None and stored["bulletin_url"] != bulletin_url:
            upsert_row(self.db, "attachments", {**stored, "bulletin_url": bulletin_url, "name": name},
                       ATTACHMENT_KEY)
        return stored is not None

    def attachment(self, bulletin_url: str, url: str, name: str, mime_type: str, body: bytes,
                   fetched_at: str, capture_id: int | None) -> None:
        """The file under ``files/`` by content hash (never by the name the page gives it)."""
        sha256 = hashlib.sha256(body).hexdigest()
        relative = stored_name(sha256, url)
        _write_once(self.files / relative, body)
        upsert_row(self.db, "attachments", {
            "bulletin_url": bulletin_url, "url": url, "name": name, "mime_type": mime_type,
            "size": len(body), "sha256": sha256, "path": f"files/{relative}",
            "fetched_at": fetched_at, "capture_id": capture_id,
        }, ATTACHMENT_KEY)

    def update_run(self, values: dict[str, Any]) -> None:
        self.db["crawl_runs"].update(self.run_id, values)

    def finish(self, values: dict[str, Any]) -> None:
        """The run's final row; commit; close.

        Also after a failed write (the batch is gone then, but the run's outcome is kept).
        """
        self.update_run(values)
        if self.broken is None:
            self.pending_index.flush(self.db)
        self.db.conn.commit()
        self._release()

    def close(self) -> None:
        """Without :meth:`finish` (the crawl process went away): keep what is complete."""
        if self.broken is None and self.db.conn.in_transaction:
            self.pending_index.flush(self.db)
            self.db.conn.commit()
        self._release()

    def _release(self) -> None:
        self.warc.close()
        self.db.conn.close()
