"""Export an archive table to CSV, JSON Lines or Parquet, streaming, atomically.

One pipeline serves every table and format: a filtered ``SELECT`` is read in batches from
the cursor (never ``fetchall``) and handed to a small per-format writer, so memory stays
flat whatever the archive's size. Columns and the primary key come from the database,
so a column added to the schema is exported without touching this module; only the
Parquet/Frictionless *type* of a column is declared here (:data:`COLUMN_KINDS`).

The file is written under a temporary name beside the output and renamed at the end, so
an interrupted or failed export never leaves a half-written file under the final name
(and an older export there survives). A ``datapackage.json`` describing the file is
updated next to it (:mod:`archive.datapackage`).
"""
from __future__ import annotations

import csv
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

from archive import datapackage

FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet")
SUFFIXES: dict[str, str] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}

#: Rows per batch read from SQLite, and per Parquet row group: bounds memory (a batch of
#: typical bulletins is a few MB of Python strings) while keeping row groups useful.
DEFAULT_BATCH_ROWS = 1000

#: Declared type of columns whose text in SQLite stands for something richer; keyed by
#: column name, for every table. Other columns get a kind from their SQLite type.
COLUMN_KINDS: dict[str, str] = {
    "published": "date",
    "issued": "date",
    "date": "date",
    "fetched_at": "timestamp",
    "first_seen": "timestamp",
    "last_seen": "timestamp",
    "missing_since": "timestamp",
    "seen_at": "timestamp",
    "started_at": "timestamp",
    "finished_at": "timestamp",
    "attachments": "attachments",
    "documents": "string_list",
}

#: Column the ``since``/``until`` filters apply to, per table (default ``published``).
DATE_FILTER_COLUMNS: dict[str, str] = {"bulletins": "published", "meetings": "date"}
#: Tables whose rowids :func:`archive.search.matching_rowids` returns.
SEARCHABLE_TABLES: frozenset[str] = frozenset({"bulletins"})

FRICTIONLESS_TYPES: dict[str, str] = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "date": "date",
    "timestamp": "datetime",
    "attachments": "array",
    "string_list": "array",
}


class ExportError(ValueError):
    """Bad input to an export (format, dates, table, output path): the user can fix it."""


@dataclass(frozen=True)
class Column:
    """A table column as exported: its name, declared kind, and constraints."""

    name: str
    kind: str
    not_null: bool = False
    primary_key: bool = False


@dataclass(frozen=True)
class ExportResult:
    """What an export produced, for the summary line and for callers."""

    table: str
    format: str
    path: Path
    rows: int
    seconds: float
    datapackage: Path
    filters: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float(self.rows)

    def summary(self) -> str:
        return f"exported {self.rows:,} rows of {self.table} to {self.path} in {self.seconds:.1f} s"


# --- input checking -----------------------------------------------------------------------


def parse_date(value: str | date | None, option: str = "date") -> str | None:
    """ISO ``YYYY-MM-DD`` for a user-given date, so it compares correctly with stored text."""
    if value is None or isinstance(value, date):
        return value.isoformat() if value else None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise ExportError(f"{option}: {value!r} is not a date (expected YYYY-MM-DD)") from None


def format_for(fmt: str | None, output: str | Path) -> str:
    """The export format: as given, else guessed from the output's suffix."""
    if fmt is None:
        guessed = SUFFIXES.get(Path(output).suffix.lower())
        if guessed is None:
            raise ExportError(f"cannot tell the format from {output}; give --format ({'|'.join(FORMATS)})")
        return guessed
    if fmt.lower() not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    return fmt.lower()


