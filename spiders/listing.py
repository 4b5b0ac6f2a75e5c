"""Which links of a list page are the column's entries: decided by the page's structure.

A column's list is a repeated group of entries, each a link whose text is a title, usually
with a date beside it, in the page's main content. Portals name their documents every way
(TRS ``t20200916_2183980.shtml``, dated ``art_…`` pages, numeric ids, ``detail?id=…``,
hashed names), so URLs decide nothing here. Links are grouped by the repeated element that
holds them (``li``, ``tr``, ``dd``, a repeated ``div``, or bare links side by side in one
block), and each group is scored by how much it looks like a list of documents:

* entries with title-like text (navigation says 首页, 更多; titles are sentences);
* entries with a date beside the link;
* position: inside ``nav``/``header``/``footer``/``aside`` or a block whose class or id says
  navigation, sidebar, hot, related or links counts little; next to the page's pager, much;
* hints only: links inside the column's folder, TRS document URLs.

The best group wins together with its twin groups (a list split over several ``ul`` of one
block). Everything is one pass over the links plus one over each group's ancestors: a page
of 100,000 links is read in linear time (issue #14), and each link costs a few microseconds
(no XPath evaluation per element, each link's text read once, dates read once per distinct
text beside the links).
"""
from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from itertools import compress, repeat
from operator import is_
from typing import NamedTuple, ParamSpec, TypeVar
from urllib.parse import urljoin

from lxml.etree import _Element, tostring

from pipelines.urls import LinkResolver, canonical_url, is_detail_url, netloc_of
from pipelines.body import is_attachment_href
from pipelines.dates import parse_date
from pipelines.text import normalize_line, string_value

#: Elements that hold one entry of a list.
_ITEM_TAGS = frozenset({"li", "tr", "dd", "dt"})
#: How far above a link its item element may be (``li > div > span > a``).
_ITEM_DEPTH = 4
#: Page regions that are not the column's list, by tag.
_CHROME_TAGS = frozenset({"nav", "header", "footer", "aside", "menu"})
#: … and by class or id words.
_CHROME_WORDS = re.compile(
    r"(?:^|[^a-z])(?:nav|menu|foot|footer|header|head|top|side|sidebar|aside|hot|rank|related|relate|xgwz|xglj"
    r"|link|links|yqlj|friend|crumb|breadcrumb|position|location|weizhi|share|tool|toolbar|copyright|banner"
    r"|search|logo|tuijian|recommend|rmwz|rdxx|zt|special|ad|ads|qrcode|login)(?:[^a-z]|$)",
    re.IGNORECASE)
_LIST_WORDS = re.compile(r"(?:list|news|article|artic|content|main|con|lb|lm|info|xxgk|gk|zwdc|column|data)",
                         re.IGNORECASE)
#: Words of pagers (their links are never entries).
PAGER_TEXTS = frozenset({
    "首页", "尾页", "末页", "上一页", "下一页", "上页", "下页", "前页", "后页", "上一頁", "下一頁", "最后一页",
    "第一页", "后一页", "前一页", "‹", "›", "«", "»", "<", ">", "<<", ">>", "prev", "next", "first", "last",
    "previous", "更多", "more", "更多>>", "more>>", "查看更多", "go", "跳转", "确定",
})
_LONGEST_PAGER_TEXT = max(map(len, PAGER_TEXTS))
_PAGER_WORDS = re.compile(r"(?:^|[^a-z])(?:page|pages|pager|paging|pagination|fenye|pagebar|pagenav|pageno)",
                          re.IGNORECASE)
