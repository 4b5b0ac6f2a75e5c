"""HTML of the replica's template families (government portals on TRS and other software).

Why: the live markup of the target site was never seen, so the crawler must work on the
conventions shared by such portals rather than on one guessed set of class names. Each
family is a :class:`Family` subclass that overrides *hooks only*: markup (list items,
pagination, metadata block, paragraph/table markup, body container, attachment list) and,
for portals not built on TRS, URL shapes (document paths, list page names, query-identified
documents) and the data endpoint that feeds a list; page assembly, chrome (header, nav,
breadcrumbs, 热点信息 sidebar, footer), escaping and the alternate views are shared here,
so families differ in templates, not in code.

Every page's visible body text equals the body truth of ``corpus.body_text``: paragraph
markup adds whitespace only at the ends of a paragraph (indentation, ``&nbsp;``), never
inside a word, and runs such as ``2019`` ``年`` ``11`` ``月`` sit in adjacent spans with no
whitespace between them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import posixpath
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar
from urllib.parse import parse_qs, quote

from .model import Attachment, Doc, ListEntry

_SECTION = re.compile(r"^[一二三四五六七八九十]+、")
_SUB = re.compile(r"^[((][一二三四五六七八九十]+[))]")
_ITEM = re.compile(r"^\d+\.")
_SIGNATURE = re.compile(r"^(\d{4}年\d{1,2}月\d{1,2}日|咸宁市人民政府办公室)$")


def esc(text: str) -> str:
    """Escape text content."""
    return html.escape(text, quote=False)


def attr(text: str) -> str:
    """Escape an attribute value."""
    return html.escape(text, quote=True)


def role_of(text: str) -> str:
    """Presentation role of a paragraph (bold headings, right-aligned signature...)."""
    if _SECTION.match(text):
        return "section"
    if _SUB.match(text):
        return "sub"
    if _ITEM.match(text):
        return "item"
    if _SIGNATURE.match(text):
        return "sign"
    return "plain"


@dataclass
class RenderContext:
    """What a page needs beyond its document: the host (absolute links) and the sidebar."""

    host: str
    sidebar: Sequence[ListEntry] = ()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"


def table_html(rows: list[list[str]], *, open_tag: str, cell: Callable[[str, bool], str],
               header_tag: str = "td", thead: bool = False, tbody: bool = True,
               row_attrs: str = "") -> str:
    """A table; the first row is the header. ``cell`` renders one cell's inner HTML."""
    def row(cells: list[str], header: bool) -> str:
        tag = header_tag if header else "td"
        return f"<tr{row_attrs}>" + "".join(f"<{tag}>{cell(c, header)}</{tag}>" for c in cells) + "</tr>"

    head, rest = rows[0], rows[1:]
    if thead:
        inner = f"<thead>{row(head, True)}</thead>\n<tbody>" + "\n".join(row(r, False) for r in rest) + "</tbody>"
    else:
        inner = "\n".join([row(head, True)] + [row(r, False) for r in rest])
        if tbody:
            inner = f"<tbody>\n{inner}\n</tbody>"
    return f"{open_tag}\n{inner}\n</table>"


_PAGE_JS = r"""<script type="text/javascript">
function createPageHTML(_nPageCount, _nCurrIndex, _sPageName, _sPageExt){
  if(_nPageCount == null || _nPageCount<=1){ return; }
  var nCurrIndex = _nCurrIndex || 0;
  if(nCurrIndex == 0){ document.write("首页 上一页 "); }
  else {
    document.write("<a href=\""+_sPageName+"."+_sPageExt+"\">首页</a> ");
    if(nCurrIndex == 1) document.write("<a href=\""+_sPageName+"."+_sPageExt+"\">上一页</a> ");
    else document.write("<a href=\""+_sPageName+"_" + (nCurrIndex-1) + "."+_sPageExt+"\">上一页</a> ");
  }
  if(nCurrIndex == (_nPageCount-1)){ document.write("下一页 尾页"); }
  else {
    document.write("<a href=\""+_sPageName+"_" + (nCurrIndex+1) + "."+_sPageExt+"\">下一页</a> ");
    document.write("<a href=\""+_sPageName+"_" + (_nPageCount-1) + "."+_sPageExt+"\">尾页</a>");
  }
}
</script>"""


@dataclass(frozen=True)
class EndpointQuery:
    """What an endpoint request asks for: records ``start:stop`` (0-based) of ``column``."""

    column: str
    start: int
    stop: int


