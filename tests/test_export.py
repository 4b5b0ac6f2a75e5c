"""Exports must round-trip the archive exactly, stream, and never leave half-written files."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from archive import datapackage, export
from archive.export import ExportError, export_table
from archive.schema import BULLETIN_COLUMNS, TABLES, open_archive

ROOT = Path(__file__).resolve().parents[1]

SITE_A = "www.gov.cn"
SITE_B = "dbj.nanjing.gov.cn"

ROWS = [
    {
        "url": "https://www.gov.cn/zhengce/content/2020-03/01/content_1.htm",
        "site": SITE_A,
        "index_no": "000014349/2020-00012",
        "doc_no": "国办发〔2020〕6号",
        "publisher": "国务院办公厅",
        "category": "综合政务\\督查",
        "validity": "有效",
        "published": "2020-03-02",
        "issued": "2020-03-01",
        "title": "国务院办公厅关于第七次大督查发现的典型经验做法的通报",
        "body": '各省、自治区、直辖市人民政府，国务院各部委、各直属机构：\n'
                '根据《国务院办公厅关于开展2020年“互联网+督查”工作的通知》，现将有关情况通报如下。\n'
                '地区\t做法\t成效\n北京市\t"接诉即办"\t群众满意率提高, 达到95%',
        "attachments": json.dumps(
            [{"name": "附件1：典型经验做法.docx", "url": "https://www.gov.cn/a1.docx"},
             {"name": "附件2, 问题清单.pdf", "url": "https://www.gov.cn/a2.pdf"}],
            ensure_ascii=False,
        ),
        "fetched_at": "2024-05-01T08:30:00+00:00",
        "source_url": "https://www.gov.cn/zhengce/content/2020-03/01/content_1.htm",
        "list_url": "https://www.gov.cn/zhengce/ducha/index.htm",
    },
    {
        "url": "http://dbj.nanjing.gov.cn/tzgg/202101/t20210105_2.html",
        "site": SITE_B,
        "index_no": "11320100MB1234567X/2021-00003",
        "doc_no": "",
        "publisher": "南京市人民政府督查室",
        "category": "督查通报",
        "validity": "",
        "published": "2021-01-05",
        "issued": None,
        "title": "关于2020年度“12345”热线办理情况的通报",
        "body": "一、总体情况\r\n全年受理诉求“1,234,567”件；\t办结率99.2%。\n\n二、存在问题\n个别单位答复“不及时”。",
        "attachments": "[]",
        "fetched_at": "2024-05-02T09:00:00Z",
        "source_url": "https://dbj.nanjing.gov.cn/tzgg/202101/t20210105_2.html",
        "list_url": "http://dbj.nanjing.gov.cn/tzgg/",
    },
    {
        "url": "https://www.gov.cn/zhengce/content/2022-12/30/content_3.htm",
        "site": SITE_A,
        "index_no": "000014349/2022-00999",
        "doc_no": "国办函〔2022〕130号",
        "publisher": "国务院办公厅",
        "category": "综合政务",
        "validity": "有效",
        "published": "2022-12-30",
        "issued": "",  # an empty date must become NULL in Parquet
        "title": "国务院办公厅关于对2022年落实有关重大政策措施真抓实干成效明显地方予以督查激励的通报",
        "body": "为进一步激发各地干事创业积极性……\n（一）北京市、天津市、河北省。",
        "attachments": None,
        "fetched_at": "2024-05-03T10:15:30.250000+00:00",
        "source_url": "https://www.gov.cn/zhengce/content/2022-12/30/content_3.htm",
        "list_url": "https://www.gov.cn/zhengce/ducha/index.htm",
    },
]


def archive_rows(db) -> list[dict]:
    """The archive's rows in export order (primary key)."""
    return list(db.query("SELECT * FROM bulletins ORDER BY url"))


@pytest.fixture()
def db(tmp_path):
    database = open_archive(tmp_path / "a.db")
    database["bulletins"].insert_all(ROWS)
    yield database
    database.close()


