"""Structured supervision items: the parser against the seed and the replica's truth, the
archive tables kept in step with each bulletin, the views and the ``items`` command."""
from __future__ import annotations

import dataclasses
import json
import random
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.schema import open_archive
from archive.structure import list_items
from crawler.cli import main
from crawler.ingest import open_for_ingest, rebuild_structures, store_record
from pipelines.records import BulletinRecord
from pipelines.structure import Structure, cn_number, parse_structure, section_status, split_units
from tests.conftest import run_cli
from tests.replica.corpus import BulletinWriter, MeetingCalendar, body_text

SEED = json.loads((Path(__file__).parent / "replica" / "data" / "seed_bulletin.json").read_text("utf-8"))
SEED_BODY = "\n".join(SEED["paragraphs"])


def as_truth(structure: Structure) -> dict[str, list[dict[str, Any]]]:
    """A parse in the replica truth's shape (the truth has no group_heading; bodies give no deadline)."""
    items = [dataclasses.asdict(item) for item in structure.items]
    for item in items:
        del item["group_heading"]
        assert item.pop("deadline") == ""
    return {"meetings": [dataclasses.asdict(m) for m in structure.meetings], "items": items}


def assert_matches(structure: Structure, truth: dict[str, list[dict[str, Any]]], label: str = "") -> None:
    """Every meeting, item and unit equal to the truth, with a readable first difference."""
    got = as_truth(structure)
    assert got["meetings"] == truth["meetings"], label
    assert len(got["items"]) == len(truth["items"]), label
    for index, (mine, want) in enumerate(zip(got["items"], truth["items"])):
        assert mine == want, f"{label} item {index}: " + repr(
            {key: (mine[key], want[key]) for key in want if mine.get(key) != want[key]})


# --------------------------------------------------------------------------- the seed


def test_seed_bulletin_parses_exactly_as_its_truth():
    assert_matches(parse_structure(SEED_BODY), SEED["structure"], "seed")


def test_seed_pending_items_and_completed_units():
    structure = parse_structure(SEED_BODY)
    pending = [item for item in structure.items if item.status == "pending"]
    assert [(structure.meetings[i.meeting_index].date, structure.meetings[i.meeting_index].number)
            for i in pending] == [("2019-11-21", 16), ("2020-04-15", 5)]
    assert {i.section for i in pending} == {"尚未完全落实事项"}
    done = [item for item in structure.items if item.status == "mostly_done"]
    assert len(done) == 12 and {i.section for i in done} == {"已基本完成事项"}
    assert done[3].units == ["市发改委", "市经信局", "市农业农村局", "市商务局", "市人社局", "市财政局", "市地方金融工作局"]
    assert structure.items[0].subject == "审议《咸宁市粮食收购贷款资金管理办法》的落实情况。"  # trailing 。 kept
    assert structure.items[0].documents == ["咸宁市粮食收购贷款资金管理办法"]


# --------------------------------------------------------------------------- the replica corpus


def generated(count: int, seed: int = 5) -> list[tuple[str, str, dict]]:
    """(label, body, truth) of ``count`` generated documents of every kind, 2019–2025."""
    writer = BulletinWriter(MeetingCalendar(seed))
    kinds = ["meetings", "meetings", "meetings", "work_report", "work_report", "notice", "attachment_only", "news"]
    drafts = []
    for n in range(count):
        rng = random.Random(f"structure/{seed}/{n}")
        kind = kinds[n % len(kinds)]
        draft = writer.draft(rng, kind, date(2019, 1, 1) + timedelta(days=rng.randint(0, 7 * 365)))
        drafts.append((f"{kind} #{n}", body_text(draft.blocks), draft.structure))
    return drafts


CORPUS = generated(400)


def test_every_meeting_item_and_unit_of_generated_bulletins_matches_the_truth():
    for label, body, truth in CORPUS:
        assert_matches(parse_structure(body), truth, label)
    items = [item for _, _, truth in CORPUS for item in truth["items"]]
    assert len(items) > 2000  # not vacuous: every status and both kinds of grouping occur
    assert {item["status"] for item in items} == {"pending", "mostly_done", "done", "other"}
    assert any(item["meeting_index"] is None for item in items)