def exportable_tables(db: sqlite_utils.Database) -> list[str]:
    """Ordinary tables of the archive (not SQLite internals, FTS virtual or shadow tables)."""
    rows = db.execute(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    return [name for (name,) in rows]


def table_columns(db: sqlite_utils.Database, table: str) -> list[Column]:
    """The table's columns in order, from the database itself so new columns are included."""
    if table not in exportable_tables(db):
        raise ExportError(f"no table {table!r} to export (have: {', '.join(exportable_tables(db))})")
    columns = []
    for _cid, name, declared, not_null, _default, pk in db.execute(
        f"PRAGMA table_info({_quote(table)})"
    ).fetchall():
        kind = COLUMN_KINDS.get(name) or _kind_of_sqlite_type(declared)
        columns.append(Column(name, kind, bool(not_null), pk > 0))
    return columns


def primary_key(db: sqlite_utils.Database, table: str) -> list[str]:
    """Primary-key columns in key order (empty for a rowid table)."""
    info = db.execute(f"PRAGMA table_info({_quote(table)})").fetchall()
    return [row[1] for row in sorted((row for row in info if row[5] > 0), key=lambda row: row[5])]


def _kind_of_sqlite_type(declared: str) -> str:
    """SQLite's type-affinity rules, reduced to the kinds we export."""
    declared = (declared or "").upper()
    if "INT" in declared:
        return "integer"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB")):
        return "number"
    return "string"


def _check_output(output: Path) -> None:
    """Fail before any work if the output cannot be written where asked."""
    directory = output.parent
    if output.name == datapackage.PACKAGE_FILENAME:
        raise ExportError(f"{output}: that name is reserved for the data package description")
    if output.is_dir():
        raise ExportError(f"{output} is a directory; give a file name")
    if not directory.is_dir():
        raise ExportError(f"output directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ExportError(f"output directory {directory} is not writable")


# --- value conversion (per column kind) ---------------------------------------------------


def _decode_json(value: Any) -> Any:
    """Stored JSON text as a value; NULL/empty as None; undecodable text kept verbatim."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _to_date(value: Any) -> date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _to_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _to_attachments(value: Any) -> list[dict[str, str | None]] | None:
    decoded = _decode_json(value)
    if not isinstance(decoded, list):
        return None
    return [
        {"name": _text(item.get("name")), "url": _text(item.get("url"))}
        for item in decoded
        if isinstance(item, dict)
    ]


def _to_string_list(value: Any) -> list[str | None] | None:
    decoded = _decode_json(value)
    if not isinstance(decoded, list):
        return None
    return [_text(item) for item in decoded]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _to_int(value: Any) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def _to_float(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


#: For JSON Lines: kinds whose stored text is itself JSON and is decoded.
JSON_DECODERS: dict[str, Callable[[Any], Any]] = {"attachments": _decode_json, "string_list": _decode_json}
#: For Parquet: per-value conversion to what the Arrow type expects. Used only when the
#: values do not convert as they are (so clean string/int columns stay on the fast path).
ARROW_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": _text,
    "integer": _to_int,
    "number": _to_float,
    "date": _to_date,
    "timestamp": _to_timestamp,
    "attachments": _to_attachments,
    "string_list": _to_string_list,
}
#: Kinds that always need conversion (their SQLite text never converts as it is).
ALWAYS_CONVERT: frozenset[str] = frozenset({"date", "timestamp", "attachments", "string_list"})


def arrow_type(kind: str) -> Any:
    """The Arrow type of a column kind (pyarrow imported only when Parquet is asked for)."""
    import pyarrow as pa

    return {
        "string": pa.string(),
        "integer": pa.int64(),
        "number": pa.float64(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "attachments": pa.list_(pa.struct([("name", pa.string()), ("url", pa.string())])),
        "string_list": pa.list_(pa.string()),
    }[kind]


# --- writers: one per format, each only what that format needs ----------------------------

#: Write buffer of the text formats: fewer system calls for files of hundreds of MB.
_BUFFER = 1 << 20


class Writer(Protocol):
    """Receives batches of row tuples (in column order) and finishes the file on ``close``."""

    def write(self, rows: list[tuple]) -> None: ...

    def close(self) -> None: ...


class CsvWriter:
    """UTF-8 with BOM (so Excel reads Chinese), header row, quoting for newlines/tabs/quotes."""

    def __init__(self, path: Path, columns: list[Column]):
        self._file = open(path, "x", encoding="utf-8-sig", newline="", buffering=_BUFFER)
        self._csv = csv.writer(self._file, dialect="excel")  # "," / '"' doubled / CRLF
        self._csv.writerow([column.name for column in columns])

    def write(self, rows: list[tuple]) -> None:
        self._csv.writerows(rows)

    def close(self) -> None:
        self._file.close()


class JsonlWriter:
    """One JSON object per line, Chinese kept readable; JSON-in-text columns decoded."""

    def __init__(self, path: Path, columns: list[Column]):
        self._file = open(path, "x", encoding="utf-8", newline="\n", buffering=_BUFFER)
        self._names = [column.name for column in columns]
        self._decoders = [
            (index, JSON_DECODERS[column.kind])
            for index, column in enumerate(columns)
            if column.kind in JSON_DECODERS
        ]

    def write(self, rows: list[tuple]) -> None:
        self._file.writelines(f"{json.dumps(self._record(row), ensure_ascii=False)}\n" for row in rows)

    def _record(self, row: tuple) -> dict[str, Any]:
        record = dict(zip(self._names, row))
        for index, decode in self._decoders:
            record[self._names[index]] = decode(row[index])
        return record

    def close(self) -> None:
        self._file.close()


class ParquetWriter:
    """Typed columns (dates, UTC timestamps, attachment structs); one row group per batch."""

    def __init__(self, path: Path, columns: list[Column]):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self._columns = columns
        self._schema = pa.schema(
            [
                pa.field(column.name, arrow_type(column.kind), nullable=not column.not_null)
                for column in columns
            ]
        )
        self._writer = pq.ParquetWriter(path, self._schema, compression="zstd")

    def write(self, rows: list[tuple]) -> None:
        pa = self._pa
        arrays = []
        for column, values, arrow_field in zip(self._columns, zip(*rows), self._schema):
            if column.kind not in ALWAYS_CONVERT:
                try:
                    arrays.append(pa.array(values, type=arrow_field.type))
                    continue
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    pass  # mixed types in an SQLite column: convert value by value
            convert = ARROW_CONVERTERS[column.kind]
            arrays.append(pa.array([convert(value) for value in values], type=arrow_field.type))
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self._schema))

    def close(self) -> None:
        self._writer.close()


WRITERS: dict[str, Callable[[Path, list[Column]], Writer]] = {
    "csv": CsvWriter,
    "jsonl": JsonlWriter,
    "parquet": ParquetWriter,
}


# --- the pipeline -------------------------------------------------------------------------


def export_table(
    db: sqlite_utils.Database,
    fmt: str | None,
    output: str | Path,
    *,
    table: str = "bulletins",
    since: str | date | None = None,
    until: str | date | None = None,
    site: str | None = None,
    portal: str | None = None,
    query: str | None = None,
    progress: bool = False,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> ExportResult:
    """Write ``table``'s rows matching the filters to ``output`` and describe it in datapackage.json.

    ``since``/``until`` are inclusive bounds on the table's date column (``published``),
    ``site`` and ``portal`` are exact matches, ``query`` a full-text search (bulletins only). Raises
    :class:`ExportError` for input the caller can fix, before anything is written.
    """
    started = time.perf_counter()
    output = Path(output)
    fmt = format_for(fmt, output)
    since, until = parse_date(since, "--since"), parse_date(until, "--until")
    if since and until and since > until:
        raise ExportError(f"--since {since} is after --until {until}")
    columns = table_columns(db, table)
    key = primary_key(db, table)
    filters = {"since": since, "until": until, "site": site, "portal": portal, "query": query}
    match_table = f"export_match_{secrets.token_hex(4)}"
    where, params = _where(table, {column.name for column in columns}, filters, match_table)
    _check_output(output)
    datapackage.load_package(output.parent)  # refuse a corrupt one before doing the work

    order = ", ".join(_quote(name) for name in key) or "rowid"
    select = f"SELECT {', '.join(_quote(column.name) for column in columns)} FROM {_quote(table)}"
    with _matching(db, query, match_table, progress):
        sql = f"{select}{where} ORDER BY {order}"
        total = _count(db, table, where, params) if progress else None
        rows = _write_atomically(db, sql, params, output, WRITERS[fmt], columns, total, batch_rows)

    fields = [
        datapackage.field_descriptor(
            table, column.name, FRICTIONLESS_TYPES[column.kind],
            required=column.not_null or column.primary_key,
            unique=column.primary_key and len(key) == 1,
        )
        for column in columns
    ]
    resource = datapackage.resource_descriptor(
        table=table, path=output, fmt=fmt, fields=fields, primary_key=key, rows=rows, filters=filters
    )
    package = datapackage.write_resource(output.parent, resource)
    return ExportResult(table, fmt, output, rows, time.perf_counter() - started, package, filters)


def _where(
    table: str, names: set[str], filters: dict[str, Any], match_table: str
) -> tuple[str, list[Any]]:
    """SQL ``WHERE`` for the filters; ``match_table`` is the temp table of search results."""
    clauses: list[str] = []
    params: list[Any] = []
    date_column = DATE_FILTER_COLUMNS.get(table, "published")
    for option, operator in (("since", ">="), ("until", "<=")):
        if filters[option] is not None:
            if date_column not in names:
                raise ExportError(f"--{option}: table {table} has no {date_column} column to filter on")
            clauses.append(f"{_quote(date_column)} {operator} ?")
            params.append(filters[option])
    for option in ("site", "portal"):
        if filters[option] is not None:
            if option not in names:
                raise ExportError(f"--{option}: table {table} has no {option} column")
            clauses.append(f"{option} = ?")
            params.append(filters[option])
    if filters["query"] is not None:
        if table not in SEARCHABLE_TABLES:
            raise ExportError(f"--query: only {', '.join(sorted(SEARCHABLE_TABLES))} can be searched")
        clauses.append(f"rowid IN (SELECT rowid FROM temp.{match_table})")
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


@contextmanager
def _matching(db: sqlite_utils.Database, query: str | None, name: str, progress: bool) -> Iterator[None]:
    """Search results as a temp table of rowids: lets SQL filter and order without holding them."""
    if query is None:
        yield
        return
    from archive.search import index_status, matching_rowids, rebuild_index  # only when used

    status = index_status(db)
    if not status.in_sync:  # rows written without indexing: results would miss them
        bar = _progress_bar(status.rows if progress else None, "indexing")
        rebuild_index(db, (lambda done, _total: bar.update(done - bar.n)) if bar else None)
        if bar is not None:
            bar.close()
    conn = db.conn
    was_in_transaction = conn.in_transaction
    conn.execute(f"CREATE TEMP TABLE {name} (rowid INTEGER PRIMARY KEY)")
    try:
        try:
            rowids = iter(matching_rowids(db, query))
            while chunk := list(islice(rowids, 10_000)):
                conn.executemany(f"INSERT OR IGNORE INTO temp.{name} VALUES (?)", ((r,) for r in chunk))
        except ExportError:
            raise
        except ValueError as error:  # the search's verdict on the query text itself
            raise ExportError(f"--query: {error}") from None
        yield
    finally:
        conn.execute(f"DROP TABLE IF EXISTS temp.{name}")
        if not was_in_transaction and conn.in_transaction:
            conn.commit()


def _count(db: sqlite_utils.Database, table: str, where: str, params: list[Any]) -> int:
    return db.execute(f"SELECT count(*) FROM {_quote(table)}{where}", params).fetchone()[0]


def _write_atomically(
    db: sqlite_utils.Database,
    sql: str,
    params: list[Any],
    output: Path,
    make_writer: Callable[[Path, list[Column]], Writer],
    columns: list[Column],
    total: int | None,
    batch_rows: int,
) -> int:
    """Stream the query into a temp file beside ``output``; rename only once it is complete."""
    temporary = output.with_name(f".{output.name}.{secrets.token_hex(4)}.part")
    bar = _progress_bar(total, "exporting")
    rows = 0
    try:
        try:
            writer = make_writer(temporary, columns)
        except OSError as error:
            raise ExportError(f"cannot write in {output.parent}: {error.strerror or error}") from None
        try:
            # closed before the search temp table is dropped, even on failure
            with closing(db.conn.execute(sql, params)) as cursor:
                while batch := cursor.fetchmany(batch_rows):
                    writer.write(batch)
                    rows += len(batch)
                    if bar is not None:
                        bar.update(len(batch))
                    del batch  # else it lives on while the next one is fetched: twice the memory
        finally:
            writer.close()
        os.replace(temporary, output)
    except BaseException:  # includes KeyboardInterrupt: never leave the .part file behind
        temporary.unlink(missing_ok=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    return rows


def _progress_bar(total: int | None, label: str) -> Any:
    """A tqdm bar on stderr when asked for (the CLI asks only when stderr is a terminal)."""
    if total is None:
        return None
    from tqdm import tqdm

    return tqdm(
        total=total, desc=label, unit=" rows", unit_scale=True, file=sys.stderr, dynamic_ncols=True
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


__all__ = [
    "COLUMN_KINDS",
    "Column",
    "DEFAULT_BATCH_ROWS",
    "ExportError",
    "ExportResult",
    "FORMATS",
    "WRITERS",
    "export_table",
    "exportable_tables",
    "format_for",
    "parse_date",
    "table_columns",
]