@pytest.fixture()
def out(tmp_path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


# --- each format round-trips -------------------------------------------------------------


def test_csv_has_bom_and_equals_archive(db, out):
    result = export_table(db, "csv", out / "b.csv")
    raw = (out / "b.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(out / "b.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = [{key: "" if value is None else value for key, value in row.items()} for row in archive_rows(db)]
    assert rows == expected
    assert list(rows[0]) == list(BULLETIN_COLUMNS)
    assert result.rows == 3 and result.format == "csv" and result.path == out / "b.csv"


def test_jsonl_decodes_attachments(db, out):
    export_table(db, "jsonl", out / "b.jsonl")
    text = (out / "b.jsonl").read_text(encoding="utf-8")
    assert "国办发〔2020〕6号" in text  # not \u escapes
    records = [json.loads(line) for line in text.splitlines()]
    expected = archive_rows(db)
    for row in expected:
        row["attachments"] = json.loads(row["attachments"]) if row["attachments"] else None
    assert records == expected
    by_doc = {record["doc_no"]: record for record in records}
    assert by_doc["国办发〔2020〕6号"]["attachments"][1]["name"] == "附件2, 问题清单.pdf"
    assert by_doc[""]["attachments"] == [] and by_doc["国办函〔2022〕130号"]["attachments"] is None


def test_parquet_types_and_values(db, out):
    export_table(db, "parquet", out / "b.parquet")
    table = pq.read_table(out / "b.parquet")
    schema = table.schema
    assert schema.names == list(BULLETIN_COLUMNS)
    assert schema.field("published").type == pa.date32()
    assert schema.field("issued").type == pa.date32()
    assert schema.field("fetched_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("attachments").type == pa.list_(
        pa.struct([("name", pa.string()), ("url", pa.string())])
    )
    assert schema.field("body").type == pa.string()
    assert not schema.field("url").nullable

    got = table.to_pylist()
    expected = archive_rows(db)
    for row in expected:
        row["published"] = date.fromisoformat(row["published"])
        row["issued"] = date.fromisoformat(row["issued"]) if row["issued"] else None
        row["fetched_at"] = datetime.fromisoformat(row["fetched_at"]).astimezone(timezone.utc)
        row["attachments"] = json.loads(row["attachments"]) if row["attachments"] else None
    assert got == expected


def test_new_columns_are_exported(db, out):
    db["bulletins"].add_column("word_count", int)
    db.execute("UPDATE bulletins SET word_count = length(body)")
    db.conn.commit()
    export_table(db, "parquet", out / "b.parquet")
    export_table(db, "csv", out / "b.csv")
    table = pq.read_table(out / "b.parquet")
    assert table.schema.field("word_count").type == pa.int64()
    assert sorted(table.column("word_count").to_pylist()) == sorted(len(r["body"]) for r in ROWS)
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    field = package["resources"][0]["schema"]["fields"][-1]
    assert field["name"] == "word_count" and field["type"] == "integer" and field["description"]


def test_other_tables_export_with_their_own_key(db, out):
    db["export_notes"].insert_all(
        [{"id": 2, "seen_at": "2023-04-01T00:00:00Z", "note": "常务会议"}, {"id": 1, "note": "专题会议"}],
        pk="id",
    )
    result = export_table(db, "jsonl", out / "n.jsonl", table="export_notes")
    records = [json.loads(line) for line in (out / "n.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == [1, 2] and result.rows == 2
    export_table(db, "parquet", out / "n.parquet", table="export_notes")
    schema = pq.read_schema(out / "n.parquet")
    assert schema.field("id").type == pa.int64()
    assert schema.field("seen_at").type == pa.timestamp("us", tz="UTC")  # declared by column name
    resource = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))["resources"][0]
    assert resource["schema"]["primaryKey"] == ["id"] and resource["table"] == "export_notes"
    assert all(field["title"] and field["description"] for field in resource["schema"]["fields"])
    with pytest.raises(ExportError, match="no table"):
        export_table(db, "csv", out / "x.csv", table="nope")
    with pytest.raises(ExportError, match="no published column"):
        export_table(db, "csv", out / "x.csv", table="export_notes", since="2020-01-01")


def test_every_table_of_the_archive_exports(db, out):
    for table in export.exportable_tables(db):
        for fmt in export.FORMATS:
            export_table(db, fmt, out / f"{table}.{fmt}", table=table)
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert len(package["resources"]) == 3 * len(export.exportable_tables(db))
    assert "bulletins_fts" not in export.exportable_tables(db)  # FTS tables are not data


def test_structure_tables_have_typed_columns(db, out):
    assert {"meetings", "items"} <= set(export.exportable_tables(db))
    url = ROWS[0]["url"]
    db.execute("DELETE FROM items")
    db.execute("DELETE FROM meetings")
    db["meetings"].insert({"id": 7, "bulletin_url": url, "date": "2020-04-15", "kind": "常务会议"})
    db["items"].insert({"id": 1, "bulletin_url": url, "meeting_id": 7, "subject": "审议《实施方案》。",
                        "documents": json.dumps(["实施方案"], ensure_ascii=False)})
    export_table(db, "parquet", out / "m.parquet", table="meetings", since="2020-04-01")
    export_table(db, "parquet", out / "i.parquet", table="items")
    meetings, items = pq.read_table(out / "m.parquet"), pq.read_table(out / "i.parquet")
    assert meetings.schema.field("date").type == pa.date32()
    assert meetings.column("date").to_pylist() == [date(2020, 4, 15)]
    assert items.schema.field("documents").type == pa.list_(pa.string())
    assert items.column("documents").to_pylist() == [["实施方案"]]


# --- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"since": "2021-01-05"}, {"2021-01-05", "2022-12-30"}),
        ({"until": "2021-01-05"}, {"2020-03-02", "2021-01-05"}),
        ({"since": "2021-01-01", "until": "2021-12-31"}, {"2021-01-05"}),
        ({"site": SITE_A}, {"2020-03-02", "2022-12-30"}),
        ({"site": "gov.cn"}, set()),  # exact, not a suffix match
        ({"since": date(2022, 1, 1), "site": SITE_A}, {"2022-12-30"}),
    ],
)
def test_filters(db, out, filters, expected):
    result = export_table(db, "jsonl", out / "f.jsonl", **filters)
    lines = (out / "f.jsonl").read_text(encoding="utf-8").splitlines()
    assert {json.loads(line)["published"] for line in lines} == expected
    assert result.rows == len(expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": "2021-02-30"}, "not a date"),
        ({"until": "yesterday"}, "not a date"),
        ({"since": "2022-01-01", "until": "2021-01-01"}, "after"),
        ({"fmt": "xlsx"}, "unknown format"),
    ],
)
def test_bad_input_raises_before_writing(db, out, kwargs, message):
    fmt = kwargs.pop("fmt", "csv")
    with pytest.raises(ExportError, match=message):
        export_table(db, fmt, out / "x.csv", **kwargs)
    assert list(out.iterdir()) == []


