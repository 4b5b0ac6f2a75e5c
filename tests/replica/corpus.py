"""Deterministic synthetic 督查通报 (supervision bulletins) with an exact structure truth.

Why: the replica portal must serve hundreds of bulletins whose wording follows the real
Xianning bulletins closely enough to exercise a later structure parser (status sections,
meeting headings, numbered items with 责任单位, progress paragraphs, work-report targets),
while we know exactly what that parser must find. Everything is drawn from a
``random.Random`` so one seed reproduces the same corpus, and only GBK-encodable
characters are used because one template family is served in GBK.

Structure truth (``Draft.structure``)::

    {"meetings": [{"date": "2020-04-15", "number": 5 | None, "kind": "常务会议",
                   "heading": "(一)2020年4月15日市政府第5次常务会议"}, ...],
     "items": [{"meeting_index": 0 | None, "position": 1, "section": "尚未完全落实事项",
                "status": "pending" | "mostly_done" | "done" | "other",
                "subject": "审议《…》的落实情况。", "documents": ["…"], "units": ["市发改委"],
                "progress": "paragraph\\nparagraph"}, ...]}

* ``meetings`` has one entry per meeting *heading as written*, in document order: a meeting
  whose items fall in two status sections appears twice (once per section), as in the seed.
* ``position`` is the 1-based rank of the item inside its group (the meeting heading, or the
  ``(一)…`` sub-heading of a work report); it equals the written number when there is one
  (a group with a single item has no number).
* ``subject`` is the item line without its ``N.`` and without the trailing ``(责任单位:…)``;
  ``documents`` are the ``《…》`` titles inside the subject; ``progress`` is every paragraph
  after the item line up to the next item, heading or section.
* Tables never belong to an item: they sit between the lead paragraph and the first section.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

#: A body block: ``("p", text)`` or ``("table", [[cell, ...], ...])``.
Block = tuple[str, Any]

_WS_RUN = re.compile(r"[ \t\n\r\f\v\xa0]+")
_DOC_TITLE = re.compile(r"《([^《》]+)》")

#: Section name (as written after ``一、``) -> item status.
SECTION_STATUS = {
    "尚未完全落实事项": "pending",
    "正在推进事项": "pending",
    "已基本完成事项": "mostly_done",
    "已落实事项": "done",
    "已办结事项": "done",
}


def normalise(text: str) -> str:
    """Body-contract text of one paragraph/cell: whitespace runs -> one space, ends stripped.

    The full-width space U+3000 is stripped at the ends only (it is indentation there).
    """
    return _WS_RUN.sub(" ", text).strip(" \u3000")


def body_text(blocks: list[Block]) -> str:
    """The body truth: a line per paragraph, a tab-joined line per table row, no empty lines."""
    lines: list[str] = []
    for kind, content in blocks:
        if kind == "p":
            lines.append(normalise(content))
        elif kind == "table":
            lines.extend("\t".join(normalise(cell) for cell in row) for row in content)
        else:
            raise ValueError(f"unknown block kind {kind!r}")
    return "\n".join(line for line in lines if line)


def documents_in(subject: str) -> list[str]:
    """Titles quoted with 《》 in an item subject (shared by generator and seed loader)."""
    return _DOC_TITLE.findall(subject)


def cn_numeral(n: int) -> str:
    """1..99 as Chinese numerals (一, 十, 十一, 二十三), for 一、 and (一) headings."""
    digits = "零一二三四五六七八九"
    if not 0 < n < 100:
        raise ValueError(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else digits[tens] + "十")
    return head + (digits[ones] if ones else "")


def cn_date(day: date) -> str:
    """``2020年4月15日`` (no zero padding, as in bulletin text)."""
    return f"{day.year}年{day.month}月{day.day}日"


def month_span(start: date, end: date) -> str:
    """A period as bulletins write it: 2020年5月, 2020年5-6月, 2019年11月-2020年4月."""
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.year}年{start.month}月"
    if start.year == end.year:
        return f"{start.year}年{start.month}-{end.month}月"
    return f"{start.year}年{start.month}月-{end.year}年{end.month}月"


def _month_start(day: date, back: int = 0) -> date:
    """First day of the month ``back`` months before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    return _month_start(day, -1) - timedelta(days=1)