#: Dates a list shows beside its titles (full dates, or ``09-16`` / ``[09-16]``).
_SHORT_DATE = re.compile(r"(?<!\d)(?:(?:19|20)\d{2}\s*[-/.年]\s*)?\d{1,2}\s*[-/.月]\s*\d{1,2}(?!\d)")
#: Title text shorter than this is navigation, not a document's title.
MIN_TITLE_CHARS = 5
_ELLIPSIS = re.compile(r"(?:\.{2,}|…+)$")
_BRACKETED_NUMBER = re.compile(r"\[?\d+\]?")


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _collector_paused(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """The garbage collector held off while ``function`` runs: a page of 100,000 links makes
    several objects per link, none in a cycle, and the collector would pass over those kept
    again and again (about 7% of the reading); they are looked at once afterwards."""

    @wraps(function)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not gc.isenabled():
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()
    return paused


class Entry(NamedTuple):
    """One entry of a column list: the document's canonical URL, its title, its date (a tuple:
    a list page may make 100,000 of them)."""

    url: str
    title: str
    date: str | None = None


@dataclass(frozen=True)
class ListHint:
    """A site profile's overrides: CSS ``container`` of the list, ``link`` pattern of entries."""

    container: str | None = None
    link: str | None = None


@dataclass(slots=True)
class _Candidates:
    """Links that may be entries, in page order, as lists of strings side by side (a page may
    carry 100,000 links: no object per link for the garbage collector to pass over)."""

    #: targets as written
    hrefs: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    #: text of the element each link is the entry of
    texts: list[str] = field(default_factory=list)
    #: each link's own text as written (what :meth:`outside_text` takes out of the entry's), or
    #: ``None`` for a link standing alone, whose entry text is the text beside it already
    link_texts: list[str | None] = field(default_factory=list)

    def add(self, href: str, title: str, item: _Element, link: _Element, text: str) -> None:
        """``link`` (its text ``text``) as the entry of ``item``; a link standing alone is its own
        item, and its entry's text is the text beside it."""
        self.hrefs.append(href)
        self.titles.append(title)
        if item is link:
            self.texts.append(_text_beside(link))
            self.link_texts.append(None)
        else:  # an element holding the link: its text as string_value gives it, in one C call
            self.texts.append(tostring(item, method="text", encoding=str, with_tail=False))
            self.link_texts.append(text)

    def replace_last(self, href: str, title: str, item: _Element, link: _Element, text: str) -> None:
        for column in (self.hrefs, self.titles, self.texts, self.link_texts):
            column.pop()
        self.add(href, title, item, link, text)

    def extend(self, other: _Candidates) -> None:
        self.hrefs += other.hrefs
        self.titles += other.titles
        self.texts += other.texts
        self.link_texts += other.link_texts

    def outside_texts(self, count: int | None = None) -> list[str]:
        """Text of each entry (of the first ``count``) beside its link (where a list writes the date)."""
        texts, link_texts = self.texts[:count], self.link_texts[:count]
        if None in link_texts:
            return [text if link_text is None else text.replace(link_text, " ", 1)
                    for text, link_text in zip(texts, link_texts)]
        # Most entries' text starts with their link's: the rest of it, in C (half the work of
        # replacing it: a page may list 100,000). The others, the link's text replaced by a space.
        outside = list(map(str.removeprefix, texts, link_texts))
        for i in compress(range(len(outside)), map(is_, outside, texts)):  # no such start
            outside[i] = texts[i].replace(link_texts[i], " ", 1)
        return outside


@dataclass(slots=True)
class _Group:
    container: _Element
    item_tag: str
    entries: _Candidates
    #: The element the first entry is the entry of (where the group stands on the page).
    first_item: _Element
    #: The element the last entry is the entry of. A further link in it belongs to that entry:
    #: an element's links come one after the other, and no other entry of the group comes
    #: between them (the group's items are siblings, so none lies inside another).
    last_item: _Element


def _class_words(element: _Element) -> str:
    return f"{element.get('class') or ''} {element.get('id') or ''}"


def link_title(link: _Element) -> str:
    """The link's text, or its ``title`` attribute when the text is cut short (``…``)."""
    return _title(link, normalize_line(string_value(link)))


def _title(link: _Element, text: str) -> str:
    """:func:`link_title` of a link whose text is read already."""
    if text and text[-1] not in ".…":  # not cut short: the text is the title
        return text
    full = link.get("title")
    if not full:
        return text
    full = normalize_line(full)
    if full and (not text or (_ELLIPSIS.search(text) and full.startswith(_ELLIPSIS.sub("", text)[:4]))):
        return full
    return text


def is_pager_text(text: str) -> bool:
    if len(text) > _LONGEST_PAGER_TEXT and text[:1] != "[" and not text[:1].isdigit():
        return False  # a sentence: no pager word, no page number
    # ``\d+`` alone is covered by isdigit(): the pattern runs only for a bracket (``[3]``).
    return (text.lower() in PAGER_TEXTS or text.isdigit()
            or ((text[:1] == "[" or text[-1:] == "]") and bool(_BRACKETED_NUMBER.fullmatch(text))))


#: Targets that are no page.
_NO_PAGE_SCHEMES = ("javascript:", "mailto:", "tel:", "file:")


#: How the targets of most list entries end: a page's name, which is no file's.
_PAGE_ENDINGS = (".html", ".htm", ".shtml", ".jsp", ".php", ".asp", ".aspx")
#: How such a target may start: no space, ``#`` or scheme before it.
_PLAIN_STARTS = frozenset("/.-_~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _plain_href(written: str | None) -> str | None:
    """A link's target as written, unless it is no page (``javascript:``, ``#``, a file)."""
    if (written and written[:1] in _PLAIN_STARTS and written.endswith(_PAGE_ENDINGS)
            and ":" not in written and "?" not in written and "#" not in written):
        return written  # a page's name with nothing else to look at: most entries' (3.6k instructions less a link)
    return _checked_href(written)


def _checked_href(written: str | None) -> str | None:
    """:func:`_plain_href` by each of its rules."""
    href = (written or "").strip()
    if not href or href[0] == "#" or (":" in href[:11] and href[:11].lower().startswith(_NO_PAGE_SCHEMES)):
        return None
    return None if is_attachment_href(href) else href


class _LinksPerParent(dict):
    """How many links to a page each element holds as its children, counted when first asked."""

    def __missing__(self, parent: _Element) -> int:
        self[parent] = count = sum(_plain_href(link.get("href")) is not None for link in parent.iterchildren("a"))
        return count


def _item_of(link: _Element, links_per_parent: _LinksPerParent) -> tuple[_Element, _Element, str]:
    """(item, container, item tag) of a link: the repeated element it is the entry of."""
    parent = link.getparent()
    if parent is None:
        return link, link, "a"
    node = parent
    for _ in range(_ITEM_DEPTH):
        tag = node.tag
        if tag in _ITEM_TAGS:
            container = node.getparent()
            return node, container if container is not None else node, tag
        node = node.getparent()
        if node is None:
            break
    if links_per_parent[parent] > 1:  # bare links side by side in one block
        return link, parent, "a"
    grand = parent.getparent()
    return parent, grand if grand is not None else parent, f"{parent.tag}.{parent.get('class') or ''}"


def _text_beside(link: _Element) -> str:
    """The text after a link standing alone: its tail and the element after it (not a link)."""
    following = link.getnext()
    beside = (string_value(following)
              if following is not None and isinstance(following.tag, str) and following.tag != "a" else "")
    return f"{link.tail or ''} {beside}"


@dataclass(frozen=True)
class PagerLinkShape:
    """What makes a link worth a look by the pager's reader (:mod:`spiders.pagination`), which
    takes its links from the list's pass over the page: a short text (a pager word, a page
    number), a place at most three levels inside a block whose class or id says ``block_words``
    (a pager block), or a target holding ``marker`` (the page's own name, as ``index_3.shtml`` does)."""

    max_text: int
    block_words: re.Pattern[str]
    marker: str


class _PagerBlocks(dict):
    """Whether the elements above a link's parent hold a pager block (within two levels), each
    looked at once; :meth:`says_pager` decides for the parent itself.

    Climbing from the links, with one call per parent that is empty for an element without
    attributes: a list page of 100,000 links has 300,000 elements, and walking them all for
    their class and id cost 12% of its reading.
    """

    def __init__(self, words: re.Pattern[str]) -> None:
        super().__init__()
        self.words = words

    def says_pager(self, attributes: list[tuple[str, str]]) -> bool:
        """Whether an element's attributes (``element.items()``) make it a pager block."""
        return any(name in ("class", "id") and self.words.search(value) for name, value in attributes)

    def __missing__(self, element: _Element | None) -> bool:
        above = element.getparent() if element is not None else None
        self[element] = found = element is not None and (
            self.says_pager(element.items()) or (above is not None and self.says_pager(above.items())))
        return found


@dataclass
class PageLinks:
    """One pass over a page's links (a page may carry 100,000, issue #14), for its list and its
    pager: the groups a list may be, the links saying a pager word, and the links of the pager's
    shape (if one was given) as ``(target as written, text, whether in a pager block)``, in page order."""

    groups: dict[tuple[_Element, str], _Group]
    pager_words: set[_Element]
    pager_shape: PagerLinkShape | None
    pager_candidates: list[tuple[str, str, bool]]


@_collector_paused
def read_links(tree: _Element, pager: PagerLinkShape | None = None, entries: bool = True) -> PageLinks:
    """The page's links grouped by the list they may be (the best link of each item only), and
    the links of the pager's shape. URLs are not resolved here: only the chosen list's are."""
    pager_words = set()
    pager_candidates = []
    links_per_parent = _LinksPerParent()
    groups: dict[tuple[_Element, str], _Group] = {}
    pager_max_text, pager_marker = (pager.max_text, pager.marker) if pager is not None else (0, None)
    pager_blocks = _PagerBlocks(pager.block_words) if pager is not None else None
    # Two common cases are written out here rather than called (a page may carry 100,000 links,
    # and the calls were 8% of the pass): a title not cut short and too long for a pager word,
    # and an item element right above the link. Anything else goes through the named helpers.
    last_container, last_tag, last_group = None, None, None
    for link in tree.iter("a"):
        text = string_value(link)
        line = normalize_line(text)
        written = link.get("href")
        parent = link.getparent()
        grand = parent.getparent() if parent is not None else None
        if pager_blocks is not None and written:  # at most three levels inside a pager block?
            in_block = parent is not None and (pager_blocks[grand] or (
                bool(attributes := parent.items()) and pager_blocks.says_pager(attributes)))
            if (in_block or len(line) <= pager_max_text or pager_marker in written) and (stripped := written.strip()):
                pager_candidates.append((stripped, line, in_block))
        if not entries:
            continue
        if line in PAGER_TEXTS:
            pager_words.add(link)
        href = _plain_href(written)
        if href is None:
            continue
        title = line if line and line[-1] not in ".…" else _title(link, line)
        if not title or ((len(title) <= _LONGEST_PAGER_TEXT or title[0] == "[" or title[0].isdigit())
                         and is_pager_text(title)):
            continue
        if parent is not None and (tag := parent.tag) in _ITEM_TAGS:
            item, container = parent, grand if grand is not None else parent
        else:
            item, container, tag = _item_of(link, links_per_parent)
        if container is not last_container or tag != last_tag:  # most links: the last one's group
            last_container, last_tag = container, tag
            group = last_group = groups.get((container, tag))  # the same for every link of an item
        else:
            group = last_group
        if group is None:
            groups[(container, tag)] = group = last_group = _Group(container, tag, _Candidates(), item, item)
        elif group.last_item is item:
            if len(title) > len(group.entries.titles[-1]):  # a title link beside a category link: the title wins
                group.entries.replace_last(href, title, item, link, text)
            continue
        group.last_item = item
        group.entries.add(href, title, item, link, text)
    return PageLinks(groups, pager_words, pager, pager_candidates)


def _pager_elements(tree: _Element, pager_words: set[_Element]) -> set[_Element]:
    """Elements holding the page's pager (its links, its script), for the nearness bonus."""
    found = set(pager_words)
    for script in tree.iter("script"):
        if script.text and re.search(r"createPageHTML|countPage|pageCount|totalPage", script.text):
            found.add(script)
    return found


def _ancestors_within(elements: Iterable[_Element], levels: int) -> set[_Element]:
    near: set[_Element] = set()
    for element in elements:
        for depth, ancestor in enumerate(element.iterancestors()):
            if depth >= levels:
                break
            near.add(ancestor)
    return near


#: Entries of a group looked at closely when scoring it (shares, not counts, need a sample).
_SAMPLE = 40


def _score(group: _Group, resolver: LinkResolver, column: str, near_pager: set[_Element]) -> float:
    entries = group.entries
    count = len(entries.titles)
    sample = range(min(count, _SAMPLE))
    titled = sum(map(MIN_TITLE_CHARS.__le__, map(len, entries.titles)))  # no Python step per link
    dated = sum(bool(_SHORT_DATE.search(text)) for text in entries.outside_texts(_SAMPLE)) / len(sample)
    score = (titled + 0.25 * (count - titled)) * (1.0 + dated)
    score *= 1.0 + sum(len(entries.titles[i]) for i in sample) / len(sample) / 20  # sentences, not menu words
    urls = [url for url in (resolver.web_url(entries.hrefs[i]) for i in sample) if url]
    if not urls:
        return 0.0
    page_host = netloc_of(resolver.page_url)
    in_column = sum(url.startswith(column) for url in urls)
    documents = sum(is_detail_url(url) for url in urls)
    score *= 1.0 + (in_column + documents) / len(urls)  # hints, never gates
    if sum(netloc_of(url) == page_host for url in urls) * 2 < len(urls):
        score *= 0.3  # a box of links to other sites
    if _in_chrome(group.first_item):
        if not titled:
            return 0.0  # a menu or a footer's links: no list at all
        score *= 0.2
    if any(_LIST_WORDS.search(_class_words(element))
           for _depth, element in zip(range(3), (group.container, *group.container.iterancestors()))):
        score *= 1.3
    if group.container in near_pager:
        score *= 2.0
    return score


def _hinted(tree: _Element, page_url: str, hint: ListHint) -> _Candidates | None:
    """Entries as a site profile says: links under its container and/or matching its pattern."""
    scopes = tree.cssselect(hint.container) if hint.container else [tree]
    if not scopes:
        return None
    pattern = re.compile(hint.link) if hint.link else None
    found = _Candidates()
    for scope in scopes:
        for link in scope.iter("a"):
            href = _plain_href(link.get("href"))
            text = string_value(link)
            title = _title(link, normalize_line(text))
            if href is None or not title or is_pager_text(title):
                continue
            if pattern is not None and not pattern.search(urljoin(page_url, href)):
                continue
            parent = link.getparent()
            found.add(href, title, parent if parent is not None else link, link, text)
    return found


@dataclass(frozen=True)
class ListReading:
    """The entries of a list page, and whether they came from a box of the page's chrome
    (a sidebar, a footer): then the page's real list may be left to its scripts. ``place``:
    where the list stands on the page (:func:`list_place`), for the column's further pages."""

    entries: list[Entry]
    in_chrome: bool = False
    place: str | None = None


def list_place(container: _Element) -> str:
    """Where a list stands on its page: the tags, classes and ids from its block up to the root.
    The pages of one column share their template: its last page, listing one bulletin, must not
    lose to the sidebar's eight (the sidebar's news were archived as the column's)."""
    return "/".join(f"{element.tag}.{element.get('class') or ''}#{element.get('id') or ''}"
                    for element in (container, *container.iterancestors()))


def _in_chrome(container: _Element) -> bool:
    return any(
        (isinstance(element.tag, str) and element.tag in _CHROME_TAGS) or _CHROME_WORDS.search(_class_words(element))
        for element in (container, *container.iterancestors()))


@_collector_paused
def read_list(tree: _Element, page_url: str, column: str, hint: ListHint | None = None,
              links: PageLinks | None = None, place: str | None = None) -> ListReading:
    """The column's entries on this list page, in page order, each URL once (canonical); from
    ``links`` when the page's links are read already (:func:`spiders.pagination.page_links`).
    ``place``: where the column's first page had its list (:func:`list_place`); a list standing
    there is taken however short."""
    in_chrome = False
    found_place = None
    resolver = LinkResolver(page_url)
    if hint is not None and (hint.container or hint.link):
        chosen = _hinted(tree, page_url, hint) or _Candidates()
    else:
        if links is None:
            links = read_links(tree)
        groups = links.groups
        if not groups:
            return ListReading([])
        near_pager = _ancestors_within(_pager_elements(tree, links.pager_words), 4)
        scored = [(_score(group, resolver, column, near_pager), group) for group in groups.values()]
        placed = [pair for pair in scored if pair[0] > 0 and list_place(pair[1].container) == place] if place else []
        best_score, best = max(placed or scored, key=lambda pair: pair[0])
        if best_score <= 0:
            return ListReading([])
        in_chrome = _in_chrome(best.first_item)
        found_place = list_place(best.container)
        parent = best.container.getparent()
        twins = [
            group for score, group in scored
            if group is best or (score > 0 and group.item_tag == best.item_tag and parent is not None
                                 and group.container.getparent() is parent
                                 and group.container.tag == best.container.tag
                                 and group.container.get("class") == best.container.get("class"))
        ]
        # Twins are sibling blocks, each group's entries in page order: so is their sequence.
        chosen = _Candidates()
        for group in twins:
            chosen.extend(group.entries)
    besides = chosen.outside_texts()
    dates = {text: parse_date(text) for text in set(besides)}  # a list repeats its dates: each read once
    own = canonical_url(page_url)
    urls = resolver.canonical_urls(chosen.hrefs)
    # Made in C, with no Python step per entry (Entry's own constructor is a Python function, and
    # a page may list 100,000): most lists name each URL once.
    made = map(tuple.__new__, repeat(Entry), zip(urls, chosen.titles, map(dates.__getitem__, besides)))
    firsts = dict.fromkeys(urls)
    if len(firsts) == len(urls) and None not in firsts and own not in firsts:
        return ListReading(list(made), in_chrome, found_place)
    entries: dict[str | None, Entry] = {}
    for entry in made:  # each URL once, where it first stands; no URL and the page itself left out
        entries.setdefault(entry.url, entry)
    entries.pop(None, None)
    entries.pop(own, None)
    return ListReading(list(entries.values()), in_chrome, found_place)


def list_entries(tree: _Element, page_url: str, column: str, hint: ListHint | None = None) -> list[Entry]:
    """The column's entries on this list page (see :func:`read_list`)."""
    return read_list(tree, page_url, column, hint).entries


def bulletin_links(tree: _Element, page_url: str, column: str, hint: ListHint | None = None) -> list[str]:
    """Canonical URLs of the entries listed on this page, in page order."""
    return [entry.url for entry in list_entries(tree, page_url, column, hint)]
