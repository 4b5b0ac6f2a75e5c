"""The mutable site model behind the replica portal: documents, lists, routes and truth.

Why: tests crawl the replica, change it (add, edit, remove a bulletin) and crawl again,
so pages are rendered on each request from this model, and the truth is derived from the
very same records the pages are rendered from. Construction only generates text (no HTML),
so even 2,000 bulletins start in about a second.
"""
from __future__ import annotations

import copy
import json
import posixpath
import random
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from .attachment_files import AttachmentFiles
from .corpus import EDITORS, Block, BulletinWriter, Draft, MeetingCalendar, body_text
from .model import ATTACHMENT_TYPES, Attachment, Doc, ListEntry
from .templates import Family, RenderContext, esc, make_families

#: The seed bulletin fixes the docid scale: docids grow by ~1000 a day, site-wide.
BASE_DAY = date(2020, 9, 16)
BASE_DOCID = 2183980
DATE_MIN = date(2019, 1, 1)
DATE_MAX = date(2025, 6, 30)
SIDEBAR_DOCS = 8
#: Long bulletins of families that split documents: this share is split over 2 or 3 pages.
SPLIT_MIN_BLOCKS = 8
SPLIT_SHARE = 0.2
PRIVATE_COLUMN = "/private/zwdc/"
ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"
CST = timezone(timedelta(hours=8))
SEED_FILE = Path(__file__).with_name("data") / "seed_bulletin.json"
_LIST_PAGE = re.compile(r"index(?:_([1-9]\d*))?\.(\w+)")


@lru_cache(maxsize=1)
def load_seed() -> dict[str, Any]:
    """The restored real bulletin (read once)."""
    return json.loads(SEED_FILE.read_text(encoding="utf-8"))


@dataclass
class Listing:
    """A ``<li>`` of a column list: which document, and how the list links it.

    ``how``: ``plain`` (canonical URL), ``slhxq`` (elderly view), ``old`` (URL that answers
    301), ``private`` (robots-disallowed page), ``mirror`` (copy on another host).
    """

    doc: Doc
    how: str = "plain"
    mirror_host: str = ""

    @property
    def sort_key(self) -> tuple[date, int, int]:
        return (self.doc.published, self.doc.docid, -1 if self.how == "mirror" else 0)


@dataclass
class Column:
    """A list column of one family: the 政务督查 column or the sidebar's sibling column."""

    family: Family
    path: str
    name: str
    main: bool
    listings: list[Listing] = field(default_factory=list)

    def sort(self) -> None:
        self.listings.sort(key=lambda listing: listing.sort_key, reverse=True)


@dataclass
class Resource:
    """What a path answers: a page to render lazily, a redirect, or validators for 304."""

    content_type: str
    render: Callable[[], bytes]
    status: int = 200
    etag: str | None = None
    last_modified: datetime | None = None
    location: str | None = None