def test_work_report_items_carry_their_sub_heading():
    label, body, truth = next(c for c in CORPUS if c[0].startswith("work_report"))
    structure = parse_structure(body)
    assert structure.meetings == [] and structure.items
    assert all(item.group_heading and re.match(r"^\([一二三四五六]\)", item.group_heading) for item in structure.items)
    assert {item.status for item in structure.items} == {"other"}


FULL_WIDTH = str.maketrans({"(": "（", ")": "）", ":": "："})


def full_width(value: Any) -> Any:
    """Every string inside ``value`` with full-width parentheses and colon."""
    if isinstance(value, str):
        return value.translate(FULL_WIDTH)
    if isinstance(value, list):
        return [full_width(v) for v in value]
    if isinstance(value, dict):
        return {k: full_width(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("number", ["1、", "1．", "１．", "（1）", "(1)"])
def test_numbering_variants_and_full_width_punctuation(number):
    def renumber(line: str) -> str:
        return re.sub(r"^(\d)\.", lambda m: number.replace("1", m.group(1)).replace("１", chr(0xFF10 + int(m.group(1)))), line)

    body = "\n".join(renumber(p).translate(FULL_WIDTH) for p in SEED["paragraphs"])
    truth = full_width(SEED["structure"])
    assert_matches(parse_structure(body), truth, number)


def glue(paragraphs: list[str], after: re.Pattern[str]) -> str:
    """Join each line matching ``after`` with the next paragraph, as a flawed extraction does."""
    lines: list[str] = []
    for paragraph in paragraphs:
        if lines and after.search(lines[-1]):
            lines[-1] += paragraph
        else:
            lines.append(paragraph)
    return "\n".join(lines)


def test_heading_and_first_item_sharing_a_paragraph():
    headings = re.compile(r"^(?:[一二三四]、\S+事项|.*\d+次常务会议)$")
    body = glue(SEED["paragraphs"], headings)
    assert "一、尚未完全落实事项(一)2019年11月21日市政府第16次常务会议" in body.split("\n")[1]
    assert "常务会议1.审议" in body
    assert_matches(parse_structure(body), SEED["structure"], "glued headings")


def test_item_and_progress_sharing_a_paragraph_and_a_body_on_one_line():
    assert_matches(parse_structure(glue(SEED["paragraphs"], re.compile(r"\)$"))), SEED["structure"], "item+progress")
    assert_matches(parse_structure("".join(SEED["paragraphs"])), SEED["structure"], "one line")


def test_generated_bodies_with_glued_headings():
    for label, body, truth in CORPUS[:120]:
        lines = body.split("\n")
        # status sections only: an unknown one glued to its text (三、有关要求请各…) cannot be told apart
        glued = glue(lines, re.compile(r"(?:^[一二三四]、\S{2,10}事项|\([一二三四五六]\)\d{4}年\S+会议)$"))
        assert_matches(parse_structure(glued), truth, label)


# --------------------------------------------------------------------------- hand-made cases


def test_item_without_units_and_single_meeting_without_ordinal():
    body = "\n".join([
        "一、已落实事项",
        "2021年3月2日市政府第4次常务会议",
        "研究城市停车设施有关事项的落实情况。",
        "已完成停车设施规划编制。",
        "二、正在推进事项",
        "（一）2021年3月9日市政府专题会议",
        "1．审议《咸宁市特色小镇考核办法（试行）》的落实情况。（责任单位：市发改委，市住建局; 市政府办公室（市外事办））",
        "正在修改完善。",
        "2．听取全市金融运行情况汇报。",
    ])
    structure = parse_structure(body)
    assert [dataclasses.astuple(m) for m in structure.meetings] == [
        ("2021-03-02", 4, "常务会议", "2021年3月2日市政府第4次常务会议"),
        ("2021-03-09", None, "专题会议", "（一）2021年3月9日市政府专题会议"),
    ]
    first, second, third = structure.items
    assert (first.status, first.units, first.progress, first.position) == ("done", [], "已完成停车设施规划编制。", 1)
    assert second.status == "pending" and second.section == "正在推进事项"
    assert second.documents == ["咸宁市特色小镇考核办法（试行）"]
    assert second.units == ["市发改委", "市住建局", "市政府办公室（市外事办）"]
    assert (third.position, third.units, third.progress) == (2, [], "")


def test_meeting_headings_in_other_shapes():
    structure = parse_structure("\n".join([
        "一、已落实事项",
        "（一）市政府第十三次全体会议（2020年5月6日）", "审议《咸宁市河湖长制考核办法》的落实情况。（责任单位：市水利和湖泊局）",
        "（二）2021年1月5日市长办公会议", "研究河湖长制有关事项的落实情况。",
    ]))
    assert [(m.date, m.number, m.kind) for m in structure.meetings] == [
        ("2020-05-06", 13, "全体会议"), ("2021-01-05", None, "市长办公会议")]
    assert [(i.meeting_index, i.units) for i in structure.items] == [(0, ["市水利和湖泊局"]), (1, [])]


def test_work_report_with_its_own_sections():
    body = "\n".join([
        "为推动2022年《政府工作报告》确定的各项目标任务落地见效,现将有关情况通报如下:",
        "指标名称\t单位\t年度目标",
        "一、主要指标任务完成情况",
        "（一）经济发展主要预期目标完成情况",
        "1.地区生产总值增长7%左右。",
        "上半年,全市地区生产总值同比增长8.4%。",
        "2.细颗粒物(PM2.5)平均浓度控制在35微克/立方米以内。",
        "2.5万人次参加了监测。",
        "（二）民生改善主要预期目标完成情况",
        "1.城镇新增就业4万人以上。",
        "二、已完成事项",
        "（一）深化改革开放,优化营商环境",
        "实现政务服务事项“一网通办”。(责任单位:市数据局)",
    ])
    structure = parse_structure(body)
    assert structure.meetings == []
    assert [(i.section, i.status, i.group_heading, i.position, i.subject) for i in structure.items] == [
        ("主要指标任务完成情况", "other", "（一）经济发展主要预期目标完成情况", 1, "地区生产总值增长7%左右。"),
        ("主要指标任务完成情况", "other", "（一）经济发展主要预期目标完成情况", 2,
         "细颗粒物(PM2.5)平均浓度控制在35微克/立方米以内。"),
        ("主要指标任务完成情况", "other", "（二）民生改善主要预期目标完成情况", 1, "城镇新增就业4万人以上。"),
        ("已完成事项", "done", "（一）深化改革开放,优化营商环境", 1, "实现政务服务事项“一网通办”。"),
    ]
    assert structure.items[1].progress == "2.5万人次参加了监测。"  # a number, not item 2 again
    assert structure.items[3].units == ["市数据局"]


def test_progress_text_that_only_looks_like_structure_stays_progress():
    body = "\n".join([
        "一、尚未完全落实事项",
        "(一)2020年4月15日市政府第5次常务会议",
        "1.审议《咸宁市地方储备粮管理办法》的落实情况。(责任单位:市发改委)",
        "2020年6月23日召开市政府常务会议研究了办法草案。",
        "1.完成了初稿;",
        "2.征求了意见。",
        "(一)下一步工作。",
        "一、关于起草工作的落实情况,已完成。",
        "2.审议《咸宁市公共租赁住房管理办法》的落实情况。(责任单位:市住建局)",
        "会议研究的事项如下:",
    ])
    structure = parse_structure(body)
    assert len(structure.meetings) == 1
    first, second = structure.items
    assert first.progress.split("\n") == [
        "2020年6月23日召开市政府常务会议研究了办法草案。", "1.完成了初稿;", "2.征求了意见。",
        "(一)下一步工作。", "一、关于起草工作的落实情况,已完成。"]
    assert (second.position, second.units, second.progress) == (2, ["市住建局"], "会议研究的事项如下:")


def test_an_introduction_after_a_meeting_heading_is_not_an_item():
    structure = parse_structure("\n".join([
        "一、已落实事项", "(一)2020年5月6日市政府第6次常务会议", "会议议定事项如下:",
        "1.审议《咸宁市建筑垃圾管理暂行办法》的落实情况。(责任单位:市城管执法委)", "已印发。",
        "2.审议《咸宁市森林防火实施方案》的落实情况。(责任单位:市林业局)",
    ]))
    assert [(i.position, i.units) for i in structure.items] == [(1, ["市城管执法委"]), (2, ["市林业局"])]


def test_text_without_structure_gives_nothing():
    assert parse_structure("") == Structure()
    assert parse_structure("咸宁市人民政府办公室\n2021年7月16日\n1.这不是事项。") == Structure()
    notice = next(c for c in CORPUS if c[0].startswith("notice"))
    assert parse_structure(notice[1]) == Structure()


@pytest.mark.parametrize("text, units", [
    ("市发改委、市财政局、咸宁银保监分局", ["市发改委", "市财政局", "咸宁银保监分局"]),
    (" 市发改委 ，市财政局,市财政局;　市教育局 ", ["市发改委", "市财政局", "市教育局"]),
    ("市政府办公室(市外事办、市侨办)、市发改委", ["市政府办公室(市外事办、市侨办)", "市发改委"]),
    ("", []),
])
def test_split_units(text, units):
    assert split_units(text) == units


@pytest.mark.parametrize("name, status", [
    ("尚未完全落实事项", "pending"), ("正在推进事项", "pending"), ("已基本完成事项", "mostly_done"),
    ("已落实事项", "done"), ("已办结事项", "done"), ("主要指标任务完成情况", "other"),
    ("重点工作推进情况", "other"), ("有关要求", "other"), (None, "other"),
])
def test_section_status(name, status):
    assert section_status(name) == status


def test_cn_number():
    assert [cn_number(t) for t in ("一", "十", "十三", "二十", "二十三", "一百零五", "16", "十十", "x")] == [
        1, 10, 13, 20, 23, 105, 16, None, None]


PIECES = st.sampled_from([
    "一、", "二、", "(一)", "（二）", "1.", "2、", "（1）", "１．", "尚未完全落实事项", "已落实事项", "2020年4月15日",
    "2020年2月30日", "市政府第5次常务会议", "专题会议", "审议《办法》的落实情况。", "(责任单位:", "市财政局、市发改委",
    ")", "）", "。", "\n", "\t", "\u3000", "第十三次", "《", "》", " ",
])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.lists(PIECES, max_size=40).map("".join)))
def test_parse_structure_never_raises(text):
    structure = parse_structure(text)
    for item in structure.items:
        assert item.status in ("pending", "mostly_done", "done", "other")
        assert item.meeting_index is None or 0 <= item.meeting_index < len(structure.meetings)


