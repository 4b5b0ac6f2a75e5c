"""The article body as plain lines: known containers first, trafilatura for the rest.

A portal that detection reads wrong can name its body container (a site profile's
``body_container``, passed in by the caller): it is tried before everything else.

Whatever finds the container, the text itself always comes from
:func:`pipelines.text.element_lines`, so every extractor keeps every character the same way.
"""
from __future__ import annotations

import copy
import posixpath
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from lxml import etree
from lxml.cssselect import CSSSelector
from lxml.etree import _Element

from pipelines.text import element_lines

#: Body containers of TRS-built portals (and other portal software), most specific first (an inner one wins over the
#: wrapper around it: ``#zoom`` often holds a ``div.TRS_UEDITOR``).
KNOWN_CONTAINERS: tuple[str, ...] = (
    "div.TRS_Editor",
    "div.TRS_UEDITOR",
    "div.Custom_UnionStyle",
    "#zoom",
    "#UCAP-CONTENT",
    ".article-con",
    "#ArticleContent",
    ".article-content",
    "div.ewb-article-detail",  # Epoint (新点) WebBuilder
)

#: Links to these file types are attachments, not part of the text flow.
ATTACHMENT_EXTENSIONS = frozenset(
    "pdf doc docx xls xlsx wps et dps ppt pptx ofd zip rar 7z txt csv odt ods".split()
)
_ATTACHMENT_HREF = re.compile(
    r"\.(?:" + "|".join(sorted(ATTACHMENT_EXTENSIONS)) + r")(?:[?#].*)?$", re.IGNORECASE
)
#: Lines that belong to the page's chrome even when a template puts them in the container.
_CHROME_LINE = re.compile(r"^(?:责任编辑|编辑|审核|校对|字号)[\s\u3000]*[:：]|^分享到[:：]?$")
#: What is left of an attachment list once its link texts are taken away.
_ATTACHMENT_RESIDUE = re.compile(r"^[\s\u3000\xa0]*(?:相关)?附件[\s\d、.．:：()（）]*$|^[\s\u3000\xa0\d、.．:：]*$")
_NO_SPACE = re.compile(r"[\s\u3000\xa0]+")
_BLOCKS = ("div", "article", "section", "main", "td", "body")


@dataclass
class Body:
    """Lines of the article and how they were found (``container`` names the rule)."""

    lines: list[str]
    container: str
    element: _Element | None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def is_attachment_href(href: str) -> bool:
    """Whether the link's target ends in a file's extension (before any query or fragment).

    Without a query or fragment, only the text after the last dot can be the extension: an ASCII
    one is looked up as it is, which is what the pattern decides without a regex search (a list
    page may carry 100,000 links); the pattern decides everything else.
    """
    href = href.strip()
    if "?" not in href and "#" not in href:
        extension = href[href.rfind(".") + 1:]
        if extension.isascii():
            return "." in href and extension.lower() in ATTACHMENT_EXTENSIONS
    return bool(_ATTACHMENT_HREF.search(href))


def stored_name(sha256: str, url: str) -> str:
    """``ab/abcdef….pdf``: where an attachment's file is kept, made only of its content hash and
    a listed extension (a name or path from the page never reaches the file system)."""
    ext = posixpath.splitext(urlsplit(url).path)[1].lower().lstrip(".")
    suffix = f".{ext}" if ext in ATTACHMENT_EXTENSIONS else ".bin"
    return f"{sha256[:2]}/{sha256}{suffix}"


#: The text nodes under an element, in order (``text_content()`` is their concatenation).
_TEXT_NODES = etree.XPath(".//text()", smart_strings=False)
#: Text nodes joined at a time when measuring a container.
_NODES_AT_ONCE = 512


def _text_length(element: _Element) -> int:
    """Characters of the element's text (``text_content()``) without whitespace.

    A few hundred text nodes at a time: the whole text of a large container would be copied
    several times (lxml's, the ``str``, the one without whitespace).
    """
    texts = _TEXT_NODES(element)
    return sum(len(_NO_SPACE.sub("", "".join(texts[start:start + _NODES_AT_ONCE])))
               for start in range(0, len(texts), _NODES_AT_ONCE))


#: The selectors compiled once (``HtmlElement.cssselect`` translates CSS to XPath on every call),
#: each with the class or id name a page must contain for it to match.
_CONTAINER_SELECTORS = tuple((css, CSSSelector(css, translator="html"), re.sub(r"^\w*[.#]", "", css).lower())
                             for css in KNOWN_CONTAINERS)


@lru_cache(maxsize=64)
def _selector(css: str) -> CSSSelector:
    """A profile's container selector, compiled once per run (checked when the profile is read)."""
    return CSSSelector(css, translator="html")


#: Characters of a page lowered at a time when looking for container names in it.
_NAME_SLICE = 1 << 20
_LONGEST_NAME = max(len(name) for _css, _select, name in _CONTAINER_SELECTORS)


