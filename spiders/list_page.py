"""A list page read whole in one call, off the crawl's event loop: parsed once, checked for a
challenge, its links read once for its list and its pager, the list its scripts carry.

Why off the loop: a hostile list page of 100,000 links takes most of a second to read, and
everything else of the crawl (downloads and their timeouts, the progress display, a stop asked
for) waited meanwhile (issue #14). The spider runs :func:`read_list_page` in a thread: lxml
parses without holding the GIL, and the reading gives it up every few milliseconds. So
everything here reads the page and its arguments only, never the crawl's state.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml.etree import _Element

from pipelines.challenges import challenge_reason
from pipelines.text import parse_html
from spiders.listing import ListHint, ListReading, PageLinks, read_list
from spiders.pagination import Pager, page_links, read_pager
from spiders.scripted import Embedded, embedded_list


@dataclass(frozen=True)
class ListPage:
    """What a list page says: its tree, why it is a challenge (or ``None``), its links, the list
    read from its structure, the list its scripts carry (or ``None``), its pager."""

    tree: _Element
    challenge: str | None
    links: PageLinks
    reading: ListReading
    embedded: Embedded | None
    pager: Pager


def read_list_page(text: str, status: int, url: str, column: str, hint: ListHint | None = None,
                   place: str | None = None) -> ListPage:
    """The list page ``url`` of ``column`` (its decoded ``text``, its HTTP ``status``); ``hint``
    and ``place`` as :func:`spiders.listing.read_list` takes them."""
    tree = parse_html(text)
    links = page_links(tree, url)
    return ListPage(tree, challenge_reason(status, tree), links, read_list(tree, url, column, hint, links, place=place),
                    embedded_list(tree, url, column), read_pager(tree, url, column, links))
