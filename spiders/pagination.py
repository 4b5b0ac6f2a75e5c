"""Every list page of a column, and every page of a split document, from their pagination.

TRS portals write pagination with JavaScript that a plain fetch never runs, so the call is
read instead of executed:

* ``createPageHTML(N, cur, "index", "shtml")`` — N pages, ``cur`` from 0 (N may be quoted);
* ``createPageHTML('page_div', N, cur, 'index', 'shtml', total)`` — ``cur`` from 1;
* ``var countPage = N`` (also as the first argument: ``createPageHTML(countPage, …)``);
* plain links: ``下一页`` / ``尾页`` and any ``index_N.<ext>`` beside the page.

Page 0 is ``index.<ext>``, page i is ``index_i.<ext>``. A long document split over several
pages paginates the same way under its own name: ``createPageHTML(3, 0, "t20200916_2183980",
"shtml")`` or links to ``t20200916_2183980_1.shtml``, ``_2`` (see :func:`document_parts`).
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml.etree import _Element

from pipelines.urls import document_page
from pipelines.text import decode_html, element_text, parse_html

_ARG = r"""\s*(?:'([^']*)'|"([^"]*)"|([\w.$]+))\s*"""
_CREATE_PAGE = re.compile(r"createPageHTML\s*\(((?:" + _ARG + r",?)+)\)")
_ONE_ARG = re.compile(_ARG + r"(?:,|$)")
_VARIABLE = r"(?:var|let|const)?\s*{name}\s*=\s*['\"]?(\d+)['\"]?"
_COUNT_PAGE = re.compile(r"\b(?:countPage|pageCount|totalPage|page_count)\s*=\s*['\"]?(\d+)")
_NEXT_TEXTS = ("下一页", "下页", "后一页", "尾页", "末页", "最后一页")
_INDEX_NAME = re.compile(r"^(?P<name>[\w-]+?)(?:_(?P<number>\d+))?\.(?P<ext>s?html?|jsp|php)$", re.I)

#: Ceiling on pages read off a script, against a corrupt or hostile page count.
MAX_PAGES = 5000
#: Ceiling on the pages of one split document.
MAX_DOCUMENT_PAGES = 100
#: A link to a further page of a document, or an article pager: worth parsing the page for.
_PART_HINT = re.compile(rb"createPageHTML|_\d+_\d{1,3}\.s?html?", re.I)


@dataclass(frozen=True)
class Pagination:
    """What a list page says about its column's pages."""

    page_count: int | None
    name: str
    ext: str
    links: tuple[str, ...] = ()

    def page_urls(self, page_url: str) -> list[str]:
        """Absolute URLs of all pages the script announces, then the linked ones."""
        folder = urljoin(page_url, "./")
        urls = []
        if self.page_count:
            for number in range(min(self.page_count, MAX_PAGES)):
                suffix = f"_{number}" if number else ""
                urls.append(urljoin(folder, f"{self.name}{suffix}.{self.ext}"))
        urls.extend(link for link in self.links if link not in urls)
        return urls


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


def _from_script(script: str, page_url: str) -> Pagination | None:
    for call in _CREATE_PAGE.finditer(script):
        args = _arguments(call.group(1))
        # 4 arguments: (N, cur, name, ext); 6: (div_id, N, cur, name, ext, total).
        if len(args) >= 6 and not args[0].isdigit():
            count, name, ext = args[1], args[3], args[4]
        elif len(args) >= 4:
            count, name, ext = args[0], args[2], args[3]
        else:
            continue
        pages = _resolve_int(count, script)
        if pages is not None:
            return Pagination(pages, name, ext)
    count = _COUNT_PAGE.search(script)
    if count:
        name, ext = _own_name(page_url)
        return Pagination(int(count.group(1)), name, ext)
    return None


def _linked_pages(tree: _Element, page_url: str) -> tuple[str, ...]:
    """Sibling list pages linked by 下一页/尾页 or an ``index_N`` name in the same folder."""
    folder = urljoin(page_url, "./")
    name, _ext = _own_name(page_url)
    found: list[str] = []
    for link in tree.xpath("//a[@href]"):
        href = link.get("href", "").strip()
        if not href or href.startswith(("javascript:", "#", "mailto:")):
            continue
        url = urljoin(page_url, href).split("#", 1)[0]
        if urljoin(url, "./") != folder:
            continue
        match = _INDEX_NAME.match(posixpath.basename(urlsplit(url).path))
        is_next = element_text(link) in _NEXT_TEXTS
        is_sibling = bool(match and match["name"] == name and match["number"])
        if (is_next or is_sibling) and url != page_url and url not in found:
            found.append(url)
    return tuple(found)


def read_pagination(tree: _Element, page_url: str) -> Pagination:
    """The column's pages as announced by this list page (scripts first, then links)."""
    script = "\n".join(tree.xpath("//script/text()"))
    announced = _from_script(script, page_url)
    links = _linked_pages(tree, page_url)
    if announced:
        return Pagination(announced.page_count, announced.name, announced.ext, links)
    name, ext = _own_name(page_url)
    return Pagination(None, name, ext, links)


def document_parts(body: bytes, content_type: str | None, page_url: str) -> list[str]:
    """URLs of pages 1, 2, … of the split document whose first page is ``body``, in order.

    From the page's own ``createPageHTML`` call (its name is the document's) and its links to
    ``t…_<docid>_<n>.<ext>`` in the same folder. Pages without a hint of either are not parsed.
    """
    own = document_page(page_url)
    if own is None or own[1] != 0 or not _PART_HINT.search(body):
        return []
    name, _page = own
    ext = posixpath.splitext(urlsplit(page_url).path)[1].lstrip(".")
    tree = parse_html(decode_html(body, content_type)[0])
    numbers: set[int] = set()
    announced = _from_script("\n".join(tree.xpath("//script/text()")), page_url)
    if announced and announced.name == name and announced.page_count:
        numbers.update(range(1, min(announced.page_count, MAX_DOCUMENT_PAGES)))
    folder = urljoin(page_url, "./")
    for link in tree.xpath("//a[@href]"):
        url = urljoin(page_url, link.get("href", "").strip()).split("#", 1)[0]
        linked = document_page(url)
        if linked and linked[0] == name and 0 < linked[1] < MAX_DOCUMENT_PAGES and urljoin(url, "./") == folder:
            numbers.add(linked[1])
    return [urljoin(folder, f"{name}_{number}.{ext}") for number in sorted(numbers)]