@dataclass
class Family:
    """A template family: one portal's conventions. Subclasses override the markup hooks."""

    name: str
    column: str
    ext: str
    site_name: str
    crumbs: tuple[tuple[str, str], ...]  # ancestors of the column, (text, href)
    other_column: str  # a sibling column whose items fill the sidebar
    other_name: str
    org_code: str
    publisher: str
    footer_owner: str
    icp: str
    encoding: str = "utf-8"
    charset_in_header: bool = True
    column_name: str = "政务督查"
    has_metadata: bool = True
    sidebar_class: str = "hot-list"
    nav_extra: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # content conventions of the portal (what its metadata blocks tend to say)
    kinds: tuple[tuple[str, float], ...] = (("meetings", 0.7), ("work_report", 0.3))
    issued_share: float = 0.0  # share of documents showing an issue date (发文日期/成文日期)
    doc_no_share: float = 0.0  # share of non-notice documents showing a 文号
    doc_no_series: str = ""
    blank_doc_no: tuple[str, ...] = ("",)  # what the 文号 field shows when there is none

    #: Other views of every detail page (``t…_<docid>_slhxq.<ext>``): TRS portals only.
    alternates: ClassVar[tuple[str, ...]] = ("slhxq", "app")
    #: Query parameters that identify a document whose page is served by a script
    #: (``detail.jsp?docId=N``); any other parameter (``from=list``) is ignored by the server.
    identity_params: ClassVar[tuple[str, ...]] = ()
    #: Fields the metadata block does not show (their truth is empty).
    hidden_fields: ClassVar[frozenset[str]] = frozenset()
    #: Path of the data endpoint that feeds the list (answers GET and POST), if any.
    endpoint_path: ClassVar[str | None] = None
    #: Content type of the endpoint's answers.
    endpoint_type: ClassVar[str] = "application/json; charset=utf-8"
    #: Whether the column has one list page and its further pages come from the endpoint.
    paged_by_endpoint: ClassVar[bool] = False
    #: List pages' worth of entries one list page carries (more when a script pages them).
    embedded_pages: ClassVar[int] = 1
    #: Entries a list page shows, when the portal fixes it (else the site's page size).
    page_size: ClassVar[int | None] = None
    #: Whether the family's dates and docids come from a generator of its own (families added
    #: after the first five, so adding one leaves the others' corpus unchanged).
    own_corpus: ClassVar[bool] = False

    # ------------------------------------------------------------------ URLs
    def doc_path(self, folder: str, day: date, docid: int) -> str:
        """Canonical path of a document filed in ``folder`` (a column folder, ``/`` at the end)."""
        return f"{folder}{day:%Y%m}/t{day:%Y%m%d}_{docid}.{self.ext}"

    def attachment_path(self, doc: Doc, serial: int, ext: str) -> str:
        return f"{doc.directory}P0{doc.published:%Y%m%d}{serial:012d}.{ext}"

    def attachment_href(self, doc: Doc, attachment: Attachment) -> str:
        """The link as the detail page writes it (``./P0….pdf`` beside TRS pages)."""
        return attachment.href

    def list_page_path(self, page: int, n_pages: int) -> str:
        """List page ``page`` (0-based) of ``n_pages``, relative to the column folder."""
        return f"index.{self.ext}" if page == 0 else f"index_{page}.{self.ext}"

    def list_page_of(self, rest: str, query: str, n_pages: int) -> int | None:
        """Which list page ``rest`` (the path below the column folder) is, if any."""
        if rest == "":
            return 0
        return next((page for page in range(n_pages) if self.list_page_path(page, n_pages) == rest), None)

    def list_link(self, target: str, page_folder: str, where: str) -> str:
        """How a list links ``target`` (a path) from a page in ``page_folder``; ``where`` is
        ``list`` (the page itself), ``embedded`` (data in the page) or ``endpoint``."""
        relative = posixpath.relpath(target, page_folder.rstrip("/") or "/")
        return relative if relative.startswith("../") else "./" + relative

    # ------------------------------------------------------------------ endpoint
    def static_files(self) -> dict[str, tuple[str, str]]:
        """Scripts the family's pages load: path -> (content type, text)."""
        return {}

    def endpoint_query(self, params: dict[str, str]) -> EndpointQuery | str:
        """Which column and records an endpoint request asks for, or why it is refused."""
        raise NotImplementedError

    def endpoint_answer(self, entries: Sequence[ListEntry], *, asked: EndpointQuery, total: int,
                        page_size: int) -> bytes:
        raise NotImplementedError

    def endpoint_error(self, message: str) -> bytes:
        return message.encode()

    # ------------------------------------------------------------------ HTTP
    @property
    def content_type(self) -> str:
        return "text/html; charset=utf-8" if self.charset_in_header else "text/html"

    def encode(self, page: str) -> bytes:
        return page.encode(self.encoding, errors="xmlcharrefreplace")

    def charset_meta(self) -> str:
        return '<meta charset="utf-8">'

    # ------------------------------------------------------------------ chrome (shared)
    def nav(self) -> str:
        items = (("首页", "/"), ("信息公开", self.crumbs[0][1] if self.crumbs else "/"),
                 (self.column_name, self.column + self.list_page_path(0, 1)),
                 (self.other_name, self.other_column + self.list_page_path(0, 1))) + self.nav_extra
        return "".join(f'<li><a href="{attr(h)}">{esc(t)}</a></li>' for t, h in items)

    def breadcrumbs(self, last: tuple[str, str] | None) -> str:
        trail = (("首页", "/"),) + self.crumbs + ((last,) if last else ())
        return " &gt; ".join(f'<a href="{attr(h)}">{esc(t)}</a>' for t, h in trail)

    def sidebar(self, entries: Sequence[ListEntry]) -> str:
        items = "".join(
            f'<li><a href="{attr(e.href)}" target="_blank" title="{attr(e.title)}">{esc(e.title)}</a>'
            f'<span>{e.day:%Y-%m-%d}</span></li>' for e in entries)
        return (f'<div class="hot-news"><div class="hot-title"><h3>热点信息</h3></div>'
                f'<ul class="{self.sidebar_class}">{items}</ul></div>')

    def footer(self) -> str:
        return (
            '<div class="footer"><div class="w1200">\n'
            '<div class="links">相关链接:<a href="http://www.gov.cn/" target="_blank">中国政府网</a> '
            '<a href="http://www.hubei.gov.cn/" target="_blank">湖北省人民政府</a></div>\n'
            f'<p>主办单位:{esc(self.footer_owner)} 承办单位:咸宁市政务服务和大数据管理局</p>\n'
            f'<p>网站标识码:4212000001 <a href="https://beian.miit.gov.cn/" target="_blank">{esc(self.icp)}</a> '
            '鄂公网安备 42120202000101号</p>\n<p>地址:湖北省咸宁市咸宁大道1号 联系电话:0715-8126000</p>\n'
            '<div id="allmap" class="map">Baidu\nmap</div>\n</div></div>')

    def head_script(self) -> str:
        return ""

    def page(self, *, title: str, main: str, ctx: RenderContext, crumb: tuple[str, str] | None,
             head_extra: str = "", body_class: str = "") -> str:
        """The full portal page around ``main``."""
        return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
{self.charset_meta()}
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<title>{esc(title)}</title>
<meta name="SiteName" content="{attr(self.site_name)}">
<meta name="ColumnName" content="{attr(self.column_name)}">
{head_extra}
<link rel="stylesheet" type="text/css" href="/images/common.css">
<script type="text/javascript" src="/js/jquery-1.12.4.min.js"></script>
{self.head_script()}
</head>
<body class="{body_class}">
<div class="top"><div class="w1200"><span class="welcome">欢迎访问{esc(self.site_name)}</span>
<a href="javascript:void(0)" class="wza">无障碍浏览</a> | <a href="javascript:void(0)">长者模式</a></div></div>
<div class="header"><div class="w1200"><div class="logo"><a href="/"><img src="/images/logo.png" alt="{attr(self.site_name)}"></a></div>
<div class="search"><form action="/ssp/search/api/search" method="post"><input type="text" name="keyword" placeholder="请输入关键词"><button type="submit">搜索</button></form></div></div></div>
<div class="nav"><ul class="w1200">{self.nav()}</ul></div>
<div class="w1200 main clearfix">
<div class="position">当前位置:{self.breadcrumbs(crumb)}</div>
<div class="main-left">
{main}
</div>
<div class="main-right">
{self.sidebar(ctx.sidebar)}
</div>
</div>
{self.footer()}
</body>
</html>
"""

    # ------------------------------------------------------------------ list pages (shared)
    def list_page(self, *, name: str, path: str, entries: Sequence[ListEntry], page: int,
                  n_pages: int, n_records: int, ctx: RenderContext) -> str:
        main = self.list_body(name=name, path=path, entries=entries, page=page, n_pages=n_pages,
                              n_records=n_records)
        return self.page(title=self.list_title(name), main=main, ctx=ctx,
                         crumb=(name, path + self.list_page_path(0, 1)))

    def list_body(self, *, name: str, path: str, entries: Sequence[ListEntry], page: int, n_pages: int,
                  n_records: int) -> str:
        """The main column of a list page: heading, list, pager."""
        return (f'<div class="list-title"><h2>{esc(name)}</h2></div>\n'
                + self.list_markup(entries) + "\n" + self.pagination(n_pages, page, n_records))

    def list_title(self, name: str) -> str:
        return f"{name}_{self.site_name}"

    def short(self, title: str, limit: int = 32) -> str:
        """List text truncated the way TRS lists do (the full title is in ``title=``)."""
        return title if len(title) <= limit else title[:limit] + "..."

    # ------------------------------------------------------------------ detail pages (shared)
    def detail_page(self, doc: Doc, variant: str, ctx: RenderContext) -> str:
        """The canonical page (``plain``), a page of a split document (``part-K``), or one of
        the alternates (``slhxq``, ``app``, which show the whole body)."""
        if variant == "app":
            return self.app_page(doc, ctx)
        canonical = f'<link rel="canonical" href="{attr(ctx.base_url + doc.path)}">'
        if variant == "slhxq":
            main = (f'<div class="article slh">\n{self.heading(doc)}\n'
                    f'<div class="slh-info">发布时间:{doc.published:%Y-%m-%d}'
                    f' <a href="./{doc.path.rsplit("/", 1)[1]}">返回标准版</a></div>\n'
                    f'{self.body_html(doc)}\n{self.attachment_list(doc)}\n</div>')
            return self.page(title=self.detail_title(doc), main=main, ctx=ctx, crumb=self.detail_crumb(doc),
                             head_extra=canonical, body_class="slh-mode")
        part = int(variant.removeprefix("part-")) if variant.startswith("part-") else 0
        shown = dataclasses.replace(doc, blocks=doc.part_blocks(part)) if doc.parts > 1 else doc
        body = self.body_html(shown) + ("\n" + self.article_pager(doc, part) if doc.parts > 1 else "")
        parts = {"metadata": self.metadata(doc) if self.has_metadata else "", "heading": self.heading(doc),
                 "toolbar": self.toolbar(doc), "body": body, "editor": self.editor_line(doc),
                 "attachments": self.attachment_list(doc)}
        main = '<div class="article">\n' + "\n".join(parts[p] for p in self.detail_order if parts[p]) + "\n</div>"
        return self.page(title=self.detail_title(doc), main=main, ctx=ctx, crumb=self.detail_crumb(doc),
                         head_extra=self.detail_head(doc))

    #: Order of the parts of a canonical detail page (a class-level template choice).
    detail_order: ClassVar[tuple[str, ...]] = ("metadata", "heading", "toolbar", "body", "editor", "attachments")

    def detail_crumb(self, doc: Doc) -> tuple[str, str]:
        if doc.role == "other":
            return self.other_name, self.other_column + self.list_page_path(0, 1)
        return self.column_name, self.column + self.list_page_path(0, 1)

    def detail_title(self, doc: Doc) -> str:
        return f"{doc.title}_{self.site_name}"

    def detail_head(self, doc: Doc) -> str:
        return ""

    def app_page(self, doc: Doc, ctx: RenderContext) -> str:
        """The mobile view: no chrome, no metadata block."""
        return f"""<!DOCTYPE html>