# --------------------------------------------------------------------------- the archive


URL = "http://www.xianning.gov.cn/xxgk/xxgkml/qtzdgknr/zwdc/202009/t20200916_2183980.shtml"


def record(body: str, url: str = URL, published: str = "2020-09-16") -> BulletinRecord:
    return BulletinRecord(url=url, site="www.xianning.gov.cn", title=SEED["title"], body=body,
                          published=published, fetched_at="2024-01-01T00:00:00+00:00")


def counts(db) -> tuple[int, int, int]:
    return db["meetings"].count, db["items"].count, db["item_units"].count


def test_saving_a_bulletin_fills_and_replaces_its_structure(tmp_path):
    db = open_archive(tmp_path / "archive.db")
    assert store_record(db, record(SEED_BODY)) == "new"
    units = sum(len(item["units"]) for item in SEED["structure"]["items"])
    assert counts(db) == (6, 14, units)
    pending = list(list_items(db, status="pending"))
    assert [(r["meeting_date"], r["meeting_number"], r["units"]) for r in pending] == [
        ("2019-11-21", 16, ["市发改委", "市财政局", "咸宁银保监分局"]), ("2020-04-15", 5, ["市金投集团"])]
    assert store_record(db, record(SEED_BODY)) == "unchanged"
    assert counts(db) == (6, 14, units)

    # the portal corrects the bulletin: its rows are replaced, never duplicated
    changed = SEED_BODY.replace("(责任单位:市金投集团)", "(责任单位:市金投集团、市财政局)")
    assert store_record(db, record(changed)) == "changed"
    assert counts(db) == (6, 14, units + 1)
    assert [r["bulletin_url"] for r in list_items(db, unit="市财政局", status="pending")] == [URL, URL]
    assert db.execute("select count(*) from item_units where item_id not in (select id from items)").fetchone()[0] == 0
    assert db.execute("select count(*) from items where meeting_id not in (select id from meetings)").fetchone()[0] == 0

    store_record(db, record("已无督办事项。"))
    assert counts(db) == (0, 0, 0)