def test_query_filter(db, out):
    from archive import search

    search.rebuild_index(db)
    result = export_table(db, "jsonl", out / "q.jsonl", query="热线")
    records = [json.loads(line) for line in (out / "q.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["site"] for r in records] == [SITE_B] and result.rows == 1
    export_table(db, "jsonl", out / "q.jsonl", query="督查", site=SITE_A, until="2021-01-01")
    records = [json.loads(line) for line in (out / "q.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["published"] for r in records] == ["2020-03-02"]
    assert not db.conn.in_transaction
    assert [name for (name,) in db.execute("SELECT name FROM temp.sqlite_master")] == []
    resource = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))["resources"][0]
    assert resource["filters"] == {"query": "督查", "site": SITE_A, "until": "2021-01-01"}
    with pytest.raises(ExportError, match="--query"):
        export_table(db, "jsonl", out / "q2.jsonl", query="")
    assert not (out / "q2.jsonl").exists()


# --- datapackage.json ----------------------------------------------------------------------


def test_datapackage_describes_every_column_and_keeps_other_resources(db, out):
    export_table(db, "csv", out / "b.csv", site=SITE_A)
    export_table(db, "parquet", out / "b.parquet")
    export_table(db, "csv", out / "b.csv")  # replaces the first resource, keeps the Parquet one
    package = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    resources = {resource["path"]: resource for resource in package["resources"]}
    assert sorted(resources) == ["b.csv", "b.parquet"]
    csv_resource = resources["b.csv"]
    assert csv_resource["profile"] == "tabular-data-resource"
    assert csv_resource["format"] == "csv" and csv_resource["mediatype"] == "text/csv"
    assert csv_resource["encoding"] == "utf-8"
    assert csv_resource["stats"]["rows"] == 3 and csv_resource["filters"] == {}
    assert csv_resource["bytes"] == (out / "b.csv").stat().st_size
    assert datetime.fromisoformat(csv_resource["created"])
    schema = csv_resource["schema"]
    assert schema["primaryKey"] == ["url"]
    assert [f["name"] for f in schema["fields"]] == list(BULLETIN_COLUMNS)
    documented = {declared.name for declared in TABLES["bulletins"].fields}
    for field in schema["fields"]:
        assert field["name"] in documented, "declare new bulletins columns in archive/schema.py"
        assert field["title"] and field["title"].isascii()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in field["description"])  # Chinese
        assert any(ch.isascii() and ch.isalpha() for ch in field["description"])  # English
    types = {f["name"]: f["type"] for f in schema["fields"]}
    assert types["published"] == "date" and types["fetched_at"] == "datetime"
    assert types["attachments"] == "array" and types["title"] == "string"
    index_no = next(f for f in schema["fields"] if f["name"] == "index_no")
    assert index_no["description"].startswith("索引号 (index number)")
    assert resources["b.parquet"]["mediatype"] == "application/vnd.apache.parquet"


def test_corrupt_datapackage_is_not_clobbered(db, out):
    (out / "datapackage.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(datapackage.DataPackageError):
        export_table(db, "csv", out / "b.csv")
    assert (out / "datapackage.json").read_text(encoding="utf-8") == "{not json"
    assert not (out / "b.csv").exists()


# --- atomic writes -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_failure_mid_export_leaves_no_file(db, out, monkeypatch, fmt):
    original = export.WRITERS[fmt]

    class Exploding(original):  # type: ignore[misc, valid-type]
        def write(self, rows):
            super().write(rows)
            raise RuntimeError("disk on fire")

    monkeypatch.setitem(export.WRITERS, fmt, Exploding)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export_table(db, fmt, out / f"b.{fmt}", batch_rows=1)
    assert list(out.iterdir()) == []  # neither the output, a .part file, nor datapackage.json


def test_failed_export_keeps_previous_file(db, out, monkeypatch):
    export_table(db, "csv", out / "b.csv")
    before = (out / "b.csv").read_bytes()

    def interrupted(self, rows):
        raise KeyboardInterrupt

    monkeypatch.setattr(export.CsvWriter, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_table(db, "csv", out / "b.csv")
    assert (out / "b.csv").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["b.csv", "datapackage.json"]


def test_output_checks(db, tmp_path):
    with pytest.raises(ExportError, match="does not exist"):
        export_table(db, "csv", tmp_path / "missing" / "b.csv")
    with pytest.raises(ExportError, match="is a directory"):
        export_table(db, "csv", tmp_path)
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ExportError, match="not writable"):
            export_table(db, "csv", locked / "b.csv")


# --- streaming -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_db(tmp_path_factory):
    """20,000 rows, ~64 MB of UTF-8 text, mostly in bodies (few columns: keeps tracemalloc fast)."""
    path = tmp_path_factory.mktemp("big") / "big.db"
    database = open_archive(path)
    body = "各地区各部门要认真贯彻落实党中央、国务院决策部署，\t切实抓好督查整改。\n" * 30
    with database.conn:  # plain executemany: sqlite-utils' insert_all is slower for this
        database.conn.executemany(
            "INSERT INTO bulletins (url, site, title, published, body, fetched_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                (f"https://www.gov.cn/c/{n:06d}.htm", SITE_A, f"督查通报第{n}号",
                 f"20{10 + n % 14}-0{1 + n % 9}-1{n % 10}", f"{n}\n{body}", "2024-05-01T08:30:00+00:00")
                for n in range(20_000)
            ),
        )
    text = " + ".join(f"length(CAST(ifnull({name}, '') AS BLOB))" for name in BULLETIN_COLUMNS)
    size = database.execute(f"SELECT sum({text}) FROM bulletins").fetchone()[0]
    yield database, size
    database.close()


