"""A column's list pages from what its pager shows, and the pages of a split document.

What a list page says about the column's other pages (:func:`read_pager`):

* **links** anywhere on the page that lead to another list page of the column (its folder or
  a subfolder, or the same page with another query): 下一页 / 下页 / 后页 / 下一頁 / › / » /
  ``next``, 尾页 / 末页, numbered links, links inside a pager block (``class="page…"``), and
  siblings named like the page itself plus a number (``index_3.shtml``). Numbered pages with
  one varying number (``index_N``, ``?page=N``, ``pageNo=N``, ``list/index_N``) are filled
  in between the lowest and highest one shown, whichever way the portal numbers them.
* **scripts** that write the pager: ``createPageHTML(N, cur, "index", "shtml")`` (four
  arguments, pages counted from 0: page k is ``index_k``), ``createPageHTML('page_div', N,
  cur, 'index', 'html', total)`` (six arguments, from 1: page k is ``index_k``, so page 2 is
  ``index_2``), ``var countPage = N``. What is computed from a script's arguments is a
  **guess**: :class:`PageGuess` lists its pages and the one page that tells its naming from
  the other; the spider requests that page first, and a 404 or a repeat of earlier entries
  makes it try the other naming, never end the column.
* **the count** the page announces (``共N页``, ``1/41``, a script's count), so a run can say
  how many pages it read of those announced.

A long document split over several pages paginates the same way under its own name
(:func:`document_parts`). Where none of this reads a portal right, its site profile names the
pages (``pager = "index_{n}.shtml"``, :func:`templated_pager`).
"""
from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from lxml.etree import _Element, tostring

from pipelines.urls import canonical_url, document_page, netloc_of
from pipelines.text import parse_page
from spiders.listing import PAGER_TEXTS, PageLinks, PagerLinkShape, read_links

_ARG = r"""\s*(?:'([^']*)'|"([^"]*)"|([\w.$]+))\s*"""
_CREATE_PAGE = re.compile(r"createPageHTML\s*\(((?:" + _ARG + r",?)+)\)")
_ONE_ARG = re.compile(_ARG + r"(?:,|$)")
_VARIABLE = r"(?:var|let|const)?\s*{name}\s*=\s*['\"]?(\d+)['\"]?"
_COUNT_PAGE = re.compile(r"\b(?:countPage|pageCount|totalPage|totalPages|page_count|pageTotal)\s*[=:]\s*['\"]?(\d+)")
#: ``共41页``, ``共 41 页``, ``页次:1/41``, ``1/41页``, ``第1页/共41页``.
_TEXT_COUNT = re.compile(r"共\s*(\d+)\s*页|(?<![\d/])\d+\s*/\s*(\d+)\s*页|页次\s*[:：]?\s*\d+\s*/\s*(\d+)")
NEXT_TEXTS = frozenset({"下一页", "下页", "后页", "后一页", "下一頁", "›", "»", ">", "next", "next page", "下一页>",
                        "下一页 >", "下一页>>"})
LAST_TEXTS = frozenset({"尾页", "末页", "最后一页", "最末页", "last", ">>", "»|", "尾 页", "末 页"})
_PAGER_BLOCK = re.compile(r"(?:^|[^a-z])(?:page|pages|pager|paging|pagination|fenye|pagebar|pagenav|pageno|pg)",
                          re.IGNORECASE)
_INDEX_NAME = re.compile(r"^(?P<name>[\w-]+?)(?:_(?P<number>\d+))?\.(?P<ext>s?html?|jsp|php|aspx?)$", re.I)
_DIGITS = re.compile(r"\d+")
_BRACKETED_NUMBER = re.compile(r"\[\d+\]")

#: Ceiling on pages read off a script or filled in between numbered links.
MAX_PAGES = 5000
#: Ceiling on the pages of one split document.
MAX_DOCUMENT_PAGES = 100
#: A link to a further page of a document, or an article pager: worth parsing the page for.
_PART_HINT = re.compile(rb"createPageHTML|_\d+_\d{1,3}\.s?html?", re.I)


