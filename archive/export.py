"""Export an archive table to CSV, JSON Lines or Parquet, streaming, atomically.

One pipeline serves every table, view and format: a filtered ``SELECT`` is read in batches
from the cursor (never ``fetchall``) and handed to a small per-format writer, so memory stays
flat whatever the archive's size. Columns come from the database, so a column added to the
schema is exported without touching this module; their kinds (hence Parquet/Frictionless
types) from their declaration in :mod:`archive.schema`. ``items`` is exported from the view
``item_details``: each item with its meeting, bulletin and units, so nobody joins by hand.

The file is written as an unnamed temporary file in the output's folder (Linux ``O_TMPFILE``)
and given its name only once complete, so an interrupted, failed or killed export leaves
nothing behind (and an older export there survives). A ``datapackage.json`` describing the
file is updated next to it (:mod:`archive.datapackage`). The output never overwrites the
archive, another SQLite file or, without ``force``, a file that is not an earlier export.
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
from archive.atomic import AtomicFile, stops_held
from archive.schema import KIND_BY_NAME, TABLES
from archive.search.query import site_condition

FORMATS: tuple[str, ...] = ("csv", "jsonl", "parquet")
SUFFIXES: dict[str, str] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}

#: Rows per batch read from SQLite, and per Parquet row group: bounds memory (a batch of
#: typical bulletins is a few MB of Python strings) while keeping row groups useful.
DEFAULT_BATCH_ROWS = 1000

#: Tables exported from a view that carries what a reader needs beside each row.
EXPORTED_FROM: dict[str, str] = {"items": "item_details"}
#: Column the ``since``/``until`` filters apply to, per table (default ``published``).
DATE_FILTER_COLUMNS: dict[str, str] = {
    "meetings": "date", "items_per_meeting": "date", "open_items_per_unit": "latest_published",
}
#: Lists in a CSV cell (CSV has no arrays): joined with this.
CSV_LIST_SEPARATOR = "; "
#: The SQLite file header: such a file is never an export's output.
SQLITE_HEADER = b"SQLite format 3\x00"

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
    """Tables and views of the archive (not SQLite internals, FTS virtual or shadow tables)."""
    rows = db.execute(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    return [name for (name,) in rows]


def _source(table: str) -> str:
    return EXPORTED_FROM.get(table, table)


def table_columns(db: sqlite_utils.Database, table: str) -> list[Column]:
    """The table's columns in order, from the database itself so new columns are included."""
    if table not in exportable_tables(db):
        raise ExportError(f"no table {table!r} to export (have: {', '.join(exportable_tables(db))})")
    source = _source(table)
    declared_table = TABLES.get(source)
    key = primary_key(db, table)
    columns = []
    for _cid, name, declared, not_null, _default, _pk in db.execute(
        f"PRAGMA table_info({_quote(source)})"
    ).fetchall():
        field = declared_table.field(name) if declared_table else None
        kind = field.kind if field else KIND_BY_NAME.get(name) or _kind_of_sqlite_type(declared)
        columns.append(Column(name, kind, bool(not_null), name in key))
    return columns


def primary_key(db: sqlite_utils.Database, table: str) -> list[str]:
    """Primary-key columns in key order (empty for a rowid table; as declared for a view)."""
    source = _source(table)
    info = db.execute(f"PRAGMA table_info({_quote(source)})").fetchall()
    key = [row[1] for row in sorted((row for row in info if row[5] > 0), key=lambda row: row[5])]
    return key or list(TABLES[source].primary_key if source in TABLES else ())


def _kind_of_sqlite_type(declared: str) -> str:
    """SQLite's type-affinity rules, reduced to the kinds we export."""
    declared = (declared or "").upper()
    if "INT" in declared:
        return "integer"
    if any(word in declared for word in ("REAL", "FLOA", "DOUB")):
        return "number"
    return "string"