# --------------------------------------------------------------------------- meetings

@dataclass(frozen=True)
class Meeting:
    """One government meeting of the site-wide calendar."""

    day: date
    kind: str  # 常务会议 | 全体会议 | 专题会议
    number: int | None

    @property
    def title(self) -> str:
        """The heading text without its ``(一)`` prefix."""
        if self.number is None:
            return f"{cn_date(self.day)}市政府{self.kind}"
        return f"{cn_date(self.day)}市政府第{self.number}次{self.kind}"


class MeetingCalendar:
    """A per-year schedule of meetings, so every bulletin numbers a meeting the same way.

    Numbers restart each year and count separately per kind; 专题会议 carry no number.
    """

    def __init__(self, seed: int) -> None:
        self._seed = seed

    @lru_cache(maxsize=None)  # noqa: B019 - a handful of years per calendar
    def year(self, year: int) -> tuple[Meeting, ...]:
        rng = random.Random(f"meetings/{self._seed}/{year}")
        standing: set[date] = set()
        for month in range(1, 13):
            for _ in range(rng.choice((1, 2, 2, 2, 3))):
                standing.add(_weekday(rng, year, month))
        plenary = {_weekday(rng, year, month) for month in rng.sample(range(1, 13), 3)} - standing
        topical = {_weekday(rng, year, month) for month in range(1, 13)} - standing - plenary
        meetings = [Meeting(d, "常务会议", i) for i, d in enumerate(sorted(standing), 1)]
        meetings += [Meeting(d, "全体会议", i) for i, d in enumerate(sorted(plenary), 1)]
        meetings += [Meeting(d, "专题会议", None) for d in topical]
        return tuple(sorted(meetings, key=lambda m: m.day))

    def between(self, start: date, end: date) -> list[Meeting]:
        return [m for y in range(start.year, end.year + 1) for m in self.year(y) if start <= m.day <= end]


def _weekday(rng: random.Random, year: int, month: int) -> date:
    while True:
        day = date(year, month, rng.randint(1, 28))
        if day.weekday() < 5:
            return day


# --------------------------------------------------------------------------- vocabulary

UNITS = (
    "市发改委", "市经信局", "市教育局", "市科技局", "市公安局", "市民政局", "市司法局", "市财政局",
    "市人社局", "市自然资源和规划局", "市生态环境局", "市住建局", "市城管执法委", "市交通运输局",
    "市水利和湖泊局", "市农业农村局", "市商务局", "市文旅局", "市卫健委", "市应急管理局",
    "市审计局", "市国资委", "市市场监管局", "市统计局", "市医保局", "市林业局", "市数据局",
    "市地方金融工作局", "市招商和投资促进局", "市住房公积金中心", "市金投集团", "市城发集团",
    "咸宁高新区管委会", "咸宁供电公司", "市铁塔公司", "各县市区人民政府",
)
TOPICS = (
    "粮食收购贷款资金", "建筑垃圾", "城市停车设施", "农村公路养护", "公共租赁住房", "政府投资项目",
    "城市绿色货运配送", "中心城区户外广告设置", "地方储备粮", "城镇老旧小区改造", "生活垃圾分类",
    "工业园区土地集约利用", "科技创新券", "高层次人才引进", "餐饮服务食品安全", "农民工工资支付",
    "应急物资储备", "城市地下管网", "河湖长制", "森林防火", "5G通信基础设施", "新能源汽车充电设施",
    "国有企业退休人员社会化", "市级储备土地", "农村集体经营性建设用地入市", "特色小镇",
)
DOC_FORMS = (
    "咸宁市{t}管理办法", "咸宁市{t}管理暂行办法", "咸宁市{t}实施方案", "关于加强{t}管理的实施意见",
    "咸宁市{t}三年行动计划", "关于进一步加强{t}工作的通知", "咸宁市{t}考核办法(试行)",
    "咸宁市{t}专项资金管理办法",
)
HEARINGS = (
    "全市一季度经济运行情况", "新型政银担合作机制推进情况", "全市安全生产形势分析", "重大项目建设推进情况",
    "全市招商引资工作情况", "城区防汛排涝工作情况", "优化营商环境工作情况", "全市财政收支情况",
    "生态环境突出问题整改情况", "全市疫情防控工作情况", "农村人居环境整治情况", "全市金融运行情况",
    "公立医疗机构药品集中配送工作有关情况",
)
EVENTS = (
    "中央政治局会议", "国务院常务会议", "省政府常务会议", "全省经济工作会议", "全省安全生产电视电话会议",
    "全省优化营商环境大会", "中央全面深化改革委员会会议",
)
SUBTOPICS = (
    "经济运行和项目建设", "工业经济", "农业经济", "商务经济", "就业创业", "财政稳收保支",
    "金融支持实体经济", "招商引资", "安全生产", "生态环境保护", "民生实事", "优化营商环境",
    "城市建设管理", "乡村振兴",
)
COMPANIES = (
    "崇阳稳健", "金士达", "厚福医疗", "宝仕康", "湖北昇瑞新材料", "咸宁堃达建设", "三赢兴电子", "南玻光电",
    "华舟重工", "中伟新能源", "湖北香城智能机电", "东方日升",
)
FIELDS = (
    "地方一般公共预算收入", "规模以上工业增加值", "固定资产投资", "社会消费品零售总额", "外贸进出口总额",
    "农林牧渔业总产值",
)
ISSUERS = ("市人民政府办公室", "市人民政府")
DOCNO_SERIES = ("咸政办发", "咸政办发", "咸政发", "咸政规", "咸政办函")
EDITORS = ("胡少鹏", "王喆", "李昇", "张堃", "陈静", "刘洋", "周敏")

