"""Bot challenges: pages some gov sites serve to crawlers instead of content.

A JavaScript cookie challenge answers 412, 521 or 202 with a script and next to no visible
text. Such a page is not a bulletin and must never be archived as one. The status is checked
here, before any parsing; a script-only page with an ordinary status is recognised from the
parsed tree (:func:`script_only`), by list pages here and by extraction for bulletin pages,
so no page is parsed twice.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from lxml.etree import _Element

from pipelines.text import element_lines, parse_html

CHALLENGE_STATUSES = frozenset({202, 412, 521})
#: A page with scripts and less visible text than this is a script-only page.
MIN_VISIBLE_CHARS = 20
SCRIPT_ONLY = "bot challenge (script-only page)"

if TYPE_CHECKING:
    from scrapy.http import Response


def status_challenge(status: int) -> str | None:
    return f"bot challenge (HTTP {status})" if status in CHALLENGE_STATUSES else None


def script_only(tree: _Element) -> bool:
    """Scripts and (next to) no visible text."""
    return bool(tree.xpath("//script")) and len("".join(element_lines(tree))) < MIN_VISIBLE_CHARS


def challenge_reason(response: Response) -> str | None:
    """Why ``response`` is a challenge rather than content, or ``None`` (parses the page)."""
    from scrapy.http import TextResponse  # here: extraction (ingest) needs no Scrapy

    reason = status_challenge(response.status)
    if reason or not isinstance(response, TextResponse):
        return reason
    return SCRIPT_ONLY if script_only(parse_html(response.text)) else None
