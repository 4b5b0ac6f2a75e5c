"""Bot challenges: pages some gov sites serve to crawlers instead of content.

A JavaScript cookie challenge answers 412, 521 or 202 with a script and next to no visible
text. Such a page is not a bulletin and must never be archived as one. A script-only page
with an ordinary status is recognised from the parsed tree (:func:`script_only`): the tree
the list page's reading or the bulletin's extraction parses, so no page is parsed twice.
"""
from __future__ import annotations

from lxml.etree import _Element

from pipelines.text import visible_text_reaches

CHALLENGE_STATUSES = frozenset({202, 412, 521})
#: A page with scripts and less visible text than this is a script-only page.
MIN_VISIBLE_CHARS = 20
SCRIPT_ONLY = "bot challenge (script-only page)"


def status_challenge(status: int) -> str | None:
    return f"bot challenge (HTTP {status})" if status in CHALLENGE_STATUSES else None


def script_only(tree: _Element) -> bool:
    """Scripts and (next to) no visible text."""
    return next(tree.iter("script"), None) is not None and not visible_text_reaches(tree, MIN_VISIBLE_CHARS)


def challenge_reason(status: int, tree: _Element) -> str | None:
    """Why a page (its status, its parsed tree) is a challenge rather than content, or ``None``."""
    return status_challenge(status) or (SCRIPT_ONLY if script_only(tree) else None)
