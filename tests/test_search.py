"""Full-text search: exact substring semantics (recall and precision 1.0) against a plain scan."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive import search as search_module
from archive.search import planner
from archive.schema import ATTACHMENTS, BULLETIN_COLUMNS, open_archive
from archive.search import (
    FTS_TABLE,
    META_TABLE,
    QueryError,
    count_matches,
    ensure_search_shape,
    fold,
    index_bulletin,
    index_status,
    matching_rowids,
    rebuild_index,
    search,
    tokenize_for_index,
)
from archive.attachments import save_text
from archive.search.tokens import RUN, index_stream
from archive.search import mark
from tests.conftest import on_a_terminal, run_cli

PHRASES = [
    "咸宁市人民政府办公室关于开展2020年第一季度政务督查的通报", "市政府常务会议纪要", "责任单位：市发改委、市财政局",
    "完成投资1.6436亿元", "GDP增长6.5%", "全市GDP增长较快", "5G基站建设提速", "推进PPP项目落地", "iPhone",
    "Wuhan Xianning", "gdp", "督办事项", "督查组", "整改落实到位", "限时办结", "12345热线", "第3季度",
    "咸安区", "通城县", "赤壁市", "崇阳县", "（二）", "《通知》", "NEAR(x) \"AND\" a*b", "title:督查",
    "3.5%", "5g网络", "Ｇｄｐ", "ΑΣ σ", "2021年", "20200", "会议", "督", "查",
]
FILLER = "的一是在不了有和人这中大为上个国以要时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行"
PUBLISHERS = ["咸宁市人民政府办公室", "咸宁市政府督查室", "湖北省人民政府督查室"]
SITES = ["www.xianning.gov.cn", "xxgk.xianning.gov.cn"]
ABSENT = ["咸宁县", "纪要审议", "5G基站拆除", "GDP下降", "1.6436万元", "2019年", "iPad", "督察", "不存在的词", "qzx"]


def make_bulletin(rng: random.Random, number: int) -> dict:
    def text(phrases: int) -> str:
        parts = []
        for _ in range(phrases):
            filler = "".join(rng.choices(FILLER, k=rng.randint(2, 12)))
            parts.append(rng.choice(PHRASES) if rng.random() < 0.6 else filler)
            parts.append(rng.choice(["，", "。", "", " ", "\n", "、", "；", "\t"]))
        return "".join(parts)

    return {
        "url": f"https://www.xianning.gov.cn/zwdc/{number}.html",
        "site": SITES[number % 2],
        "publisher": PUBLISHERS[number % 3],
        "published": f"{2018 + number % 5}-{1 + number % 12:02d}-{1 + number % 28:02d}",
        "title": text(3),
        "body": text(rng.randint(5, 40)),
    }


def add(db: sqlite_utils.Database, row: dict) -> int:
    rowid = db["bulletins"].insert(row).last_rowid
    index_bulletin(db, rowid, row.get("title"), row.get("body"), row.get("published"))
    return rowid


def expected(db: sqlite_utils.Database, query: str) -> set[int]:
    """The definition, by brute force: every word is a substring of the title or of the body."""
    words = query.lower().split()
    return {
        rowid
        for rowid, title, body in db.execute("SELECT rowid, title, body FROM bulletins")
        if all(w in (title or "").lower() or w in (body or "").lower() for w in words)
    }


def match_of(query: str) -> str:
    """The FTS5 expression a query is looked up by."""
    return search_module.parse_query(query).match


def found(db: sqlite_utils.Database, query: str) -> set[int]:
    rowids = set(matching_rowids(db, query))
    assert count_matches(db, query) == len(rowids)
    assert {hit.rowid for hit in search(db, query, limit=None)} == rowids
    return rowids


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[sqlite_utils.Database, Path]:
    path = tmp_path_factory.mktemp("search") / "a.db"
    db = open_archive(path)
    rng = random.Random(20200)
    for number in range(120):
        add(db, make_bulletin(rng, number))
    return db, path


def sample_queries(db: sqlite_utils.Database, rng: random.Random, length: int, count: int) -> list[str]:
    texts = [t for row in db.execute("SELECT title, body FROM bulletins") for t in row if t]
    queries = []
    while len(queries) < count:
        text = rng.choice(texts)
        start = rng.randrange(max(1, len(text) - length))
        query = text[start:start + length]
        if len(query) == length and query.strip() == query and " " not in query:
            queries.append(query)
    return queries


# --- tokenizer and query builder -------------------------------------------------------------


def test_tokenizer_turns_runs_into_bigrams_and_a_last_character() -> None:
    assert tokenize_for_index("咸宁市") == "咸宁 宁市 市"
    assert tokenize_for_index("GDP") == "gd dp p"
    assert tokenize_for_index("GDP增长，2020年") == "gd dp p增 增长 长 20 02 20 0年 年"
    assert tokenize_for_index("1.6436亿元") == "1 64 43 36 6亿 亿元 元"
    assert tokenize_for_index("督") == "督"
    assert tokenize_for_index("") == tokenize_for_index("。，！ _") == ""


def test_the_stream_of_a_large_text_is_its_runs_bigrams() -> None:
    """A large body's stream is made a piece of whole runs at a time into a mapped buffer: it is
    still every run's bigrams and last character, the runs' tokens joined by spaces."""
    rng = random.Random(14)
    words = ["咸宁市", "GDP增长", "2020年", "Σίσυφος", "İstanbul", "5G", "督", "x_y", "😀表"]
    separators = [" ", "，", "\n", "。", "__", "\t", "(", ""]
    text = "".join(rng.choice(words) + rng.choice(separators) for _ in range(60_000))
    assert len(text) > 3 * (1 << 16)
    runs = RUN.findall(fold(text))
    reference = " ".join(" ".join([*map(str.__add__, run, run[1:]), run[-1]]) for run in runs)
    assert bytes(index_stream(text)) == reference.encode("utf-8")
    assert tokenize_for_index(text) == reference


def test_build_match_quotes_bigrams_and_never_passes_user_text() -> None:
    assert match_of("督") == '"督"*'
    assert match_of("常务会议纪要") == '"常务" + "务会" + "会议" + "议纪" + "纪要"'
    assert match_of("GDP增长") == '"gd" + "dp" + "p增" + "增长"'
    assert match_of("咸宁 5G") == '"咸宁" AND "5g"'
    # punctuation inside a word: its longest run narrows the candidates, the rest is checked
    assert match_of("1.6436亿元") == '"64" + "43" + "36" + "6亿" + "亿元"'
    # ... and a run followed by punctuation must end a run in the text (its lone last character)
    assert match_of('NEAR("督查")') == '"ne" + "ea" + "ar" + "r"'
    assert match_of("督查。") == '"督查" + "查"'
    assert match_of("3.5%") == '"3"'
    assert match_of("（）") == ""  # nothing to look up: search scans


@pytest.mark.parametrize("query", ["", "   ", "\u3000", "字" * 101, "a " * 51])
def test_empty_and_too_long_queries_raise_a_value_error(query: str) -> None:
    with pytest.raises(QueryError) as error:
        match_of(query)
    assert isinstance(error.value, ValueError) and str(error.value)


def test_fold_keeps_length_and_ignores_latin_case() -> None:
    for text in ["GDP", "İstanbul", "ΑΣ ΑΣΒ ς", "Ｇｄｐ", "ß"]:
        assert len(fold(text)) == len(text)
    assert fold("GdP") == "gdp" and fold("ΑΣ") == fold("ας") == "ασ"


# --- semantics: recall and precision 1.0 against a plain scan ------------------------------


@pytest.mark.parametrize("length", [1, 2, 3, 4, 6, 9])
def test_sampled_queries_find_exactly_the_bulletins_that_contain_them(archive, length: int) -> None:
    db, _ = archive
    for query in sample_queries(db, random.Random(length), length, 40):
        assert found(db, query) == expected(db, query), query


def test_absent_queries_find_nothing(archive) -> None:
    db, _ = archive
    for query in ABSENT:
        assert found(db, query) == expected(db, query) == set(), query


@pytest.mark.parametrize("query", [
    "5G", "5g", "2020年", "1.6436亿元", "GDP增长", "gdp增长", "Gdp", "iPhone", "IPHONE", "PPP项目", "3.5%",
    "12345热线", "第3季度", "咸宁", "常务会议纪要", "责任单位", "督", "查", "：市发改委", "年第一", "0年", "2020",
    "0200", "wuhan xianning", "ΑΣ", "ας", "ＧＤＰ", "a*b", "title:督查",
])
def test_mixed_queries_match_exactly(archive, query: str) -> None:
    db, _ = archive
    assert found(db, query) == expected(db, query)
    if query in ("5G", "2020年", "1.6436亿元", "GDP增长", "常务会议纪要", "督"):
        assert expected(db, query)


def test_several_words_must_all_appear(archive) -> None:
    db, _ = archive
    for query in ["咸宁 2020年", "督查 GDP增长 5G", "责任单位 1.6436亿元", "赤壁市 通城县", "咸宁 咸宁县"]:
        assert found(db, query) == expected(db, query), query
    both = found(db, "咸宁 5G")
    assert both == found(db, "咸宁") & found(db, "5G")


HOSTILE = ['"', '""', "*", "督查*", '"督查', "AND", "OR", "NOT 督查", "督查 OR 咸宁", "NEAR(", "NEAR(督查 咸宁)",
           "(", ")", "()", "-", "-督查", ":", "title:督查", "{title}:督查", "^督查", "'", "';", ";",
           "'; DROP TABLE bulletins; --", "%", "_", "\\", "\x00", "督\x00查", "\x1b[1m", "😀", "督查😀", "+",
           "a*b", '"AND"', "NEAR(x)", "\udcff", "督\udcff查", "\u200b", "督\u3000查"]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_are_plain_text(archive, query: str) -> None:
    db, _ = archive
    assert found(db, query) == expected(db, query)
    assert db["bulletins"].count == 120  # and nothing was executed


# --- results ---------------------------------------------------------------------------------


def test_hits_carry_a_marked_snippet_cut_from_the_original_text(archive) -> None:
    db, _ = archive
    hits = search(db, "gdp增长", limit=5)
    assert hits
    for hit in hits:
        assert hit.url.startswith("https://") and hit.published and hit.score > 0
        assert len(hit.snippet) <= search_module.SNIPPET_CHARS + 2
        marked = [hit.snippet[s:e] for s, e in hit.snippet_marks]
        marked += [hit.title[s:e] for s, e in hit.title_marks]
        assert marked and all(m.lower() == "gdp增长" for m in marked)
        assert "【GDP增长】" in hit.marked_snippet or "【GDP增长】" in search_module.mark(hit.title, hit.title_marks)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_filters_and_newest_first(archive) -> None:
    db, _ = archive
    rows = {r["rowid"]: r for r in db.query("SELECT rowid, * FROM bulletins")}
    matches = expected(db, "督查")

    def check(**filters) -> None:
        keep = {
            rowid for rowid in matches
            if (filters.get("since") is None or rows[rowid]["published"] >= filters["since"])
            and (filters.get("until") is None or rows[rowid]["published"] <= filters["until"])
            and (filters.get("publisher") is None or filters["publisher"] in rows[rowid]["publisher"])
            and (filters.get("site") is None or rows[rowid]["site"] == filters["site"])
        }
        assert set(matching_rowids(db, "督查", **filters)) == keep
        assert count_matches(db, "督查", **filters) == len(keep)
        hits = search(db, "督查", limit=None, **filters)
        assert {h.rowid for h in hits} == keep

    check(since="2020-01-01")
    check(until="2019-06-30")
    check(since="2019-01-01", until="2020-12-31", site=SITES[0])
    check(publisher="督查室")
    check(publisher=PUBLISHERS[0], site=SITES[1])
    newest = search(db, "督查", limit=10, sort="newest")
    dates = [h.published for h in newest]
    assert dates == sorted(dates, reverse=True) and len(newest) == 10
    assert newest[0].published == max(rows[r]["published"] for r in matches)
    assert all(h.score is None for h in newest)


@pytest.mark.parametrize("bad", [
    {"since": "2020-13-01"}, {"until": "yesterday"}, {"since": "2021-01-01", "until": "2020-01-01"},
    {"sort": "oldest"}, {"limit": 0}, {"publisher": "\udcff"},
])
def test_bad_filters_raise_query_error(archive, bad: dict) -> None:
    db, _ = archive
    with pytest.raises(QueryError):
        search(db, "督查", **bad)


def test_common_words_keep_results_complete(archive, monkeypatch) -> None:
    db, _ = archive
    rows = {r["rowid"]: r["published"] for r in db.query("SELECT rowid, published FROM bulletins")}
    common = len(expected(db, "赤壁市")) + 1  # 督查 is common, 赤壁市 is not
    assert 0 < len(expected(db, "赤壁市 督查")) and len(expected(db, "督查")) > common
    monkeypatch.setattr(planner, "COMMON_DOCS", common)

    def newest(rowids: set[int]) -> list[int]:
        return sorted(rowids, key=lambda r: (rows[r], r), reverse=True)

    def newest_first(query: str, hits: list) -> None:
        assert [h.rowid for h in hits] == newest(expected(db, query))[:len(hits)]

    for sort in ("relevance", "newest"):  # only common words: newest first, unscored
        hits = search(db, "督查", limit=None, sort=sort)
        newest_first("督查", hits)
        assert len(hits) == len(expected(db, "督查")) and all(h.score is None for h in hits)
        newest_first("督查", search(db, "督查", limit=4, sort=sort))
    # the index read backwards: newest first, in order, none twice
    read = planner._newest(db, search_module.parse_query("督查"), search_module.Filters())
    assert [rowid for rowid, _ in read] == newest(expected(db, "督查"))
    ranked = search(db, "赤壁市 督查", limit=None)  # ranked by the uncommon word
    assert {h.rowid for h in ranked} == expected(db, "赤壁市 督查") and all(h.score > 0 for h in ranked)
    newest_first("赤壁市 督查", search(db, "赤壁市 督查", sort="newest"))
    for query in ["督查，", "1.6436亿元 督查", "（二） 督查", "督 查"]:
        for sort in ("relevance", "newest"):
            assert {h.rowid for h in search(db, query, limit=None, sort=sort)} == expected(db, query), query


@pytest.mark.parametrize("sort", ["relevance", "newest"])
def test_a_limited_search_fills_its_limit_when_candidates_need_checking(archive, monkeypatch, sort) -> None:
    db, _ = archive
    for common in (5, 2000):
        monkeypatch.setattr(planner, "COMMON_DOCS", common)
        for query in ["督查，", "督查。", "1.6436亿元", "：市", "NEAR(x)", "3.5%", "（二）", "、", "督查 。", "gdp增长6.5%"]:
            want = expected(db, query)
            hits = search(db, query, limit=3, sort=sort)
            assert len(hits) == min(3, len(want)) and {h.rowid for h in hits} <= want, query


# --- index maintenance -------------------------------------------------------------------


@pytest.fixture()
def small(tmp_path: Path) -> sqlite_utils.Database:
    return open_archive(tmp_path / "a.db")


def test_a_whole_title_pasted_as_the_query_finds_its_bulletin(small) -> None:
    title = "关于2024年10月-2025年3月市政府常务会议纪要尚未落实事项及2025年4月市政府常务会议纪要确定有关事项落实情况的督查通报"
    rowid = add(small, {"url": "https://x/1", "site": "x", "title": title, "body": "现将有关情况通报如下"})
    add(small, {"url": "https://x/2", "site": "x", "title": title[:30], "body": "其他"})
    assert len(title) > 60 and found(small, title) == {rowid}
    assert found(small, f"{title[:20]} {title[-20:]} 通报如下") == {rowid}


def test_updating_a_body_replaces_its_words(small) -> None:
    old = {"url": "https://x/1", "site": "x", "title": "咸宁市督查通报", "body": "市政府常务会议纪要，投资1.6436亿元"}
    rowid = add(small, old)
    add(small, {"url": "https://x/2", "site": "x", "title": "其他", "body": "常务会议"})
    small["bulletins"].update(old["url"], {"body": "5G基站建设，GDP增长"})
    index_bulletin(small, rowid, old["title"], "5G基站建设，GDP增长", previous=(old["title"], old["body"], None))
    assert found(small, "1.6436亿元") == found(small, "会议纪要") == set()
    assert found(small, "常务会议") == {rowid + 1}
    assert found(small, "gdp增长") == found(small, "5G") == found(small, "咸宁") == {rowid}
    small["bulletins"].update(old["url"], {"title": "新标题"})
    index_bulletin(small, rowid, "新标题", "5G基站建设，GDP增长", previous=(old["title"], "5G基站建设，GDP增长", None))
    assert found(small, "咸宁") == set() and found(small, "新标题") == {rowid}
    assert index_status(small).in_sync
    # the index stays consistent: FTS5's own check passes after deletes with the old tokens
    small.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rank) VALUES ('integrity-check', 0)")


def attach(db: sqlite_utils.Database, bulletin_url: str, number: int, text: str) -> str:
    """Link a file with ``text`` to a bulletin, as ingest and the text reader store them."""
    sha256 = f"{number:064x}"
    db["attachments"].insert({"bulletin_url": bulletin_url, "url": f"https://x/files/{number}.pdf",
                              "name": f"附件{number}.pdf", "sha256": sha256})
    save_text(db, sha256, {"text": text, "extractor_version": 1})
    return sha256


def test_attachment_text_is_searched_with_its_bulletin(small) -> None:
    page = add(small, {"url": "https://x/1", "site": "x", "title": "关于督查情况的通报", "body": "具体内容详见附件。",
                       "published": "2021-05-01"})
    other = add(small, {"url": "https://x/2", "site": "x", "title": "其他", "body": "市财政局", "published": "2021-06-01"})
    sha = attach(small, "https://x/1", 1, "一、总体情况\n责任单位:市财政局、市发改委\n完成投资1.6436亿元")
    attach(small, "https://x/1", 2, "附表\t咸安区")
    assert found(small, "市发改委") == {page} and found(small, "1.6436亿元") == {page}
    assert found(small, "市财政局") == {page, other}
    assert found(small, "通报 咸安区") == {page}  # words split between the page and a file
    assert found(small, "发改委 咸安区") == {page}  # and between two files
    assert found(small, "委咸") == found(small, "亿元附表") == set()  # never across two texts
    hit, = search(small, "市发改委")
    assert hit.attachment == {"name": "附件1.pdf", "url": "https://x/files/1.pdf"}
    assert mark(hit.snippet, hit.snippet_marks).count("【市发改委】") == 1
    hit, = search(small, "咸安区 通报")
    assert hit.attachment["url"] == "https://x/files/2.pdf"
    assert {h.rowid: h.attachment for h in search(small, "市财政局")}[other] is None  # the page matched
    # the text read again (a newer extractor): the index forgets the old words
    save_text(small, sha, {"text": "责任单位:市住建局", "extractor_version": 2})
    assert found(small, "市发改委") == set() and found(small, "市住建局") == {page}
    from archive.store import save_bulletin  # the page changes: its row is indexed again, files and all

    row = next(small.query("select * from bulletins where url = 'https://x/1'"))
    save_bulletin(small, {**row, "title": "再改", "published": "2020-01-01"})
    assert found(small, "再改") == found(small, "市住建局") == {page} and found(small, "督查情况") == set()
    assert index_status(small).in_sync
    small.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rank) VALUES ('integrity-check', 0)")
    rebuild_index(small)
    assert found(small, "市住建局") == found(small, "咸安区") == {page}


def test_rows_written_without_indexing_are_reported_and_rebuilt(small) -> None:
    add(small, {"url": "https://x/1", "site": "x", "title": "督查", "body": "咸宁"})
    small["bulletins"].insert({"url": "https://x/2", "site": "x", "title": "督查", "body": "咸宁市"})
    status = index_status(small)
    assert (status.indexed, status.rows, status.in_sync) == (1, 2, False)
    seen: list[tuple[int, int]] = []
    assert rebuild_index(small, lambda done, total: seen.append((done, total))) == 2
    assert seen[-1] == (2, 2) and index_status(small).in_sync
    assert len(found(small, "咸宁")) == 2


def test_a_new_scheme_version_rebuilds_the_index(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.db")
    add(db, {"url": "https://x/1", "site": "x", "title": "督查", "body": "常务会议纪要"})
    db["bulletins"].insert({"url": "https://x/2", "site": "x", "title": "通报", "body": "常务会议纪要"})
    assert ensure_search_shape(db) is False  # same scheme: nothing to do
    db.execute(f"UPDATE [{META_TABLE}] SET value = 'bigram-v0' WHERE key = 'scheme'")
    db.conn.close()
    db = open_archive(tmp_path / "a.db")  # opening the archive notices and reindexes
    assert len(found(db, "会议纪要")) == 2 and index_status(db).in_sync
    assert ensure_search_shape(db) is False


def test_an_archive_from_before_search_gets_indexed(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "old.db")
    db["bulletins"].create(BULLETIN_COLUMNS, pk="url")
    db["bulletins"].insert({"url": "https://x/1", "site": "x", "title": "督查通报", "body": "GDP增长"})
    db.conn.close()
    db = open_archive(tmp_path / "old.db", create=False)
    assert found(db, "gdp增长") == {1} and index_status(db).in_sync


# --- property tests ------------------------------------------------------------------------

ALPHABET = st.sampled_from(list("督查咸宁市常务会议纪要责任单位年亿元GgDdPp5201.6436 ，。:%()\"*-'ΑΣσςİ\x00😀\t"))


def fresh_db() -> sqlite_utils.Database:
    db = sqlite_utils.Database(memory=True)
    db["bulletins"].create(BULLETIN_COLUMNS, pk="url")
    db["attachments"].create(ATTACHMENTS.columns, pk=ATTACHMENTS.primary_key)
    ensure_search_shape(db)
    return db


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.tuples(st.text(ALPHABET, max_size=12), st.text(ALPHABET, max_size=60),
                                st.lists(st.text(ALPHABET, max_size=40), max_size=2)),
                      min_size=1, max_size=6),
       data=st.data())
def test_property_search_equals_substring_scan(texts: list[tuple[str, str, list[str]]], data: st.DataObject) -> None:
    db = fresh_db()
    files = {}
    for number, (title, body, attached) in enumerate(texts):
        rowid = add(db, {"url": f"u{number}", "site": "s", "title": title, "body": body})
        for index, text in enumerate(attached):
            attach(db, f"u{number}", number * 10 + index, text)
        files[rowid] = attached
    sources = [t for title, body, attached in texts for t in (title, body, *attached) if t.strip()]
    for _ in range(5):
        if sources and data.draw(st.booleans()):
            text = data.draw(st.sampled_from(sources))
            start = data.draw(st.integers(0, len(text) - 1))
            query = text[start:start + data.draw(st.integers(1, 8))]
        else:
            query = data.draw(st.text(ALPHABET, min_size=1, max_size=8))
        try:
            parsed = search_module.parse_query(query)
        except QueryError:
            assert not query.strip()
            continue
        want = {  # each word in the title, the body or one of the files
            rowid for rowid, title, body in db.execute("SELECT rowid, title, body FROM bulletins")
            if not parsed.missing(title, body, *files[rowid])
        }
        assert set(matching_rowids(db, query)) == want, (query, texts)
        assert {h.rowid for h in search(db, query, limit=None)} == want


@settings(max_examples=200, deadline=None)
@given(query=st.text(max_size=40))
def test_property_any_text_is_safe(archive, query: str) -> None:
    db, _ = archive
    try:
        match = match_of(query)
    except QueryError:
        assert not query.strip() or len(query.strip()) > search_module.MAX_QUERY_CHARS
        return
    if match:  # FTS5 accepts every expression we build
        db.execute(f"SELECT count(*) FROM [{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH ?", [match])
    parsed = search_module.parse_query(query)
    for hit in search(db, query, limit=5):
        title, body = db.execute("SELECT title, body FROM bulletins WHERE rowid = ?", [hit.rowid]).fetchone()
        assert parsed.matches(title, body)


# --- command line ----------------------------------------------------------------------------


def test_cli_search_text_and_json(archive) -> None:
    _, path = archive
    result = run_cli("search", "GDP增长", "--archive", str(path), "--limit", "3")
    assert result.returncode == 0, result.stderr
    assert "[GDP增长]" in result.stdout and "https://www.xianning.gov.cn/" in result.stdout
    total = count_matches(archive[0], "GDP增长")
    assert total > 3 and result.stderr == ""  # piped: the results alone
    status, _stdout, shown = on_a_terminal("search", "GDP增长", "--archive", str(path), "--limit", "3", stdout_too=True)
    assert status == 0, shown
    assert shown.count("\x1b[1mGDP增长\x1b[0m") >= 3 and shown.rstrip().endswith(
        f"3 of {total} bulletins shown (best first, or newest with --sort newest); --limit {total} shows them all")
    result = run_cli("search", "GDP增长", "--archive", str(path), "--limit", str(2 ** 63))  # more than a slice takes
    assert result.returncode == 0 and result.stdout.count("[GDP增长]") >= total and not result.stderr, result.stderr
    result = run_cli("search", "1.6436亿元", "--archive", str(path), "--json", "--sort", "newest",
                     "--since", "2019-01-01", "--site", SITES[0])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and "亿元" in result.stdout  # ensure_ascii=False
    hits = [json.loads(line) for line in lines]
    wanted = {"url", "title", "published", "issued", "publisher", "site", "portal", "index_no", "doc_no", "category",
              "validity", "attachments", "source_url", "list_url", "first_seen", "last_seen", "snippet", "score"}
    assert all(wanted <= set(h) for h in hits)
    rows = {r["url"]: r for r in open_archive(path).query("SELECT * FROM bulletins")}
    assert all(h[name] == rows[h["url"]][name] for h in hits for name in wanted - {"attachments", "snippet", "score"})
    assert all("【1.6436亿元】" in h["snippet"] or "1.6436亿元" in h["title"] for h in hits)
    assert all(h["published"] >= "2019-01-01" for h in hits)


def test_cli_no_results_and_hostile_text(archive) -> None:
    _, path = archive
    result = run_cli("search", "--archive", str(path), "--", '-"NEAR(咸宁县*) AND \'x\'')
    assert (result.returncode, result.stdout.count("\n")) == (0, 1) and "no bulletins match" in result.stdout
    result = run_cli("search", "不存在的词", "--archive", str(path), "--json")
    assert (result.returncode, result.stdout) == (0, "") and "no bulletins match" in result.stderr


@pytest.mark.parametrize("args", [
    ["督查", "--since", "2020-02-30"], ["   "], ["督查", "--limit", "0"],
    ["督查", "--archive", "/nonexistent/archive.db"],
])
def test_cli_bad_input_is_one_line_and_exit_2(archive, args: list[str]) -> None:
    _, path = archive
    archive_args = [] if "--archive" in args else ["--archive", str(path)]
    result = run_cli("search", *args, *archive_args)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error:")


def test_cli_reindex(tmp_path: Path) -> None:
    db = open_archive(tmp_path / "a.db")
    db["bulletins"].insert({"url": "https://x/1", "site": "x", "title": "督查", "body": "咸宁"})
    db.conn.close()
    result = run_cli("reindex", "--archive", str(tmp_path / "a.db"))
    assert result.returncode == 0 and "indexed 1 bulletins" in result.stdout
    assert found(open_archive(tmp_path / "a.db"), "咸宁") == {1}


def test_cli_filters_that_forgive(tmp_path: Path) -> None:
    """Unknown site/publisher name the known ones; a host matches with any port; quotes explained."""
    db = open_archive(tmp_path / "a.db")
    for number, (site, publisher) in enumerate([("127.0.0.1:8123", "咸宁市人民政府办公室"),
                                                ("www.xianning.gov.cn", "咸宁市政府督查室")]):
        add(db, {"url": f"https://x/{number}", "site": site, "publisher": publisher, "title": "督查通报",
                 "body": "市政府常务会议", "published": f"2021-0{number + 1}-01"})
    db.conn.close()
    archive = ["--archive", str(tmp_path / "a.db")]
    result = run_cli("search", "督查", "--site", "127.0.0.1", "--json", *archive)
    assert result.returncode == 0 and [json.loads(line)["site"] for line in result.stdout.splitlines()] == [
        "127.0.0.1:8123"]
    for option, value, known in [("--site", "127.0.0.2", "127.0.0.1:8123, www.xianning.gov.cn"),
                                 ("--publisher", "财政局", "咸宁市人民政府办公室, 咸宁市政府督查室")]:
        result = run_cli("search", "督查", option, value, *archive)
        assert result.returncode == 2 and result.stdout == "" and result.stderr.count("\n") == 1
        assert result.stderr.startswith("error: ") and f"(known: {known})" in result.stderr
    # the other commands that filter answer an unknown value the same way (they said "nothing", exit 0)
    export = ["export", "--format", "csv", "--output", str(tmp_path / "out.csv")]
    for command, option, value in [(["items"], "--portal", "atlantis"), (["stats"], "--portal", "atlantis"),
                                   (export, "--portal", "atlantis"), (export, "--site", "127.0.0.2"),
                                   (export, "--publisher", "财政局")]:
        result = run_cli(*command, option, value, *archive)
        assert result.returncode == 2 and result.stdout == "" and result.stderr.count("\n") == 1, (command, result)
        assert result.stderr.startswith(f"error: {option}: no bulletin has") and "(known: " in result.stderr
    assert not (tmp_path / "out.csv").exists()
    result = run_cli("search", '"督查"', *archive)
    assert result.returncode == 0 and result.stdout.count("\n") == 1
    assert "no bulletins match" in result.stdout and "try '督查'" in result.stdout


def test_held_index_writes_land_in_key_order_and_stay_consistent(small) -> None:
    """A batch (PendingIndex) writes in key order; two updates of one bulletin keep their order."""
    from archive.search import PendingIndex

    pending = PendingIndex()
    rows = [("https://x/1", "2021-05-01", "咸宁督查"), ("https://x/2", "2019-01-01", "常务会议"),
            ("https://x/3", None, "督查通报")]
    with small.atomic():
        rowids = [small["bulletins"].insert({"url": u, "site": "x", "published": p, "title": t, "body": ""}).last_rowid
                  for u, p, t in rows]
        for rowid, (_, published, title) in zip(rowids, rows):
            index_bulletin(small, rowid, title, "", published, pending=pending)
        small["bulletins"].update("https://x/1", {"published": "2018-01-01", "title": "改后"})
        index_bulletin(small, rowids[0], "改后", "", "2018-01-01", previous=("咸宁督查", "", "2021-05-01"),
                       pending=pending)
        small["bulletins"].update("https://x/1", {"title": "再改"})
        index_bulletin(small, rowids[0], "再改", "", "2018-01-01", previous=("改后", "", "2018-01-01"),
                       pending=pending)
        pending.flush(small)
    assert found(small, "督查") == {rowids[2]} and found(small, "再改") == {rowids[0]}
    assert found(small, "改后") == found(small, "咸宁") == set() and index_status(small).in_sync
    assert [h.rowid for h in search(small, "会议 ", sort="newest")] == [rowids[1]]
    small.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rank) VALUES ('integrity-check', 0)")


def test_held_rewrites_of_an_indexed_bulletin_are_written_once_from_what_the_index_holds(small) -> None:
    """An indexed bulletin changed twice in one batch (its attachments' texts arriving one by one)
    is rewritten once, from the texts indexed before; one changed and changed back is not touched."""
    from archive.search import PendingIndex

    ids = [small["bulletins"].insert({"url": f"https://x/{n}", "site": "x", "published": "2021-05-01",
                                      "title": title, "body": ""}).last_rowid for n, title in ((1, "通报"), (2, "纪要"))]
    index_bulletin(small, ids[0], "通报", "", "2021-05-01")
    index_bulletin(small, ids[1], "纪要", "", "2021-05-01")
    pending = PendingIndex()
    with small.atomic():
        index_bulletin(small, ids[0], "通报", "", "2021-05-01", previous=("通报", "", "2021-05-01", ""),
                       pending=pending, attachments="附件甲")
        index_bulletin(small, ids[0], "通报", "", "2021-05-01", previous=("通报", "", "2021-05-01", "附件甲"),
                       pending=pending, attachments="附件甲\n附件乙")
        index_bulletin(small, ids[1], "纪要", "", "2021-05-01", previous=("纪要", "", "2021-05-01", ""),
                       pending=pending, attachments="附件丙")
        index_bulletin(small, ids[1], "纪要", "", "2021-05-01", previous=("纪要", "", "2021-05-01", "附件丙"),
                       pending=pending, attachments="")
        assert len(pending.entries) == 2
        writes: list[str] = []
        small.conn.set_trace_callback(lambda sql: writes.append(sql) if FTS_TABLE in sql and "INSERT" in sql else None)
        pending.flush(small)
        small.conn.set_trace_callback(None)
    assert len(writes) == 2  # the first bulletin's delete and insert; nothing for the second
    assert set(matching_rowids(small, "附件乙")) == set(matching_rowids(small, "附件甲")) == {ids[0]}
    assert set(matching_rowids(small, "附件丙")) == set() and found(small, "纪要") == {ids[1]}
    assert index_status(small).in_sync
    small.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rank) VALUES ('integrity-check', 0)")


def test_a_long_body_is_stored_and_indexed_as_written(small) -> None:
    """A body longer than a bound value's limit is lent to its write (no copy kept by the cached
    statement): stored as the same text, versioned, and indexed whole."""
    from archive.store import save_bulletin

    body = "\n".join(f"第{n}条，咸宁市督查\x00通报😀" for n in range(20_000))
    assert len(body) > 1 << 16
    row = {"url": "https://x/long", "site": "x", "title": "长通报", "body": body, "published": "2021-05-01",
           "fetched_at": "2026-01-01T00:00:00+00:00"}
    assert save_bulletin(small, row) == "new"
    stored, kind = small.execute("select body, typeof(body) from bulletins where url = 'https://x/long'").fetchone()
    assert (stored, kind) == (body, "text")
    assert small.execute("select body from versions where url = 'https://x/long'").fetchone()[0] == body
    rowid = small.execute("select rowid from bulletins where url = 'https://x/long'").fetchone()[0]
    assert found(small, "第19999条") == found(small, "通报😀") == {rowid} and index_status(small).in_sync
    assert save_bulletin(small, {**row, "body": body + "。"}) == "changed"
    assert small.execute("select body from bulletins where url = 'https://x/long'").fetchone()[0] == body + "。"