@dataclass(frozen=True)
class PageGuess:
    """The pages a pager script announces, under one naming convention.

    ``urls`` are pages 2 … N in order; ``probe`` is the page that exists under this naming
    only (``index_1`` when counting from 0, ``index_N`` when counting from 1).
    """

    convention: str
    urls: tuple[str, ...]
    probe: str
    #: page 1 (``index.shtml``)
    first: str = ""


@dataclass(frozen=True)
class Pager:
    """What one list page shows of its column's pages."""

    #: ``script``, ``links``, ``numbered`` or ``none``.
    kind: str
    #: Pages the portal announces in all (``None``: it does not say).
    announced: int | None = None
    #: Other list pages the page links (numbered ones filled in), in the column's order.
    links: tuple[str, ...] = ()
    #: The page after this one, as its 下一页 link says.
    next_url: str | None = None
    #: The script's pages under each naming convention, the likelier first.
    guesses: tuple[PageGuess, ...] = field(default=())

    def page_urls(self, page_url: str) -> list[str]:
        """Every page known from this one (at most MAX_PAGES): the likelier guess from page 1,
        else this page, then the linked ones."""
        urls = dict.fromkeys([self.guesses[0].first, *self.guesses[0].urls] if self.guesses else [page_url])
        urls.update(dict.fromkeys(self.links))
        return list(urls)[:MAX_PAGES]


# --------------------------------------------------------------------------- scripts

def _arguments(raw: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None) for m in _ONE_ARG.finditer(raw.strip())]


def _resolve_int(value: str, script: str) -> int | None:
    if value.isdigit():
        return int(value)
    match = re.search(_VARIABLE.format(name=re.escape(value)), script)
    return int(match.group(1)) if match else None


def _own_name(page_url: str) -> tuple[str, str]:
    match = _INDEX_NAME.match(posixpath.basename(urlsplit(page_url).path) or "index.html")
    return (match["name"], match["ext"]) if match else ("index", "html")


def _named(folder: str, name: str, ext: str, numbers: range) -> tuple[str, ...]:
    return tuple(urljoin(folder, f"{name}_{number}.{ext}") for number in numbers)


def guesses_for(count: int, name: str, ext: str, folder: str, from_one: bool) -> tuple[PageGuess, ...]:
    """Both namings of a script's ``count`` pages, the one its arguments suggest first."""
    if count < 2:
        return ()
    count = min(count, MAX_PAGES)
    first = urljoin(folder, f"{name}.{ext}")
    zero = PageGuess(f"from 0 (page k is {name}_k-1)", _named(folder, name, ext, range(1, count)),
                     urljoin(folder, f"{name}_1.{ext}"), first)
    one = PageGuess(f"from 1 (page k is {name}_k)", _named(folder, name, ext, range(2, count + 1)),
                    urljoin(folder, f"{name}_{count}.{ext}"), first)
    return (one, zero) if from_one else (zero, one)


@dataclass(frozen=True)
class _ScriptPager:
    count: int
    name: str
    ext: str
    from_one: bool


def _from_script(script: str, page_url: str) -> _ScriptPager | None:
    for call in _CREATE_PAGE.finditer(script):
        args = _arguments(call.group(1))
        # 4 arguments: (N, cur, name, ext), cur from 0; 6: (div_id, N, cur, name, ext, total), cur from 1.
        if len(args) >= 6 and not args[0].isdigit():
            count, name, ext, from_one = args[1], args[3], args[4], True
        elif len(args) >= 4:
            count, name, ext, from_one = args[0], args[2], args[3], False
        else:
            continue
        pages = _resolve_int(count, script)
        if pages is not None:
            return _ScriptPager(pages, name, ext, from_one)
    count = _COUNT_PAGE.search(script)
    if count:
        name, ext = _own_name(page_url)
        return _ScriptPager(int(count.group(1)), name, ext, False)
    return None