def test_views_answer_open_items_per_unit_and_items_per_meeting(tmp_path):
    db = open_archive(tmp_path / "archive.db")
    store_record(db, record(SEED_BODY))
    open_items = {row["unit"]: row["open_items"] for row in db.query("select * from open_items_per_unit")}
    assert open_items == {"市发改委": 1, "市财政局": 1, "咸宁银保监分局": 1, "市金投集团": 1}
    meetings = {(r["date"], r["number"]): r for r in db.query("select * from items_per_meeting")}
    assert len(meetings) == 5  # 2020-04-15 heads two sections: one row per meeting and bulletin
    row = meetings[("2020-04-15", 5)]
    assert (row["kind"], row["bulletin_url"], row["items"], row["pending"], row["mostly_done"], row["done"]) == (
        "常务会议", URL, 2, 1, 1, 0)

    # a later bulletin reports the粮食 decision done: it is no longer open
    later = "\n".join(["一、已落实事项", SEED["paragraphs"][2], SEED["paragraphs"][3], "已印发。"])
    store_record(db, record(later, url=URL.replace("2183980", "2183999"), published="2020-12-01"))
    open_items = {row["unit"]: row["open_items"] for row in db.query("select * from open_items_per_unit")}
    assert open_items == {"市金投集团": 1}


