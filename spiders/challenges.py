"""Bot challenges: pages some gov sites serve to crawlers instead of content.

A JavaScript cookie challenge answers 412, 521 or 202 with a script and next to no visible
text. Such a page is not a bulletin and must never be archived as one.
"""
from __future__ import annotations

from scrapy.http import Response, TextResponse

from pipelines.text import element_lines, parse_html

CHALLENGE_STATUSES = frozenset({202, 412, 521})
#: A page with scripts and less visible text than this is a script-only page.
MIN_VISIBLE_CHARS = 20


def challenge_reason(response: Response) -> str | None:
    """Why ``response`` is a challenge rather than content, or ``None``."""
    if response.status in CHALLENGE_STATUSES:
        return f"bot challenge (HTTP {response.status})"
    if not isinstance(response, TextResponse):
        return None
    tree = parse_html(response.text)
    if tree.xpath("//script") and len("".join(element_lines(tree))) < MIN_VISIBLE_CHARS:
        return "bot challenge (script-only page)"
    return None