<html><head>{self.charset_meta()}
<meta name="viewport" content="width=device-width,initial-scale=1,user-scalable=no">
<title>{esc(doc.title)}</title>
<link rel="canonical" href="{attr(ctx.base_url + doc.path)}">
</head><body class="app">
<div class="app-header"><a href="/">{esc(self.site_name)}</a></div>
<div class="app-article"><h2 class="app-title">{esc(doc.title)}</h2>
<div class="app-date">{doc.published:%Y-%m-%d}</div>
{self.body_html(doc)}
{self.attachment_list(doc)}
</div></body></html>
"""

    def toolbar(self, doc: Doc) -> str:
        name = doc.path.rsplit("/", 1)[1].rsplit(".", 1)[0]
        return (f'<div class="article-tool">字号:<a href="javascript:doZoom(18)">大</a> '
                f'<a href="javascript:doZoom(16)">中</a> <a href="javascript:doZoom(14)">小</a>  '
                f'分享到:<a href="javascript:void(0)" class="share-wx">微信</a>'
                f'<a href="javascript:void(0)" class="share-wb">微博</a> '
                f'<a href="./{name}_slhxq.{doc.ext}" class="slh">适老化阅读</a> '
                f'<a href="./{name}_app.{doc.ext}" class="app">移动版</a> '
                f'<a href="javascript:window.print()">打印</a></div>')

    def heading(self, doc: Doc) -> str:
        return f'<h1 class="article-title">{esc(doc.title)}</h1>'

    def editor_line(self, doc: Doc) -> str:
        return f'<div class="editor">责任编辑:{esc(doc.editor)}</div>' if doc.editor else ""

    def body_html(self, doc: Doc) -> str:
        """The body container with every block; markup choices seeded per document."""
        rng = random.Random(f"{self.name}/{doc.docid}/{doc.rev}")
        parts: list[str] = []
        for kind, content in doc.blocks:
            if kind == "p":
                parts.append(self.paragraph(content, role_of(content), rng))
            else:
                parts.append(self.table(content, rng))
            if rng.random() < 0.06:
                parts.append(self.empty_paragraph())
        return self.container("\n".join(parts), doc)

    # ------------------------------------------------------------------ hooks
    def list_markup(self, entries: Sequence[ListEntry]) -> str:
        raise NotImplementedError

    def pagination(self, n_pages: int, page: int, n_records: int) -> str:
        raise NotImplementedError

    #: Whether some long documents of this portal are split over several pages.
    splits_documents: ClassVar[bool] = False

    def article_pager(self, doc: Doc, part: int) -> str:
        """The pager under page ``part`` of a split document (outside the body container)."""
        raise NotImplementedError

    def metadata(self, doc: Doc) -> str:
        raise NotImplementedError

    def paragraph(self, text: str, role: str, rng: random.Random) -> str:
        raise NotImplementedError

    def table(self, rows: list[list[str]], rng: random.Random) -> str:
        raise NotImplementedError

    def empty_paragraph(self) -> str:
        return "<p>&nbsp;</p>"

    def container(self, inner: str, doc: Doc) -> str:
        raise NotImplementedError

    def attachment_list(self, doc: Doc) -> str:
        raise NotImplementedError


# =========================================================================== A: xianning

_WORD_RUN = re.compile(r"[0-9A-Za-z.%+\-/:;,<>]+|[年月日号第〔〕、。()]|[^0-9A-Za-z.%+\-/:;,<>年月日号第〔〕、。()]+")
_WORD_STYLE = "<style type=\"text/css\">\n.TRS_Editor P{margin-top:0px;margin-bottom:12px;line-height:1.8;font-family:宋体;font-size:12pt;}.TRS_Editor DIV{margin-top:0px;margin-bottom:12px;line-height:1.8;font-family:宋体;font-size:12pt;}.TRS_Editor TD{font-family:宋体;font-size:12pt;}\n</style>"
_WORD_XML = ("<!--[if gte mso 9]><xml><w:WordDocument><w:View>Normal</w:View><w:Zoom>0</w:Zoom>"
             "<w:PunctuationKerning/><w:DrawingGridVerticalSpacing>7.8 磅</w:DrawingGridVerticalSpacing>"
             "</w:WordDocument></xml><![endif]-->")


class XianningFamily(Family):
    """www.xianning.gov.cn as pasted from Word: span soup, ``<ul>`` metadata, 0-based pages."""

    def charset_meta(self) -> str:
        return ""  # the charset is only in the HTTP header

    def head_script(self) -> str:
        return _PAGE_JS

    def list_markup(self, entries: Sequence[ListEntry]) -> str:
        items = "\n".join(
            f'<li><a href="{attr(e.href)}" target="_blank" title="{attr(e.title)}">{esc(self.short(e.title))}</a>'
            f'<span>{e.day:%Y-%m-%d}</span></li>' for e in entries)
        return f'<div class="list_right">\n<ul class="list_list">\n{items}\n</ul>\n</div>'

    def pagination(self, n_pages: int, page: int, n_records: int) -> str:
        count = f'"{n_pages}"' if page % 2 else str(n_pages)
        return (f'<div class="page" id="page"><script type="text/javascript">'
                f'createPageHTML({count}, {page}, "index", "shtml");</script></div>')

    splits_documents = True

    def article_pager(self, doc: Doc, part: int) -> str:
        name = doc.path.rsplit("/", 1)[1].rsplit(".", 1)[0]
        return (f'<div class="page" id="page_article"><script type="text/javascript">'
                f'createPageHTML({doc.parts}, {part}, "{name}", "{doc.ext}");</script></div>')

    def metadata(self, doc: Doc) -> str:
        wide = doc.style % 2 == 1
        pad = "\u3000" if wide else " "
        labels = (f"索{pad}引{pad}号", f"文{pad}{pad}号", "发布机构", "主题分类", f"有{pad}效{pad}性",
                  "发布日期", f"名{pad}{pad}称")
        values = (doc.index_no, doc.doc_no_shown, " " + doc.publisher, doc.category, doc.validity,
                  f"{doc.published.year}年{doc.published.month:02d}月{doc.published.day:02d}日", doc.title)
        items = "\n".join(f'<li><b>{esc(label)}:</b><span>{esc(value)}</span></li>'
                          for label, value in zip(labels, values))
        return f'<div class="xxgk_top">\n<ul class="clearfix">\n{items}\n</ul>\n</div>'

    def heading(self, doc: Doc) -> str:
        return f'<div class="article-head"><h1>{esc(doc.title)}</h1></div>'

    def _runs(self, text: str, rng: random.Random) -> str:
        """Word's span soup: digits, 年/月/第/〕/号 and CJK runs in adjacent spans."""
        out: list[str] = []
        for token in _WORD_RUN.findall(text):
            body = esc(token)
            if " " in body and rng.random() < 0.5:
                body = body.replace(" ", "&nbsp;")
            if token[0].isascii():
                span = f'<span lang="EN-US" style="font-size:16.0pt;font-family:仿宋_GB2312">{body}</span>'
            elif len(token) == 1 and token in "年月日号第〔〕、。()":
                span = f'<span style="font-size:16.0pt;font-family:宋体">{body}</span>'
            else:
                span = f'<span style="font-size:16.0pt;font-family:仿宋_GB2312;mso-hansi-font-family:宋体">{body}</span>'
            if rng.random() < 0.15:
                span = f'<span style="mso-spacerun:yes">{span}</span>'
            out.append(span)
        return "".join(out)

    def paragraph(self, text: str, role: str, rng: random.Random) -> str:
        runs = self._runs(text, rng)
        if role in ("section", "sub"):
            runs = f"<b>{runs}</b>"
        indent = '<span style="font-size:16.0pt">\u3000\u3000</span>' if role in ("plain", "item") and rng.random() < 0.5 else ""
        tail = '<span lang="EN-US" style="font-size:16.0pt">&nbsp;</span>' if rng.random() < 0.1 else ""
        style = ("text-align:right" if role == "sign"
                 else "text-indent:32.0pt;line-height:28.0pt;mso-line-height-rule:exactly")
        return f'<p class="MsoNormal" style="{style}">{indent}{runs}{tail}<o:p></o:p></p>'

    def empty_paragraph(self) -> str:
        return '<p class="MsoNormal"><span lang="EN-US"><o:p>&nbsp;</o:p></span></p>'

    def table(self, rows: list[list[str]], rng: random.Random) -> str:
        def cell(text: str, header: bool) -> str:
            runs = self._runs(text, rng)
            if header:
                runs = f"<b>{runs}</b>"
            return f'\n<p class="MsoNormal" align="center" style="text-align:center">{runs}</p>\n'
        return ('<div align="center">' + table_html(
            rows, open_tag='<table class="MsoNormalTable" border="1" cellspacing="0" cellpadding="0" '
                           'style="border-collapse:collapse;border:none">',
            cell=cell, row_attrs=' style="height:20.0pt"') + "</div>")

    def container(self, inner: str, doc: Doc) -> str:
        return f'<div class="TRS_Editor">{_WORD_STYLE}\n{_WORD_XML}\n{inner}\n</div>'

    def attachment_list(self, doc: Doc) -> str:
        items = "".join(f'<li><a href="{attr(a.href)}" target="_blank">{esc(a.name)}</a></li>'
                        for a in doc.attachments)
        return f'<div class="fj"><span class="fj-title">附件:</span><ul class="fj-list">{items}</ul></div>'


# =========================================================================== B: table

class TableFamily(Family):
    """A sister department site: metadata table, UEditor body, six-argument pagination."""

    detail_order = ("metadata", "heading", "toolbar", "body", "attachments", "editor")

    def list_title(self, name: str) -> str:
        return f"{name} - {self.site_name}"

    def detail_title(self, doc: Doc) -> str:
        return f"{doc.title} - {self.site_name}"

    def detail_head(self, doc: Doc) -> str:
        return (f'<meta name="ArticleTitle" content="{attr(doc.title)}">\n'
                f'<meta name="PubDate" content="{doc.published:%Y-%m-%d} {doc.pub_time}">\n'
                f'<meta name="ContentSource" content="{attr(doc.publisher)}">\n'
                f'<meta name="contentid" content="{doc.docid}">')

    def list_markup(self, entries: Sequence[ListEntry]) -> str:
        items = "\n".join(
            f'<li><span class="date">{e.day:%Y-%m-%d}</span>'
            f'<a href="{attr(e.href)}" target="_blank" title="{attr(e.title)}">{esc(e.title)}</a></li>'
            for e in entries)
        return f'<div class="lm_newslist">\n<ul>\n{items}\n</ul>\n</div>'

    def list_page_path(self, page: int, n_pages: int) -> str:
        """The six-argument pager counts from 1: page k is ``index_k`` (page 2 is ``index_2``)."""
        return f"index.{self.ext}" if page == 0 else f"index_{page + 1}.{self.ext}"

    def pagination(self, n_pages: int, page: int, n_records: int) -> str:
        return (f'<div class="page" id="page_div"></div>\n<script type="text/javascript">'
                f"createPageHTML('page_div', {n_pages}, {page + 1}, 'index', 'html', {n_records});</script>")

    splits_documents = True

    def article_pager(self, doc: Doc, part: int) -> str:
        name = doc.path.rsplit("/", 1)[1].rsplit(".", 1)[0]
        return (f'<div class="page" id="page_article_div"></div>\n<script type="text/javascript">'
                f"createPageHTML('page_article_div', {doc.parts}, {part + 1}, '{name}', '{doc.ext}', 0);</script>")

    def metadata(self, doc: Doc) -> str:
        colon = ":" if doc.style % 2 else ""
        issued = f"{doc.issued:%Y-%m-%d}" if doc.issued else ""
        rows = ((("索引号", doc.index_no), ("文号", doc.doc_no_shown)),
                (("主题分类", doc.category), ("发文单位", doc.publisher)),
                (("名称", doc.title), ("发布日期", f"{doc.published:%Y-%m-%d}")),
                (("有效性", doc.validity), ("发文日期", issued)))
        body = "\n".join(
            "<tr>" + "".join(f'<td class="t1">{esc(label)}{colon}</td><td class="t2">{esc(value)}</td>'
                             for label, value in pair) + "</tr>" for pair in rows)
        return (f'<div class="xxgk_table"><table width="100%" border="0" cellspacing="0" cellpadding="0" '
                f'class="table_xxgk">\n<tbody>\n{body}\n</tbody>\n</table></div>')

    def heading(self, doc: Doc) -> str:
        return f'<div class="detail-title"><h1>{esc(doc.title)}</h1></div>'

    def paragraph(self, text: str, role: str, rng: random.Random) -> str:
        if role in ("section", "sub"):
            font = "黑体, SimHei" if role == "section" else "楷体_GB2312, 楷体"
            inner = f'<strong><span style="font-family: {font}; font-size: 21px;">{esc(text)}</span></strong>'
        else:
            cut = rng.randint(1, len(text) - 1) if len(text) > 8 and rng.random() < 0.3 else len(text)
            style = "font-family: 仿宋_GB2312, 仿宋; font-size: 21px;"
            inner = "".join(f'<span style="{style}">{esc(piece)}</span>' for piece in (text[:cut], text[cut:]) if piece)
        align = "text-align: right;" if role == "sign" else "text-indent: 2em; text-align: justify;"
        return f'<p style="{align} line-height: 1.75em; margin-bottom: 15px;">{inner}</p>'

    def empty_paragraph(self) -> str:
        return "<p><br/></p>"

    def table(self, rows: list[list[str]], rng: random.Random) -> str:
        return table_html(rows, open_tag='<table class="trs_word_table" border="1" width="100%" '
                                          'cellspacing="0" cellpadding="0" align="center">',
                          cell=lambda text, header: f'<span style="font-family: 仿宋_GB2312;">{esc(text)}</span>',
                          row_attrs=' style="height: 27px;"')

    def container(self, inner: str, doc: Doc) -> str:
        editor = f'<div class="TRS_UEDITOR trs_paper_default trs_word">\n{inner}\n</div>'
        return f'<div id="zoom" class="zoom">{editor}</div>' if doc.style % 3 != 0 else editor

    def attachment_list(self, doc: Doc) -> str:
        items = "".join(f'<li><a href="{attr(a.href)}" OLDSRC="{attr(a.path)}" target="_blank">{esc(a.name)}</a></li>'
                        for a in doc.attachments)
        return f'<div class="appendix"><p class="appendix-title">附件:</p><ul id="appendixlist">{items}</ul></div>'


# =========================================================================== C: gbk