@pytest.mark.parametrize("fmt", export.FORMATS)
def test_export_streams_in_constant_memory(big_db, tmp_path, fmt):
    database, data_size = big_db
    tracemalloc.start()
    try:
        result = export_table(database, fmt, tmp_path / f"big.{fmt}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.rows == 20_000
    # A batch of 1,000 rows is 1/20 of the data (Python strings: ~2/3 of its UTF-8 size); holding
    # every row would take more than data_size / 2.
    assert peak < data_size / 8, f"peak {peak:,} B for {data_size:,} B of text"
    if fmt == "parquet":
        metadata = pq.ParquetFile(tmp_path / "big.parquet").metadata
        assert metadata.num_rows == 20_000 and metadata.num_row_groups == 20


# --- command line --------------------------------------------------------------------------

#: name -> (arguments after the defaults, expected exit code, text expected in stdout/stderr)
CLI_CASES = {
    "ok": (["--since", "2021-01-01"], 0, "exported 2 rows"),
    "missing archive": (["--archive", "{tmp}/nowhere.db"], 2, "no archive at"),
    "bad date": (["--since", "2021-31-01"], 2, "--since"),
    "bad format": (["--format", "xlsx"], 2, "unknown format"),
    "missing directory": (["--output", "{tmp}/no/such/dir/b.csv"], 2, "does not exist"),
    "onto the archive": (["--output", "{tmp}/a.db"], 2, "is the archive itself"),
}


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """Run every CLI case at once: each process pays the CLI's start-up time, in parallel."""
    tmp = tmp_path_factory.mktemp("cli")
    database = open_archive(tmp / "a.db")
    database["bulletins"].insert_all(ROWS)
    database.close()
    running = {}
    for name, (args, _, _) in CLI_CASES.items():
        out = tmp / name.replace(" ", "-")
        out.mkdir()
        options = {"--archive": str(tmp / "a.db"), "--format": "csv", "--output": str(out / "b.csv")}
        options.update(zip(args[::2], (arg.replace("{tmp}", str(tmp)) for arg in args[1::2])))
        command = [sys.executable, "-m", "crawler", "export", *[part for pair in options.items() for part in pair]]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        running[name] = (command, process, out)
    done = {}
    for name, (command, process, out) in running.items():
        stdout, stderr = process.communicate(timeout=60)
        done[name] = (subprocess.CompletedProcess(command, process.returncode, stdout, stderr), out)
    return done


def test_cli_exports_and_summarises(cli_runs):
    done, out = cli_runs["ok"]
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("exported 2 rows of bulletins to ") and str(out / "b.csv") in done.stdout
    assert done.stdout.count("\n") == 1
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    assert sorted(p.name for p in out.iterdir()) == ["b.csv", "datapackage.json"]


@pytest.mark.parametrize("case", [name for name in CLI_CASES if name != "ok"])
def test_cli_bad_input_is_one_line_exit_2(cli_runs, case):
    done, out = cli_runs[case]
    _, code, message = CLI_CASES[case]
    assert done.returncode == code
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr and done.stdout == ""
    assert list(out.iterdir()) == []


# --- tables researchers use at once --------------------------------------------------------


@pytest.fixture()
def structured(tmp_path):
    """An archive with parsed meetings, items and units (the replica's seed bulletin) beside ROWS."""
    from crawler.ingest import store_record
    from tests.test_structure import SEED_BODY, record

    database = open_archive(tmp_path / "s.db")
    database["bulletins"].insert_all(ROWS)
    store_record(database, record(SEED_BODY))
    yield database
    database.close()


def test_items_export_carries_meeting_bulletin_and_units(structured, out):
    db = structured
    truth = {row["id"]: row for row in db.query(
        "SELECT i.id, m.date, m.number, b.title, b.published, b.url FROM items i "
        "LEFT JOIN meetings m ON m.id = i.meeting_id JOIN bulletins b ON b.url = i.bulletin_url")}
    units = {}
    for item_id, unit in db.execute("SELECT item_id, unit FROM item_units ORDER BY rowid"):
        units.setdefault(item_id, []).append(unit)
    export_table(db, "jsonl", out / "i.jsonl", table="items")
    records = [json.loads(line) for line in (out / "i.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == sorted(truth)
    for r in records:
        want = truth[r["id"]]
        assert (r["meeting_date"], r["meeting_number"], r["bulletin_title"], r["published"], r["bulletin_url"]) == (
            want["date"], want["number"], want["title"], want["published"], want["url"])
        assert r["units"] == units.get(r["id"], []) and isinstance(r["documents"], list)
    assert any(r["meeting_date"] and r["units"] for r in records)
    export_table(db, "csv", out / "i.csv", table="items")
    with open(out / "i.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["units"] for row in rows] == ["; ".join(units.get(r["id"], [])) for r in records]
    export_table(db, "parquet", out / "i.parquet", table="items")
    table = pq.read_table(out / "i.parquet")
    assert table.schema.field("units").type == pa.list_(pa.string())
    assert table.schema.field("meeting_date").type == pa.date32()
    assert table.column("units").to_pylist() == [r["units"] for r in records]


def test_filters_wherever_they_make_sense(structured, out):
    db = structured
    with_unit = {item_id for (item_id,) in db.execute(
        "SELECT DISTINCT item_id FROM item_units WHERE unit LIKE '%财政局%'")}
    result = export_table(db, "jsonl", out / "u.jsonl", table="items", unit="财政局")
    assert {json.loads(line)["id"] for line in (out / "u.jsonl").read_text(encoding="utf-8").splitlines()} == with_unit
    assert result.rows == len(with_unit) > 0
    assert export_table(db, "jsonl", out / "q.jsonl", table="items", query="不存在的词").rows == 0
    everything = db["items"].count
    assert export_table(db, "jsonl", out / "q.jsonl", table="items", query="粮食", site="www.xianning.gov.cn",
                        since="2020-09-16", until="2020-09-16").rows == everything
    assert export_table(db, "jsonl", out / "q.jsonl", table="items", since="2020-09-17").rows == 0
    view = list(db.query("SELECT * FROM open_items_per_unit"))
    export_table(db, "csv", out / "open.csv", table="open_items_per_unit")
    with open(out / "open.csv", encoding="utf-8-sig", newline="") as handle:
        assert [row["unit"] for row in csv.DictReader(handle)] == [row["unit"] for row in view]
    assert export_table(db, "csv", out / "open.csv", table="open_items_per_unit", unit="财政局").rows == sum(
        "财政局" in row["unit"] for row in view)
    assert export_table(db, "csv", out / "b.csv", publisher="督查室").rows == 1
    assert export_table(db, "csv", out / "b.csv", site="www.gov.cn").rows == 2
    with pytest.raises(ExportError, match="--unit: table bulletins has no unit or units column"):
        export_table(db, "csv", out / "x.csv", unit="财政局")


def test_frictionless_validates_every_format(structured, out):
    """``frictionless validate`` accepts the data package, CSV, JSON Lines and Parquet alike."""
    for table in ("bulletins", "items", "meetings", "item_units", "open_items_per_unit", "items_per_meeting",
                  "versions"):
        for fmt in export.FORMATS:
            export_table(structured, fmt, out / f"{table}.{fmt}", table=table)
    validator = Path(sys.prefix) / "validator"  # pandas, kept off the app's path (see requirements-validator.txt)
    assert validator.is_dir(), "run 'make venv' to install the validator's dependencies"
    env = {**os.environ, "PYTHONPATH": str(validator)}
    done = subprocess.run([sys.executable, "-m", "frictionless", "validate", "--json", "datapackage.json"],
                          cwd=out, env=env, capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    errors = [(task["name"], error["message"]) for task in report["tasks"] for error in task["errors"]]
    assert report["valid"] and not errors and done.returncode == 0, errors[:5]
    assert len(report["tasks"]) == 7 * 3


def test_output_never_clobbers_inputs(db, out, tmp_path):
    archive = tmp_path / "a.db"
    for path in (archive, tmp_path / "a.db-wal"):
        with pytest.raises(ExportError, match="is the archive itself"):
            export_table(db, "csv", path)
    assert db["bulletins"].count == 3
    other = sqlite_utils_database(out / "notes.csv")
    before = (out / "notes.csv").read_bytes()
    for force in (False, True):
        with pytest.raises(ExportError, match="is an SQLite database"):
            export_table(db, "csv", out / "notes.csv", force=force)
    assert (out / "notes.csv").read_bytes() == before and other
    (out / "mine.csv").write_text("my own notes\n", encoding="utf-8")
    with pytest.raises(ExportError, match="not an earlier export.*--force"):
        export_table(db, "csv", out / "mine.csv")
    assert (out / "mine.csv").read_text(encoding="utf-8") == "my own notes\n"
    export_table(db, "csv", out / "mine.csv", force=True)
    export_table(db, "csv", out / "mine.csv")  # now an earlier export: replaced freely
    assert (out / "mine.csv").read_bytes().startswith(b"\xef\xbb\xbfurl,")


def test_a_device_pipe_or_dash_is_refused_and_left_as_it_was(db, out):
    """Renaming the finished export over a pipe or a device would replace it (``/dev/stdout`` once
    became a regular file): refused, ``--force`` or not, and nothing is written beside it."""
    fifo = out / "pipe.csv"
    os.mkfifo(fifo)
    (out / "stdout.csv").symlink_to("/dev/null")  # a link to a device, as /dev/stdout is
    for path in (fifo, out / "stdout.csv"):
        for force in (False, True):
            with pytest.raises(ExportError, match="is not a regular file"):
                export_table(db, "csv", path, force=force)
    assert fifo.is_fifo() and (out / "stdout.csv").resolve() == Path("/dev/null")
    assert sorted(p.name for p in out.iterdir()) == ["pipe.csv", "stdout.csv"]
    path = db.execute("PRAGMA database_list").fetchone()[2]
    done = subprocess.run([sys.executable, "-m", "crawler", "export", "--archive", path, "--format", "csv",
                           "--output", "-"], cwd=out, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "not -" in done.stderr, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["pipe.csv", "stdout.csv"]


def test_exports_into_one_folder_at_once_are_all_listed(db, out, monkeypatch):
    """Two exports describe their files at the same moment: the second waits for the first's
    datapackage.json (both read the same one before, and the last written dropped the other)."""
    load_package, first = datapackage.load_package, threading.Event()

    def slow_load(directory):
        package = load_package(directory)
        if threading.current_thread().name == "first":
            first.set()
            time.sleep(0.5)  # the other export describes its file meanwhile
        return package

    monkeypatch.setattr(datapackage, "load_package", slow_load)
    paths = {"first": out / "a.csv", "second": out / "b.csv"}
    for path in paths.values():
        path.write_text("url\n", encoding="utf-8")

    def export(name: str) -> None:
        if name == "second":
            first.wait(10)
        datapackage.write_resource(out, datapackage.resource_descriptor(
            table="bulletins", path=paths[name], fmt="csv", fields=[], primary_key=["url"], rows=0, filters={}))

    threads = [threading.Thread(target=export, args=(name,), name=name) for name in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    monkeypatch.undo()
    assert datapackage.is_resource(out, "a.csv") and datapackage.is_resource(out, "b.csv")


def sqlite_utils_database(path: Path) -> bool:
    """Make ``path`` an SQLite file (whatever its suffix)."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text)")
    return path.read_bytes().startswith(b"SQLite format 3\x00")


#: An export whose process gets ``sys.argv[3]`` (a signal) just before datapackage.json is written.
_STOPPED_WHILE_LISTED = """
import os, sys
from pathlib import Path
from archive import datapackage
from archive.export import export_table
from archive.schema import open_archive

write_resource = datapackage.write_resource
def stopped_first(directory, resource):
    os.kill(os.getpid(), int(sys.argv[3]))
    return write_resource(directory, resource)
datapackage.write_resource = stopped_first
print(export_table(open_archive(sys.argv[1], create=False), "csv", Path(sys.argv[2])).rows)
"""


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_while_the_finished_file_is_named_and_listed_comes_too_late(db, out, how):
    """Ctrl-C or SIGTERM between the file's rename and its entry in datapackage.json: the export
    completes, named and listed (stopped there, it left a file the user was told is not there, and
    that the folder's description did not list, so exporting it again was refused)."""
    path = db.execute("PRAGMA database_list").fetchone()[2]
    done = subprocess.run([sys.executable, "-c", _STOPPED_WHILE_LISTED, path, str(out / "late.csv"), str(int(how))],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "3", (done.returncode, done.stderr[-2000:])
    assert datapackage.is_resource(out, "late.csv") and (out / "late.csv").read_bytes().startswith(b"\xef\xbb\xbfurl,")
    assert export_table(db, "csv", out / "late.csv").rows == 3  # an earlier export: replaced freely


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_export_leaves_nothing_behind(big_db, tmp_path, how):
    database, _ = big_db
    path = database.execute("PRAGMA database_list").fetchone()[2]
    out = tmp_path / "out"
    out.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", "export", "--archive", path, "--output", str(out / "big.jsonl")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.suffix == ".part" for p in out.iterdir()):
        assert process.poll() is None and time.monotonic() < deadline, "no part file seen"
        time.sleep(0.005)
    process.send_signal(how)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == (130 if how == signal.SIGINT else -how), stderr
    deadline = time.monotonic() + 10  # after SIGKILL/SIGTERM the guardian removes the part file
    while list(out.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list(out.iterdir()) == []