def _check_output(db: sqlite_utils.Database, output: Path, force: bool) -> None:
    """Fail before any work if the output cannot or must not be written where asked.

    Never the archive (nor its ``-wal``/``-shm``/``.lock`` files) or any SQLite file; an existing
    file only when it is an earlier export (a resource of the folder's ``datapackage.json``) or
    with ``force``.
    """
    directory = output.parent
    if str(output) == "-":  # the shells' "standard output": an export is a file written whole, then renamed
        raise ExportError("export writes a file (with datapackage.json beside it): give a file name, not -")
    if output.name == datapackage.PACKAGE_FILENAME:
        raise ExportError(f"{output}: that name is reserved for the data package description")
    if output.is_dir():
        raise ExportError(f"{output} is a directory; give a file name")
    if output.exists() and not output.is_file():  # a device, a pipe, a socket: renaming over it replaces it
        raise ExportError(f"{output} is not a regular file (a device, pipe or socket); export to a file")
    archive = Path(db.conn.execute("PRAGMA database_list").fetchone()[2] or "")
    if archive.name and output.resolve().parent == archive.resolve().parent and output.name in {
            archive.name, *(archive.name + suffix for suffix in ("-wal", "-shm", "-journal", ".lock"))}:
        raise ExportError(f"{output} is the archive itself; export to another file")
    if output.is_file():
        try:
            with open(output, "rb") as existing:
                header = existing.read(len(SQLITE_HEADER))
        except OSError as error:
            raise ExportError(f"{output}: {error.strerror or error}") from None
        if header == SQLITE_HEADER:
            raise ExportError(f"{output} is an SQLite database; export to another file")
        if not force and not datapackage.is_resource(directory, output.name):
            raise ExportError(f"{output} exists and is not an earlier export; "
                              "give another name, or --force to replace it")
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
    """UTF-8 with BOM (so Excel reads Chinese), header row, quoting for newlines/tabs/quotes;
    lists of text (units, documents) joined with :data:`CSV_LIST_SEPARATOR`."""

    def __init__(self, fd: int, columns: list[Column]):
        self._file = open(fd, "w", encoding="utf-8-sig", newline="", buffering=_BUFFER)
        self._csv = csv.writer(self._file, dialect="excel")  # "," / '"' doubled / CRLF
        self._csv.writerow([column.name for column in columns])
        self._lists = [index for index, column in enumerate(columns) if column.kind == "string_list"]

    def write(self, rows: list[tuple]) -> None:
        if self._lists:
            rows = [self._joined(row) for row in rows]
        self._csv.writerows(rows)

    def _joined(self, row: tuple) -> list:
        cells = list(row)
        for index in self._lists:
            values = _to_string_list(cells[index])
            cells[index] = None if values is None else CSV_LIST_SEPARATOR.join(v or "" for v in values)
        return cells

    def close(self) -> None:
        self._file.close()


class JsonlWriter:
    """One JSON object per line, Chinese kept readable; JSON-in-text columns decoded."""

    def __init__(self, fd: int, columns: list[Column]):
        self._file = open(fd, "w", encoding="utf-8", newline="\n", buffering=_BUFFER)
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

    def __init__(self, fd: int, columns: list[Column]):
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
        self._file = open(fd, "wb")
        self._writer = pq.ParquetWriter(self._file, self._schema, compression="zstd")
        #: Columns with a null somewhere (see :func:`_frictionless_type`).
        self.with_nulls: set[str] = set()

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
        self.with_nulls.update(c.name for c, array in zip(self._columns, arrays) if array.null_count)
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self._schema))

    def close(self) -> None:
        try:
            self._writer.close()
        finally:
            self._file.close()


