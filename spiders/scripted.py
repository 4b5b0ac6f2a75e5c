"""Lists that scripts build: the data the page carries, and the endpoint its scripts call.

Read without a browser, so further pages and later nights cost one plain request each:

* **embedded data**: XML records inside a ``<script>`` (``<datastore><recordset><record>
  <![CDATA[<li><a …>…</a><span>date</span></li>]]></record>…``, as 大汉/JCMS portals ship
  them), or JSON assigned in a script (``var listData = {…}``);
* **the endpoint** the page's scripts call: ``fetch``, ``$.ajax``/``$.get``/``$.post``/
  ``$.getJSON``, ``XMLHttpRequest.open``, ``axios``, or the ``nextgroup`` link of a JCMS
  data store; GET or POST with form fields; pages by a number (``page``, ``pageNo``,
  ``pageIndex``…) or by record ranges (``startrecord``/``endrecord``/``perpage``);
* **answers** in JSON (any list of objects carrying a page URL and a title: ``url``,
  ``docpuburl``, ``link``, ``href``… / ``title``, ``doctitle``, ``name``…) or XML (records
  of HTML, or elements with URL and title children).

URLs decide nothing here either: an item is an entry when it links a web page of the
portal and has a title.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree
from lxml.etree import _Element

from pipelines.urls import canonical_url, is_detail_url, netloc_of
from pipelines.body import is_attachment_href
from pipelines.bulletin import reads_as_document
from pipelines.dates import parse_date
from pipelines.text import normalize_line, parse_html
from spiders.listing import Entry, ListReading, list_entries

#: Scripts that build or fill a list (rather than, say, a font-size switch).
_BUILDS_LIST = re.compile(
    r"\bfetch\s*\(|\.\s*(?:ajax|getJSON|get|post|load)\s*\(|XMLHttpRequest|\baxios\b|document\.write"
    r"|\.innerHTML\s*[+]?=|appendChild\s*\(|insertAdjacentHTML|\.append\s*\(|\.html\s*\(|\$\s*\(\s*function",
)
#: Ceiling on pages read from one endpoint.
MAX_API_PAGES = 5000


def inline_scripts(tree: _Element) -> str:
    return "\n".join(s.text for s in tree.iter("script") if s.text and not s.get("src"))


def has_scripts(tree: _Element) -> bool:
    return any(s.get("src") or (s.text or "").strip() for s in tree.iter("script"))


def looks_script_built(tree: _Element, entries: list[Entry], in_chrome: bool) -> bool:
    """Whether a plainly fetched list page leaves its list to scripts.

    True when the page shows no list at all but carries scripts, or what it shows is only a
    box of the page's chrome (a static sidebar) while its scripts look like they build a list.
    """
    if entries and not in_chrome:
        return False
    if not entries:
        return has_scripts(tree)
    return bool(_BUILDS_LIST.search(inline_scripts(tree)))


# --------------------------------------------------------------------------- items of data

@dataclass(frozen=True)
class ApiItem:
    url: str
    title: str = ""
    date: str = ""


def _norm(key: str) -> str:
    return re.sub(r"[^a-z]", "", key.lower())


#: Keys naming an item's document URL, title and date (compared without case, ``_`` or ``-``).
URL_KEYS = ("url", "docpuburl", "link", "href", "docurl", "puburl", "linkurl", "pageurl", "detailurl",
            "articleurl", "infourl", "contenturl", "doclink", "path", "src", "vc_url", "fileurl", "weburl")
TITLE_KEYS = ("title", "doctitle", "name", "subject", "infotitle", "articletitle", "topic", "vctitle",
              "maintitle", "showtitle", "fulltitle")
DATE_KEYS = ("date", "pubdate", "docreltime", "publishdate", "publishtime", "pubtime", "releasetime",
             "createtime", "time", "docpubtime", "infodate", "writetime", "vcdate", "showtime", "fbrq", "fbsj")
_PAGE_LIKE = re.compile(r"^(?:https?://|/|\.{1,2}/|[\w%.-]+/|[\w%-]+\.(?:s?html?|jsp|php|aspx?|do|action)\b)",
                        re.IGNORECASE)


def _lists_of_objects(node: Any) -> Iterator[list[dict]]:
    if isinstance(node, list):
        if any(isinstance(item, dict) for item in node):
            yield [item for item in node if isinstance(item, dict)]
        for item in node:
            yield from _lists_of_objects(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _lists_of_objects(value)


def _field(item: dict, keys: tuple[str, ...]) -> str:
    by_name = {_norm(k): v for k, v in item.items() if isinstance(v, (str, int, float))}
    for key in keys:
        if key in by_name and str(by_name[key]).strip():
            return normalize_line(str(by_name[key]))
    return ""


def _item_url(item: dict, base_url: str) -> str | None:
    """The page an item links: a URL key first, else any value shaped like a page URL."""
    strings = {_norm(k): v.strip() for k, v in item.items() if isinstance(v, str) and v.strip()}
    named = [strings[key] for key in map(_norm, URL_KEYS) if key in strings]
    others = [value for key, value in strings.items() if key not in URL_KEYS]
    for value in named + [v for v in others if is_detail_url(urljoin(base_url, v))] + others:
        if "<" in value or " " in value or not _PAGE_LIKE.match(value):
            continue
        url = urljoin(base_url, value)
        if netloc_of(url) and not is_attachment_href(url):
            return url
    return None


def items_from_json(data: Any, base_url: str) -> list[ApiItem]:
    """Items (page URL, title, date) of the data's list: the list of objects with most titled links."""
    best: list[ApiItem] = []
    for objects in _lists_of_objects(data):
        items = []
        for item in objects:
            url = _item_url(item, base_url)
            title = _field(item, TITLE_KEYS)
            if url and title:
                items.append(ApiItem(url, title, _field(item, DATE_KEYS)))
        if len(items) > len(best):
            best = items
    return best


