"""Faults the replica can inject on any path (``portal.faults[path] = fault``).

Each factory returns a hook that answers the request itself, the way broken government
servers do: errors that heal on retry, hangs, resets, truncated or oversized bodies, gzip
bombs, lying charsets, invalid bytes, empty pages, HTML where a file should be, bot
challenges and redirects that never end.
"""
from __future__ import annotations

import gzip
import itertools
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .templates import RenderContext, esc

if TYPE_CHECKING:
    from .server import PortalRequestHandler

Fault = Callable[["PortalRequestHandler"], None]

_CHALLENGE = (
    b"<html><head><script>var _0x=['cookie'];document.cookie='__jsl_clearance=1;path=/';"
    b"location.reload();</script></head><body></body></html>"
)


def _resolve(handler: PortalRequestHandler):
    path, _, query = handler.path.partition("?")
    return handler.site.resolve(path, query)


def _page_bytes(handler: PortalRequestHandler) -> bytes:
    resource = _resolve(handler)
    if resource is None:
        raise LookupError(f"nothing to damage at {handler.path}")
    return resource.render()


def failing_then_ok(statuses: Iterable[int] = (503, 502)) -> Fault:
    """Answer these statuses once each, then serve normally (a retry succeeds)."""
    pending = list(statuses)
    lock = threading.Lock()

    def fault(handler: PortalRequestHandler) -> None:
        with lock:
            status = pending.pop(0) if pending else None
        if status is None:
            handler.serve_normally()
        else:
            handler.respond(status, b"<html><body>Service Unavailable</body></html>", "text/html")
    return fault


def always(status: int = 500) -> Fault:
    def fault(handler: PortalRequestHandler) -> None:
        handler.respond(status, f"<html><body>error {status}</body></html>".encode(), "text/html")
    return fault


def hang(seconds: float) -> Fault:
    """Say nothing for ``seconds`` (longer than the crawler's timeout), then hang up."""
    def fault(handler: PortalRequestHandler) -> None:
        time.sleep(seconds)
        handler.close_connection = True
    return fault


def reset() -> Fault:
    """Tear the connection down with a TCP RST instead of an answer."""
    def fault(handler: PortalRequestHandler) -> None:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
        handler.close_connection = True
    return fault


def truncated() -> Fault:
    """Promise the whole page in Content-Length, send half of it, hang up."""
    def fault(handler: PortalRequestHandler) -> None:
        body = _page_bytes(handler)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        handler.close_connection = True
    return fault


def redirect_loop() -> Fault:
    """Redirect between two URLs of the same path forever."""
    counter = itertools.count()

    def fault(handler: PortalRequestHandler) -> None:
        path = handler.path.split("?", 1)[0]
        handler.respond(302, b"", "text/html", {"Location": f"{path}?loop={next(counter)}"})
    return fault


