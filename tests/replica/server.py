"""ReplicaPortal: the replica of the government portals, served on 127.0.0.1.

Why: there is no internet; every crawler test and the demo crawl this replica, and check
each stored field against the truth it exposes (``portal.columns[name].bulletins``).

Families (``portal.columns`` keys) and their special cases:

* ``xianning`` ``/xxgk/xxgkml/qtzdgknr/zwdc/`` (.shtml, UTF-8 in the HTTP header only): holds
  the restored seed bulletin; one list item links the ``_slhxq`` view, one links
  ``…/zwdc/old/t…_<docid>.shtml`` which answers 301, one links a copy on
  ``http://127.0.0.2:<port>/…`` (another host).
* ``table`` ``/zwgk/gkml/qtzdgknr/zwdc/`` (.html): one bulletin lives at
  ``/zwgk/gkml/YYYYMM/t…_<docid>.html``, outside the column path, but is listed in it.
* ``gbk`` ``/xxgk/fdzdgknr/qtzdgknr/zwdc/`` (.htm, GBK declared only in a ``<meta>``): one list
  item links ``http://mirror.example.invalid/…``.
* ``scripted-count`` ``/zwgk/zwdc/`` (.html, no metadata block): one list item links
  ``/private/zwdc/…``, which robots.txt disallows.

Families on other portal software (no TRS URL shape, list or pager; ``ColumnInfo.list_pages``,
``page_count`` and ``endpoint`` say what their pagers announce):

* ``hanweb`` ``/col/col1229/index.html`` (大汉 JCMS): the list is XML ``<record>`` items inside a
  ``<script type="text/xml">`` (18 = three pages of six); the rest only from
  ``/module/web/jpage/dataproxy.jsp?startrecord=&endrecord=&perpage=`` (POST with the form
  fields the page's ``jpage.show({…form…})`` names, or GET; ``page=N`` asks for group N); the
  pager is written by ``/module/web/jpage/jpage.js``; articles ``/art/Y/M/D/art_1229_<id>.html``.
* ``json-api`` ``/zfxxgk/dcdb/index.html``: an empty list filled from ``POST
  /api/cms/content/list`` (JSON ``{channelId: "dcdb", pageNo, pageSize}``; GET and form POST
  too); documents ``detail.jsp?docId=N`` (the query is their identity), listed by the endpoint as
  ``…&from=list`` and by a static 置顶 box without it.
* ``epoint`` ``/info/gkml/dcdb/iList.jsp`` (新点): pages ``iList.jsp?cur_page=N`` linked as
  ``?cur_page=N`` (上页/下页/末页); ``cur_page=1`` repeats page 1, a page past the end is an
  empty list (200); documents ``/xxgk/YYYYMMDD/<guid>.html``.
* ``backward`` ``/zwgk/zdlyxxgk/dcdb/index.shtml``: further pages ``list/index_<N-1>.shtml`` …
  ``list/index_1.shtml`` (numbered from the oldest); documents ``YYYYMM/<docid>.shtml``.

The ``table`` family's six-argument pager counts from 1: page 2 is ``index_2.html`` and
``index_1.html`` answers 404. Endpoints answer POST; any other path answers POST with 405.

Opt-in (``ReplicaPortal(families=(…, "js-list"))``; the default is the eight above):

* ``js-list`` ``/xxgk/jsdc/zwdc/`` (.html): the list page ships an empty ``<ul id="list">``
  that a script fills from ``/api/list?page=N`` (JSON, 1-based; ``page=0`` answers 400) and
  a pager written with ``document.write``; only its static sidebar has links without a
  browser. Detail pages are plain HTML with a metadata block.

Every detail page links its ``_slhxq`` and ``_app`` alternates (served too). Detail pages
and attachments send ``ETag``/``Last-Modified`` and answer 304 to matching validators.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Sequence
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from .site import Resource, Site, not_found_page

#: A fault hook: receives the request handler and answers the request itself.
Fault = Callable[["PortalRequestHandler"], None]


@dataclass
class ColumnInfo:
    """Public view of one family's 政务督查 column; ``bulletins`` is live truth, newest first."""

    name: str
    start_url: str
    path: str
    encoding: str
    ext: str
    _site: Site

    @property
    def bulletins(self) -> list[dict[str, Any]]:
        return self._site.bulletins(self.name)

    @property
    def list_pages(self) -> list[str]:
        """Every list page of the column in pager order (live); one when an endpoint pages it."""
        return self._site.list_pages(self.name)

    @property
    def page_count(self) -> int:
        """Pages the column's pager announces (live), whether list pages or endpoint pages."""
        return self._site.page_count(self.name)

    @property
    def endpoint(self) -> str | None:
        """Absolute URL (no query) of the data endpoint that feeds the list, if any."""
        family = self._site.families[self.name]
        path = family.endpoint_path or getattr(family, "api_path", None)
        return f"{self._site.base_url}{path}" if path else None