class GbkFamily(Family):
    """An older county-style site in GBK: ``p > span`` metadata with synonym labels, plain links."""

    detail_order = ("heading", "metadata", "body", "attachments", "editor")

    def charset_meta(self) -> str:
        return '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'

    def list_title(self, name: str) -> str:
        return f"{name}-{self.site_name}"

    def detail_title(self, doc: Doc) -> str:
        return f"{self.site_name}-{doc.title}"

    def list_markup(self, entries: Sequence[ListEntry]) -> str:
        items = "\n".join(
            f'<li>·<a href="{attr(e.href)}" target="_blank" title="{attr(e.title)}">{esc(self.short(e.title, 36))}</a>'
            f'<span class="time">{e.day:%Y-%m-%d}</span></li>' for e in entries)
        return f'<div class="zwdc_list">\n<ul class="more-list">\n{items}\n</ul>\n</div>'

    def pagination(self, n_pages: int, page: int, n_records: int) -> str:
        def name(i: int) -> str:
            return f"index.{self.ext}" if i == 0 else f"index_{i}.{self.ext}"
        parts = [f'<a href="{name(0)}">首页</a>']
        parts.append(f'<a href="{name(page - 1)}">上一页</a>' if page > 0 else "<span>上一页</span>")
        parts.append(f'<a href="{name(page + 1)}">下一页</a>' if page < n_pages - 1 else "<span>下一页</span>")
        parts.append(f'<a href="{name(n_pages - 1)}">尾页</a>')
        return '<div class="pagination">' + " ".join(parts) + "</div>"

    splits_documents = True

    def article_pager(self, doc: Doc, part: int) -> str:
        def link(k: int, text: str) -> str:
            return f'<a href="./{posixpath.basename(doc.part_path(k))}">{text}</a>'
        items = [link(part - 1, "上一页") if part > 0 else "<span>上一页</span>"]
        items += [f"<b>{k + 1}</b>" if k == part else link(k, str(k + 1)) for k in range(doc.parts)]
        items.append(link(part + 1, "下一页") if part < doc.parts - 1 else "<span>下一页</span>")
        return '<div class="page-article">' + " ".join(items) + "</div>"

    def metadata(self, doc: Doc) -> str:
        def day(value: date | None) -> str:
            return f"{value.year}年{value.month}月{value.day}日" if value else ""
        pairs = (("索取号", doc.index_no), ("发文机关", doc.publisher), ("信息分类", doc.category),
                 ("发文字号", doc.doc_no_shown), ("成文日期", day(doc.issued)), ("公开日期", day(doc.published)),
                 ("时效性", doc.validity), ("标题", doc.title))
        items = "\n".join(f'<p><span class="lab">{esc(label)}:</span><span>{esc(value)}</span></p>'
                          for label, value in pairs)
        return f'<div class="xxgk_info">\n{items}\n</div>'

    def heading(self, doc: Doc) -> str:
        return f'<div class="article_title">{esc(doc.title)}</div>'

    def paragraph(self, text: str, role: str, rng: random.Random) -> str:
        inner = f'<font face="仿宋_GB2312" size="4">{esc(text)}</font>'
        if role in ("section", "sub"):
            return f"<p><b>{inner}</b></p>"
        if role == "sign":
            return f'<p align="right">{inner}</p>'
        if rng.random() < 0.5:
            return f'<p align="justify">&nbsp;&nbsp;&nbsp;&nbsp;{inner}</p>'
        return f'<p align="justify" style="text-indent:2em">{inner}</p>'

    def table(self, rows: list[list[str]], rng: random.Random) -> str:
        return table_html(rows, open_tag='<table width="600" border="1" cellspacing="0" cellpadding="2" align="center">',
                          cell=lambda text, header: f'<font size="3">{esc(text)}</font>', tbody=False)

    def container(self, inner: str, doc: Doc) -> str:
        return f'<div id="UCAP-CONTENT">\n<div class="Custom_UnionStyle">\n{inner}\n</div>\n</div>'

    def toolbar(self, doc: Doc) -> str:
        return ""

    def attachment_list(self, doc: Doc) -> str:
        if not doc.attachments:
            return ""
        links = "<br>\n".join(f'<a href="{attr(a.href)}" target="_blank">\n    {esc(a.name)}\n  </a>'
                              for a in doc.attachments)
        return f'<div class="fujian"><b>附件:</b><br>\n{links}\n</div>'

    def editor_line(self, doc: Doc) -> str:
        name = doc.path.rsplit("/", 1)[1].rsplit(".", 1)[0]
        alternates = (f'<a href="./{name}_slhxq.{doc.ext}">适老化阅读</a> '
                      f'<a href="./{name}_app.{doc.ext}">手机版</a>')
        return (f'<div class="bottom-tool"><span>责任编辑:{esc(doc.editor)}</span> {alternates} '
                '<a href="javascript:window.print()">【打印本页】</a> <a href="javascript:window.close()">【关闭窗口】</a></div>')


# =========================================================================== D: scripted-count

class ScriptedFamily(Family):
    """A newer site: no metadata block at all, date only in ``<meta name=PubDate>``."""

    detail_order = ("heading", "toolbar", "body", "attachments")

    def list_title(self, name: str) -> str:
        return f"{name}|{self.site_name}"

    def detail_title(self, doc: Doc) -> str:
        return f"{self.column_name}|{self.site_name}"

    def detail_head(self, doc: Doc) -> str:
        return (f'<meta name="ArticleTitle" content="{attr(doc.title)}">\n'
                f'<meta name="PubDate" content="{doc.published:%Y-%m-%d} {doc.pub_time}">\n'
                f'<meta name="contentid" content="{doc.docid}">')

    def list_markup(self, entries: Sequence[ListEntry]) -> str:
        items = "\n".join(
            f'<li><a href="{attr(e.href)}" target="_blank" title="{attr(e.title)}"><i class="dot"></i>{esc(e.title)}</a>'
            f'<span class="date">{e.day:%Y-%m-%d}</span></li>' for e in entries)
        return f'<div class="info-list">\n<ul>\n{items}\n</ul>\n</div>'

    def pagination(self, n_pages: int, page: int, n_records: int) -> str:
        return (f'<div class="page-box" id="page"></div>\n<script type="text/javascript">\n'
                f'var countPage = {n_pages}; //共多少页\n'
                f'createPageHTML(countPage, {page}, "index", "html");\n</script>')

    def heading(self, doc: Doc) -> str:
        return f'<div class="wz_title"><h1>{esc(doc.title)}</h1></div>'

    def toolbar(self, doc: Doc) -> str:
        return super().toolbar(doc).replace('class="article-tool"', 'class="wz_tool"')

    def paragraph(self, text: str, role: str, rng: random.Random) -> str:
        if role in ("section", "sub"):
            return f"<p><strong>{esc(text)}</strong></p>"
        if role == "sign":
            return f'<p style="text-align:right;">{esc(text)}</p>'
        return f'<p style="text-indent:2em;">{esc(text)}</p>'

    def table(self, rows: list[list[str]], rng: random.Random) -> str:
        return table_html(rows, open_tag='<table class="table table-bordered">', header_tag="th",
                          cell=lambda text, header: esc(text), thead=True)

    def container(self, inner: str, doc: Doc) -> str:
        return f'<div class="wz_article_text">\n<div class="article-body">\n{inner}\n</div>\n</div>'

    def attachment_list(self, doc: Doc) -> str:
        if not doc.attachments:
            return ""
        links = "".join(f'<p><a href="{attr(a.href)}" download>{esc(a.name)}</a></p>' for a in doc.attachments)
        return f'<div class="article-attach"><p class="attach-title">相关附件</p>{links}</div>'


# =========================================================================== E: js-list (opt-in)

#: Builds the list from the JSON endpoint after load (the page ships an empty ``ul#list``).
_JS_LIST = r"""<script type="text/javascript">
(function () {
  var m = location.pathname.match(/index_(\d+)\.html$/);
  var cur = m ? parseInt(m[1], 10) : 0;
  fetch("/api/list?page=" + (cur + 1), {headers: {"Accept": "application/json"}})
    .then(function (r) { return r.json(); })
    .then(function (res) {
      var ul = document.getElementById("list");
      (res.data.list || []).forEach(function (item) {
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = item.docpuburl; a.title = item.doctitle; a.target = "_blank";
        a.textContent = item.doctitle;
        var span = document.createElement("span");
        span.textContent = item.docreltime;
        li.appendChild(a); li.appendChild(span); ul.appendChild(li);
      });
    });
  fetch("/private/visit?chnl=zwdc");  // the visit counter (robots.txt disallows /private/)
})();
</script>"""

#: Writes the pager while the page is parsed (not ``createPageHTML``: no plain reader knows it).
_JS_PAGER = r"""<script type="text/javascript">
function pageNav(total, cur) {
  if (total <= 1) { return; }
  var name = function (i) { return i == 0 ? "index.html" : "index_" + i + ".html"; };
  document.write(cur > 0 ? "<a href=\"" + name(0) + "\">首页</a> <a href=\"" + name(cur - 1) + "\">上一页</a> "
                         : "<span>首页</span> <span>上一页</span> ");
  document.write(cur < total - 1 ? "<a href=\"" + name(cur + 1) + "\">下一页</a> <a href=\"" + name(total - 1) + "\">尾页</a>"
                                 : "<span>下一页</span> <span>尾页</span>");
}
</script>
<script type="text/javascript" src="https://hm.baidu.com/hm.js?5f1a2c3d4e"></script>"""