def oversized(size: int) -> Fault:
    def fault(handler: PortalRequestHandler) -> None:
        body = b"<html><body><div class='TRS_Editor'>" + b"<p>x</p>" * (size // 8) + b"</div></body></html>"
        handler.respond(200, body, "text/html; charset=utf-8")
    return fault


def gzip_bomb(inflated_size: int) -> Fault:
    """A small gzip body that inflates to ``inflated_size`` bytes of zeros."""
    payload = gzip.compress(b"\0" * inflated_size, compresslevel=9)

    def fault(handler: PortalRequestHandler) -> None:
        handler.respond(200, payload, "text/html; charset=utf-8", {"Content-Encoding": "gzip"})
    return fault


def lying_charset(declared: str = "utf-8", actual: str = "gbk", source: str = "utf-8") -> Fault:
    """The page encoded in ``actual`` while the header declares ``declared``."""
    def fault(handler: PortalRequestHandler) -> None:
        text = _page_bytes(handler).decode(source)
        handler.respond(200, text.encode(actual), f"text/html; charset={declared}")
    return fault


def invalid_bytes(after: bytes, target: bytes, junk: bytes = b"\xff") -> Fault:
    """Replace the first ``target`` found after ``after`` with bytes no decoder accepts."""
    def fault(handler: PortalRequestHandler) -> None:
        body = _page_bytes(handler)
        start = body.index(after)
        at = body.index(target, start)
        handler.respond(200, body[:at] + junk + body[at + len(target):], "text/html")
    return fault


def empty_ok() -> Fault:
    def fault(handler: PortalRequestHandler) -> None:
        handler.respond(200, b"", "text/html; charset=utf-8")
    return fault


def html_instead_of_file() -> Fault:
    def fault(handler: PortalRequestHandler) -> None:
        handler.respond(200, b"<!DOCTYPE html><html><body>404 - file moved</body></html>",
                        "text/html; charset=utf-8")
    return fault


def file_bytes(data: bytes, content_type: str = "application/octet-stream") -> Fault:
    """These bytes in place of the file (a hostile attachment: a zip bomb, an encrypted PDF …)."""
    def fault(handler: PortalRequestHandler) -> None:
        handler.respond(200, data, content_type)
    return fault


def bot_challenge(status: int = 412) -> Fault:
    """A JavaScript cookie challenge instead of content."""
    def fault(handler: PortalRequestHandler) -> None:
        handler.respond(status, _CHALLENGE, "text/html; charset=utf-8")
    return fault


def redirect_to(url: str) -> Fault:
    def fault(handler: PortalRequestHandler) -> None:
        handler.respond(302, b"", "text/html", {"Location": url})
    return fault


def with_extra_links(links_html: str, before: bytes = b"</ul>") -> Fault:
    """Serve the page with ``links_html`` inserted before the first ``before``."""
    def fault(handler: PortalRequestHandler) -> None:
        body = _page_bytes(handler)
        at = body.index(before)
        resource = _resolve(handler)
        handler.respond(200, body[:at] + links_html.encode("utf-8") + body[at:], resource.content_type)
    return fault


def many_entries(count: int) -> Fault:
    """A list page of the xianning template with ``count`` more entries after its own, at the
    end of its list: a hostile list page (``count`` = 100,000 once took 133 s to read)."""
    return with_extra_links("".join(f'<li><a href="./209901/t20990101_{n}.shtml">第{n}号督查事项落实情况的通报</a>'
                                    f'<span>2099-01-01</span></li>\n' for n in range(count)),
                            before=b'</ul>\n</div>\n<div class="page"')


#: What portals (and the firewalls before them) answer with HTTP 200 instead of a bulletin:
#: kind -> (page title, heading, message).
ERROR_PAGES = {
    "soft-404": ("页面不存在", "404 页面不存在",
                 "抱歉,您访问的页面不存在或已被删除。请检查您输入的网址是否正确,或返回首页继续浏览。"),
    "maintenance": ("系统维护中", "系统维护中",
                    "为了给您提供更优质的服务,本网站正在进行系统升级维护,预计今日18:00恢复访问。"
                    "给您带来的不便,敬请谅解。"),
    "waf": ("访问受限", "访问受限",
            "您的访问请求可能对网站造成安全威胁,已被网站防火墙拦截。如有疑问请联系网站管理员,"
            "事件编号:WAF-20240517-1f3a9c。"),
}


def error_page(kind: str) -> Fault:
    """HTTP 200 with an error page of ``kind`` (:data:`ERROR_PAGES`) in the portal's own template:
    its navigation, breadcrumbs, sidebar of linked documents and footer around the message."""
    title, heading, message = ERROR_PAGES[kind]

    def fault(handler: PortalRequestHandler) -> None:
        site = handler.site
        family = site.families[site.doc_at(handler.path.split("?", 1)[0]).family]
        main = (f'<div class="article"><h2>{esc(heading)}</h2><p>{esc(message)}</p>'
                f'<p><a href="/">返回首页</a></p></div>')
        ctx = RenderContext(site.host, site._sidebar(family))
        page = family.page(title=f"{title}_{family.site_name}", main=main, ctx=ctx, crumb=None)
        handler.respond(200, family.encode(page), family.content_type)
    return fault


def lying_charset_with_stray_byte(declared: str, actual: str, stray: bytes, after: str,
                                  target: str = "。") -> Fault:
    """The page encoded in ``actual`` while the header and any ``<meta>`` declare ``declared``,
    with one stray byte in place of the first ``target`` after the markup ``after``."""
    def fault(handler: PortalRequestHandler) -> None:
        site = handler.site
        family = site.families[site.doc_at(handler.path.split("?", 1)[0]).family]
        text = _page_bytes(handler).decode(family.encoding)
        body = re.sub(r"charset=[\w-]+", f"charset={declared}", text).encode(actual)
        encoded = target.encode(actual)
        at = body.index(encoded, body.index(after.encode(actual)))
        handler.respond(200, body[:at] + stray + body[at + len(encoded):], f"text/html; charset={declared}")
    return fault


def deep_nesting(depth: int, before: bytes = b'<div class="main-left">') -> Fault:
    """The page with everything inside ``before`` wrapped in ``depth`` nested ``<div>``s."""
    def fault(handler: PortalRequestHandler) -> None:
        body = _page_bytes(handler)
        start = body.index(before) + len(before)
        end = body.index(b'<div class="main-right">', start)
        end = body.rindex(b"</div>", start, end)
        resource = handler.site.resolve(handler.path.split("?", 1)[0])
        handler.respond(200, body[:start] + b"<div>" * depth + body[start:end] + b"</div>" * depth
                        + body[end:], resource.content_type)
    return fault