class PortalRequestHandler(BaseHTTPRequestHandler):
    """Serves the site model; records every request; lets ``portal.faults`` take over a path."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms stalls
    server_version = "nginx"
    sys_version = ""
    server: _PortalServer

    @property
    def portal(self) -> ReplicaPortal:
        return self.server.portal

    @property
    def site(self) -> Site:
        return self.server.portal.site

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    def do_HEAD(self) -> None:  # noqa: N802
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.request_body = self.rfile.read(length) if length > 0 else b""
        self._dispatch()

    @property
    def form(self) -> dict[str, str]:
        """The POST body's fields: URL-encoded form or a JSON object (values as strings)."""
        body = getattr(self, "request_body", b"")
        if not body:
            return {}
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() == "application/json":
            try:
                data = json.loads(body)
            except ValueError:
                return {}
            return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        record = getattr(self, "_record", None)
        if record is not None:
            record["status"] = code
        super().send_response(code, message)

    def _dispatch(self) -> None:
        self._record = self.portal._record_request(self)
        path = urlsplit(self.path).path
        fault = self.portal.faults.get(self.path) or self.portal.faults.get(path)
        try:
            if fault is not None:
                fault(self)
            else:
                self.serve_normally()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as error:  # a replica bug: answer 500 and keep it for the tests to see
            self.portal.errors.append(error)
            if self._record["status"] is None:
                self.respond(500, f"replica error: {error!r}".encode(), "text/plain; charset=utf-8")
            self.close_connection = True

    def serve_normally(self) -> None:
        """Answer from the site model (fault hooks may call this to pass a request through)."""
        parts = urlsplit(self.path)
        path = parts.path
        resource = self.site.resolve(path, parts.query, self.command, self.form if self.command == "POST" else None)
        if resource is None:
            self.respond(404, not_found_page(path), "text/html; charset=utf-8")
            return
        headers: dict[str, str] = {}
        if resource.etag:
            headers["ETag"] = resource.etag
        if resource.last_modified:
            headers["Last-Modified"] = format_datetime(resource.last_modified, usegmt=True)
        if resource.location:
            headers["Location"] = resource.location
        if resource.status == 200 and self._not_modified(resource):
            self.respond(304, b"", None, headers)
            return
        self.respond(resource.status, resource.render(), resource.content_type, headers)

    def _not_modified(self, resource: Resource) -> bool:
        """RFC 9110: If-None-Match wins over If-Modified-Since."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return resource.etag is not None and ("*" in tags or resource.etag in tags)
        since = self.headers.get("If-Modified-Since")
        if since and resource.last_modified:
            try:
                when = parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
            return when.tzinfo is not None and resource.last_modified.replace(microsecond=0) <= when
        return False

    def respond(self, status: int, body: bytes, content_type: str | None,
                headers: dict[str, str] | None = None) -> None:
        """Send a complete response (HEAD gets the headers only)."""
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)


class _PortalServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], portal: ReplicaPortal) -> None:
        self.portal = portal
        super().__init__(address, PortalRequestHandler)


class ReplicaPortal:
    """The replica portal on ``127.0.0.1``: ``with ReplicaPortal(per_family=20, seed=1) as portal:``.

    The port is bound at construction (``port=0`` picks a free one), so ``base_url``, ``host``
    and the truth are known before ``start()``. ``site`` is the mutable model
    (``add_bulletin``, ``edit_body``, ``remove``); ``faults`` maps a path to a callable that
    answers that path instead (fault injection); ``requests`` lists what was asked.
    """

    def __init__(self, per_family: int = 20, seed: int = 1, *, port: int = 0, page_size: int = 15,
                 families: Sequence[str] | None = None) -> None:
        self._server = _PortalServer(("127.0.0.1", port), self)
        self.port: int = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.base_url = f"http://{self.host}"
        self.site = Site(self.host, per_family=per_family, seed=seed, page_size=page_size, families=families)
        self.faults: dict[str, Fault] = {}
        #: Exceptions raised while serving (a replica bug, or a fault hook's): tests may assert it is empty.
        self.errors: list[BaseException] = []
        self._requests: list[dict[str, Any]] = []
        self._requests_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.columns: dict[str, ColumnInfo] = {
            name: ColumnInfo(name, f"{self.base_url}{family.column}{family.list_page_path(0, 1)}", family.column,
                             family.encoding, family.ext, self.site)
            for name, family in self.site.families.items()
        }

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> ReplicaPortal:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"replica-portal-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> ReplicaPortal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ request log
    @property
    def requests(self) -> list[dict[str, Any]]:
        """Requests in arrival order: ``{method, path, status, headers, time, body}`` (a snapshot
        copy; ``body`` is the POST body, ``b""`` otherwise)."""
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    def _record_request(self, handler: BaseHTTPRequestHandler) -> dict[str, Any]:
        record = {"method": handler.command, "path": handler.path, "status": None,
                  "headers": dict(handler.headers.items()), "time": datetime.now().timestamp(),
                  "body": getattr(handler, "request_body", b"")}
        with self._requests_lock:
            self._requests.append(record)
        return record
