"""Bringing other archives' runs into one: their runs, captures with the WARC files, files, failures.

Why: the workers of a distributed crawl (``crawl --scheduler``) each write an archive of their
own. Merging copies what they fetched (the captures are the archive's ground truth) into the
target; ingesting the copied captures then builds the bulletins, versions, search index, items
and attachments there by the one ingest path (:mod:`crawler.ingest`), so the merged archive is
what one process crawling everything would have built.

A run is copied once: its WARC files (the names its captures give; crawl names are unique) land
in the target's captures under the same name, or, when the target holds another file of that
name, under one carrying the file's content digest (``….<digest>.warc.gz``); a run whose WARC
files the target's captures already name is skipped, so merging the same source twice, or a
source that holds a merge itself, changes nothing. (A run with no capture is known by its row.)
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from archive.layout import ArchiveLayout
from archive.schema import ArchiveError, ArchiveMissing, upsert_row

#: ``<name>.<16 hex>.warc.gz``: a WARC file named by its content digest by an earlier merge.
_DIGESTED = re.compile(r"^(?P<stem>.+?)(?:\.[0-9a-f]{16})?\.warc\.gz$")
#: Columns that identify a run without captures (one that failed before fetching anything).
_RUN_IDENTITY = ("started_at", "finished_at", "mode", "outcome", "start_urls")
#: What an ingested capture becomes in the target: to be ingested there.
_REINGEST = {"ingested": "ready"}


@dataclass
class MergeCounts:
    """What one merge copied (runs already in the target are skipped, not counted)."""

    runs: int = 0
    captures: int = 0
    warc_files: int = 0
    files: int = 0
    skipped_runs: int = 0


@dataclass(frozen=True)
class Source:
    """A source archive, opened read-only."""

    layout: ArchiveLayout
    db: sqlite_utils.Database

    @classmethod
    def open(cls, path: str | Path) -> "Source":
        layout = ArchiveLayout.of(path)
        if not layout.db.is_file():
            raise ArchiveMissing(f"no archive at {path}")
        try:
            conn = sqlite3.connect(f"file:{layout.db}?mode=ro", uri=True)
            tables = {name for (name,) in conn.execute("select name from sqlite_master where type = 'table'")}
        except sqlite3.DatabaseError as error:
            raise ArchiveError(f"cannot open archive {path}: {error}") from None
        if not {"crawl_runs", "captures"} <= tables:
            raise ArchiveError(f"{path} is not an archive (no crawl_runs and captures tables)")
        return cls(layout, sqlite_utils.Database(conn))

    def __enter__(self) -> "Source":
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.conn.close()

    @property
    def files(self) -> Path:
        """Its attachment files (an archive from before per-archive folders kept ``files/``)."""
        return self.layout.files if self.layout.files.is_dir() else self.layout.folder / "files"


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:16]


def merged_name(name: str, digest: str) -> str:
    """``run-00001-….warc.gz`` -> ``run-00001-….<digest>.warc.gz`` (an earlier digest replaced)."""
    match = _DIGESTED.match(name)
    stem = match["stem"] if match else name
    return f"{stem}.{digest}.warc.gz"


def _place(source: Path, target: Path) -> None:
    """``target`` gets ``source``'s bytes: a hard link when both are on one file system."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".part-{os.getpid()}-{target.name}")
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    os.replace(partial, target)


def _columns(db: sqlite_utils.Database, table: str) -> list[str]:
    return list(db[table].columns_dict) if table in db.table_names() else []


def _copy_rows(source: Source, target: sqlite_utils.Database, table: str, where: str, params: list[Any],
               changes: dict[str, Any]) -> list[tuple[int | None, int]]:
    """Rows of ``table`` matching ``where`` into the target, with ``changes`` and new ids.

    Returns ``(source id, target id)`` pairs (no ids for tables without an ``id``).
    """
    wanted = [name for name in _columns(source.db, table) if name in set(_columns(target, table))]
    copied = []
    for row in source.db.query(f"select * from [{table}] where {where} order by rowid", params):
        values = {name: row[name] for name in wanted if name != "id"}
        values.update({name: change(values) if callable(change) else change for name, change in changes.items()})
        cursor = target.conn.execute(
            f"insert into [{table}] ({', '.join(f'[{n}]' for n in values)}) values ({', '.join('?' * len(values))})",
            list(values.values()))
        copied.append((row.get("id"), cursor.lastrowid))
    return copied


def _same_file(one: Path, other: Path) -> bool:
    return one.stat().st_size == other.stat().st_size and _digest(one) == _digest(other)