def entries_of_items(items: list[ApiItem]) -> list[Entry]:
    entries: dict[str, Entry] = {}
    for item in items:
        url = canonical_url(item.url)
        entries.setdefault(url, Entry(url, item.title, parse_date(item.date)))
    return list(entries.values())


_COUNT_NAMES = frozenset({"pagecount", "totalpage", "totalpages", "pages", "pagetotal", "totalpagecount",
                          "pagenum", "totalpagenum"})
_TOTAL_NAMES = frozenset({"total", "totalrecord", "totalrecords", "totalcount", "recordcount", "count", "totalnum"})
_SIZE_NAMES = frozenset({"pagesize", "perpage", "size", "limit", "rows", "pagerows"})


def _numbers_named(data: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, (int, str)) and not isinstance(value, bool) and str(value).isdigit():
                    found.setdefault(_norm(key), int(value))
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(n for n in node if isinstance(n, (dict, list)))
    return found


def json_page_count(data: Any, page_size: int | None = None) -> int | None:
    """The page count the data announces (``pageCount``, ``totalPage``…, or total / page size)."""
    numbers = _numbers_named(data)
    for name in _COUNT_NAMES:
        if name in numbers:
            return numbers[name]
    total = next((numbers[n] for n in _TOTAL_NAMES if n in numbers), None)
    size = next((numbers[n] for n in _SIZE_NAMES if n in numbers and numbers[n] > 0), page_size)
    if total is not None and size:
        return -(-total // size)
    return None


def parse_json_text(text: str) -> Any:
    try:
        return json.loads(text.strip().lstrip("\ufeff"))
    except ValueError:
        return None


# --------------------------------------------------------------------------- XML and HTML records

_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)
_RECORD = re.compile(r"<record[^>]*>(.*?)</record>", re.DOTALL | re.IGNORECASE)
_XML_NUMBER = re.compile(
    r"<(totalrecord|totalpage|perpage|pagecount|total|pagesize)>\s*(\d+)\s*<"
    r"""|["']?\b(totalrecord|totalpage|perpage|pagecount|pagesize)["']?\s*[:=]\s*["']?(\d+)""", re.IGNORECASE)


