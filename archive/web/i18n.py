"""Chinese first, English on request: the reading room's words in both languages.

A page is in Chinese unless ``?lang=en`` asks otherwise; the choice is kept in a cookie so the
next page stays in that language (``?lang=zh`` switches back). Archived text is never
translated: only the interface is.
"""
from __future__ import annotations

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "zwdc_lang"
#: The ``lang`` attribute of each page's ``<html>``.
HTML_LANG = {"zh": "zh-CN", "en": "en"}

#: Message id -> (Chinese, English). ``{name}`` placeholders are filled by :meth:`Translator.__call__`.
MESSAGES: dict[str, tuple[str, str]] = {
    # frame
    "site_title": ("政务督查档案", "Supervision bulletin archive"),
    "site_tagline": ("市政府门户网站“政务督查”栏目的通报存档：全文检索、督办事项、图表。",
                     "Archived supervision bulletins (政务督查) of municipal government portals: "
                     "full-text search, supervision items, charts."),
    "nav_home": ("首页", "Home"),
    "nav_search": ("检索", "Search"),
    "nav_charts": ("图表", "Charts"),
    "nav_items": ("督办事项", "Supervision items"),
    "nav_tables": ("数据表", "Data tables"),
    "switch_to": ("English", "中文"),
    "switch_title": ("Switch to English", "切换到中文"),
    "tables_note": ("Datasette 数据表界面为英文", "Datasette's table pages"),
    "colon": ("：", ": "),
    "not_found": ("未找到", "Not found"),
    "error": ("出错了", "Error"),
    "time_limit": ("查询超过服务器的时间限制，已停止：请增加检索词或条件，或查看较前的页",
                   "the query took longer than the server's time limit and was stopped: add words or "
                   "filters, or ask for an earlier page"),
    "no_archive": ("没有可用的档案数据库（需含 bulletins 表与检索索引）",
                   "no archive database (with a bulletins table and its search index) is served"),
    # search form
    "search_bulletins": ("检索通报", "Search bulletins"),
    "query": ("检索词", "Words"),
    "query_placeholder": ("例如：督查 或 常务会议 2023年", "e.g. 督查 or 常务会议 2023年"),
    "search_help": ("标题或正文包含检索词（原文精确匹配）即命中；多个词以空格分隔，须同时出现。不填检索词则按条件浏览全部通报。",
                    "A word matches when the title or body contains it exactly; several words, "
                    "separated by spaces, must all appear. Without words, every bulletin within "
                    "the filters is listed."),
    "since": ("发布日期自", "Published from"),
    "until": ("至", "to"),
    "publisher": ("发布机构", "Publisher"),
    "publisher_placeholder": ("包含……", "contains…"),
    "site": ("网站", "Site"),
    "any_site": ("全部网站", "every site"),
    "portal": ("门户", "Portal"),
    "any_portal": ("全部门户", "every portal"),
    "sort": ("排序", "Order"),
    "sort_relevance": ("按相关度", "most relevant first"),
    "sort_newest": ("最新发布在前", "newest first"),
    "submit_search": ("检索", "Search"),
    "clear_filters": ("清除条件", "clear filters"),
    "more_filters": ("日期、发布机构、门户、网站、排序", "Dates, publisher, portal, site, order"),
    # search results
    "results_before": ("共", ""),
    "results_after": ("篇通报", "bulletins"),
    "results_match": ("包含“{query}”", "containing “{query}”"),
    "results_page": ("第 {page}/{pages} 页", "page {page} of {pages}"),
    "filtered_by": ("筛选条件", "Filtered by"),
    "remove_filter": ("去掉此条件", "remove this filter"),
    "downloads": ("下载这些结果", "Download these results"),
    "download_csv": ("CSV（Excel 可直接打开）", "CSV (opens in Excel)"),
    "download_json": ("JSON", "JSON"),
    "in_datasette": ("在 Datasette 数据表中查看", "in the Datasette table"),
    "prev": ("← 上一页", "← previous"),
    "next": ("下一页 →", "next →"),
    "untitled": ("（无标题）", "(untitled)"),
    "no_date": ("无日期", "no date"),
    "original": ("原文", "original"),
    "index_stale": ("检索索引只覆盖了 {indexed}/{rows} 篇通报，请运行 python -m crawler reindex。",
                    "The search index covers {indexed} of {rows} bulletins; run python -m crawler reindex."),
    "facet_publisher": ("发布机构", "Publisher"),
    "facet_category": ("主题分类", "Category"),
    "facet_year": ("年份", "Year"),
    "facet_site": ("网站", "Site"),
    "facet_portal": ("门户", "Portal"),
    "blank": ("（空）", "(blank)"),
    "year_label": ("{year}年", "{year}"),
    "dates_label": ("{since} 至 {until}", "{since} to {until}"),
    # bulletin page
    "bulletin": ("通报", "Bulletin"),
    "index_no": ("索引号", "Index number"),
    "doc_no": ("文号", "Document number"),
    "category": ("主题分类", "Category"),
    "validity": ("有效性", "Validity"),
    "published": ("发布日期", "Published"),
    "issued": ("发文日期", "Issued"),
    "view_original": ("查看原网页", "Original page"),
    "view_capture": ("存档原始网页（WARC）", "Archived raw page (WARC)"),
    "view_row": ("数据行（Datasette）", "Data row (Datasette)"),
    "missing_since": ("自 {date} 起原网站已不再提供", "Gone from the portal since {date}"),
    "first_seen": ("首次存档", "First archived"),
    "last_seen": ("最近核对", "Last checked"),
    "body": ("正文", "Text"),
    "empty_body": ("（无正文）", "(no text)"),
    "attachments": ("附件", "Attachments"),
    "archived_file": ("存档文件", "archived file"),
    "not_archived": ("未存档", "not archived"),
    "original_link": ("原链接", "original link"),
    "found_in_attachment": ("匹配附件", "Found in attachment"),
    "deadline": ("完成时限", "Deadline"),
    "from_attachment": ("来自附件", "From an attachment"),
    "attachment_text": ("附件正文", "Text of the attachment"),
    "attachment_text_ocr": ("附件正文（文字识别，置信度 {confidence}）", "Text of the attachment (OCR, confidence {confidence})"),
    "attachment_text_error": ("未能读取附件正文：{error}", "The attachment's text could not be read: {error}"),
    "attachment_text_pending": ("附件正文尚未读取", "The attachment's text is not read yet"),
    "attachment_pages": ("{pages} 页", "{pages} page(s)"),
    "body_in_attachment": ("正文见附件：", "The bulletin's substance is in its attachment:"),
    "items_of_bulletin": ("督办事项（自正文解析）", "Supervision items (parsed from the text)"),
    "no_items": ("本通报未解析出督办事项。", "No supervision items were parsed from this bulletin."),
    "items_without_meeting": ("其他事项", "Other items"),
    "versions": ("版本", "Versions"),
    "version_seen": ("存档时间", "Archived at"),
    "version_hash": ("内容摘要", "Content hash"),
    "version_capture": ("原始网页", "Raw page"),
    "version_current": ("当前", "current"),
    "one_version": ("只存档过一个版本。", "Only one version has been archived."),
    "compare": ("比较版本", "Compare versions"),
    "compare_from": ("旧版本", "from"),
    "compare_to": ("新版本", "to"),
    "compare_submit": ("比较", "Compare"),
    "diff_title": ("版本 {a} → 版本 {b} 的差异", "Changes from version {a} to version {b}"),
    "no_diff": ("两个版本内容相同。", "The two versions are the same."),
    "bad_version": ("没有这个版本：{id}", "no such version: {id}"),
    "field_title": ("标题", "Title"),
    "field_attachments": ("附件", "Attachments"),
    # items
    "meeting": ("会议", "Meeting"),
    "meeting_number": ("第{number}次", "no. {number}"),
    "subject": ("事项", "Decision"),
    "status": ("落实情况", "Status"),
    "units": ("责任单位", "Responsible units"),
    "progress": ("进展", "Progress"),
    "documents": ("文件", "Documents"),
    "section": ("栏目", "Section"),
    "status_pending": ("尚未完全落实", "pending"),
    "status_mostly_done": ("基本完成", "mostly done"),
    "status_done": ("已完成", "done"),
    "status_other": ("其他", "other"),
    "items_title": ("督办事项", "Supervision items"),
    "items_unit_word": ("项", "items"),
    "items_help": ("从通报正文解析出的会议议定事项及其落实情况。“未完成”指在报告该事项的最新一期通报中仍为“尚未完全落实”。",
                   "Decisions parsed from the bulletins' text and how far they are done. "
                   "“Open” means still pending in the latest bulletin that reports the decision."),
    "unit": ("责任单位", "Unit"),
    "open_only": ("仅未完成", "open only"),
    "month": ("通报月份", "Bulletin month"),
    "any_status": ("全部", "any"),
    "filter": ("筛选", "Filter"),
    "no_items_match": ("没有符合条件的事项。", "No items match."),
    # home
    "portals": ("网站与栏目", "Portals and columns"),
    "column": ("栏目", "Column"),
    "bulletins": ("通报", "Bulletins"),
    "date_range": ("时间范围", "Dates"),
    "browse": ("浏览", "browse"),
    "open_column": ("打开原栏目", "open the column"),
    "last_crawl": ("最近一次抓取", "Last crawl"),
    "crawl_outcome_ok": ("正常", "ok"),
    "totals": ("共存档 {bulletins} 篇通报，解析出 {items} 项督办事项，其中 {open} 项未完成。",
               "{bulletins} bulletins archived, {items} supervision items parsed, {open} of them open."),
    "more_charts": ("更多图表", "More charts"),
    "data_tables": ("全部数据表（Datasette，可用 SQL 查询、导出）", "Every table (Datasette: SQL, exports)"),
    # charts
    "charts_title": ("图表", "Charts"),
    "chart_bulletins": ("各网站每月/每年发布的通报数", "Bulletins per month / year, per portal"),
    "chart_bulletins_help": ("点击柱形查看该月（年）该网站的通报。", "Click a bar for the bulletins behind it."),
    "by_month": ("按月", "by month"),
    "by_year": ("按年", "by year"),
    "chart_open_units": ("各责任单位未完成事项数（前 {n} 名）", "Open items per responsible unit (top {n})"),
    "chart_open_units_help": ("点击柱形查看该单位的未完成事项。", "Click a bar for that unit's open items."),
    "chart_status": ("督办事项落实情况（按通报月份）", "Supervision items by status over time (by bulletin month)"),
    "chart_status_help": ("点击柱形查看该月该状态的事项。", "Click a bar for the items behind it."),
    "chart_data": ("数据表", "Data"),
    "count": ("数量", "Count"),
    "open_items": ("未完成事项", "Open items"),
    "no_data": ("暂无数据。", "No data yet."),
    "charts_offline": ("图表由本服务器提供的 Apache ECharts 绘制，离线可用。",
                       "Charts drawn by Apache ECharts served from this server (works offline)."),
}


class Translator:
    """``t("key", name=value)`` in one language; a missing key is a bug (KeyError)."""

    def __init__(self, lang: str):
        self.lang = lang if lang in LANGS else DEFAULT_LANG
        self._index = LANGS.index(self.lang)

    def __call__(self, key: str, **values: object) -> str:
        text = MESSAGES[key][self._index]
        return text.format(**values) if values else text


def choose_lang(arg: str | None, cookie: str | None) -> str:
    """The page's language: ``?lang=`` first, then the cookie, then Chinese."""
    for value in (arg, cookie):
        if value in LANGS:
            return value
    return DEFAULT_LANG
