"""A synthetic archive of supervision bulletins for the search and export benchmarks, cached.

Bodies are made of the replica's own bulletin drafts (``tests.replica.corpus``: meeting
follow-ups, 《政府工作报告》 progress reports, notices) joined until a bulletin has at least
:data:`TARGET_CHARS` characters (about 3,000 on average), so the vocabulary, the numbers
(``2020年``, ``5G``, ``PM2.5``) and the repetitiveness are those of real bulletins; a paragraph
of village projects adds the long tail of rare names that the replica's vocabulary lacks. Every row is drawn from its own seeded
``random.Random``, so the same version and size always give the same archive.

The archive is built once under ``benchmarks/.cache/`` as ``archive-v<version>-<rows>.db`` and
reused: bump :data:`GENERATOR_VERSION` whenever the generator changes. Beside it, a JSON file
keeps what the build measured (generation and index build time, sizes). When
``archive.search`` changes its index scheme, only the index is rebuilt (and re-timed).
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import random
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import sqlite_utils

from archive import search
from archive.schema import BULLETIN_COLUMNS, open_archive
from benchmarks.common import CACHE, progress
from tests.replica.corpus import BulletinWriter, MeetingCalendar, body_text

#: Bump when the rows generated change (the cache is keyed by it).
GENERATOR_VERSION = 1
#: Bodies grow draft by draft until they reach this many characters.
TARGET_CHARS = 2_200
CHUNK = 2_000
#: Portals of the synthetic archive: host, publisher, 文号 series.
SITES = (
    ("www.xianning.gov.cn", "咸宁市人民政府办公室", "咸政办发"),
    ("www.xiaogan.gov.cn", "孝感市人民政府督查室", "孝政督"),
    ("www.huangshi.gov.cn", "黄石市人民政府办公室", "黄政办发"),
    ("www.ezhou.gov.cn", "鄂州市政府督查室", "鄂州督"),
    ("www.suizhou.gov.cn", "随州市人民政府办公室", "随政办函"),
)
KINDS = ("meetings", "meetings", "meetings", "work_report", "work_report", "notice")
#: Local detail (counties, towns, villages, projects): the long tail of words real bulletins
#: have and the replica's small vocabulary lacks, so that rare queries exist.
COUNTIES = (
    "咸安区", "嘉鱼县", "赤壁市", "通城县", "崇阳县", "通山县", "孝南区", "云梦县", "应城市", "安陆市",
    "汉川市", "大冶市", "阳新县", "鄂城区", "华容区", "梁子湖区", "曾都区", "广水市", "随县", "黄石港区",
)
NAME_CHARS = (
    "安宝北昌城川大德东丰凤福富岗港高广桂河和红洪湖华桦黄吉家嘉江金锦景静九君康乐莲林柳龙隆芦马梅"
    "美南宁平坪浦七桥青清庆泉仁瑞三沙山上尚石寿双水顺泗松太桃天田铁亭通童湾万旺文西溪霞仙祥新星兴"
    "秀雪岩阳杨洋瑶叶义银永玉园源月云长樟中竹紫"
)
PROJECTS = (
    "污水处理厂", "农贸市场", "安置小区", "中心小学", "卫生院", "产业园", "物流园", "光伏电站", "5G基站",
    "冷链仓储", "养老服务中心", "游客中心", "标准化厂房", "农村饮水工程", "防洪堤", "停车场", "体育公园",
)
FIRST_DAY, LAST_DAY = date(2015, 1, 1), date(2025, 6, 30)

_writer = BulletinWriter(MeetingCalendar(1))


def _local_detail(rng: random.Random) -> str:
    """A paragraph on one to three village projects (``嘉鱼县桦溪镇松林村光伏电站项目…``)."""
    def name() -> str:
        return "".join(rng.choices(NAME_CHARS, k=2))

    return "".join(
        f"{rng.choice(COUNTIES)}{name()}镇{name()}村{rng.choice(PROJECTS)}项目"
        + rng.choice((f"已完成投资{rng.randint(50, 9000)}万元。", "正在开展前期工作。", "已竣工验收。",
                      f"主体工程完成{rng.randint(10, 95)}%。"))
        for _ in range(rng.randint(1, 3)))


def make_row(index: int) -> tuple:
    """Row ``index`` of the archive, in :data:`BULLETIN_COLUMNS` order."""
    rng = random.Random(f"synthetic/{GENERATOR_VERSION}/{index}")
    host, publisher, series = SITES[index % len(SITES)]
    day = FIRST_DAY + timedelta(days=rng.randint(0, (LAST_DAY - FIRST_DAY).days))
    drafts = [_writer.draft(rng, rng.choice(KINDS), day)]
    body = body_text(drafts[0].blocks)
    while len(body) < TARGET_CHARS:
        drafts.append(_writer.draft(rng, rng.choice(KINDS), day))
        body += "\n" + body_text(drafts[-1].blocks)
    body += "\n" + _local_detail(rng)
    docid = 1_000_000 + index
    folder = f"http://{host}/zwgk/zwdc/{day:%Y%m}/"
    url = f"{folder}t{day:%Y%m%d}_{docid}.html"
    attachments = [{"name": name, "url": f"{folder}P0{day:%Y%m%d}{docid}{i}.{ext}"}
                   for i, (name, ext) in enumerate(drafts[0].attachments)]
    fetched = datetime.combine(day + timedelta(days=1), datetime.min.time(), timezone.utc).isoformat()
    values = {
        "url": url, "site": host, "index_no": f"{host.split('.')[1]}/{day.year}-{index % 30000:05d}",
        "doc_no": drafts[0].doc_no or (f"{series}〔{day.year}〕{rng.randint(1, 60)}号" if rng.random() < 0.3 else ""),
        "publisher": publisher, "category": "政务督查", "validity": rng.choice(("有效", "有效", "有效", "失效")),
        "published": day.isoformat(),
        "issued": (day - timedelta(days=rng.randint(1, 10))).isoformat() if rng.random() < 0.4 else None,
        "title": drafts[0].title, "body": body, "attachments": json.dumps(attachments, ensure_ascii=False),
        "fetched_at": fetched, "source_url": url, "list_url": f"http://{host}/zwgk/zwdc/index.html",
        "content_hash": hashlib.sha256(body.encode()).hexdigest(), "first_seen": fetched, "last_seen": fetched,
        "missing_since": None, "capture_id": index + 1, "etag": f'"{docid:x}-{len(body):x}"',
        "last_modified": f"{day:%a, %d %b %Y} 08:00:00 GMT",
    }
    return tuple(values[column] for column in BULLETIN_COLUMNS)


def _make_chunk(bounds: tuple[int, int]) -> list[tuple]:
    return [make_row(index) for index in range(*bounds)]


def generate(rows: int, processes: int) -> Iterator[list[tuple]]:
    """Chunks of rows in order, drafted by ``processes`` workers."""
    bounds = [(start, min(start + CHUNK, rows)) for start in range(0, rows, CHUNK)]
    if processes <= 1:
        yield from map(_make_chunk, bounds)
        return
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        yield from pool.imap(_make_chunk, bounds)


@dataclass
class BuildInfo:
    """What building the cached archive measured."""

    generator_version: int
    rows: int
    mean_chars: float
    generate_seconds: float
    index_seconds: float
    index_bytes: int
    db_bytes: int
    search_scheme: str
    built_at: str


def cache_path(rows: int) -> Path:
    return CACHE / f"archive-v{GENERATOR_VERSION}-{rows}.db"


def _info_path(path: Path) -> Path:
    return path.with_suffix(".json")


def index_bytes(db: sqlite_utils.Database) -> int:
    """Bytes of the full-text index's tables (``dbstat``)."""
    pattern = search.FTS_TABLE + "%"
    return int(db.execute("SELECT total(pgsize) FROM dbstat WHERE name LIKE ?", [pattern]).fetchone()[0])