def container_names(source: str | bytes) -> frozenset[str]:
    """The names of the known containers that the page's HTML mentions (ignoring case).

    Lowered a slice at a time (slices overlapping by a name's length), not as one copy of the page.
    ``source`` may be UTF-8 bytes: the names are ASCII, and no other character lowers to one of
    their letters but K (KELVIN SIGN), whose ``k`` no name has, so the bytes give the text's names.
    """
    names = {name for _css, _select, name in _CONTAINER_SELECTORS}
    found = set()
    for start in range(0, max(len(source), 1), _NAME_SLICE):
        folded = source[start:start + _NAME_SLICE + _LONGEST_NAME - 1].lower()
        found |= {name for name in names - found if (name if isinstance(source, str) else name.encode()) in folded}
    return frozenset(found)


def _known_container(tree: _Element, override: str | None = None,
                     names: frozenset[str] | None = None) -> tuple[str, _Element] | None:
    """The largest non-empty match of the override, else of the first known container that has one.

    ``names`` (:func:`container_names` of the page) spares the known selectors whose name the page
    does not contain a walk over the tree.
    """
    selectors = (((override, _selector(override), ""),) if override else ()) + _CONTAINER_SELECTORS
    for selector, select, name in selectors:
        if name and names is not None and name not in names:
            continue
        lengths = [(length, el) for el in select(tree) if (length := _text_length(el)) > 0]
        if lengths:
            return selector, max(lengths, key=lambda match: match[0])[1]
    return None


def _attachment_blocks(container: _Element) -> set[_Element]:
    """Blocks inside the container that only list attachment links (``附件:1.xx.pdf``)."""
    blocks: set[_Element] = set()
    for link in container.iter("a"):
        if not is_attachment_href(link.get("href") or ""):
            continue
        block = link
        while block.getparent() is not None and block is not container:
            if block.tag in ("p", "li", "div", "ul", "ol", "tr", "table", "dd", "dl"):
                break
            block = block.getparent()
        if block is container:
            continue
        link_text = "".join("".join(a.itertext()) for a in block.iter("a"))
        residue = "".join(block.itertext()).replace(link_text, "", 1) if link_text else None
        if residue is not None and _ATTACHMENT_RESIDUE.match(residue):
            blocks.add(block)
    return blocks


def _clean_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if not _CHROME_LINE.match(line)]


def _trafilatura_lines(tree: _Element) -> list[str]:
    import trafilatura  # imported when first needed: not by a crawl process that never extracts (≈ 90 ms)

    xml = trafilatura.extract(
        copy.deepcopy(tree),  # trafilatura prunes the tree it is given; a copy beats a re-parse
        output_format="xml",
        include_tables=True,
        include_comments=False,
        include_images=False,
        include_links=False,
        favor_recall=True,
        deduplicate=False,
        # Only the container is taken from trafilatura (its text is re-read by our own
        # rules), so its slower second-opinion extractors buy nothing here.
        fast=True,
    )
    if not xml:
        return []
    main = etree.fromstring(xml.encode("utf-8")).find("main")
    if main is None:
        return []
    renames = {"row": "tr", "cell": "td", "lb": "br", "item": "li", "head": "h2", "list": "ul"}
    for element in main.iter():
        element.tag = renames.get(element.tag, element.tag)
    return element_lines(main)


def _locate(tree: _Element, paragraphs: list[str]) -> _Element | None:
    """The smallest block of the page holding (nearly) all the text trafilatura chose."""
    wanted = [_NO_SPACE.sub("", p) for p in paragraphs]
    wanted = [p for p in wanted if len(p) >= 2]
    total = sum(map(len, wanted))
    if not total:
        return None
    best: tuple[int, _Element] | None = None
    for element in tree.iter(*_BLOCKS):
        text = _NO_SPACE.sub("", element.text_content() or "")
        if len(text) < total * 0.9 or (best and len(text) >= best[0]):
            continue
        covered = sum(len(p) for p in wanted if p in text)
        if covered >= total * 0.9:
            best = (len(text), element)
    return best[1] if best else None


def extract_body(tree: _Element, container: str | None = None, names: frozenset[str] | None = None) -> Body:
    """The body of a bulletin page, or an empty one when the page has none.

    ``container``: a CSS selector of the body (a site profile's), tried first; ``names``: the
    :func:`container_names` of the HTML the tree was parsed from, which make finding a known
    container cheaper.
    """
    known = _known_container(tree, container, names)
    if known:
        selector, element = known
        lines = element_lines(element, frozenset(_attachment_blocks(element)))
        return Body(_clean_lines(lines), selector, element)
    paragraphs = _trafilatura_lines(tree)
    element = _locate(tree, paragraphs)
    if element is not None:
        lines = element_lines(element, frozenset(_attachment_blocks(element)))
        return Body(_clean_lines(lines), "trafilatura", element)
    return Body(_clean_lines(paragraphs), "trafilatura-text" if paragraphs else "none", None)