# --------------------------------------------------------------------------- links

def in_list_scope(url: str, page_url: str, column: str) -> bool:
    """Whether ``url`` may be another list page of the column: same host, inside the column's
    folder (subfolders too), or the page's own path with another query."""
    if netloc_of(url) != netloc_of(page_url):
        return False
    if urlsplit(url).path == urlsplit(page_url).path:
        return url != page_url
    return canonical_url(url).startswith(column)


def _skeleton(url: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """A URL as its non-digit parts and its numbers: ``index_3.html`` -> (index_, .html), (3,)."""
    return tuple(_DIGITS.split(url)), tuple(int(d) for d in _DIGITS.findall(url))


def _filled(urls: list[str]) -> list[str]:
    """Numbered page URLs with one varying number, with the numbers between them filled in."""
    by_skeleton: dict[tuple[str, ...], list[tuple[int, ...]]] = {}
    for url in urls:
        parts, numbers = _skeleton(url)
        by_skeleton.setdefault(parts, []).append(numbers)
    filled: list[str] = []
    for parts, numbers_list in by_skeleton.items():
        if len(numbers_list) < 2:
            continue
        varying = [i for i in range(len(numbers_list[0])) if len({n[i] for n in numbers_list}) > 1]
        if len(varying) != 1:
            continue
        slot = varying[0]
        values = sorted({n[slot] for n in numbers_list})
        low, high = values[0], min(values[-1], values[0] + MAX_PAGES)
        template = numbers_list[0]
        for value in range(low, high + 1):
            numbers = template[:slot] + (value,) + template[slot + 1:]
            filled.append("".join(part + str(number) for part, number in zip(parts, numbers)) + parts[-1])
    return filled


def _named_like(href: str, name: str) -> bool:
    """Whether the link's file is the page's own name plus a number (``index_3.shtml``)."""
    match = _INDEX_NAME.match(posixpath.basename(urlsplit(href).path))
    return bool(match and match["name"] == name and match["number"])


_FIRST_TEXTS = frozenset({"首页", "第一页", "first", "«", "|<"})
#: A pager's link says no more than its longest word (下一页, ``next page``, ``12``, ``[3]``): a
#: longer text is no pager word nor page number, and is not looked at further.
PAGER_TEXT_MAX = max(map(len, NEXT_TEXTS | LAST_TEXTS | PAGER_TEXTS | _FIRST_TEXTS))


def _last_page_count(last_url: str | None, first_url: str | None) -> int | None:
    """Pages a 尾页 link implies: its number, plus one when numbers count further pages only
    (``index_1`` is page 2), not when the 首页 link carries number 1 (``?cur_page=1``)."""
    if last_url is None:
        return None
    parts, numbers = _skeleton(last_url)
    if not numbers:
        return None
    if first_url is not None:
        first_parts, first_numbers = _skeleton(first_url)
        if first_parts == parts and first_numbers[-1:] == (1,):
            return numbers[-1]
    return numbers[-1] + 1


def _own_link_shape(page_url: str) -> PagerLinkShape:
    """The links this page's pager may be made of (see :func:`_linked_pages`)."""
    name, _ext = _own_name(page_url)
    # in every href named like the page plus a number (``index_3.shtml``)
    return PagerLinkShape(PAGER_TEXT_MAX, _PAGER_BLOCK, f"{name}_")


def page_links(tree: _Element, page_url: str) -> PageLinks:
    """The page's links read once for both its list (:func:`spiders.listing.read_list`) and its
    pager (:func:`read_pager`): a list page may carry 100,000 links."""
    return read_links(tree, _own_link_shape(page_url))


def _linked_pages(page: PageLinks, page_url: str, column: str) -> tuple[list[str], str | None, int | None]:
    """(pager links in order, the 下一页 link, the page count its numbered or 尾页 links show)."""
    name, _ext = _own_name(page_url)
    found: dict[str, None] = {}
    next_url: str | None = None
    last_url: str | None = None
    first_url: str | None = None
    highest: int | None = None
    shape = page.pager_shape
    for href, text, in_block in page.pager_candidates:  # a page may carry 100,000 links, few of them a pager's
        if len(text) <= PAGER_TEXT_MAX:
            lowered = text.lower()
            # isdecimal(): what int() reads (``①`` is a digit, not a number)
            numbered = text.isdecimal() or (text[:1] == "[" and bool(_BRACKETED_NUMBER.fullmatch(text)))
            worded = lowered in NEXT_TEXTS or lowered in LAST_TEXTS or lowered in PAGER_TEXTS
        else:  # a title: a pager's link only by where it stands or how it is named
            lowered, numbered, worded = "", False, False
        if not (worded or numbered or in_block or (shape.marker in href and _named_like(href, name))):
            continue
        if href.startswith("#") or href[:11].lower().startswith(("javascript:", "mailto:")):
            continue
        url = urljoin(page_url, href).split("#", 1)[0]
        if not in_list_scope(url, page_url, column):
            continue
        if lowered in NEXT_TEXTS and next_url is None:
            next_url = url
        if lowered in LAST_TEXTS and last_url is None:
            last_url = url
        if lowered in _FIRST_TEXTS and first_url is None:
            first_url = url
        if numbered:
            number = int(text.strip("[]"))
            highest = number if highest is None else max(highest, number)
        found.setdefault(url, None)
    for url in _filled([*found, page_url]):
        if url != page_url and in_list_scope(url, page_url, column):
            found.setdefault(url, None)
    return list(found), next_url, highest or _last_page_count(last_url, first_url)


#: Looser than :data:`_TEXT_COUNT` (no look-behind, less before ``/``): it matches a page's whole
#: text wherever that matches one of the page's texts (one regex pass instead of a test of every
#: text node). Every match holds ``页`` and either ``共`` or ``/``: a text without them is not
#: passed over by the regex (a pass that tests each character against the branches' first ones).
_TEXT_COUNT_ANYWHERE = re.compile(r"共\s*\d+\s*页|/\s*\d+\s*页|页次\s*[:：]?\s*\d+\s*/\s*\d+")


def _text_count(tree: _Element) -> int | None:
    # The page's text as UTF-8 bytes (//body, without XPath), looked at before it is decoded: most
    # pages say no count, and decoding a page of 100,000 links costs more than reading its text.
    raw = b"".join(tostring(body, method="text", encoding="utf-8", with_tail=False)
                   for body in tree.getroottree().iter("body"))
    if "页".encode() not in raw or ("共".encode() not in raw and b"/" not in raw):
        return None
    if not _TEXT_COUNT_ANYWHERE.search(raw.decode()):
        return None
    for text in tree.xpath("//body//text()[contains(., '页')]"):
        match = _TEXT_COUNT.search(str(text))
        if match:
            return int(next(g for g in match.groups() if g))
    return None


def read_pager(tree: _Element, page_url: str, column: str | None = None, links: PageLinks | None = None) -> Pager:
    """What this list page shows of its column's pages (see the module's docs); from ``links``
    when the page's links are read already (:func:`page_links`)."""
    column = column or urljoin(page_url, "./")
    if links is None or links.pager_shape is None:
        links = read_links(tree, _own_link_shape(page_url), entries=False)
    script = "\n".join(s.text for s in tree.iter("script") if s.text)
    scripted = _from_script(script, page_url) if script else None
    linked, next_url, highest = _linked_pages(links, page_url, column)
    guesses: tuple[PageGuess, ...] = ()
    announced = _text_count(tree)
    if scripted is not None:
        folder = urljoin(page_url, "./")
        guesses = guesses_for(scripted.count, scripted.name, scripted.ext, folder, scripted.from_one)
        announced = scripted.count
        if guesses and all(url in linked for url in guesses[0].urls):
            guesses = ()  # the links show every page: nothing to guess
    if announced is None and highest is not None and linked:
        announced = highest if highest > 1 else None
    kind = "script" if guesses else ("numbered" if highest and linked else ("links" if linked else "none"))
    return Pager(kind, announced, tuple(linked), next_url, guesses)


def read_pagination(tree: _Element, page_url: str, column: str | None = None) -> Pager:
    """Alias of :func:`read_pager` (the name the rest of the code base knew)."""
    return read_pager(tree, page_url, column)


# --------------------------------------------------------------------------- split documents

def document_parts(body: bytes, content_type: str | None, page_url: str,
                   tree_of: Callable[[], _Element] | None = None) -> list[str]:
    """URLs of pages 1, 2, … of the split document whose first page is ``body``, in order.

    From the page's own ``createPageHTML`` call (its name is the document's) and its links to
    ``t…_<docid>_<n>.<ext>`` in the same folder. Pages without a hint of either are not parsed.
    ``tree_of``: the page's tree, parsed on its first call, when the caller shares it.
    """
    own = document_page(page_url)
    if own is None or own[1] != 0 or not _PART_HINT.search(body):
        return []
    name, _page = own
    ext = posixpath.splitext(urlsplit(page_url).path)[1].lstrip(".")
    tree = tree_of() if tree_of is not None else parse_page(body, content_type)
    numbers: set[int] = set()
    announced = _from_script("\n".join(tree.xpath("//script/text()")), page_url)
    if announced and announced.name == name and announced.count:
        numbers.update(range(1, min(announced.count, MAX_DOCUMENT_PAGES)))
    folder = urljoin(page_url, "./")
    for link in tree.xpath("//a[@href]"):
        href = link.get("href", "")
        if name not in href:  # no further page of this document: a target without its name is the page itself or another
            continue
        url = urljoin(page_url, href.strip()).split("#", 1)[0]
        linked = document_page(url)
        if linked and linked[0] == name and 0 < linked[1] < MAX_DOCUMENT_PAGES and urljoin(url, "./") == folder:
            numbers.add(linked[1])
    return [urljoin(folder, f"{name}_{number}.{ext}") for number in sorted(numbers)]


# --- a profile's pager template --------------------------------------------------------------
#: Placeholders of a pager template: the page's number (2 for the second page), or one less.
PAGE_PLACEHOLDERS = ("{n}", "{n-1}")


def template_page(start_url: str, template: str, number: int) -> str:
    """Page ``number`` of a column whose profile names its pages (page 1 is the start page)."""
    if number <= 1:
        return start_url
    return urljoin(start_url, template.replace("{n-1}", str(number - 1)).replace("{n}", str(number)))


def template_number(start_url: str, template: str, url: str) -> int | None:
    """Which page of the template ``url`` is (1: the start page), or None."""
    if url == start_url:
        return 1
    pattern = re.escape(urljoin(start_url, template))
    for placeholder, offset in (("{n-1}", 1), ("{n}", 0)):
        escaped = re.escape(placeholder)
        if escaped in pattern:
            match = re.fullmatch(pattern.replace(escaped, r"(\d+)"), url)
            return int(match.group(1)) + offset if match else None
    return None


def templated_pager(pager: Pager, start_url: str, template: str, page_url: str) -> Pager:
    """The pager as the template names it: pages 2 … N when the page announces N (every page
    read), else the next page only (the column ends at the first page that is not there)."""
    number = template_number(start_url, template, page_url) or 1
    announced = pager.announced
    links = tuple(template_page(start_url, template, k) for k in range(2, min(announced, MAX_PAGES) + 1)
                  ) if announced else ()
    following = template_page(start_url, template, number + 1) if not announced or number < announced else None
    return Pager("template", announced, links, following)