class Site:
    """All documents of the replica portal, rendered on request; thread-safe mutations."""

    def __init__(self, host: str, *, per_family: int = 20, seed: int = 1, page_size: int = 15,
                 families: Sequence[str] | None = None) -> None:
        self.host = host
        self.base_url = f"http://{host}"
        self.seed = seed
        self.page_size = page_size
        self.families = make_families(families)
        #: JSON list endpoints (path -> family) of families whose lists are built by scripts.
        self.api_routes: dict[str, Family] = {
            family.api_path: family for family in self.families.values() if getattr(family, "api_path", None)}
        self.writer = BulletinWriter(MeetingCalendar(seed))
        #: Real attachment files (PDF, Word, WPS, Excel, scans), made on first request.
        self.attachment_files = AttachmentFiles(seed, self.writer)
        self.columns: dict[str, Column] = {}
        for family in self.families.values():
            self.columns[family.column] = Column(family, family.column, family.column_name, True)
            self.columns[family.other_column] = Column(family, family.other_column, family.other_name, False)
        self._lock = threading.RLock()
        self._routes: dict[str, tuple[str, Doc, Any]] = {}
        self._used_docids: set[int] = set()
        self._added = 0
        self._build(per_family)

    # ------------------------------------------------------------------ construction
    def _build(self, per_family: int) -> None:
        rng = random.Random(self.seed)
        span = (DATE_MAX - DATE_MIN).days
        plans: list[dict[str, Any]] = []  # family, role, index, day
        for name, family in self.families.items():
            count = per_family - (1 if name == "xianning" and per_family > 0 else 0)
            plans += [{"family": name, "role": "bulletin", "index": i,
                       "day": DATE_MIN + timedelta(days=rng.randint(0, span))} for i in range(count)]
            plans += [{"family": name, "role": "other", "index": i,
                       "day": DATE_MIN + timedelta(days=rng.randint(0, span))} for i in range(SIDEBAR_DOCS)]
        if per_family > 0 and "scripted-count" in self.families:  # the robots-disallowed page: newest of D
            days = sorted(p["day"] for p in plans if p["family"] == "scripted-count" and p["role"] == "bulletin")
            plans.append({"family": "scripted-count", "role": "private", "index": 0, "day": days[-min(3, len(days))]})
            self._used_docids.add(BASE_DOCID)
        plans.sort(key=lambda p: (p["day"], p["family"], p["role"], p["index"]))
        for plan in plans:
            plan["docid"] = self._allocate_docid(plan["day"], rng)
        # the B bulletin filed outside its column (listed in it all the same)
        table = sorted((p for p in plans if p["family"] == "table" and p["role"] == "bulletin"),
                       key=lambda p: (p["day"], p["docid"]), reverse=True)
        if len(table) > 3:
            table[3]["directory"] = "/zwgk/gkml/"
        for plan in plans:
            doc_rng = random.Random(f"{self.seed}/{plan['family']}/{plan['role']}/{plan['index']}")
            family = self.families[plan["family"]]
            kind = "news" if plan["role"] == "other" else _pick_kind(doc_rng, family)
            draft = self.writer.draft(doc_rng, kind, plan["day"])
            doc = self._new_doc(family, plan["role"], plan["day"], plan["docid"], doc_rng, draft,
                                directory=plan.get("directory"))
            if plan["role"] == "bulletin" and family.splits_documents:  # own rng: the corpus stays as it was
                split = random.Random(f"{self.seed}/parts/{doc.docid}")
                if len(doc.blocks) >= SPLIT_MIN_BLOCKS and split.random() < SPLIT_SHARE:
                    doc.parts = split.choice((2, 3))
            self._publish(doc)
        if per_family > 0 and "xianning" in self.families:
            self._publish(self._seed_doc())
        for column in self.columns.values():
            column.sort()
        self._mark_special_listings()

    def _allocate_docid(self, day: date, rng: random.Random) -> int:
        """A fresh docid that keeps docids growing with the date, site-wide."""
        base = BASE_DOCID + (day - BASE_DAY).days * 1000
        while True:
            docid = base + rng.randint(1, 999)
            if docid not in self._used_docids:
                self._used_docids.add(docid)
                return docid

    def _new_doc(self, family: Family, role: str, day: date, docid: int, rng: random.Random,
                 draft: Draft, directory: str | None = None) -> Doc:
        """A document with the metadata conventions of its family."""
        column = {"other": family.other_column, "private": PRIVATE_COLUMN}.get(role, family.column)
        folder = f"{directory or column}{day:%Y%m}/"
        path = f"{folder}t{day:%Y%m%d}_{docid}.{family.ext}"
        hour, minute = rng.randint(8, 17), rng.randint(0, 59)
        doc = Doc(docid=docid, family=family.name, role=role, path=path, published=day, title=draft.title,
                  blocks=list(draft.blocks), structure=draft.structure,
                  modified=datetime.combine(day, time(hour, minute), CST).astimezone(timezone.utc),
                  pub_time=f"{hour:02d}:{minute:02d}", style=rng.randrange(1 << 16),
                  editor=rng.choice(EDITORS) if family.has_metadata else "")
        if family.has_metadata:
            doc.index_no = f"{family.org_code}/{day.year}-{rng.randint(1, 29999):05d}"
            doc.publisher = family.publisher
            doc.category = family.other_name if role == "other" else "政务督查"
            doc.validity = rng.choices(("有效", "失效", "废止"), (90, 7, 3))[0]
            doc.doc_no = draft.doc_no
            if not doc.doc_no and rng.random() < family.doc_no_share:
                doc.doc_no = f"{family.doc_no_series}〔{day.year}〕{rng.randint(1, 30)}号"
            doc.doc_no_shown = doc.doc_no or rng.choice(family.blank_doc_no)
            if draft.issued or rng.random() < family.issued_share:
                doc.issued = draft.issued or day - timedelta(days=rng.randint(1, 10))
        doc.attachments = [self._attachment(doc, i, name, ext) for i, (name, ext) in enumerate(draft.attachments)]
        return doc

    @staticmethod
    def _attachment(doc: Doc, index: int, name: str, ext: str) -> Attachment:
        serial = random.Random(f"attachment/{doc.docid}/{index}").randrange(10 ** 12)
        return Attachment(name, f"{doc.directory}P0{doc.published:%Y%m%d}{serial:012d}.{ext}", ext)

    def _seed_doc(self) -> Doc:
        seed = load_seed()
        family = self.families["xianning"]
        day = date.fromisoformat(seed["published"])
        self._used_docids.add(seed["docid"])
        return Doc(docid=seed["docid"], family=family.name, role="bulletin", path=seed["path"], published=day,
                   title=seed["title"], blocks=[("p", p) for p in seed["paragraphs"]],
                   structure=copy.deepcopy(seed["structure"]),
                   modified=datetime.combine(day, time(16, 42), CST).astimezone(timezone.utc),
                   index_no=seed["index_no"], doc_no=seed["doc_no"], doc_no_shown="", publisher=seed["publisher"],
                   category=seed["category"], validity=seed["validity"], editor=seed["editor"], pub_time="16:42",
                   style=2)

    def _publish(self, doc: Doc, how: str = "plain") -> None:
        """Route every URL of ``doc`` and list it in its column."""
        self._routes[doc.path] = ("doc", doc, "plain")
        for variant in ("slhxq", "app"):
            self._routes[doc.alternate_path(variant)] = ("doc", doc, variant)
        for part in range(1, doc.parts):
            self._routes[doc.part_path(part)] = ("doc", doc, f"part-{part}")
        for attachment in doc.attachments:
            self._routes[attachment.path] = ("attachment", doc, attachment)
        family = self.families[doc.family]
        column = self.columns[family.other_column if doc.role == "other" else family.column]
        column.listings.append(Listing(doc, "private" if doc.role == "private" else how))

    def _mark_special_listings(self) -> None:
        """The special cases the crawler must handle (see the module docs of ``server``)."""
        port = self.host.rsplit(":", 1)[1]
        if "xianning" in self.families:
            a = self.columns[self.families["xianning"].column]
            plain = [l for l in a.listings if l.doc.docid != BASE_DOCID]
            if len(plain) > 1:
                a.listings.append(Listing(plain[1].doc, "mirror", f"127.0.0.2:{port}"))
            if len(plain) > 2:
                plain[2].how = "slhxq"
            if len(plain) > 4:
                plain[4].how = "old"
                self._routes[self.old_path(plain[4].doc)] = ("redirect", plain[4].doc, None)
            a.sort()
        if "gbk" in self.families:
            c = self.columns[self.families["gbk"].column]
            if c.listings:
                c.listings.append(Listing(c.listings[0].doc, "mirror", "mirror.example.invalid"))
            c.sort()

    def old_path(self, doc: Doc) -> str:
        """The outdated URL some list still links (answers 301)."""
        family = self.families[doc.family]
        return f"{family.column}old/t{doc.published:%Y%m%d}_{doc.docid}.{family.ext}"

    # ------------------------------------------------------------------ truth
    def truth(self, doc: Doc) -> dict[str, Any]:
        """The TRUTH dict of one bulletin (what a correct crawler stores)."""
        return {
            "url": self.base_url + doc.path, "site": self.host, "index_no": doc.index_no, "doc_no": doc.doc_no,
            "publisher": doc.publisher, "category": doc.category, "validity": doc.validity,
            "published": doc.published.isoformat(), "issued": doc.issued.isoformat() if doc.issued else None,
            "title": doc.title, "body": body_text(doc.blocks),
            "attachments": [{"name": a.name.strip(), "url": self.base_url + a.path} for a in doc.attachments],
            "family": doc.family, "structure": copy.deepcopy(doc.structure), "docid": doc.docid,
            "parts": doc.parts,
        }

    def attachment_truth(self, url: str) -> dict[str, Any]:
        """What the attachment at ``url`` says: text, tables, structure, method (see attachment_files)."""
        with self._lock:
            route = self._routes.get(urlsplit(url).path or url)
        if not route or route[0] != "attachment":
            raise KeyError(f"no attachment at {url}")
        return self.attachment_files.truth(route[1], route[2])

    def make_attachment_files(self) -> int:
        """Make every attachment file now (benchmarks time serving, not making); how many."""
        with self._lock:
            attachments = [(route[1], route[2]) for route in self._routes.values() if route[0] == "attachment"]
        for doc, attachment in attachments:
            self.attachment_files.data(doc, attachment)
        return len(attachments)

    def bulletins(self, family: str) -> list[dict[str, Any]]:
        """Truth of every bulletin listed in the family's column, newest first."""
        with self._lock:
            listings = list(self.columns[self.families[family].column].listings)
        return [self.truth(l.doc) for l in listings if l.doc.role == "bulletin" and l.how != "mirror"]

    # ------------------------------------------------------------------ mutations
    def doc_at(self, url: str) -> Doc:
        """The document whose canonical URL (or path) is ``url``."""
        path = urlsplit(url).path or url
        with self._lock:
            route = self._routes.get(path)
        if not route or route[0] != "doc" or route[2] != "plain":
            raise KeyError(f"no document at {url}")
        return route[1]

    def add_bulletin(self, family: str, **overrides: Any) -> dict[str, Any]:
        """Publish a new bulletin (newest of the site unless ``published=`` says otherwise).

        Overrides: title, published, issued, index_no, doc_no, publisher, category, validity,
        paragraphs (list of str), blocks, structure, attachments (anchor texts such as
        ``"附件1.pdf"``), editor, kind, parts (pages the body is split over). Returns its truth.
        """
        fam = self.families[family]
        allowed = {"title", "published", "issued", "index_no", "doc_no", "publisher", "category", "validity",
                   "paragraphs", "blocks", "structure", "attachments", "editor", "kind", "parts"}
        unknown = set(overrides) - allowed
        if unknown:
            raise TypeError(f"unknown overrides: {sorted(unknown)}")
        if not fam.has_metadata and set(overrides) & {"issued", "index_no", "doc_no", "publisher", "category",
                                                      "validity", "editor"}:
            raise ValueError(f"family {family} shows no metadata block")
        with self._lock:
            self._added += 1
            rng = random.Random(f"{self.seed}/added/{self._added}")
            newest = max(l.doc.published for c in self.columns.values() for l in c.listings)
            day = _as_date(overrides.get("published")) or newest + timedelta(days=1)
            draft = self.writer.draft(rng, overrides.get("kind") or _pick_kind(rng, fam), day)
            if "paragraphs" in overrides or "blocks" in overrides:
                draft.blocks = list(overrides.get("blocks") or [("p", p) for p in overrides["paragraphs"]])
                draft.structure = {"meetings": [], "items": []}
            if "attachments" in overrides:
                draft.attachments = [(name, name.rsplit(".", 1)[1] if "." in name else "pdf")
                                     for name in overrides["attachments"]]
            doc = self._new_doc(fam, "bulletin", day, self._allocate_docid(day, rng), rng, draft)
            for key in ("title", "index_no", "publisher", "category", "validity", "editor", "structure", "parts"):
                if key in overrides:
                    setattr(doc, key, overrides[key])
            if "doc_no" in overrides:
                doc.doc_no = doc.doc_no_shown = overrides["doc_no"]
            if "issued" in overrides:
                doc.issued = _as_date(overrides["issued"])
            self._publish(doc)
            self.columns[fam.column].sort()
            return self.truth(doc)

    def edit_body(self, url: str, new_paragraphs: Sequence[str | Block], *,
                  structure: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
        """Replace a bulletin's body (strings are paragraphs); the page changes its ETag.

        The structure truth becomes ``structure`` (empty unless given). Returns the new truth.
        """
        doc = self.doc_at(url)
        with self._lock:
            doc.blocks = [("p", b) if isinstance(b, str) else tuple(b) for b in new_paragraphs]  # type: ignore[misc]
            doc.structure = structure or {"meetings": [], "items": []}
            doc.rev += 1
            now = datetime.now(timezone.utc).replace(microsecond=0)
            doc.modified = max(now, doc.modified.replace(microsecond=0) + timedelta(seconds=1))
            return self.truth(doc)

    def remove(self, url: str) -> None:
        """Take a document down: its URLs answer 404 and it leaves every list."""
        doc = self.doc_at(url)
        with self._lock:
            for path in [p for p, route in self._routes.items() if route[1] is doc]:
                del self._routes[path]
            for column in self.columns.values():
                column.listings = [l for l in column.listings if l.doc is not doc]

    # ------------------------------------------------------------------ serving
    def resolve(self, path: str, query: str = "") -> Resource | None:
        """What ``path`` answers (``query`` matters only to JSON endpoints); ``None`` means 404."""
        if path in self.api_routes:
            return self._api_resource(self.api_routes[path], query)
        if path == "/robots.txt":
            return Resource("text/plain; charset=utf-8", lambda: ROBOTS_TXT.encode())
        if path in ("/", "/index.html", "/index.shtml"):
            return Resource("text/html; charset=utf-8", self._home_page)
        with self._lock:
            route = self._routes.get(path)
            if route:
                return self._route_resource(*route)
            for column in self.columns.values():
                if path.startswith(column.path):
                    match = _LIST_PAGE.fullmatch(path[len(column.path):] or f"index.{column.family.ext}")
                    if match and match.group(2) == column.family.ext:
                        return self._list_resource(column, int(match.group(1) or 0))
        return None

    def _route_resource(self, kind: str, doc: Doc, extra: Any) -> Resource:
        family = self.families[doc.family]
        if kind == "redirect":
            location = self.base_url + doc.path
            return Resource("text/html; charset=utf-8", lambda: _moved_page(location), status=301, location=location)
        if kind == "attachment":
            attachment: Attachment = extra
            return Resource(ATTACHMENT_TYPES.get(attachment.ext, "application/octet-stream"),
                            lambda: self.attachment_files.data(doc, attachment),
                            etag=f'"{doc.docid:x}-{attachment.path.rsplit("/", 1)[1]}"',
                            last_modified=datetime.combine(doc.published, time(9), CST).astimezone(timezone.utc))
        ctx = RenderContext(self.host, self._sidebar(family))
        return Resource(family.content_type, lambda: family.encode(family.detail_page(doc, extra, ctx)),
                        etag=f'"{doc.docid:x}-{doc.rev}-{extra}"', last_modified=doc.modified)

    def _list_resource(self, column: Column, page: int) -> Resource | None:
        family = column.family
        count = len(column.listings)
        n_pages = max(1, -(-count // self.page_size))
        if page >= n_pages:
            return None
        chunk = column.listings[page * self.page_size:(page + 1) * self.page_size]
        entries = [ListEntry(self._href(l, column), l.doc.title, l.doc.published) for l in chunk]
        ctx = RenderContext(self.host, self._sidebar(family))
        return Resource(family.content_type, lambda: family.encode(family.list_page(
            name=column.name, path=column.path, entries=entries, page=page, n_pages=n_pages,
            n_records=count, ctx=ctx)))

    def _api_resource(self, family: Family, query: str) -> Resource:
        """``/api/list?page=N`` (1-based): the family's column list as JSON, like the list pages."""
        column = self.columns[family.column]
        raw = (parse_qs(query).get("page") or ["1"])[0]
        page = int(raw) if raw.isdigit() else 0
        json_type = "application/json; charset=utf-8"
        if page < 1:
            error = {"code": 400, "msg": "page must be a number from 1", "data": None}
            return Resource(json_type, lambda: json.dumps(error, ensure_ascii=False).encode(), status=400)
        with self._lock:
            count = len(column.listings)
            chunk = column.listings[(page - 1) * self.page_size:page * self.page_size]
            folder = self.base_url + column.path
            items = [family.api_item(ListEntry(urljoin(folder, self._href(l, column)), l.doc.title, l.doc.published))
                     for l in chunk]
        data = {"code": 200, "msg": "success", "data": {
            "page": page, "pageSize": self.page_size, "total": count,
            "pageCount": max(1, -(-count // self.page_size)), "list": items}}
        return Resource(json_type, lambda: json.dumps(data, ensure_ascii=False).encode())

    def _href(self, listing: Listing, column: Column) -> str:
        """The link as the list writes it: relative inside the site, absolute for mirrors."""
        doc = listing.doc
        if listing.how == "mirror":
            return f"http://{listing.mirror_host}{doc.path}"
        if listing.how == "private":
            return doc.path
        target = {"plain": doc.path, "slhxq": doc.alternate_path("slhxq"), "old": self.old_path(doc)}[listing.how]
        relative = posixpath.relpath(target, column.path.rstrip("/"))
        return relative if relative.startswith("../") else "./" + relative

    def _sidebar(self, family: Family) -> list[ListEntry]:
        """热点信息: the newest items of the family's sibling column (not bulletins)."""
        listings = self.columns[family.other_column].listings[:SIDEBAR_DOCS]
        return [ListEntry(l.doc.path, l.doc.title, l.doc.published) for l in listings]

    def _home_page(self) -> bytes:
        with self._lock:
            links = "".join(f'<li><a href="{c.path}index.{c.family.ext}">{esc(c.family.site_name)} · {esc(c.name)}</a></li>'
                            for c in self.columns.values() if c.main)
        return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>咸宁市人民政府</title></head>'
                f'<body><h1>咸宁市人民政府门户网站(复制站)</h1><ul>{links}</ul></body></html>').encode()


def _pick_kind(rng: random.Random, family: Family) -> str:
    kinds, weights = zip(*family.kinds)
    return rng.choices(kinds, weights)[0]


def _as_date(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _moved_page(location: str) -> bytes:
    return (f'<html><head><title>301 Moved Permanently</title></head><body><h1>Moved Permanently</h1>'
            f'<p>The document has moved <a href="{location}">here</a>.</p></body></html>').encode()


def not_found_page(path: str) -> bytes:
    """The portal's HTML 404 page."""
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>404 页面不存在</title></head>'
            f'<body><div class="error"><h1>404</h1><p>抱歉,您访问的页面不存在或已被删除。</p>'
            f'<p>{esc(path)}</p><a href="/">返回首页</a></div></body></html>').encode()