TARGET_GROUPS = (
    ("经济发展主要预期目标完成情况", (
        ("地区生产总值增长{g}%左右", "全市地区生产总值完成{v}亿元,同比增长{a}%"),
        ("规模以上工业增加值增长{g}%", "全市规模以上工业增加值同比增长{a}%"),
        ("固定资产投资增长{g}%", "全市固定资产投资同比增长{a}%"),
        ("社会消费品零售总额增长{g}%", "全市社会消费品零售总额完成{v}亿元,同比增长{a}%"),
        ("地方一般公共预算收入增长{g}%", "全市地方一般公共预算收入完成{v}亿元,同比增长{a}%"),
        ("外贸进出口总额增长{g}%", "全市外贸进出口总额完成{v}亿元,同比增长{a}%"),
    )),
    ("民生改善主要预期目标完成情况", (
        ("城镇新增就业{n}万人以上", "全市城镇新增就业{w}万人,完成年度目标的{p}%"),
        ("城镇调查失业率控制在5.5%以内", "全市城镇调查失业率为{u}%,控制在目标范围内"),
        ("城乡居民收入增长与经济增长基本同步", "全市城乡居民人均可支配收入同比增长{a}%"),
        ("居民消费价格涨幅控制在3%左右", "全市居民消费价格同比上涨{c}%"),
        ("粮食产量稳定在{n}0万吨以上", "全市夏粮总产量{w}万吨,同比增长{a}%"),
    )),
    ("生态环境主要约束性目标完成情况", (
        ("细颗粒物(PM2.5)平均浓度控制在{m}微克/立方米以内", "全市细颗粒物平均浓度为{m}微克/立方米"),
        ("空气质量优良天数比例达到{q}%以上", "全市空气质量优良天数比例为{p}%"),
        ("单位地区生产总值能耗下降完成省下达目标", "全市单位地区生产总值能耗同比下降{c}%"),
        ("地表水达到或好于Ⅲ类水体比例稳定在{q}%以上", "全市地表水达到或好于Ⅲ类水体比例为{p}%"),
    )),
)
TASK_GROUPS = (
    "聚力项目建设,扩大有效投资", "聚焦产业升级,壮大实体经济", "深化改革开放,优化营商环境",
    "推进乡村振兴,促进城乡融合", "坚持生态优先,建设美丽咸宁", "保障改善民生,增进人民福祉",
)
TASKS = (
    "实施重大项目建设“攻坚年”行动,全年新开工亿元以上项目{n}个",
    "推进“个转企、小升规、规改股、股上市”,新增规上工业企业{n}家",
    "深化“放管服”改革,实现政务服务事项“一网通办”",
    "新建改造农村公路{n}公里,完成危桥改造{m}座",
    "完成城镇老旧小区改造{n}个",
    "新增城镇学位{n}个,建成一批公办幼儿园",
    "推进长江大保护十大标志性战役,完成历史遗留矿山生态修复{m}处",
    "建设高标准农田{n}万亩",
    "办好十件民生实事,新建城市社区嵌入式养老服务设施{m}个",
)
PERIOD_OF_MONTH = {1: "全年", 2: "全年", 3: "全年", 4: "一季度", 5: "一季度", 6: "一季度",
                   7: "上半年", 8: "上半年", 9: "上半年", 10: "前三季度", 11: "前三季度", 12: "前三季度"}
