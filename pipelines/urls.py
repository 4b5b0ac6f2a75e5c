"""URL rules shared by the spider and the pipelines: canonical form, TRS hints, hosts.

One document, one canonical URL; two documents, never one. The canonical form has the host
in lower case without its default port, a normalised path, no fragment, and only the query
parameters that identify something (``detail.html?id=…``, ``?docId=``, ``?articleId=``),
sorted; tracking parameters (``utm_*``, ``spm``, ``from``…), view switches (``view``,
``mode``, ``mobile``…) and cache busters (``_=…``, ``t=<timestamp>``) are dropped.

What is known of TRS portals is a hint, never a gate: a TRS document lives at
``<column>/YYYYMM/tYYYYMMDD_<docid>.shtml`` and may be linked as ``…_<docid>_slhxq.shtml``
(elderly-friendly view), ``…_<docid>_app.shtml`` or as page ``…_<docid>_2.shtml`` of a split
document; all of them fold into the plain ``t…_<docid>.<ext>``.
"""
from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import safe_url_string

_DETAIL_PATH = re.compile(
    r"^(?P<stem>.*/t(?P<date>\d{8})_(?P<docid>\d+))(?:_(?P<view>slhxq|app|\d{1,3}))?"
    r"\.(?P<ext>s?html?)$",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: URLs ``safe_url_string`` leaves as they are (ASCII, no escapes to normalise): skipped, for speed.
_ALREADY_SAFE = re.compile(r"^[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=]*$")
#: A web URL that is canonical already but for a TRS view or page suffix: scheme and host in
#: lower case, no query, no fragment, a path of plain segments (none empty, none starting with a
#: dot). :func:`canonical_url` reads it with one match instead of a full parse (a list page may
#: carry 100,000 links); its port is checked there.
_PLAIN_URL = re.compile(
    r"(?P<origin>(?P<scheme>https?)://[a-z0-9.\-]+(?::(?P<port>[1-9]\d{0,4}))?)"
    r"(?P<path>/(?:[\w\-~][\w\-.~]*/)*(?:[\w\-~][\w\-.~]*)?)\Z",
    re.ASCII,
)
#: Query parameters that never identify a document (compared in lower case).
_NOT_IDENTITY = frozenset({
    # tracking and sharing
    "spm", "from", "share", "shareid", "share_from", "sharefrom", "isappinstalled", "scene", "clicktime",
    "enterid", "wxshare", "wechat", "fbclid", "gclid", "ref", "referer", "referrer", "source_from",
    # view switches
    "view", "mode", "mobile", "ismobile", "isapp", "app", "print", "font", "fontsize", "zoom", "style",
    "theme", "wap", "pc", "elder", "slh", "lang_view",
    # cache busters
    "_", "nocache", "random", "rnd", "rand", "cachebust", "cb",
})
#: Parameters that are cache busters only when they carry a timestamp or a random number.
_TIMESTAMP_NAMES = frozenset({"t", "ts", "time", "timestamp", "v", "r", "_t", "tm"})
_TIMESTAMP = re.compile(r"^(?:\d{10,}|0?\.\d{6,})$")


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


def _netloc(parts) -> str:
    port = parts.port
    host = parts.hostname.lower()
    if port and port != _DEFAULT_PORTS[parts.scheme.lower()]:
        return f"{host}:{port}"
    return host


#: ``scheme://authority`` ending where ``urlsplit`` ends the authority (``/``, ``?``, ``#`` or the
#: end), with no space or control character that splitting would strip or take out.
_SCHEME_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/?#\x00-\x20\x7f]*(?=[/?#]|\Z)")


def netloc_of(url: str) -> str:
    """``host[:port]`` in lower case with the scheme's default port left out ("" if not web).

    Read once per origin: host and port are all in ``scheme://authority``, which the rest of the
    URL never changes, and the crawl asks this of every link a list page carries (100,000 on a
    hostile page: 0.4 s through ``urlsplit`` one by one)."""
    origin = _SCHEME_AUTHORITY.match(url)
    return _origin_netloc(origin[0]) if origin is not None else _url_netloc(url)


@lru_cache(maxsize=1024)
def _origin_netloc(origin: str) -> str:
    return _url_netloc(origin)


def _url_netloc(url: str) -> str:
    parts = _split(url)
    return "" if parts is None else _netloc(parts)


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


def _identity_query(query: str) -> str:
    """The query parameters that identify a document, sorted (see the module's docs)."""
    if not query:
        return ""
    kept = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        lowered = name.lower()
        if lowered in _NOT_IDENTITY or lowered.startswith("utm_"):
            continue
        if lowered in _TIMESTAMP_NAMES and _TIMESTAMP.match(value):
            continue
        kept.append((name, value))
    return urlencode(sorted(kept)) if kept else ""


def _plain(url: str) -> re.Match[str] | None:
    """The parts of a URL of :data:`_PLAIN_URL`'s shape whose port is valid and not the default."""
    plain = _PLAIN_URL.match(url)
    if plain and (plain["port"] is None or _DEFAULT_PORTS[plain["scheme"]] != int(plain["port"]) <= 65535):
        return plain
    return None


def canonical_url(url: str) -> str:
    """One URL per document: the plain view, normalised host, identity parameters only.

    Unsafe characters are percent-encoded as Scrapy requests them (``safe_url_string``),
    so the canonical form of a canonical URL is itself.
    """
    url = url.strip()
    plain = _plain(url)
    if plain:
        path = plain["path"]
        match = _DETAIL_PATH.match(path) if "/t" in path or "/T" in path else None
        return f"{plain['origin']}{match['stem']}.{match['ext']}" if match else url
    if not _ALREADY_SAFE.match(url):
        try:
            url = safe_url_string(url)
        except ValueError:
            return url
    parts = _split(url)
    if parts is None:
        return url.strip()
    path = posixpath.normpath(parts.path) if parts.path else "/"
    if parts.path.endswith("/") and not path.endswith("/"):
        path += "/"
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    match = _DETAIL_PATH.match(path)
    if match:
        path = f"{match['stem']}.{match['ext']}"
        return urlunsplit((parts.scheme.lower(), _netloc(parts), path, "", ""))
    return urlunsplit((parts.scheme.lower(), _netloc(parts), path, _identity_query(parts.query), ""))


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


_ORIGIN = re.compile(r"^https?://[^/?#]+", re.IGNORECASE)
#: A line of URLs ending in a TRS document's view or page suffix (``…/t20200916_2183980_2.shtml``,
#: what :data:`_DETAIL_PATH` takes off): one search of a list's URLs tells whether any has one
#: (a TRS list of 100,000 plain document URLs took 0.2 s, each matched alone).
_VIEW_SUFFIX = re.compile(r"/t\d{8}_\d+_(?:slhxq|app|\d{1,3})\.s?html?$", re.IGNORECASE | re.MULTILINE)
_SEGMENT = r"[\w\-~][\w\-.~]*"
#: A relative path of plain segments (``202001/t20200101_1.html``, ``./list.html``): joined to
#: the page's folder, it is what ``urljoin`` makes of it.
_PLAIN_RELATIVE = re.compile(rf"(?:\./)?(?:{_SEGMENT}/)*{_SEGMENT}/?\Z", re.ASCII)
#: One line of :func:`_plain_paths`: a path of plain segments from the root or the page's folder.
_PLAIN_PATH = re.compile(rf"(?:/|\./)?(?:{_SEGMENT}/)*{_SEGMENT}/?\Z", re.ASCII)
#: What a path of plain segments is made of besides ASCII letters and digits (and the newlines
#: between them).
_PLAIN_PUNCTUATION = b"/-.~_\n"


def _plain_paths(lines: str) -> bool:
    """Whether every line is a path of plain segments (:data:`_SEGMENT`) from the root or from
    the page's folder (``/a/b.html``, ``./b/``, ``b.html``): its characters, no empty segment
    (``//``), none starting with a dot (``/.``, a leading ``.`` but ``./``), no line empty or
    only ``/`` or ``./``. Tests of the whole text at once, each a C-level scan: a list page may
    carry 100,000 links, and a regex walking them took longer than the rest of their URLs."""
    if not lines.isascii() or "//" in lines or "/." in lines:
        return False
    letters = lines.encode("ascii").translate(None, _PLAIN_PUNCTUATION)
    framed = f"\n{lines}\n"
    return ((letters.isalnum() or not letters) and framed.count("\n.") == framed.count("\n./")
            and "\n\n" not in framed and "\n/\n" not in framed and "\n./\n" not in framed)


class LinkResolver:
    """The web URLs of the links written on one page (``href`` as written), the common cases
    without ``urljoin``'s full parse: a list page may carry 100,000 links."""

    def __init__(self, page_url: str) -> None:
        self.page_url = page_url
        origin = _ORIGIN.match(page_url)
        self.origin = origin.group(0) if origin else None
        folder = urljoin(page_url, "./") if origin else None
        self.folder = folder if folder and netloc_of(folder) else None
        # bases that make canonical URLs of plain paths (lower-case host, no default port)
        self._plain_origin = self.origin if self.origin and _plain(self.origin + "/") else None
        self._plain_folder = self.folder if self.folder and _plain(self.folder) else None

    def web_url(self, href: str) -> str | None:
        """The absolute URL of ``href`` (no fragment), or ``None`` when it is no web URL."""
        href = href.strip()
        if "#" in href:
            href = href.split("#", 1)[0]
        if href[:1] == "/":
            if href[1:2] != "/" and "\\" not in href and "/." not in href and self.origin:
                return self.origin + href
        elif self.folder and _PLAIN_RELATIVE.match(href):
            return self.folder + (href[2:] if href[:2] == "./" else href)
        url = urljoin(self.page_url, href)
        return url if netloc_of(url) else None

    def canonical_urls(self, hrefs: Sequence[str]) -> list[str | None]:
        """:func:`canonical_url` of each href's :meth:`web_url` (``None``: no web URL). Hrefs that
        are plain paths (tested over all of them at once, else one by one: a list may mix in a
        few absolute links) make canonical URLs as joined, but for TRS document views
        (:data:`_VIEW_SUFFIX`); the others go the long way."""
        origin, folder = self._plain_origin, self._plain_folder
        if not (origin and folder):
            return [self._canonical(href) for href in hrefs]
        plain = None if _plain_paths("\n".join(hrefs)) else _PLAIN_PATH.match  # None: all of them
        urls = [(origin + href if href[0] == "/" else folder + (href[2:] if href[:2] == "./" else href))
                if plain is None or plain(href) else self._canonical(href) for href in hrefs]
        joined = "\n".join(url for url in urls if url)
        if ("/t" not in joined and "/T" not in joined) or not _VIEW_SUFFIX.search(joined):
            return urls  # tested over all at once: no TRS view
        view = _VIEW_SUFFIX.search
        return [canonical_url(url) if url and view(url) else url for url in urls]

    def _canonical(self, href: str) -> str | None:
        url = self.web_url(href)
        return canonical_url(url) if url else None