class ScriptListFamily(Family):
    """A portal whose list is built in the browser from ``/api/list?page=N`` (1-based JSON).

    The list page ships an empty ``<ul id="list">``, an inline script that fills it with
    ``li > a + span`` items, a pager written with ``document.write`` and a third-party
    analytics script; its sidebar (热点信息) stays static HTML. Detail pages are plain HTML
    with a ``li > label + span`` metadata block.
    """

    api_path: ClassVar[str] = "/api/list"
    detail_order = ("heading", "metadata", "toolbar", "body", "attachments", "editor")

    def head_script(self) -> str:
        return _JS_PAGER

    def list_title(self, name: str) -> str:
        return f"{name} - {self.site_name}"

    def detail_title(self, doc: Doc) -> str:
        return f"{doc.title} - {self.site_name}"

    def list_markup(self, entries: Sequence[ListEntry]) -> str:
        return f'<div class="news-box">\n<ul id="list" class="news-list"></ul>\n</div>\n{_JS_LIST}'

    def pagination(self, n_pages: int, page: int, n_records: int) -> str:
        return (f'<div class="page" id="page"><script type="text/javascript">pageNav({n_pages}, {page});'
                f'</script> 共{n_records}条</div>')

    def api_item(self, entry: ListEntry) -> dict[str, object]:
        """One item of the JSON list (TRS-style keys; ``entry.href`` is absolute here)."""
        return {"doctitle": entry.title, "docpuburl": entry.href, "docreltime": f"{entry.day:%Y-%m-%d}"}

    def metadata(self, doc: Doc) -> str:
        issued = f"{doc.issued:%Y-%m-%d}" if doc.issued else ""
        pairs = (("索引号", doc.index_no), ("发布机构", doc.publisher), ("主题分类", doc.category),
                 ("文号", doc.doc_no_shown), ("成文日期", issued), ("发布日期", f"{doc.published:%Y-%m-%d}"),
                 ("有效性", doc.validity))
        items = "\n".join(f'<li><label>{esc(label)}:</label><span>{esc(value)}</span></li>'
                          for label, value in pairs)
        return f'<div class="gk-info">\n<ul>\n{items}\n</ul>\n</div>'

    def heading(self, doc: Doc) -> str:
        return f'<h1 class="news-title">{esc(doc.title)}</h1>'

    def toolbar(self, doc: Doc) -> str:
        return super().toolbar(doc).replace('class="article-tool"', 'class="news-tool"')

    def paragraph(self, text: str, role: str, rng: random.Random) -> str:
        if role in ("section", "sub"):
            return f'<p style="text-indent:2em;"><strong>{esc(text)}</strong></p>'
        if role == "sign":
            return f'<p style="text-align:right;">{esc(text)}</p>'
        return f'<p style="text-indent:2em;">{esc(text)}</p>'

    def table(self, rows: list[list[str]], rng: random.Random) -> str:
        return table_html(rows, open_tag='<table border="1" cellspacing="0" cellpadding="4" width="100%">',
                          cell=lambda text, header: esc(text))

    def container(self, inner: str, doc: Doc) -> str:
        return f'<div class="news-content">\n<div class="TRS_Editor">\n{inner}\n</div>\n</div>'

    def attachment_list(self, doc: Doc) -> str:
        if not doc.attachments:
            return ""
        links = "".join(f'<li><a href="{attr(a.href)}" target="_blank">{esc(a.name)}</a></li>' for a in doc.attachments)
        return f'<div class="news-attach"><h4>附件:</h4><ul>{links}</ul></div>'


# =========================================================================== F: hanweb (大汉 JCMS)

#: The portal's own list script: pages the records the list page embeds as XML, asks the
#: data proxy (POST, form fields) for the next group, and writes a pager with no real links.
_JPAGE_JS = r"""/* jpage: list paging of the replica's Hanweb-style portal */
var jpage = (function () {
  function recordsOf(xmlText) {
    var doc = new DOMParser().parseFromString(xmlText, "text/xml");
    return Array.prototype.map.call(doc.getElementsByTagName("record"), function (r) { return r.textContent; });
  }
  function show(cfg) {
    var box = document.getElementById(cfg.unitid);
    var cache = {};
    recordsOf(box.querySelector('script[type="text/xml"]').textContent).forEach(function (html, i) { cache[i] = html; });
    var list = document.createElement("ul"); list.className = "jpage-list"; box.appendChild(list);
    var pager = document.createElement("div"); pager.className = "jpage-pager"; box.appendChild(pager);
    var pages = Math.max(1, Math.ceil(cfg.totalRecord / cfg.perpage));
    var group = cfg.perpage * cfg.groupPages;
    function link(text, page) {
      return '<a href="javascript:;" data-page="' + page + '">' + text + "</a> ";
    }
    function render(page) {
      var html = "";
      for (var i = (page - 1) * cfg.perpage; i < Math.min(page * cfg.perpage, cfg.totalRecord); i++) { html += cache[i] || ""; }
      list.innerHTML = html;
      pager.innerHTML = "共" + cfg.totalRecord + "条 " + page + "/" + pages + "页 " + link("首页", 1)
        + link("上页", Math.max(1, page - 1)) + link("下页", Math.min(pages, page + 1)) + link("尾页", pages);
    }
    function go(page) {
      var first = (page - 1) * cfg.perpage;
      if (cache[first] !== undefined) { render(page); return; }
      var start = Math.floor(first / group) * group + 1;
      var body = Object.keys(cfg.form).map(function (k) {
        return encodeURIComponent(k) + "=" + encodeURIComponent(cfg.form[k]); }).join("&");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", cfg.proxy + "?startrecord=" + start + "&endrecord=" + (start + group - 1) + "&perpage=" + cfg.perpage);
      xhr.setRequestHeader("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8");
      xhr.onload = function () {
        recordsOf(xhr.responseText).forEach(function (html, i) { cache[start - 1 + i] = html; });
        render(page);
      };
      xhr.send(body);
    }
    pager.addEventListener("click", function (event) {
      var page = event.target.getAttribute && event.target.getAttribute("data-page");
      if (page) { event.preventDefault(); go(parseInt(page, 10)); }
    });
    render(1);
  }
  return {show: show};
})();
"""