QUARTER_CN = ("一", "二", "三", "四")


@dataclass
class Draft:
    """The content of one document before the portal gives it a URL and metadata."""

    kind: str  # meetings | work_report | notice | attachment_only | news
    title: str
    blocks: list[Block]
    structure: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {"meetings": [], "items": []})
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (anchor text, extension)
    doc_no: str = ""
    issued: date | None = None


class _Builder:
    """Accumulates paragraphs and the structure truth together so they cannot disagree."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.meetings: list[dict[str, Any]] = []
        self.items: list[dict[str, Any]] = []
        self._section: str | None = None
        self._status = "other"

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, rows: list[list[str]]) -> None:
        self.blocks.append(("table", rows))

    def section(self, index: int, name: str, status: str | None = None) -> None:
        self.p(f"{cn_numeral(index)}、{name}")
        self._section, self._status = name, status or SECTION_STATUS.get(name, "other")

    def meeting(self, index: int, meeting: Meeting) -> int:
        heading = f"({cn_numeral(index)}){meeting.title}"
        self.p(heading)
        self.meetings.append({"date": meeting.day.isoformat(), "number": meeting.number,
                              "kind": meeting.kind, "heading": heading})
        return len(self.meetings) - 1

    def item(self, meeting_index: int | None, position: int, numbered: bool, subject: str,
             units: list[str], progress: list[str]) -> None:
        line = (f"{position}." if numbered else "") + subject
        if units:
            line += f"(责任单位:{'、'.join(units)})"
        self.p(line)
        for paragraph in progress:
            self.p(paragraph)
        self.items.append({
            "meeting_index": meeting_index, "position": position, "section": self._section,
            "status": self._status, "subject": subject, "documents": documents_in(subject),
            "units": list(units), "progress": "\n".join(progress),
        })

    @property
    def structure(self) -> dict[str, list[dict[str, Any]]]:
        return {"meetings": self.meetings, "items": self.items}


class BulletinWriter:
    """Writes drafts of each kind; all randomness comes from the ``rng`` passed in."""

    def __init__(self, calendar: MeetingCalendar) -> None:
        self.calendar = calendar

    # ------------------------------------------------------------------ public
    def draft(self, rng: random.Random, kind: str, published: date) -> Draft:
        """One document of ``kind`` published on ``published``."""
        maker = {
            "meetings": self.meetings_bulletin, "work_report": self.work_report,
            "notice": self.notice, "attachment_only": self.attachment_only, "news": self.news,
        }[kind]
        return maker(rng, published)

    # ------------------------------------------------------------------ small pieces
    @staticmethod
    def _doc_title(rng: random.Random) -> str:
        return rng.choice(DOC_FORMS).format(t=rng.choice(TOPICS))

    @staticmethod
    def _units(rng: random.Random, most: int = 4) -> list[str]:
        return rng.sample(UNITS, rng.choice([1, 1, 2, 2, 3, most]))

    @staticmethod
    def _docno(rng: random.Random, year: int) -> str:
        return f"{rng.choice(DOCNO_SERIES)}〔{year}〕{rng.randint(1, 60)}号"

    def _sentence(self, rng: random.Random, when: date) -> str:
        n = rng.randint
        found = n(20, 300)
        forms = (
            lambda: f"截至{when.month}月{when.day}日,累计完成投资{n(2, 90)}.{n(1, 9)}亿元,占年度计划的{n(40, 99)}.{n(1, 9)}%。",
            lambda: f"共走访企业{n(100, 500)}家、收集各类问题{n(100, 600)}个,其中{n(50, 99)}个问题已协调解决。",
            lambda: f"{'、'.join(rng.sample(COMPANIES, 2))}等{n(3, 12)}家企业获得{n(1000, 9000)}万元低息贷款支持。",
            lambda: f"全市{rng.choice(FIELDS)}完成{n(10, 600)}.{n(1, 99)}亿元,同比增长{n(1, 15)}.{n(1, 9)}%,高于全省{n(1, 5)}.{n(1, 9)}个百分点。",
            lambda: f"已召开专题调度会{n(2, 9)}次,印发了《{self._doc_title(rng)}》。",
            lambda: f"目前,{n(5, 40)}个项目已开工建设,{n(2, 9)}个项目正在办理前期手续。",
            lambda: f"累计发放补贴资金{n(100, 3000)}.{n(1, 99)}万元,惠及{n(1000, 90000)}人次。",
            lambda: f"组织开展专项检查{n(2, 20)}次,发现问题{found}个,已整改到位{n(found // 2, found)}个。",
            lambda: f"位列全省第{n(1, 17)}位,较一季度前移{n(1, 5)}位。",
            lambda: f"{when.month}月{when.day}日召开全市{rng.choice(SUBTOPICS)}工作推进会,明确了责任分工和时间节点。",
            lambda: f"全市{n(3, 9)}家全国性银行和{n(1, 4)}家地方法人银行累计发放贷款{n(5, 60)}.{n(1, 99)}亿元,平均利率{n(2, 4)}.{n(10, 99)}%。",
            lambda: f"{rng.choice(UNITS)}已牵头制定工作方案,建立了周调度、月通报工作机制。",
        )
        return rng.choice(forms)()

    def _sentences(self, rng: random.Random, when: date, lo: int = 1, hi: int = 3) -> str:
        return "".join(self._sentence(rng, when) for _ in range(rng.randint(lo, hi)))

    def _multipart(self, rng: random.Random, when: date) -> list[str]:
        """``一是关于…的落实情况。…二是…``, in one paragraph or one paragraph per part."""
        parts = [f"{cn_numeral(i)}是关于{sub}的落实情况。{self._sentences(rng, when)}"
                 for i, sub in enumerate(rng.sample(SUBTOPICS, rng.randint(2, 5)), 1)]
        return ["".join(parts)] if rng.random() < 0.6 else parts

    def _progress(self, rng: random.Random, status: str, subject_docs: list[str],
                  units: list[str], after: date, before: date) -> list[str]:
        """Progress paragraphs that read right for the item's status."""
        span = max((before - after).days, 1)
        when = after + timedelta(days=rng.randint(1, span))
        if not subject_docs:
            return self._multipart(rng, when) if rng.random() < 0.7 else [self._sentences(rng, when, 2, 4)]
        doc = subject_docs[0]
        if status in ("done", "mostly_done") and rng.random() < 0.8:
            issuer = rng.choice(ISSUERS)
            issued = f"{issuer}{doc}" if doc.startswith("关于") else f"{issuer}关于印发{doc}的通知"
            text = f"{when.month}月{when.day}日,印发了《{issued}》({self._docno(rng, when.year)})。"
            if rng.random() < 0.3:
                text += self._sentence(rng, when)
            return [text]
        lead = units[0] if units else "市政府办公室"
        return [rng.choice((
            f"《{doc}》正在按程序送审。",
            f"{lead}已完成《{doc}》初稿起草,正在征求相关部门意见。",
            f"《{doc}》已通过合法性审查,待提交市政府常务会议审定。",
            f"{lead}正在对《{doc}》进行修改完善。{self._sentence(rng, when)}",
        ))]

    def _subject(self, rng: random.Random, meeting: Meeting) -> str:
        roll = rng.random()
        if roll < 0.5:
            return f"审议《{self._doc_title(rng)}》的落实情况。"
        if roll < 0.6:
            return f"审议《{self._doc_title(rng)}》和《{self._doc_title(rng)}》的落实情况。"
        if roll < 0.75:
            return f"听取{rng.choice(HEARINGS)}的汇报议定事项的落实情况。"
        if roll < 0.85:
            return f"研究{rng.choice(TOPICS)}有关事项的落实情况。"
        seen = meeting.day - timedelta(days=rng.randint(3, 20))
        return (f"传达学习{seen.month}月{seen.day}日{rng.choice(EVENTS)}精神,听取{rng.choice(HEARINGS)}汇报,"
                f"研究部署{rng.choice(SUBTOPICS)}工作的落实情况。")

    @staticmethod
    def _attachments(rng: random.Random, title: str, year: int) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for i in range(rng.choice((0, 0, 0, 1, 1, 2))):
            ext = rng.choice(("pdf", "doc", "docx", "xls", "wps"))
            name = title if i == 0 and ext != "xls" else f"附件{i + 1}:{year}年督办事项落实情况统计表"
            if rng.random() < 0.6:
                name += f".{ext}"
            found.append((name, ext))
        return found

    # ------------------------------------------------------------------ kinds
    def meetings_bulletin(self, rng: random.Random, published: date) -> Draft:
        """Follow-up of standing-meeting minutes, by status section and meeting."""
        end = _month_end(_month_start(published, rng.choice((1, 1, 2))))
        start = _month_start(end, rng.choice((0, 1, 1, 2)))
        carry = rng.random() < 0.4
        old_start = _month_start(start, rng.randint(3, 6)) if carry else start
        old_end = start - timedelta(days=1)
        check = published - timedelta(days=rng.randint(5, 25))
        xun = "上旬" if check.day <= 10 else ("中旬" if check.day <= 20 else rng.choice(("下旬", "中下旬")))
        every = self.calendar.between(old_start, end)
        standing = [m for m in every if m.kind == "常务会议"]
        old = [m for m in every if m.day < start] if carry else []
        new = [m for m in every if m.day >= start]
        chosen = sorted(rng.sample(old, min(len(old), rng.randint(1, 2)))
                        + rng.sample(new, min(len(new), rng.randint(2, 4))), key=lambda m: m.day)
        if carry:
            sections = [("尚未完全落实事项", "pending"), ("已基本完成事项", "mostly_done")]
            desc = (f"{month_span(old_start, old_end)}市政府常务会议纪要尚未落实事项及"
                    f"{month_span(start, end)}市政府常务会议纪要确定有关事项落实情况")
        else:
            sections = rng.choice((
                [("已落实事项", "done")],
                [("已落实事项", "done"), ("正在推进事项", "pending")],
                [("尚未完全落实事项", "pending"), ("已基本完成事项", "mostly_done")],
                [("已办结事项", "done"), ("尚未完全落实事项", "pending")],
            ))
            desc = f"{month_span(start, end)}市政府常务会议纪要确定有关事项落实情况"
        # each item: (meeting, status, subject, units)
        planned: list[tuple[Meeting, str, str, list[str]]] = []
        for meeting in chosen:
            for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
                status = rng.choice([s for _, s in sections])
                if carry and meeting.day < start and rng.random() < 0.7:
                    status = "pending"
                planned.append((meeting, status, self._subject(rng, meeting), self._units(rng)))
        if carry:
            title = f"关于{desc}的督查通报"
        else:
            title = rng.choice((f"关于{desc}的督查通报",
                                f"关于{month_span(start, end)}市政府常务会议议定事项落实情况的通报"))
        out = _Builder()
        if rng.random() < 0.7:
            out.p(f"{month_span(old_start, end)}市政府共召开{len(standing)}次常务会议并印发纪要。"
                  f"为切实推进市政府决策部署贯彻落实,市政府政务督查室于{check.year}年{check.month}月{xun},"
                  f"对{desc}进行了督办,现通报如下:")
        else:
            out.p(f"根据市政府工作安排,市政府政务督查室于{check.year}年{check.month}月{xun}对{desc}进行了跟踪督办。"
                  f"{month_span(old_start, end)}市政府共召开{len(standing)}次常务会议,本次督办议定事项{len(planned)}项。"
                  f"现将有关情况通报如下:")
        if rng.random() < 0.25:
            pending = sum(1 for p in planned if p[1] == "pending")
            out.p(f"本次督查共涉及议定事项{len(planned)}项,其中已完成或基本完成{len(planned) - pending}项,"
                  f"尚未完全落实{pending}项。具体情况见下表。")
            rows = [["序号", "会议名称", "督办事项(项)", "已完成(项)", "未完成(项)"]]
            for i, meeting in enumerate(chosen, 1):
                mine = [p for p in planned if p[0] == meeting]
                todo = sum(1 for p in mine if p[1] == "pending")
                rows.append([str(i), meeting.title, str(len(mine)), str(len(mine) - todo), str(todo)])
            rows.append(["合计", "—", str(len(planned)), str(len(planned) - pending), str(pending)])
            out.table(rows)
        index = 0
        for name, status in sections:
            in_section = [p for p in planned if p[1] == status]
            if not in_section:
                continue
            index += 1
            out.section(index, name, status)
            group_no = 0
            for meeting in chosen:
                group = [p for p in in_section if p[0] == meeting]
                if not group:
                    continue
                group_no += 1
                meeting_index = out.meeting(group_no, meeting)
                for position, (_, _, subject, units) in enumerate(group, 1):
                    progress = self._progress(rng, status, documents_in(subject), units, meeting.day, check)
                    out.item(meeting_index, position, len(group) > 1, subject, units, progress)
        if rng.random() < 0.25:
            out.section(index + 1, "有关要求", "other")
            due = published + timedelta(days=rng.randint(20, 40))
            out.p("请各责任单位对照市政府常务会议纪要确定的事项,进一步明确责任人和完成时限,加快推进未完成事项落实,"
                  f"并于{cn_date(due)}前将落实情况书面报送市政府政务督查室。")
        return Draft("meetings", title, out.blocks, out.structure,
                     self._attachments(rng, title, published.year))

    def work_report(self, rng: random.Random, published: date) -> Draft:
        """Progress on the annual 《政府工作报告》 targets and tasks (quarterly since 2024)."""
        phase = PERIOD_OF_MONTH[published.month]
        year = published.year - 1 if phase == "全年" else published.year
        quarter = {"全年": 4, "一季度": 1, "上半年": 2, "前三季度": 3}[phase]
        if year >= 2024:
            title = f"关于{year}年第{QUARTER_CN[quarter - 1]}季度《政府工作报告》重点任务落实情况的督查通报"
        else:
            title = f"关于{year}年{phase}《政府工作报告》主要目标任务落实情况的督查通报"
        check = published - timedelta(days=rng.randint(5, 20))
        out = _Builder()
        out.p(f"为推动{year}年《政府工作报告》确定的各项目标任务落地见效,市政府政务督查室于{check.year}年{check.month}月"
              f"对{phase}全市主要指标和重点任务完成情况进行了督查,现将有关情况通报如下:")
        if rng.random() < 0.4:
            out.p(f"{year}年{phase}全市主要经济指标完成情况")
            rows = [["指标名称", "单位", "年度目标", "完成值", "同比增长(%)"]]
            for name in rng.sample(FIELDS, 4):
                rows.append([name, "亿元", f"增长{rng.randint(5, 12)}%", f"{rng.randint(20, 900)}.{rng.randint(1, 99)}",
                             f"{rng.randint(-9, 20)}.{rng.randint(0, 9)}"])
            out.table(rows)
        out.section(1, "主要指标任务完成情况", "other")
        groups = sorted(rng.sample(range(len(TARGET_GROUPS)), rng.randint(2, 3)))
        for group_no, (heading, targets) in enumerate((TARGET_GROUPS[g] for g in groups), 1):
            out.p(f"({cn_numeral(group_no)}){heading}")
            for position, (target, result) in enumerate(rng.sample(targets, rng.randint(2, len(targets))), 1):
                values = {"g": rng.randint(5, 10), "n": rng.randint(3, 9), "v": f"{rng.randint(50, 900)}.{rng.randint(1, 99)}",
                          "a": f"{rng.randint(1, 15)}.{rng.randint(0, 9)}", "w": f"{rng.randint(1, 9)}.{rng.randint(1, 99)}",
                          "p": f"{rng.randint(60, 99)}.{rng.randint(0, 9)}", "u": f"{rng.randint(3, 5)}.{rng.randint(0, 9)}",
                          "c": f"{rng.randint(0, 3)}.{rng.randint(0, 9)}", "m": rng.randint(25, 45),
                          "q": rng.randint(80, 95)}
                verdict = rng.choice(("完成年度目标", "达到序时进度", "低于预期目标", "高于全省平均水平"))
                out.item(None, position, True, target.format(**values) + "。", [],
                         [f"{phase},{result.format(**values)},{verdict}。"])
        out.section(2, "重点工作推进情况", "other")
        pool = rng.sample(TASKS, len(TASKS))  # each task once per bulletin
        for group_no, heading in enumerate(rng.sample(TASK_GROUPS, rng.randint(2, 3)), 1):
            out.p(f"({cn_numeral(group_no)}){heading}")
            tasks = [pool.pop() for _ in range(rng.randint(1, 3))]
            for position, task in enumerate(tasks, 1):
                text = task.format(n=rng.randint(10, 200), m=rng.randint(2, 30)) + "。"
                units = self._units(rng, 3)
                out.item(None, position, len(tasks) > 1, text, units,
                         [self._sentences(rng, check, 1, 3)])
        if rng.random() < 0.5:
            out.section(3, "下一步工作建议", "other")
            out.p("各地各部门要对照年度目标任务,逐项梳理进度滞后的指标和工作,制定针对性措施,确保全年目标任务圆满完成。")
        return Draft("work_report", title, out.blocks, out.structure,
                     self._attachments(rng, title, year))

    def notice(self, rng: random.Random, published: date) -> Draft:
        """A policy-like 通报 with a real 文号 (咸政办发〔2022〕1号); no meeting items."""
        year = published.year - 1 if published.month <= 3 else published.year
        issued = published - timedelta(days=rng.randint(2, 12))
        topic = rng.choice(("市政府重点工作", "市政府常务会议议定事项", "“一号文件”重点任务", "政务督查工作",
                            "重大项目建设", "民生实事"))
        title = f"咸宁市人民政府办公室关于{year}年度{topic}督查情况的通报"
        out = _Builder()
        out.p("各县、市、区人民政府,市政府各部门:")
        out.p(f"为推动市委、市政府决策部署落地落实,{year}年市政府政务督查室围绕{topic}开展了专项督查。"
              "现将有关情况通报如下:")
        out.section(1, "基本情况", "other")
        out.p(self._sentences(rng, issued, 2, 4))
        out.section(2, "存在的问题", "other")
        out.p("一些单位对督办事项重视不够,工作推进不平衡;个别事项进展缓慢,未能按期完成。")
        out.section(3, "下一步工作要求", "other")
        out.p("各地各部门要进一步提高政治站位,压紧压实工作责任,对未完成事项建立台账,实行销号管理。")
        out.p("咸宁市人民政府办公室")
        out.p(cn_date(issued))
        return Draft("notice", title, out.blocks, out.structure, self._attachments(rng, title, year),
                     doc_no=f"咸政办发〔{issued.year}〕{rng.randint(1, 40)}号", issued=issued)

    def attachment_only(self, rng: random.Random, published: date) -> Draft:
        """The page says little; the bulletin itself is the attached .doc/.pdf."""
        end = _month_end(_month_start(published, 1))
        start = _month_start(end, rng.randint(1, 2))
        title = f"关于{month_span(start, end)}市政府常务会议纪要确定事项落实情况的督查通报"
        text = (f"根据市政府工作安排,市政府政务督查室对{month_span(start, end)}市政府常务会议纪要确定事项"
                "落实情况进行了督查,现将有关情况予以通报,具体内容详见附件。")
        ext = rng.choice(("doc", "pdf", "docx"))
        return Draft("attachment_only", title, [("p", text)],
                     attachments=[(title + (f".{ext}" if rng.random() < 0.5 else ""), ext)])

    def news(self, rng: random.Random, published: date) -> Draft:
        """A short item of another column (the sidebar's 热点信息): not a bulletin."""
        subject = rng.choice(SUBTOPICS)
        title = rng.choice((f"我市召开{subject}工作推进会", f"市政府专题研究{subject}工作",
                            f"咸宁{subject}工作取得新进展", f"全市{subject}现场观摩活动举行"))
        blocks: list[Block] = [("p", f"{cn_date(published)},{title.replace('我市', '全市')}。")]
        blocks += [("p", self._sentences(rng, published, 1, 3)) for _ in range(rng.randint(1, 3))]
        return Draft("news", title, blocks)