def _records_html(text: str) -> str | None:
    """The HTML of a data store's records (CDATA or escaped), or None if it has none."""
    records = _RECORD.findall(text)
    chunks = []
    for record in records or [text]:
        inner = _CDATA.findall(record)
        chunks.extend(inner if inner else ([record] if records else []))
    html = "\n".join(chunks)
    if "&lt;a" in html and "<a" not in html:
        html = html.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    return html if re.search(r"<a\s[^>]*href", html, re.IGNORECASE) else None


def record_numbers(text: str) -> dict[str, int]:
    """``totalrecord``, ``perpage``, ``totalpage``… a data store announces (lower-case names)."""
    numbers: dict[str, int] = {}
    for xml_name, xml_value, js_name, js_value in _XML_NUMBER.findall(text):
        numbers.setdefault((xml_name or js_name).lower(), int(xml_value or js_value))
    return numbers


def entries_in_records(text: str, page_url: str, column: str) -> list[Entry]:
    """Entries of XML records carrying HTML (a JCMS data store, an XML answer)."""
    html = _records_html(text)
    if html is None:
        return []
    tree = parse_html(f"<html><body><div class='list'>{html}</div></body></html>")
    return list_entries(tree, page_url, column)


def entries_in_xml_elements(text: str, base_url: str) -> list[Entry]:
    """Entries of an XML answer whose items are elements (``<item><title/><url/></item>``)."""
    try:
        root = etree.fromstring(text.strip().encode("utf-8"), etree.XMLParser(recover=True, resolve_entities=False,
                                                                             no_network=True))
    except (etree.XMLSyntaxError, ValueError):
        return []
    if root is None:
        return []

    def as_data(element: _Element) -> Any:
        children = [c for c in element if isinstance(c.tag, str)]
        if not children:
            return (element.text or "").strip()
        if len({c.tag for c in children}) == 1 and len(children) > 1:
            return [as_data(c) for c in children]
        data = {c.tag: as_data(c) for c in children}
        data.update(element.attrib)
        return data

    return entries_of_items(items_from_json(as_data(root), base_url))


def entries_in_answer(text: str, content_type: str, base_url: str, column: str) -> tuple[list[Entry], int | None]:
    """Entries of an endpoint's answer (JSON, XML records, XML items or HTML), and its page count."""
    data = parse_json_text(text) if text.lstrip()[:1] in "[{" else None
    if data is not None:
        entries = entries_of_items(items_from_json(data, base_url))
        if not entries:  # JSON carrying HTML: {"html": "<li><a …>"}
            html = "\n".join(v for v in _strings(data) if "<a" in v)
            if html:
                entries = list_entries(parse_html(f"<html><body>{html}</body></html>"), base_url, column)
        return entries, json_page_count(data)
    numbers = record_numbers(text)
    count = numbers.get("totalpage") or numbers.get("pagecount")
    if not count and numbers.get("totalrecord") and (numbers.get("perpage") or numbers.get("pagesize")):
        count = -(-numbers["totalrecord"] // (numbers.get("perpage") or numbers["pagesize"]))
    entries = entries_in_records(text, base_url, column)
    if not entries and "xml" in content_type.lower() or text.lstrip().startswith("<?xml"):
        entries = entries or entries_in_xml_elements(text, base_url)
    if not entries:
        entries = list_entries(parse_html(text), base_url, column)
    return entries, count


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)


# --------------------------------------------------------------------------- data in the page

_ASSIGNED = re.compile(r"(?:\b(?:var|let|const)\s+|\bwindow\.)?[\w$.]+\s*=\s*(?=[\[{])")


