"""URL rules shared by the spider and the pipelines: TRS document URLs, canonical form, hosts.

A TRS document lives at ``<column>/YYYYMM/tYYYYMMDD_<docid>.shtml``; the same document may be
linked as ``…_<docid>_slhxq.shtml`` (elderly-friendly view), ``…_<docid>_app.shtml`` or as
page ``…_<docid>_2.shtml`` of a split document. All of them are one document whose canonical
URL is the plain ``t…_<docid>.<ext>`` on the host in lower case, without query or fragment.
"""
from __future__ import annotations

import posixpath
import re
from urllib.parse import urlsplit, urlunsplit

from w3lib.url import safe_url_string

_DETAIL_PATH = re.compile(
    r"^(?P<stem>.*/t(?P<date>\d{8})_(?P<docid>\d+))(?:_(?P<view>slhxq|app|\d{1,3}))?"
    r"\.(?P<ext>s?html?)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split(url: str):
    """The parts of a web URL, or ``None`` for anything else (``javascript:``, junk)."""
    try:
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
            return None
        _port = parts.port  # raises ValueError on a bad port
    except ValueError:
        return None
    return parts


def netloc_of(url: str) -> str:
    """``host[:port]`` in lower case with the scheme's default port left out ("" if not web)."""
    parts = _split(url)
    if parts is None:
        return ""
    port = parts.port
    host = parts.hostname.lower()
    if port and port != _DEFAULT_PORTS[parts.scheme.lower()]:
        return f"{host}:{port}"
    return host


site_of = netloc_of


def is_detail_url(url: str) -> bool:
    """Whether ``url`` has the shape of a TRS document page (any of its views)."""
    parts = _split(url)
    return bool(parts and _DETAIL_PATH.match(parts.path))


def docid_of(url: str) -> str | None:
    parts = _split(url)
    match = _DETAIL_PATH.match(parts.path) if parts else None
    return match["docid"] if match else None


def document_page(url: str) -> tuple[str, int] | None:
    """``(document name, page)`` of a TRS document URL: ``("t20200916_2183980", 2)`` for
    page ``…_2.shtml`` of a split document, page 0 for the plain view; else ``None``."""
    parts = _split(url)
    match = _DETAIL_PATH.match(parts.path) if parts else None
    if match is None or (match["view"] and not match["view"].isdigit()):
        return None
    return posixpath.basename(match["stem"]), int(match["view"] or 0)


def canonical_url(url: str) -> str:
    """One URL per document: the plain view, normalised host, no query or fragment.

    Unsafe characters are percent-encoded as Scrapy requests them (``safe_url_string``),
    so the canonical form of a canonical URL is itself.
    """
    try:
        url = safe_url_string(url.strip())
    except ValueError:
        return url.strip()
    parts = _split(url)
    if parts is None:
        return url.strip()
    path = posixpath.normpath(parts.path) if parts.path else "/"
    if parts.path.endswith("/") and not path.endswith("/"):
        path += "/"
    path = re.sub(r"^/+", "/", path)
    match = _DETAIL_PATH.match(path)
    if match:
        path = f"{match['stem']}.{match['ext']}"
        return urlunsplit((parts.scheme.lower(), netloc_of(url), path, "", ""))
    return urlunsplit((parts.scheme.lower(), netloc_of(url), path, parts.query, ""))


def column_of(list_url: str) -> str:
    """The column folder of a list page URL (``…/zwdc/index_2.shtml`` -> ``…/zwdc/``)."""
    parts = _split(canonical_url(list_url))
    if parts is None:
        return ""
    folder = parts.path if parts.path.endswith("/") else posixpath.dirname(parts.path) + "/"
    return urlunsplit((parts.scheme, parts.netloc, folder, "", ""))


def in_column(url: str, column: str) -> bool:
    """Whether ``url`` lies inside the column folder, on the same host."""
    return canonical_url(url).startswith(column)