class HanwebFamily(Family):
    """A provincial-style portal on Hanweb (大汉) JCMS: ``/col/col<id>/index.html`` columns whose
    list ships as XML records inside ``<script type="text/xml">`` (the first three pages' worth),
    further records only from ``POST /module/web/jpage/dataproxy.jsp?startrecord=&endrecord=&perpage=``
    with the form fields ``col, appid, webid, path, columnid, sourceContentType, unitid, webname,
    permissiontype`` (GET with the same parameters, or ``page=N`` for group N, answers too), a
    pager the page's script writes with ``javascript:`` links, ``/art/Y/M/D/art_<col>_<id>.html``
    articles, dates in brackets (``[2020-09-16]``), a metadata table and a ``#zoom`` body between
    ``ContentStart``/``ContentEnd`` markers.

    Modelled on public readers of such portals: DIYgod/RSSHub ``lib/routes/cau/yjs.ts`` (GET to
    the data proxy with appid/webid/path/columnid/unitid/webname/permissiontype, ``recordset
    record`` items with bracketed dates) and public Scrapy spiders of jiangsu.gov.cn columns that
    POST those form fields to ``dataproxy.jsp?startrecord=…&endrecord=…&perpage=…`` and read
    ``<totalrecord>``, and the body between ``<meta name="ContentStart">``/``ContentEnd``.
    """

    alternates = ()
    own_corpus = True
    endpoint_path = "/module/web/jpage/dataproxy.jsp"
    endpoint_type = "text/xml;charset=UTF-8"
    paged_by_endpoint = True
    embedded_pages = 3
    page_size = 6
    hidden_fields = frozenset({"validity"})
    detail_order = ("heading", "toolbar", "metadata", "body", "attachments", "editor")
    webid: ClassVar[int] = 3
    jpage_path: ClassVar[str] = "/module/web/jpage/jpage.js"

    # ------------------------------------------------------------------ ids
    @staticmethod
    def column_id(folder: str) -> int:
        return int(re.search(r"/col/col(\d+)/$", folder)[1])

    def unit_id(self, folder: str) -> int:
        return 4455000 + self.column_id(folder) % 1000

    def form_fields(self, folder: str) -> dict[str, str]:
        """The data proxy's form fields for the column at ``folder``, as the page's script sends them."""
        return {"col": "1", "appid": "1", "webid": str(self.webid), "path": "/",
                "columnid": str(self.column_id(folder)), "sourceContentType": "1",
                "unitid": str(self.unit_id(folder)), "webname": self.site_name, "permissiontype": "0"}

    # ------------------------------------------------------------------ URLs
    def doc_path(self, folder: str, day: date, docid: int) -> str:
        return f"/art/{day.year}/{day.month}/{day.day}/art_{self.column_id(folder)}_{docid}.html"

    def attachment_path(self, doc: Doc, serial: int, ext: str) -> str:
        return f"/module/download/files/{doc.published:%Y%m}/{serial:012d}.{ext}"

    def attachment_href(self, doc: Doc, attachment: Attachment) -> str:
        return attachment.path

    def list_page_path(self, page: int, n_pages: int) -> str:
        return "index.html"

    def list_page_of(self, rest: str, query: str, n_pages: int) -> int | None:
        return 0 if rest in ("", "index.html") else None

    def list_link(self, target: str, page_folder: str, where: str) -> str:
        return target

    def static_files(self) -> dict[str, tuple[str, str]]:
        return {self.jpage_path: ("application/javascript; charset=utf-8", _JPAGE_JS)}

    # ------------------------------------------------------------------ list
    def record(self, entry: ListEntry) -> str:
        return (f'<li><a href="{attr(entry.href)}" title="{attr(entry.title)}" target="_blank">'
                f'{esc(self.short(entry.title, 40))}</a><span class="bt-data-time">[{entry.day:%Y-%m-%d}]</span></li>')

    def records_xml(self, entries: Sequence[ListEntry]) -> str:
        return "\n".join(f"<record><![CDATA[\n{self.record(e)}]]></record>" for e in entries)

    def list_body(self, *, name: str, path: str, entries: Sequence[ListEntry], page: int, n_pages: int,
                  n_records: int) -> str:
        form = self.form_fields(path)
        nextgroup = self.endpoint_path + "?page=1&" + "&".join(
            f"{k}={quote(v)}" for k, v in form.items() if k not in ("col", "sourceContentType"))
        settings = {"unitid": form["unitid"], "perpage": self.page_size, "groupPages": self.embedded_pages,
                    "totalRecord": n_records, "proxy": self.endpoint_path, "form": form}
        return (f'<div class="bt-box"><div class="bt-title"><h2>{esc(name)}</h2></div>\n'
                f'<div class="bt-list" id="{form["unitid"]}"><script type="text/xml"><datastore>\n'
                f'<nextgroup><![CDATA[<a href="{nextgroup}"></a>]]></nextgroup>\n'
                f'<recordset>\n{self.records_xml(entries)}\n</recordset>\n</datastore></script>\n'
                f'<script type="text/javascript" src="{self.jpage_path}"></script>\n'
                f'<script type="text/javascript">jpage.show({json.dumps(settings, ensure_ascii=False)});</script>\n'
                f'</div></div>')

    # ------------------------------------------------------------------ endpoint
    def endpoint_query(self, params: dict[str, str]) -> EndpointQuery | str:
        column = params.get("columnid", "")
        if not column.isdigit():
            return "columnid is required"
        per_page = int(params["perpage"]) if params.get("perpage", "").isdigit() else self.page_size
        group = per_page * self.embedded_pages
        if params.get("startrecord", "").isdigit() and params.get("endrecord", "").isdigit():
            start, stop = int(params["startrecord"]) - 1, int(params["endrecord"])
        elif params.get("page", "").isdigit():
            start = (max(1, int(params["page"])) - 1) * group
            stop = start + group
        else:
            return "startrecord/endrecord or page is required"
        if start < 0 or stop <= start:
            return "bad record range"
        return EndpointQuery(f"/col/col{column}/", start, stop)

    def endpoint_answer(self, entries: Sequence[ListEntry], *, asked: EndpointQuery, total: int,
                        page_size: int) -> bytes:
        pages = max(1, -(-total // page_size))
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<datastore>\n<totalrecord>{total}</totalrecord>\n'
                f'<totalpage>{pages}</totalpage>\n<recordset>\n{self.records_xml(entries)}\n</recordset>\n'
                f'</datastore>\n').encode()

    def endpoint_error(self, message: str) -> bytes:
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<datastore><error>{esc(message)}</error></datastore>\n'.encode()

    # ------------------------------------------------------------------ detail
    def detail_head(self, doc: Doc) -> str:
        return (f'<meta name="ArticleTitle" content="{attr(doc.title)}">\n'
                f'<meta name="PubDate" content="{doc.published:%Y-%m-%d} {doc.pub_time}">\n'
                f'<meta name="ContentSource" content="{attr(doc.publisher)}">')

    def heading(self, doc: Doc) -> str:
        return f'<div class="main-title"><h1 id="ivs_title">{esc(doc.title)}</h1></div>'

    def toolbar(self, doc: Doc) -> str:
        return (f'<div class="main-fl"><span>发布日期:{doc.published:%Y-%m-%d} {doc.pub_time}</span> '
                f'<span>信息来源:{esc(doc.publisher)}</span> <span>浏览次数:<b id="visit">--</b></span> '
                '<span>字号:[<a href="javascript:doZoom(18)">大</a> <a href="javascript:doZoom(16)">中</a> '
                '<a href="javascript:doZoom(14)">小</a>]</span></div>')

    def metadata(self, doc: Doc) -> str:
        issued = f"{doc.issued.year}年{doc.issued.month}月{doc.issued.day}日" if doc.issued else ""
        published = f"{doc.published.year}年{doc.published.month}月{doc.published.day}日"
        pairs = ((("索引号", doc.index_no), ("信息分类", doc.category)),
                 (("发布机构", doc.publisher), ("生成日期", published)),
                 (("文号", doc.doc_no_shown), ("成文日期", issued)))
        rows = "\n".join("<tr>" + "".join(f'<th>{esc(label)}:</th><td>{esc(value)}</td>' for label, value in pair)
                         + "</tr>" for pair in pairs)
        return (f'<table class="xxgk-table" cellspacing="0" cellpadding="0">\n<tbody>\n{rows}\n'
                f'<tr><th>名称:</th><td colspan="3">{esc(doc.title)}</td></tr>\n</tbody>\n</table>')

    def paragraph(self, text: str, role: str, rng: random.Random) -> str:
        if role in ("section", "sub"):
            return f'<p style="text-indent:2em;"><strong>{esc(text)}</strong></p>'
        if role == "sign":
            return f'<p style="text-align:right;">{esc(text)}</p>'
        return f'<p style="text-indent:2em;font-family:仿宋_GB2312;">{esc(text)}</p>'

    def empty_paragraph(self) -> str:
        return "<p><br></p>"

    def table(self, rows: list[list[str]], rng: random.Random) -> str:
        return table_html(rows, open_tag='<table border="1" cellspacing="0" cellpadding="0" style="width:100%;">',
                          cell=lambda text, header: f"<p>{esc(text)}</p>")

    def container(self, inner: str, doc: Doc) -> str:
        return f'<meta name="ContentStart">\n<div id="zoom" class="main-txt">\n{inner}\n</div>\n<meta name="ContentEnd">'

    def attachment_list(self, doc: Doc) -> str:
        if not doc.attachments:
            return ""
        links = "".join(f'<p><a href="{attr(self.attachment_href(doc, a))}" target="_blank">{esc(a.name)}</a></p>'
                        for a in doc.attachments)
        return f'<div class="fjdown"><p class="fj-title">附件下载:</p>{links}</div>'

    def editor_line(self, doc: Doc) -> str:
        return f'<div class="main-editor">【责任编辑:{esc(doc.editor)}】</div>' if doc.editor else ""


# =========================================================================== G: json-api

#: Fills the list from the JSON endpoint (POST, JSON body) and writes a numbered pager
#: whose links are script handlers.
_JSON_LIST_JS = r"""<script type="text/javascript">
var listApi = {url: "%(url)s", channelId: "%(channel)s", pageSize: %(size)d};
function loadPage(pageNo) {
  fetch(listApi.url, {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({channelId: listApi.channelId, pageNo: pageNo, pageSize: listApi.pageSize})})
    .then(function (r) { return r.json(); })
    .then(function (res) {
      var data = res.data, html = "";
      data.list.forEach(function (item) {
        html += '<li><span class="time">' + item.publishTime + '</span><a href="' + item.url + '" target="_blank" title="'
          + item.title + '">' + item.title + "</a></li>";
      });
      document.getElementById("dataList").innerHTML = html;
      var pager = "";
      for (var i = 1; i <= data.pages; i++) {
        pager += i == data.pageNo ? "<b>" + i + "</b> " : '<a href="javascript:void(0)" onclick="loadPage(' + i + ')">' + i + "</a> ";
      }
      if (data.pageNo < data.pages) {
        pager += '<a href="javascript:void(0)" onclick="loadPage(' + (data.pageNo + 1) + ')">下一页</a> '
          + '<a href="javascript:void(0)" onclick="loadPage(' + data.pages + ')">尾页</a>';
      }
      document.getElementById("pager").innerHTML = pager + " 共" + data.total + "条";
    });
}
loadPage(1);
</script>"""


class JsonApiFamily(Family):
    """A portal whose column page is a shell: a script POSTs ``{"channelId", "pageNo", "pageSize"}``
    (JSON) to ``/api/cms/content/list`` (GET with the same query parameters, or a form POST,
    answers too) and builds the list and a numbered pager of script handlers from
    ``{"code", "data": {"total", "pageNo", "pageSize", "pages", "list": [{"docId", "title", "url",
    "publishTime"}]}}``. Documents are served by a script, ``detail.jsp?docId=N``: the query
    identifies them. The endpoint links them as ``detail.jsp?docId=N&from=list`` (a tracking
    parameter that does not), the page's static 置顶 box as ``detail.jsp?docId=N``. Metadata in a
    ``dl``, body in ``div.article-content``.

    Modelled on public code that reads such lists: destiny-zxj/dumpInfo ``src/main.py`` (form POST
    of ``pageSize``/``currentPageNum`` to a ministry's ``/dynamic/document/search``, answer
    ``data.total``/``data.list``) and ZhouForrest/Spider
    ``cralwe/qyxg_xzxk/Crawler__qyxg_xzxk__credit_gz.py`` (``pageNo``/``pageSize`` form fields).
    """

    alternates = ()
    own_corpus = True
    identity_params = ("docId",)
    endpoint_path = "/api/cms/content/list"
    paged_by_endpoint = True
    detail_order = ("heading", "metadata", "body", "attachments", "editor")
    pinned: ClassVar[int] = 2

    def channel(self, folder: str) -> str:
        return folder.rstrip("/").rsplit("/", 1)[1]

    # ------------------------------------------------------------------ URLs
    def doc_path(self, folder: str, day: date, docid: int) -> str:
        return f"{folder}detail.jsp?docId={docid}"

    def attachment_path(self, doc: Doc, serial: int, ext: str) -> str:
        return f"/upload/{doc.published:%Y%m}/{serial:012d}.{ext}"

    def attachment_href(self, doc: Doc, attachment: Attachment) -> str:
        return attachment.path

    def list_page_path(self, page: int, n_pages: int) -> str:
        return "index.html"

    def list_page_of(self, rest: str, query: str, n_pages: int) -> int | None:
        return 0 if rest in ("", "index.html") else None

    def list_link(self, target: str, page_folder: str, where: str) -> str:
        if where == "endpoint":
            return f"{target}&from=list"
        return super().list_link(target, page_folder, where)

    # ------------------------------------------------------------------ list
    def list_title(self, name: str) -> str:
        return f"{name}-{self.site_name}"

    def list_body(self, *, name: str, path: str, entries: Sequence[ListEntry], page: int, n_pages: int,
                  n_records: int) -> str:
        pinned = "".join(f'<li><a href="{attr(e.href)}" target="_blank">{esc(e.title)}</a>'
                         f'<span class="time">{e.day:%Y-%m-%d}</span></li>' for e in entries[:self.pinned])
        script = _JSON_LIST_JS % {"url": self.endpoint_path, "channel": self.channel(path),
                                  "size": len(entries) or 15}
        return (f'<div class="column-head"><h2>{esc(name)}</h2></div>\n'
                f'<div class="pinned"><span class="pinned-title">置顶</span><ul>{pinned}</ul></div>\n'
                f'<ul id="dataList" class="doc-list"></ul>\n<div id="pager" class="pager"></div>\n{script}')

    # ------------------------------------------------------------------ endpoint
    def endpoint_query(self, params: dict[str, str]) -> EndpointQuery | str:
        channel = params.get("channelId", "")
        if not channel:
            return "channelId is required"
        page = params.get("pageNo", "1")
        size = params.get("pageSize", "15")
        if not (page.isdigit() and size.isdigit() and int(page) >= 1 and 1 <= int(size) <= 100):
            return "pageNo must be a number from 1, pageSize from 1 to 100"
        folder = {self.channel(self.column): self.column, self.channel(self.other_column): self.other_column}
        start = (int(page) - 1) * int(size)
        return EndpointQuery(folder.get(channel, ""), start, start + int(size))

    def endpoint_answer(self, entries: Sequence[ListEntry], *, asked: EndpointQuery, total: int,
                        page_size: int) -> bytes:
        size = asked.stop - asked.start
        items = [{"docId": int(e.href.split("docId=", 1)[1].split("&", 1)[0]), "title": e.title, "url": e.href,
                  "publishTime": f"{e.day:%Y-%m-%d}"} for e in entries]
        data = {"code": 0, "msg": "success", "data": {"total": total, "pageNo": asked.start // size + 1,
                                                      "pageSize": size, "pages": max(1, -(-total // size)),
                                                      "list": items}}
        return json.dumps(data, ensure_ascii=False).encode()

    def endpoint_error(self, message: str) -> bytes:
        return json.dumps({"code": 400, "msg": message, "data": None}, ensure_ascii=False).encode()

    # ------------------------------------------------------------------ detail
    def detail_title(self, doc: Doc) -> str:
        return f"{doc.title}-{self.site_name}"

    def heading(self, doc: Doc) -> str:
        return f'<h2 class="detail-title">{esc(doc.title)}</h2>'

    def metadata(self, doc: Doc) -> str:
        issued = f"{doc.issued:%Y-%m-%d}" if doc.issued else ""
        pairs = (("索引号", doc.index_no), ("发文单位", doc.publisher), ("内容分类", doc.category),
                 ("文号", doc.doc_no_shown), ("印发日期", issued),
                 ("发布时间", f"{doc.published:%Y-%m-%d} {doc.pub_time}"), ("效力状态", doc.validity))
        items = "\n".join(f'<dl><dt>{esc(label)}:</dt><dd>{esc(value)}</dd></dl>' for label, value in pairs)
        return f'<div class="detail-meta">\n{items}\n</div>'

    def paragraph(self, text: str, role: str, rng: random.Random) -> str:
        if role in ("section", "sub"):
            return f'<p class="section-head"><b>{esc(text)}</b></p>'
        if role == "sign":
            return f'<p style="text-align: right">{esc(text)}</p>'
        return f"<p>\u3000\u3000{esc(text)}</p>"

    def table(self, rows: list[list[str]], rng: random.Random) -> str:
        return table_html(rows, open_tag='<table class="data-table">', header_tag="th",
                          cell=lambda text, header: esc(text), thead=True)

    def container(self, inner: str, doc: Doc) -> str:
        return f'<div class="article-content">\n{inner}\n</div>'

    def attachment_list(self, doc: Doc) -> str:
        if not doc.attachments:
            return ""
        links = "".join(f'<li><a href="{attr(self.attachment_href(doc, a))}">{esc(a.name)}</a></li>'
                        for a in doc.attachments)
        return f'<div class="detail-files"><h4>相关附件</h4><ol>{links}</ol></div>'

    def editor_line(self, doc: Doc) -> str:
        return f'<div class="detail-editor">编辑:{esc(doc.editor)}</div>' if doc.editor else ""


# =========================================================================== H: epoint (新点)

class EpointFamily(Family):
    """A county portal on an Epoint (新点) JSP site: the column list is ``iList.jsp`` paged by the
    query (``iList.jsp?cur_page=N``, 1-based; ``cur_page=1`` is the bare page again, a page past
    the end is an empty list, not a 404) with a pager of query-only links (``?cur_page=3``: 上页,
    下页, 末页), ``div.ewb-job`` items, documents under hashed names
    (``/xxgk/<YYYYMMDD>/<guid>.html``), a ``#symbol`` metadata block of ``label：value`` cells
    and a ``div.ewb-article-detail`` body.

    Modelled on DIYgod/RSSHub ``lib/routes/gov/sichuan/deyang/govpublicinfo.ts``, which reads
    mz.gov.cn lists at ``iList.jsp?…&cur_page=1`` (``div.ewb-job > ul > li``), detail metadata from
    ``#symbol`` cells split at ``：`` and the body from ``div.ewb-article-detail``.
    """

    alternates = ()
    own_corpus = True
    detail_order = ("heading", "metadata", "body", "attachments", "editor")
    list_script: ClassVar[str] = "iList.jsp"

    # ------------------------------------------------------------------ URLs
    def doc_path(self, folder: str, day: date, docid: int) -> str:
        guid = hashlib.md5(f"epoint/{docid}".encode()).hexdigest()
        return f"/xxgk/{day:%Y%m%d}/{guid[:8]}-{guid[8:12]}-{guid[12:16]}-{guid[16:20]}-{guid[20:]}.html"

    def attachment_path(self, doc: Doc, serial: int, ext: str) -> str:
        return f"/EpointWebBuilder/files/{doc.published:%Y%m%d}/{serial:012d}.{ext}"

    def attachment_href(self, doc: Doc, attachment: Attachment) -> str:
        return attachment.path

    def list_page_path(self, page: int, n_pages: int) -> str:
        return self.list_script if page == 0 else f"{self.list_script}?cur_page={page + 1}"

    def list_page_of(self, rest: str, query: str, n_pages: int) -> int | None:
        if rest != self.list_script:
            return None
        raw = (parse_qs(query).get("cur_page") or ["1"])[0]
        return int(raw) - 1 if raw.isdigit() and int(raw) >= 1 else 0

    def list_link(self, target: str, page_folder: str, where: str) -> str:
        return target

    # ------------------------------------------------------------------ list
    def list_title(self, name: str) -> str:
        return f"{self.site_name}-{name}"

    def list_markup(self, entries: Sequence[ListEntry]) -> str:
        if not entries:
            return '<div class="ewb-job"><p class="ewb-empty">暂无信息</p></div>'
        items = "\n".join(
            f'<li class="ewb-list-item clearfix"><a href="{attr(e.href)}" title="{attr(e.title)}" target="_blank">'
            f'{esc(self.short(e.title, 38))}</a><span class="ewb-date r">{e.day:%Y-%m-%d}</span></li>' for e in entries)
        return f'<div class="ewb-job">\n<ul class="wb-data-item">\n{items}\n</ul>\n</div>'

    def pagination(self, n_pages: int, page: int, n_records: int) -> str:
        def link(number: int, text: str) -> str:
            return f'<li><a href="?cur_page={number}">{text}</a></li>'
        current = page + 1
        items = [link(1, "首页"), link(max(1, current - 1), "上页"),
                 f'<li class="wb-page-number">{min(current, n_pages)}/{n_pages}</li>',
                 link(min(n_pages, current + 1), "下页"), link(n_pages, "末页")]
        return (f'<div class="ewb-page"><ul class="clearfix">{"".join(items)}'
                f'<li class="wb-page-count">共{n_records}条</li></ul></div>')

    # ------------------------------------------------------------------ detail
    def detail_title(self, doc: Doc) -> str:
        return doc.title

    def heading(self, doc: Doc) -> str:
        return f'<h3 id="main" class="ewb-article-tt">{esc(doc.title)}</h3>'

    def metadata(self, doc: Doc) -> str:
        def day(value: date | None) -> str:
            return f"{value:%Y年%m月%d日}" if value else ""
        rows = ((("索引号", doc.index_no), ("公开分类", doc.category), ("发布日期", day(doc.published))),
                (("发布单位", doc.publisher), ("发文字号", doc.doc_no_shown), ("成文日期", day(doc.issued))),
                (("信息名称", doc.title), ("有效性", doc.validity)))
        body = "\n".join('<div class="ewb-info-row clearfix">' + "".join(
            f'<div class="ewb-info-cell">{esc(label)}：{esc(value)}</div>' for label, value in row) + "</div>"
            for row in rows)
        return f'<div id="symbol" class="ewb-info">\n{body}\n</div>'

    def paragraph(self, text: str, role: str, rng: random.Random) -> str:
        weight = ' style="font-weight:bold;"' if role in ("section", "sub") else ""
        align = ' style="text-align:right;"' if role == "sign" else ' style="text-indent:2em;"'
        return f'<p{align}><span{weight}>{esc(text)}</span></p>'

    def table(self, rows: list[list[str]], rng: random.Random) -> str:
        return table_html(rows, open_tag='<table class="ke-zeroborder" border="1" cellpadding="2" cellspacing="0">',
                          cell=lambda text, header: f"<span>{esc(text)}</span>")

    def container(self, inner: str, doc: Doc) -> str:
        return f'<div class="ewb-article-detail">\n{inner}\n</div>'

    def attachment_list(self, doc: Doc) -> str:
        if not doc.attachments:
            return ""
        links = "".join(f'<div class="ewb-attach-item"><span><a href="{attr(self.attachment_href(doc, a))}">'
                        f'{esc(a.name)}</a></span></div>' for a in doc.attachments)
        return f'<div class="ewb-attach"><h4 class="ewb-attach-tt">附件:</h4>{links}</div>'

    def editor_line(self, doc: Doc) -> str:
        return f'<div class="ewb-editor">责任编辑:{esc(doc.editor)}</div>' if doc.editor else ""


# =========================================================================== I: backward

class BackwardFamily(Family):
    """A statically published portal whose further list pages live in a subfolder and are
    numbered backwards: page 1 is ``index.shtml``, then ``list/index_<N-1>.shtml`` down to the
    oldest, ``list/index_1.shtml`` (older pages keep their names as new ones are added). The
    pager is plain links (首页 上一页 numbered 下一页 尾页) relative to each page's folder;
    documents have numeric names (``<YYYYMM>/<docid>.shtml``); metadata is a ``ul`` of
    ``label：value`` items; the body is ``div#ArticleContent``.

    Modelled on how public crawlers read static pagers instead of computing them:
    cumin1/SpiderStudyCode ``S04.py`` (page count read from the ``ul.pagination`` text, then
    ``?pageno=N``) and Robin-Wujw/Spyder_learning ``8_Scrapy/xiaohuaPro/xiaohuaPro/spiders/xiaohua.py``
    (``index.html`` then ``index_%d.html``), turned around as the issue's portals number them.
    """

    alternates = ()
    own_corpus = True
    detail_order = ("heading", "toolbar", "metadata", "body", "attachments", "editor")

    def doc_path(self, folder: str, day: date, docid: int) -> str:
        return f"{folder}{day:%Y%m}/{docid}.{self.ext}"

    def list_page_path(self, page: int, n_pages: int) -> str:
        return f"index.{self.ext}" if page == 0 else f"list/index_{n_pages - page}.{self.ext}"

    def list_title(self, name: str) -> str:
        return f"{name} - {self.site_name}"

    def list_body(self, *, name: str, path: str, entries: Sequence[ListEntry], page: int, n_pages: int,
                  n_records: int) -> str:
        here = posixpath.dirname(path + self.list_page_path(page, n_pages))

        def href(number: int) -> str:
            target = posixpath.relpath(path + self.list_page_path(number, n_pages), here)
            return target

        def link(number: int, text: str) -> str:
            return f'<a href="{href(number)}">{text}</a>'
        numbers = " ".join(f'<span class="current">{k + 1}</span>' if k == page else link(k, str(k + 1))
                           for k in range(n_pages))
        pager = [link(0, "首页"), link(page - 1, "上一页") if page > 0 else '<span class="disabled">上一页</span>',
                 numbers, link(page + 1, "下一页") if page < n_pages - 1 else '<span class="disabled">下一页</span>',
                 link(n_pages - 1, "尾页")]
        items = "\n".join(
            f'<tr><td class="td-title"><a href="{attr(e.href)}" target="_blank" title="{attr(e.title)}">{esc(e.title)}</a></td>'
            f'<td class="td-date">{e.day:%Y-%m-%d}</td></tr>' for e in entries)
        return (f'<div class="lanmu-name">{esc(name)}</div>\n'
                f'<table class="doc-table" width="100%">\n<tbody>\n{items}\n</tbody>\n</table>\n'
                f'<div class="pages">{" ".join(pager)} <span>共{n_pages}页</span></div>')

    def heading(self, doc: Doc) -> str:
        return f'<div class="doc-title"><h1>{esc(doc.title)}</h1></div>'

    def toolbar(self, doc: Doc) -> str:
        return (f'<div class="doc-bar">来源:{esc(doc.publisher)} 发布时间:{doc.published:%Y-%m-%d} '
                '<a href="javascript:window.print()">[打印]</a> <a href="javascript:window.close()">[关闭]</a></div>')

    def metadata(self, doc: Doc) -> str:
        issued = f"{doc.issued:%Y-%m-%d}" if doc.issued else ""
        pairs = (("信息索引号", doc.index_no), ("成文单位", doc.publisher), ("所属分类", doc.category),
                 ("文件编号", doc.doc_no_shown), ("签发日期", issued), ("公开时间", f"{doc.published:%Y-%m-%d}"),
                 ("时效", doc.validity), ("文件名称", doc.title))
        items = "\n".join(f"<li>{esc(label)}：{esc(value)}</li>" for label, value in pairs)
        return f'<div class="doc-meta"><h4>文件信息</h4><ul>\n{items}\n</ul></div>'

    def paragraph(self, text: str, role: str, rng: random.Random) -> str:
        if role in ("section", "sub"):
            return f'<p style="text-indent:2em"><font face="黑体">{esc(text)}</font></p>'
        if role == "sign":
            return f'<p align="right">{esc(text)}</p>'
        return f'<p style="text-indent:2em">{esc(text)}</p>'

    def table(self, rows: list[list[str]], rng: random.Random) -> str:
        return table_html(rows, open_tag='<table border="1" cellspacing="0" cellpadding="3" width="96%">',
                          cell=lambda text, header: esc(text), tbody=False)

    def container(self, inner: str, doc: Doc) -> str:
        return f'<div class="doc-content" id="ArticleContent">\n{inner}\n</div>'

    def attachment_list(self, doc: Doc) -> str:
        if not doc.attachments:
            return ""
        links = "".join(f'<li><a href="{attr(a.href)}">{esc(a.name)}</a></li>' for a in doc.attachments)
        return f'<div class="doc-attach"><p>附件:</p><ul>{links}</ul></div>'

    def editor_line(self, doc: Doc) -> str:
        return f'<div class="doc-editor">(责任编辑:{esc(doc.editor)})</div>' if doc.editor else ""


# =========================================================================== the families

#: The families a portal serves unless told otherwise (``js-list`` is opt-in).
DEFAULT_FAMILIES = ("xianning", "table", "gbk", "scripted-count", "hanweb", "json-api", "epoint", "backward")


def make_families(names: Sequence[str] | None = None) -> dict[str, Family]:
    """The replica's families, keyed by name (the names tests use); ``names`` picks some
    (default: :data:`DEFAULT_FAMILIES`), always in the canonical order."""
    families: list[Family] = [
        XianningFamily(
            name="xianning", column="/xxgk/xxgkml/qtzdgknr/zwdc/", ext="shtml", site_name="咸宁市人民政府",
            crumbs=(("信息公开", "/xxgk/"), ("信息公开目录", "/xxgk/xxgkml/"),
                    ("其他重点公开内容", "/xxgk/xxgkml/qtzdgknr/")),
            other_column="/xxgk/xxgkml/gzdt/", other_name="工作动态", org_code="011336909",
            publisher="咸宁市政府办公室", footer_owner="咸宁市人民政府办公室", icp="鄂ICP备05003305号",
            nav_extra=(("政务服务", "/zwfw/"), ("互动交流", "/hdjl/")),
            kinds=(("meetings", 0.7), ("work_report", 0.2), ("attachment_only", 0.1)), blank_doc_no=("", "无"),
        ),
        TableFamily(
            name="table", column="/zwgk/gkml/qtzdgknr/zwdc/", ext="html", site_name="咸宁市发展和改革委员会",
            crumbs=(("政务公开", "/zwgk/"), ("政府信息公开目录", "/zwgk/gkml/"),
                    ("其他重点公开内容", "/zwgk/gkml/qtzdgknr/")),
            other_column="/zwgk/gkml/zcwj/", other_name="政策文件", org_code="11421200MB1536470K",
            publisher="咸宁市人民政府办公室", footer_owner="咸宁市发展和改革委员会", icp="鄂ICP备05003305号-3",
            kinds=(("meetings", 0.45), ("work_report", 0.25), ("notice", 0.3)), issued_share=1.0,
        ),
        GbkFamily(
            name="gbk", column="/xxgk/fdzdgknr/qtzdgknr/zwdc/", ext="htm", site_name="咸安区人民政府",
            crumbs=(("信息公开", "/xxgk/"), ("法定主动公开内容", "/xxgk/fdzdgknr/"),
                    ("其他重点公开内容", "/xxgk/fdzdgknr/qtzdgknr/")),
            other_column="/xxgk/fdzdgknr/tzgg/", other_name="通知公告", org_code="MB1537195X",
            publisher="咸宁市政府督查室", footer_owner="咸宁市咸安区人民政府办公室", icp="鄂ICP备05008156号",
            encoding="gbk", charset_in_header=False,
            kinds=(("meetings", 0.6), ("work_report", 0.3), ("attachment_only", 0.1)), issued_share=0.8,
            doc_no_share=0.3, doc_no_series="咸政督通", blank_doc_no=("无", ""),
        ),
        ScriptedFamily(
            name="scripted-count", column="/zwgk/zwdc/", ext="html", site_name="咸宁高新区管委会",
            crumbs=(("政务公开", "/zwgk/"),), other_column="/zwgk/tzgg/", other_name="通知公告",
            org_code="", publisher="", footer_owner="咸宁高新技术产业开发区管理委员会", icp="鄂ICP备12003687号",
            has_metadata=False, kinds=(("meetings", 0.6), ("work_report", 0.4)),
        ),
        ScriptListFamily(
            name="js-list", column="/xxgk/jsdc/zwdc/", ext="html", site_name="通山县人民政府",
            crumbs=(("信息公开", "/xxgk/"), ("政务督查", "/xxgk/jsdc/")),
            other_column="/xxgk/jsdc/tzgg/", other_name="通知公告", org_code="011337022",
            publisher="通山县人民政府办公室", footer_owner="通山县人民政府办公室", icp="鄂ICP备05009210号",
            kinds=(("meetings", 0.6), ("work_report", 0.4)), issued_share=0.5,
            doc_no_share=0.3, doc_no_series="通政督", blank_doc_no=("", "无"),
        ),
        HanwebFamily(
            name="hanweb", column="/col/col1229/", ext="html", site_name="赤壁市人民政府",
            crumbs=(("政务公开", "/col/col1200/index.html"), ("重点领域信息公开", "/col/col1228/index.html")),
            other_column="/col/col1231/", other_name="政务动态", org_code="011337103",
            publisher="赤壁市人民政府办公室", footer_owner="赤壁市人民政府办公室", icp="鄂ICP备05011264号",
            kinds=(("meetings", 0.5), ("work_report", 0.3), ("notice", 0.2)), issued_share=0.6,
            doc_no_share=0.2, doc_no_series="赤政督", blank_doc_no=("", "无"),
        ),
        JsonApiFamily(
            name="json-api", column="/zfxxgk/dcdb/", ext="jsp", site_name="嘉鱼县人民政府",
            crumbs=(("政府信息公开", "/zfxxgk/index.html"),), other_column="/zfxxgk/gzdt/", other_name="工作动态",
            org_code="011337218", publisher="嘉鱼县人民政府督查室", footer_owner="嘉鱼县人民政府办公室",
            icp="鄂ICP备05011802号", kinds=(("meetings", 0.6), ("work_report", 0.25), ("attachment_only", 0.15)),
            issued_share=0.4, doc_no_share=0.4, doc_no_series="嘉政督", blank_doc_no=("", "无"),
        ),
        EpointFamily(
            name="epoint", column="/info/gkml/dcdb/", ext="html", site_name="崇阳县人民政府",
            crumbs=(("政府信息公开", "/info/gkml/iList.jsp"),), other_column="/info/gkml/gsgg/", other_name="公示公告",
            org_code="MB1537260D", publisher="崇阳县人民政府督查室", footer_owner="崇阳县人民政府办公室",
            icp="鄂ICP备05011433号", kinds=(("meetings", 0.55), ("work_report", 0.3), ("notice", 0.15)),
            issued_share=0.5, doc_no_share=0.3, doc_no_series="崇政督", blank_doc_no=("无", ""),
        ),
        BackwardFamily(
            name="backward", column="/zwgk/zdlyxxgk/dcdb/", ext="shtml", site_name="通城县人民政府",
            crumbs=(("政务公开", "/zwgk/"), ("重点领域信息公开", "/zwgk/zdlyxxgk/")),
            other_column="/zwgk/zdlyxxgk/tzgg/", other_name="通知公告", org_code="011337145",
            publisher="通城县人民政府办公室", footer_owner="通城县人民政府办公室", icp="鄂ICP备05011567号",
            kinds=(("meetings", 0.5), ("work_report", 0.3), ("attachment_only", 0.2)), issued_share=0.7,
            doc_no_share=0.3, doc_no_series="通城督", blank_doc_no=("", "无"),
        ),
    ]
    wanted = set(DEFAULT_FAMILIES if names is None else names)
    unknown = wanted - {family.name for family in families}
    if unknown:
        raise ValueError(f"unknown replica families: {sorted(unknown)}")
    return {family.name: family for family in families if family.name in wanted}