#: Each takes the open file descriptor it owns (and closes), and the columns.
WRITERS: dict[str, Callable[[int, list[Column]], Writer]] = {
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
    unit: str | None = None,
    publisher: str | None = None,
    force: bool = False,
    progress: bool = False,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> ExportResult:
    """Write ``table``'s rows matching the filters to ``output`` and describe it in datapackage.json.

    Each filter applies where the table has what it filters on: ``since``/``until`` inclusive
    bounds on its date column (``published``, a meeting's ``date``), ``site`` its site or its
    bulletin's (a host matches with any port), ``portal`` its portal (exact), ``query`` a full-text search of its bulletins,
    ``unit`` and ``publisher`` a substring of its units or publisher. Raises :class:`ExportError`
    for input the caller can fix (a filter the table cannot take included), before anything is
    written; ``force`` lets the output replace a file that is not an earlier export.
    """
    started = time.perf_counter()
    output = Path(output)
    fmt = format_for(fmt, output)
    since, until = parse_date(since, "--since"), parse_date(until, "--until")
    if since and until and since > until:
        raise ExportError(f"--since {since} is after --until {until}")
    columns = table_columns(db, table)
    key = primary_key(db, table)
    filters = {"since": since, "until": until, "site": site, "portal": portal, "query": query, "unit": unit,
               "publisher": publisher}
    match_table = f"export_match_{secrets.token_hex(4)}"
    where, params = _where(table, {column.name for column in columns}, filters, match_table)
    _check_output(db, output, force)
    datapackage.load_package(output.parent)  # refuse a corrupt one before doing the work

    source = _quote(_source(table))
    order = f" ORDER BY {', '.join(_quote(name) for name in key)}" if key else ""
    if not key and table in db.table_names():
        order = " ORDER BY rowid"
    select = f"SELECT {', '.join(_quote(column.name) for column in columns)} FROM {source}"

    def describe(rows: int, writer: Writer) -> Path:
        """List the file in the folder's datapackage.json (named together with the file)."""
        with_nulls = getattr(writer, "with_nulls", set())
        fields = [
            datapackage.field_descriptor(
                table, column.name, _frictionless_type(column.kind, fmt, column.name in with_nulls),
                required=column.not_null or column.primary_key,
                unique=column.primary_key and len(key) == 1,
            )
            for column in columns
        ]
        resource = datapackage.resource_descriptor(
            table=table, path=output, fmt=fmt, fields=fields, primary_key=key, rows=rows, filters=filters
        )
        return datapackage.write_resource(output.parent, resource)

    with _matching(db, query, match_table, progress):
        sql = f"{select}{where}{order}"
        total = db.execute(f"SELECT count(*) FROM {source}{where}", params).fetchone()[0] if progress else None
        rows, package = _write_atomically(db, sql, params, output, WRITERS[fmt], columns, total, batch_rows, describe)
    return ExportResult(table, fmt, output, rows, time.perf_counter() - started, package, filters)


def _frictionless_type(kind: str, fmt: str, has_nulls: bool) -> str:
    """The Frictionless type of a column as a validator reads it back from a file of ``fmt``.

    A list of text is an array, except in CSV where its cell joins the values. Frictionless reads
    Parquet through pandas, which turns lists into NumPy arrays (no Frictionless type accepts
    them: ``any``) and integers with nulls into floats with NaN (``number``).
    """
    if kind == "string_list" and fmt == "csv":
        return "string"
    if fmt == "parquet" and kind in ("attachments", "string_list"):
        return "any"
    if fmt == "parquet" and kind == "integer" and has_nulls:
        return "number"
    return FRICTIONLESS_TYPES[kind]


def _where(
    table: str, names: set[str], filters: dict[str, Any], match_table: str
) -> tuple[str, list[Any]]:
    """SQL ``WHERE`` for the filters, on the exported columns; ``match_table`` is the temp table
    of search results (bulletin rowids)."""
    clauses: list[str] = []
    params: list[Any] = []

    def need(option: str, *columns: str) -> str:
        found = next((column for column in columns if column in names), None)
        if found is None:
            raise ExportError(f"--{option}: table {table} has no {' or '.join(columns)} column to filter on")
        return found

    date_column = DATE_FILTER_COLUMNS.get(table, "published")
    for option, operator in (("since", ">="), ("until", "<=")):
        if filters[option] is not None:
            clauses.append(f"{_quote(need(option, date_column))} {operator} ?")
            params.append(filters[option])
    if filters["site"] is not None:
        sql, values = site_condition(_quote(need("site", "site")), filters["site"])
        clauses.append(sql)
        params += values
    if filters["portal"] is not None:
        clauses.append(f"{_quote(need('portal', 'portal'))} = ?")
        params.append(filters["portal"])
    if filters["publisher"] is not None:
        clauses.append(f"instr({_quote(need('publisher', 'publisher'))}, ?) > 0")
        params.append(filters["publisher"])
    if filters["unit"] is not None:
        column = need("unit", "unit", "units")
        clauses.append("instr(unit, ?) > 0" if column == "unit" else
                       "EXISTS (SELECT 1 FROM json_each(units) WHERE instr(json_each.value, ?) > 0)")
        params.append(filters["unit"])
    if filters["query"] is not None:
        matched = f"SELECT rowid FROM temp.{match_table}"
        if table == "bulletins":
            clauses.append(f"rowid IN ({matched})")
        else:
            column = _quote(need("query", "bulletin_url"))
            clauses.append(f"{column} IN (SELECT url FROM bulletins WHERE rowid IN ({matched}))")
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


def _write_atomically(
    db: sqlite_utils.Database,
    sql: str,
    params: list[Any],
    output: Path,
    make_writer: Callable[[int, list[Column]], Writer],
    columns: list[Column],
    total: int | None,
    batch_rows: int,
    describe: Callable[[int, Writer], Path],
) -> tuple[int, Path]:
    """Stream the query into a part file beside ``output``; name it only once complete, and
    ``describe`` it (rows written, the closed writer) with no stop in between.

    Returns the rows written and what ``describe`` returned."""
    bar = _progress_bar(total, "exporting")
    rows = 0
    try:
        target = AtomicFile(output)
    except OSError as error:
        raise ExportError(f"cannot write in {output.parent}: {error.strerror or error}") from None
    try:
        writer = make_writer(target.fileno(), columns)
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
        with stops_held():  # from here the export completes: named and listed, or neither
            target.commit()
            described = describe(rows, writer)
    except BaseException:  # includes KeyboardInterrupt: never leave anything behind
        target.discard()
        raise
    finally:
        if bar is not None:
            bar.close()
    return rows, described


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
