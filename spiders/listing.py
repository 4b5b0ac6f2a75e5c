"""Which links of a list page are the column's bulletins.

Class names differ per template, and list pages also carry sidebars ("热点信息") whose items
look exactly like the column's. So links are grouped by the list element that holds them
(``ul``, ``ol``, ``table``, else ``div``); the group with the most document links inside the
column's own folder is the column's list, together with sibling groups of the same kind (a
list split over several ``ul``). Every document link of those groups counts, wherever on the
portal it points: some portals keep bulletins outside the column folder.
"""
from __future__ import annotations

from collections import defaultdict
from urllib.parse import urljoin

from lxml.etree import _Element

from pipelines.urls import canonical_url, is_detail_url

_GROUP_TAGS = ("ul", "ol", "table", "tbody", "dl", "div", "section")


def _group_of(link: _Element) -> _Element:
    for ancestor in link.iterancestors():
        if ancestor.tag in _GROUP_TAGS:
            return ancestor
    return link.getroottree().getroot()


def bulletin_links(tree: _Element, page_url: str, column: str) -> list[str]:
    """Canonical URLs of the bulletins listed on this page, in page order."""
    groups: dict[_Element, list[str]] = defaultdict(list)
    for link in tree.xpath("//a[@href]"):
        href = link.get("href", "").strip()
        if not href or href.lower().startswith(("javascript:", "mailto:", "#")):
            continue
        url = urljoin(page_url, href)
        if is_detail_url(url):
            groups[_group_of(link)].append(canonical_url(url))
    if not groups:
        return []

    def score(item: tuple[_Element, list[str]]) -> tuple[int, int]:
        _group, urls = item
        return sum(url.startswith(column) for url in urls), len(urls)

    best, _urls = max(groups.items(), key=score)
    parent = best.getparent()
    chosen = [
        group
        for group in groups
        if group is best or (group.getparent() is parent and group.tag == best.tag)
    ]
    ordered: list[str] = []
    for group in sorted(chosen, key=lambda g: g.sourceline or 0):
        for url in groups[group]:
            if url not in ordered:
                ordered.append(url)
    return ordered