def test_an_archive_from_before_the_structure_tables_is_filled_when_opened_for_ingest(tmp_path):
    path = tmp_path / "archive.db"
    db = open_archive(path)
    store_record(db, record(SEED_BODY))
    for table in ("item_units", "items", "meetings"):
        db[table].drop()
    db.close()
    assert counts(open_for_ingest(path))[1] == 14
    db = open_archive(path)
    assert rebuild_structures(db) == 1 and counts(db)[1] == 14


# --------------------------------------------------------------------------- the command line


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("items") / "archive.db"
    db = open_archive(path)
    store_record(db, record(SEED_BODY))
    db.close()
    return path


def test_items_command_lists_pending_items(archive):
    result = run_cli("items", "--archive", str(archive), "--status", "pending")
    assert result.returncode == 0, result.stderr
    assert "2019-11-21 第16次常务会议" in result.stdout and "2 item(s)" in result.stdout
    assert "市金投集团" in result.stdout


def test_items_command_json_by_unit(archive):
    result = run_cli("items", "--archive", str(archive), "--unit", "市财政局", "--json")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["meeting_date"], r["meeting_number"], r["status"]) for r in rows] == [
        ("2019-11-21", 16, "pending"), ("2020-05-06", 6, "mostly_done"), ("2020-05-06", 6, "mostly_done")]
    assert {"bulletin_url", "section", "subject", "units", "documents", "progress"} <= set(rows[0])
    assert rows[0]["documents"] == ["咸宁市粮食收购贷款资金管理办法"] and "市财政局" in rows[0]["units"]
    assert "咸宁" in result.stdout  # ensure_ascii=False


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """In-process ``python -m crawler`` (the child-process runs above cover the real entry point)."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_items_command_meeting_date_and_empty_result(archive, capsys):
    code, out, _ = cli(capsys, "items", "--archive", str(archive), "--meeting-date", "2020-04-15", "--json")
    assert code == 0 and [json.loads(line)["section"] for line in out.splitlines()] == ["尚未完全落实事项", "已基本完成事项"]
    code, out, _ = cli(capsys, "items", "--archive", str(archive), "--unit", "市不存在局")
    assert code == 0 and "no items" in out
    code, out, err = cli(capsys, "items", "--archive", str(archive), "--status", "done", "--json")
    assert (code, out) == (0, "") and "no items" in err  # stdout stays valid (empty) JSON Lines


@pytest.mark.parametrize("args, message", [
    (["--status", "finished"], "unknown status"),
    (["--meeting-date", "2020-13-01"], "not a date"),
    (["--archive", "/nonexistent/none.db"], "no archive"),
])
def test_items_command_rejects_bad_input(archive, capsys, args, message):
    code, out, err = cli(capsys, "items", "--archive", str(archive), *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and out == ""


def test_structure_tables_export(archive, tmp_path):
    output = tmp_path / "items.csv"
    result = run_cli("export", "--archive", str(archive), "--table", "items", "--format", "csv", "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert output.read_text("utf-8-sig").count("尚未完全落实事项") == 2


def test_items_unit_filter_matches_part_of_a_name(tmp_path):
    db = open_archive(tmp_path / "archive.db")
    save_bulletin(db, record(SEED_BODY))
    exact = [row["id"] for row in list_items(db, unit="市财政局")]
    db.close()
    result = run_cli("items", "--unit", "财政局", "--json", "--archive", str(tmp_path / "archive.db"))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert exact and len(rows) == len(exact)
    assert all("市财政局" in row["units"] for row in rows)
