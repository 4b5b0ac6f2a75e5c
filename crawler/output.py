"""What the command line prints is inert: text from portals never drives the terminal.

Archived titles, bodies, units and URLs are the portal's text; an escape sequence in them
(``ESC ]0;…`` sets the window title, ``ESC [2J`` clears the screen, C1 ``CSI`` does the same in
one character, bidirectional overrides reorder what is shown) must reach the screen as
nothing more than a space. Every command prints portal text through :func:`inert` or
:func:`json_line`, and log records pass :func:`inert` too (:func:`inert_log_records`).
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any

#: Bidirectional formatting characters: they reorder what a terminal shows.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
#: C0 controls (ESC among them), DEL, C1 controls and the bidirectional ones.
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
#: The same, but keeping line breaks and tabs (multi-line messages, tab-separated rows).
_CONTROL_IN_LINES = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")
#: Characters JSON leaves raw (with ``ensure_ascii=False``) that a terminal may still obey.
_JSON_RAW_CONTROL = re.compile(f"[\x7f-\x9f{_BIDI}]")


def inert(text: str | None, *, lines: bool = False) -> str:
    """``text`` with every control character replaced by one space (offsets stay valid).

    ``lines`` keeps newlines and tabs, for text that is several lines on purpose.
    """
    if not text:
        return ""
    return (_CONTROL_IN_LINES if lines else _CONTROL).sub(" ", text)


def json_line(value: Any) -> str:
    """``value`` as one line of JSON, Chinese readable, every control character escaped."""
    encoded = json.dumps(value, ensure_ascii=False)  # escapes C0 itself
    return _JSON_RAW_CONTROL.sub(lambda m: f"\\u{ord(m.group(0)):04x}", encoded)


def inert_log_records() -> None:
    """Make every log record's message inert (:func:`inert`): log lines quote
    page titles and URLs, which must not drive the terminal either. Line breaks are kept."""
    base = logging.getLogRecordFactory()
    if getattr(base, "inert", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):  # a malformed call: logging reports it itself
            return record
        record.msg, record.args = inert(message, lines=True), None
        return record

    factory.inert = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