@dataclass
class _Run:
    """A source run to copy: its row, its WARC files (source path -> name in the target), its id there."""

    source: Source
    row: dict[str, Any]
    warcs: dict[str, tuple[Path, str]]
    run_id: int | None = None

    @classmethod
    def of(cls, source: Source, row: dict[str, Any], target_layout: ArchiveLayout) -> "_Run":
        names = [name for (name,) in source.db.execute(
            "select distinct warc_file from captures where run_id = ? and warc_file is not null", [row["id"]])]
        if not names and row.get("warc_file"):
            names = [row["warc_file"]]
        warcs = {}
        for name in names:
            path = source.layout.warc(name)
            if path.is_file():
                taken = target_layout.captures / name
                warcs[name] = (path, name if not taken.exists() or _same_file(path, taken)
                               else merged_name(name, _digest(path)))
        return cls(source, row, warcs)

    def known_in(self, target: sqlite_utils.Database) -> bool:
        """Whether an earlier merge brought this run into ``target``."""
        if self.warcs:
            return any(target.execute("select 1 from captures where warc_file = ? limit 1", [name]).fetchone()
                       for _, name in self.warcs.values())
        # Known by its row; a source run still "running" was killed (its archive is locked now).
        identity = {**{key: self.row.get(key) for key in _RUN_IDENTITY},
                    "outcome": "killed" if self.row.get("outcome") == "running" else self.row.get("outcome")}
        clause = " and ".join(f"[{key}] is ?" for key in identity)
        return target.execute(f"select 1 from crawl_runs where {clause}", list(identity.values())).fetchone() is not None

    def renamed(self, name: str | None) -> str | None:
        return self.warcs[name][1] if name in self.warcs else name


def _copy_run_row(target: sqlite_utils.Database, target_layout: ArchiveLayout, run: _Run) -> None:
    """The run's WARC files and ``crawl_runs`` row (its id in the target is ``run.run_id``)."""
    for path, name in run.warcs.values():
        _place(path, target_layout.captures / name)
    with target.conn:
        (_, run.run_id), = _copy_rows(run.source, target, "crawl_runs", "id = ?", [run.row["id"]],
                                      {"warc_file": run.renamed(run.row.get("warc_file"))})


def _copy_run_captures(target: sqlite_utils.Database, run: _Run) -> int:
    """The run's captures (to be ingested again), failures and portal verdicts; how many captures."""
    source, old_id = run.source, run.row["id"]
    with target.conn:
        captures = _copy_rows(source, target, "captures", "run_id = ?", [old_id], {
            "run_id": run.run_id,
            "warc_file": lambda row: run.renamed(row["warc_file"]),
            "ingest_state": lambda row: _REINGEST.get(row.get("ingest_state"), row.get("ingest_state")),
        })
        _copy_rows(source, target, "run_failures", "run_id = ?", [old_id], {"run_id": run.run_id})
        if "portal_runs" in source.db.table_names():
            _copy_rows(source, target, "portal_runs", "run_id = ?", [old_id], {"run_id": run.run_id})
    return len(captures)


def _copy_files(source: Source, target_layout: ArchiveLayout, counts: MergeCounts) -> None:
    """Attachment files, by content hash: those the target lacks."""
    if not source.files.is_dir():
        return
    for path in source.files.rglob("*"):
        if path.is_file() and not path.name.startswith(".part-"):
            destination = target_layout.files / path.relative_to(source.files)
            if not destination.exists():
                _place(path, destination)
                counts.files += 1


def copy_sources(target: sqlite_utils.Database, target_layout: ArchiveLayout, sources: list[Source]) -> MergeCounts:
    """Copy every source's runs the target lacks, their captures, the files and portal hosts.

    Run rows go in finished runs first, then those that did not finish (killed, failed…), so
    the target's last run is one that did not finish when any did: its next crawl walks every
    list and fetches what such a run lost. Captures go in by their runs' start, oldest first
    across sources (capture ids follow time, as ingest expects); they are left to be ingested.
    """
    counts = MergeCounts()
    runs: list[_Run] = []
    for source in sources:
        for row in source.db.query("select * from crawl_runs order by id"):
            run = _Run.of(source, row, target_layout)
            if run.known_in(target):
                counts.skipped_runs += 1
            else:
                runs.append(run)
    for run in sorted(runs, key=lambda run: (run.row["outcome"] != "ok", run.row["started_at"] or "")):
        _copy_run_row(target, target_layout, run)
        counts.runs += 1
        counts.warc_files += len(run.warcs)
    for run in sorted(runs, key=lambda run: run.row["started_at"] or ""):
        counts.captures += _copy_run_captures(target, run)
    for source in sources:
        _copy_files(source, target_layout, counts)
        if "portal_hosts" in source.db.table_names():
            with target.conn:
                for row in source.db.query("select host, portal from portal_hosts"):
                    upsert_row(target, "portal_hosts", row, ("host",))
    return counts


def carry_removals(target: sqlite_utils.Database, sources: list[Source]) -> int:
    """Removal marks a source made without a capture (a full pass found the bulletin on no list):
    kept where the target has the bulletin and saw it no later. Returns how many were carried."""
    carried = 0
    with target.conn:
        for source in (source for source in sources if "bulletins" in source.db.table_names()):
            for url, since in source.db.execute(
                    "select url, missing_since from bulletins where missing_since is not null"):
                carried += target.execute(
                    "update bulletins set missing_since = ? where url = ? and missing_since is null"
                    " and last_seen <= ?", [since, url, since]).rowcount
    return carried