def _balanced(text: str, start: int) -> str | None:
    """The JSON value (object or array) starting at ``text[start]``, by bracket matching."""
    depth, quote, escaped = 0, "", False
    for index in range(start, min(len(text), start + 5_000_000)):
        char = text[index]
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return text[start:index + 1]
    return None


@dataclass(frozen=True)
class Embedded:
    """A list a page carries in its scripts: its entries, a page count, what it was."""

    entries: list[Entry]
    kind: str
    pages: int | None = None
    #: records per page, when the data says (its entries then cover several pages)
    per_page: int | None = None

    @property
    def pages_covered(self) -> int:
        return max(1, -(-len(self.entries) // self.per_page)) if self.per_page else 1


def embedded_list(tree: _Element, page_url: str, column: str) -> Embedded | None:
    """The list a page carries as data in its scripts (XML records first, then JSON)."""
    best: Embedded | None = None
    for script in tree.iter("script"):
        text = script.text or ""
        if not text.strip() or script.get("src"):
            continue
        if "<record" in text.lower() or ("CDATA" in text and "<a" in text):
            entries = entries_in_records(text, page_url, column)
            numbers = record_numbers(inline_scripts(tree))
            per = numbers.get("perpage") or numbers.get("pagesize")
            pages = numbers.get("totalpage") or (-(-numbers["totalrecord"] // per)
                                                 if per and numbers.get("totalrecord") else None)
            if entries and (best is None or len(entries) > len(best.entries)):
                best = Embedded(entries, "xml-records", pages, per)
            continue
        for match in _ASSIGNED.finditer(text):
            raw = _balanced(text, match.end())
            data = parse_json_text(raw) if raw else None
            if data is None:
                continue
            entries = entries_of_items(items_from_json(data, page_url))
            if entries and (best is None or len(entries) > len(best.entries)):
                best = Embedded(entries, "json-in-script", json_page_count(data))
    return best


# --------------------------------------------------------------------------- the endpoint

_STRING = r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`"""
#: A URL expression: string literals and simple terms joined by ``+``.
_TERM = r"""(?:%s|[\w$.]+(?:\s*\(\s*[^()]*\))?|\(\s*[^()]*\))""" % _STRING
_EXPR = rf"(?P<expr>{_TERM}(?:\s*\+\s*{_TERM})*)"
_CALLS = [
    (re.compile(rf"\bfetch\s*\(\s*{_EXPR}"), None),
    (re.compile(rf"(?:\$|jQuery)\s*\.\s*(?:get|getJSON)\s*\(\s*{_EXPR}"), "GET"),
    (re.compile(rf"(?:\$|jQuery)\s*\.\s*post\s*\(\s*{_EXPR}"), "POST"),
    (re.compile(rf"(?:\$|jQuery)\s*\.\s*ajax\s*\(\s*{_EXPR}"), None),
    (re.compile(rf"\baxios\s*\.\s*post\s*\(\s*{_EXPR}"), "POST"),
    (re.compile(rf"\baxios(?:\s*\.\s*get)?\s*\(\s*{_EXPR}"), "GET"),
    (re.compile(rf"\.open\s*\(\s*['\"]GET['\"]\s*,\s*{_EXPR}", re.IGNORECASE), "GET"),
    (re.compile(rf"\.open\s*\(\s*['\"]POST['\"]\s*,\s*{_EXPR}", re.IGNORECASE), "POST"),
    (re.compile(rf"(?<![\w$])url\s*:\s*{_EXPR}"), None),
]
_PIECE = re.compile(rf"\s*(?P<piece>{_TERM})\s*(?:\+|$)")
_PAGE_NAMES = re.compile(
    r"^(?:page|pageno|pagenum|pagenumber|pageindex|pageindx|curpage|currpage|currentpage|current|pn|p|index|start"
    r"|page_no|page_index|pagenow|nowpage|cpage)$",
    re.IGNORECASE)
_RECORD_NAMES = {"startrecord": "{start}", "endrecord": "{end}"}
_DATA_OBJECT = re.compile(r"(?:data|body|params)\s*:\s*(?:JSON\.stringify\s*\(\s*)?\{(?P<body>[^{}]*)\}")
_POST_OBJECT = re.compile(r"(?:\$|jQuery)\s*\.\s*post\s*\(\s*[^,]+,\s*\{(?P<body>[^{}]*)\}")
_DATA_STRING = re.compile(r"(?:data|body)\s*:\s*(?P<expr>(?:" + _STRING + r")(?:\s*\+\s*[\w$.()]+(?:\s*\+\s*(?:"
                          + _STRING + r"))?)*)|\.send\s*\(\s*(?P<sent>(?:" + _STRING + r")(?:\s*\+\s*[^;)]+)*)\)")
_DATA_PAIR = re.compile(r"""['"]?(?P<key>[\w$]+)['"]?\s*:\s*(?P<value>'[^']*'|"[^"]*"|[^,}]+)""")
_POST = re.compile(r"""(?:type|method)\s*:\s*['"]post['"]""", re.IGNORECASE)
_STATIC = re.compile(r"\.(?:js|css|png|jpe?g|gif|svg|ico|woff2?|ttf)(?:$|\?)", re.IGNORECASE)
_TEMPLATE_HOLE = re.compile(r"\$\{[^}]*\}")
#: The literal before a term ends with a page parameter (``?page=``, ``&pageNo=``).
_PAGE_SLOT = re.compile(
    r"[?&;/](?:page|pageno|pagenum|pagenumber|pageindex|curpage|currpage|currentpage|pn|p|page_no|pagenow)=$",
    re.IGNORECASE)
_NEXTGROUP = re.compile(r"<nextgroup>\s*<!\[CDATA\[(?P<html>.*?)\]\]>", re.DOTALL | re.IGNORECASE)
PAGE = "{page}"


def _literal(piece: str) -> str | None:
    if piece[:1] in "'\"`" and piece[-1:] == piece[:1]:
        return re.sub(r"\\(.)", r"\1", piece[1:-1])
    return None


_OBJECT_LITERAL = re.compile(r"(?:var|let|const)\s+([\w$]+)\s*=\s*\{(?P<body>[^{}]*)\}")
_LITERAL_PAIR = re.compile(r"""['"]?([\w$]+)['"]?\s*:\s*(?:'([^'\n]*)'|"([^"\n]*)"|(\d+))""")


def _variables(script: str) -> dict[str, str]:
    """``var name = 'text' | 123`` assignments of the page's scripts (last one wins), and the
    members of object literals (``var api = {url: "/x", id: 5}`` gives ``api.url``, ``api.id``)."""
    found = {}
    for match in re.finditer(r"""(?:var|let|const)?\s*\b([\w$]+)\s*=\s*(?:'([^'\n]*)'|"([^"\n]*)"|(\d+))\s*[;,\n]""",
                             script):
        found[match.group(1)] = next(g for g in match.groups()[1:] if g is not None)
    for literal in _OBJECT_LITERAL.finditer(script):
        for pair in _LITERAL_PAIR.finditer(literal.group("body")):
            found[f"{literal.group(1)}.{pair.group(1)}"] = next(g for g in pair.groups()[1:] if g is not None)
    return found


def _template(expr: str, variables: dict[str, str]) -> str | None:
    """A URL (or form body) template with ``{page}`` for the page term, or None if not understood."""
    text = expr.strip()
    if text.startswith("`") and text.endswith("`"):
        holes = _TEMPLATE_HOLE.findall(text)
        parts = _TEMPLATE_HOLE.split(text[1:-1])
        out = parts[0]
        for hole, part in zip(holes, parts[1:]):
            name = hole[2:-1].strip()
            out += variables[name] if name in variables and not _PAGE_NAMES.match(name) else PAGE
            out += part
        return out if out.count(PAGE) <= 1 else None
    out, page_terms = "", 0
    for match in _PIECE.finditer(text):
        piece = match.group("piece").strip()
        literal = _literal(piece)
        if literal is not None:
            out += literal
            continue
        name = piece if re.fullmatch(r"[\w$.]+", piece) else None
        slot = _PAGE_SLOT.search(out)
        if not slot and name in variables and not _PAGE_NAMES.match(name or ""):
            out += variables[name]  # a constant of the page (a column id, a site id)
        else:
            out += PAGE
            page_terms += 1
    if page_terms > 1 or not out or out == PAGE:
        return None
    return out


def _form_value(key: str, value: str, variables: dict[str, str]) -> str | None:
    value = value.strip()
    literal = _literal(value)
    if key.lower() in _RECORD_NAMES:
        return _RECORD_NAMES[key.lower()]
    if _PAGE_NAMES.match(key):
        return PAGE if literal is None or literal.isdigit() else literal
    if literal is not None:
        return literal
    if value in variables:
        return variables[value]
    return value if re.fullmatch(r"[\w.-]+", value) and not re.fullmatch(r"[A-Za-z_$][\w$.]*", value) else None


def _paged(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Page-like parameters with a number get the page slot (``page=1`` -> ``page={page}``)."""
    return [(key, _RECORD_NAMES[key.lower()] if key.lower() in _RECORD_NAMES
             else PAGE if _PAGE_NAMES.match(key) and value.isdigit() else value) for key, value in pairs]


@dataclass(frozen=True)
class ApiEndpoint:
    """An endpoint a list page's scripts call.

    ``template`` (the URL) and ``form`` (POST fields) may hold ``{page}`` (pages from
    ``first``), or ``{start}``/``{end}`` (record ranges of ``per_page`` records).
    """

    template: str
    method: str = "GET"
    form: tuple[tuple[str, str], ...] = ()
    per_page: int = 0

    @property
    def paged(self) -> bool:
        text = self.template + "".join(value for _key, value in self.form)
        return any(slot in text for slot in (PAGE, "{start}"))

    @property
    def by_records(self) -> bool:
        return "{start}" in self.template + "".join(value for _key, value in self.form)

    def _fill(self, text: str, page: int) -> str:
        per = self.per_page or 1
        return (text.replace(PAGE, str(page)).replace("{start}", str((page - 1) * per + 1))
                .replace("{end}", str(page * per)))

    def url(self, page: int) -> str:
        return self._fill(self.template, page)

    def formdata(self, page: int) -> dict[str, str]:
        return {key: self._fill(value, page) for key, value in self.form}

    def describe(self) -> str:
        form = "&".join(f"{k}={v}" for k, v in self.form)
        return f"{self.method} {self.template}" + (f" [{form}]" if form else "")


def _form_of(window: str, variables: dict[str, str]) -> list[tuple[str, str]]:
    data = _DATA_OBJECT.search(window) or _POST_OBJECT.search(window)
    if data:
        pairs = [(pair["key"], _form_value(pair["key"], pair["value"], variables))
                 for pair in _DATA_PAIR.finditer(data.group("body"))]
        return [(key, value) for key, value in pairs if value is not None]  # unknown values left out
    text = _DATA_STRING.search(window)
    if text:
        body = _template(text.group("expr") or text.group("sent"), variables)
        if body is not None:
            return _paged(parse_qsl(body.replace(PAGE, "1"), keep_blank_values=True))
    return []


def _records_endpoint(template: str, form: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]], int]:
    """Record ranges in the URL's query (``startrecord=1&endrecord=45&perpage=15``) become slots."""
    parts = urlsplit(template)
    query = parse_qsl(parts.query.replace(PAGE, "1"), keep_blank_values=True)
    names = {key.lower(): value for key, value in query + form}
    if not ({"startrecord", "endrecord"} <= names.keys()):
        return template, form, 0
    per = names.get("perpage", "")
    step = int(per) if per.isdigit() and int(per) > 0 else 0
    start, end = names.get("startrecord", "1"), names.get("endrecord", "")
    if start.isdigit() and end.isdigit() and int(end) >= int(start):
        step = int(end) - int(start) + 1  # one request per record range as long as the page asks for
    query = [(key, _RECORD_NAMES.get(key.lower(), value)) for key, value in query]
    form = [(key, _RECORD_NAMES.get(key.lower(), value)) for key, value in form]
    return urlunsplit(parts._replace(query=urlencode(query, safe="{}/"))), form, step or 15


def _with_page_in_query(template: str, form: list[tuple[str, str]], method: str) -> str:
    """GET data (``data: {pageNo: n}``) goes into the query."""
    if method != "GET" or not form:
        return template
    parts = urlsplit(template)
    query = parse_qsl(parts.query, keep_blank_values=True) + form
    return urlunsplit(parts._replace(query=urlencode(query, safe="{}/")))


def find_endpoints(tree: _Element, page_url: str, hosts: set[str] | None = None) -> list[ApiEndpoint]:
    """The endpoints the list page's scripts call, paged ones first."""
    script = inline_scripts(tree)
    variables = _variables(script)
    found: list[ApiEndpoint] = []

    def add(url_template: str, method: str, form: list[tuple[str, str]]) -> None:
        url_template, form, per = _records_endpoint(url_template, form)
        if method == "GET":
            url_template, form = _with_page_in_query(url_template, form, method), []
        url = urljoin(page_url, url_template.replace(PAGE, "PAGE__")).replace("PAGE__", PAGE)
        sample = url.replace(PAGE, "1").replace("{start}", "1").replace("{end}", "1")
        if not netloc_of(sample) or _STATIC.search(urlsplit(sample).path):
            return
        if is_detail_url(sample) or urlsplit(sample).path.endswith((".html", ".shtml", ".htm")):
            return
        if hosts is not None and netloc_of(sample) not in hosts:
            return
        endpoint = ApiEndpoint(url, method, tuple(form), per)
        if endpoint not in found:
            found.append(endpoint)

    for call, method in _CALLS:
        for match in call.finditer(script):
            window = script[max(0, match.start() - 200):match.start() + 600]
            template = _template(match.group("expr"), variables)
            if template is None:
                continue
            verb = method or ("POST" if _POST.search(script[match.start():match.start() + 600])
                              or _POST.search(script[max(0, match.start() - 200):match.start()]) else "GET")
            add(template, verb, _form_of(window, variables))
    for nextgroup in _NEXTGROUP.finditer(script):  # a JCMS data store: its proxy, POSTed in record ranges
        link = re.search(r"""href\s*=\s*['"]([^'"]+)""", nextgroup.group("html"))
        if link:
            parts = urlsplit(link.group(1).replace("&amp;", "&"))
            fields = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "page"]
            numbers = record_numbers(script)
            per = numbers.get("perpage") or numbers.get("pagesize") or 15
            add(urlunsplit(parts._replace(query=f"startrecord=1&endrecord={per}&perpage={per}")), "POST",
                [("col", "1"), *fields])
    found.sort(key=lambda endpoint: not endpoint.paged)
    return found


def find_endpoint(tree: _Element, page_url: str, hosts: set[str] | None = None) -> ApiEndpoint | None:
    """The likeliest endpoint of the list (a paged one first), if the scripts show one."""
    endpoints = find_endpoints(tree, page_url, hosts)
    return endpoints[0] if endpoints else None


def is_document_page(tree: _Element, reading: ListReading, embedded: Embedded | None, rendered: bool = False) -> bool:
    """Whether a page given as a column's start page is a document (a bulletin), not its list: its
    only list is a box of its chrome (a sidebar), it carries no list data, its scripts build no
    list (or, ``rendered``, built none), and its body says something at length."""
    return (embedded is None and reading.in_chrome
            and (rendered or not looks_script_built(tree, reading.entries, True)) and reads_as_document(tree))