def _database_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.suffix != ".lock")


def _timed_rebuild(path: Path, rows: int) -> tuple[sqlite_utils.Database, float]:
    """The archive brought to this code's schema and search index, and the seconds it took."""
    step = max(rows // 10, 1)

    def report(done: int, total: int) -> None:
        if done % step < 500 or done == total:
            progress(f"synthetic: indexed {done:,}/{total:,}")

    started = time.perf_counter()
    db = open_archive(path)  # an index of another scheme is rebuilt here
    if not search.index_status(db).in_sync:  # freshly generated rows, not indexed yet
        search.rebuild_index(db, report)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db, time.perf_counter() - started


def _generate_into(path: Path, rows: int) -> tuple[float, float]:
    """Fill a new archive at ``path`` with ``rows`` rows; (seconds, mean body characters)."""
    db = open_archive(path)  # the real schema, with an empty index
    columns = ", ".join(f"[{c}]" for c in BULLETIN_COLUMNS)
    insert = f"INSERT INTO bulletins ({columns}) VALUES ({', '.join('?' * len(BULLETIN_COLUMNS))})"
    body_at = list(BULLETIN_COLUMNS).index("body")
    started, done, chars = time.perf_counter(), 0, 0
    for chunk in generate(rows, processes=min(2, len(os.sched_getaffinity(0)))):
        with db.conn:
            db.conn.executemany(insert, chunk)
        done += len(chunk)
        chars += sum(len(row[body_at]) for row in chunk)
        if done % (rows // 10 or 1) < CHUNK:
            progress(f"synthetic: generated {done:,}/{rows:,} bulletins")
    db.close()
    return time.perf_counter() - started, chars / max(rows, 1)


def warm_page_cache(path: Path) -> None:
    """Read the database files once, so the first benchmark does not pay for a cold disk alone."""
    progress(f"synthetic: reading {path.name} into the page cache")
    for part in path.parent.glob(path.name + "*"):
        with open(part, "rb") as file:
            while file.read(1 << 24):
                pass


def forget_index(rows: int) -> None:
    """Make the next :func:`synthetic_archive` rebuild (and re-time) the index of the cached archive."""
    info_path = _info_path(cache_path(rows))
    if info_path.exists():
        info = json.loads(info_path.read_text())
        info["search_scheme"] = ""
        info_path.write_text(json.dumps(info, ensure_ascii=False, indent=1))


def synthetic_archive(rows: int = 100_000) -> tuple[Path, BuildInfo]:
    """The cached archive of ``rows`` bulletins with an up-to-date index (built when missing)."""
    path = cache_path(rows)
    info_path = _info_path(path)
    info = BuildInfo(**json.loads(info_path.read_text())) if info_path.exists() and path.exists() else None
    if info is None:
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        progress(f"synthetic: generating {rows:,} bulletins into {path} (once; cached afterwards)")
        generate_seconds, mean_chars = _generate_into(path, rows)
        info = BuildInfo(GENERATOR_VERSION, rows, mean_chars, generate_seconds, 0.0, 0, 0, "", "")
        info_path.write_text(json.dumps(asdict(info), ensure_ascii=False, indent=1))  # resume at the index
    if info.search_scheme != search.SCHEME:
        progress(f"synthetic: building the search index over {rows:,} bulletins")
        db, info.index_seconds = _timed_rebuild(path, rows)
        info.index_bytes = index_bytes(db)
        info.search_scheme = search.SCHEME
        info.built_at = datetime.now().astimezone().isoformat(timespec="minutes")
        db.close()
        info.db_bytes = _database_bytes(path)
        info_path.write_text(json.dumps(asdict(info), ensure_ascii=False, indent=1))
    return path, info
