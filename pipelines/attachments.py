"""Pipeline: download a bulletin's attachments into the archive folder, by content hash.

Only from the portal's own hosts and under ``ATTACHMENT_MAXSIZE``. Files are stored as
``files/<sha256[:2]>/<sha256>.<ext>``: the name a page gives a file is recorded, never used
as a path (no ``..``, no absolute paths, no NUL bytes can reach the file system), and the
extension comes from a fixed list. Responses pass through the downloader middlewares, so
robots.txt, host rules and WARC captures apply to them too. The run's archive writer process stores
the files (:meth:`archive.writer.RunWriter.attachment`).
"""
from __future__ import annotations

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from crawler.extensions import ArchiveRun, archive_run, utc_now
from crawler.items import BulletinPage
from crawler.worker import WorkerFailed

_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<body")


def _looks_like_html(body: bytes, content_type: str) -> bool:
    return "html" in content_type.lower() or body[:200].lstrip().lower().startswith(_HTML_START)


class AttachmentsPipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.maxsize = crawler.settings.getint("ATTACHMENT_MAXSIZE")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "AttachmentsPipeline":
        return cls(crawler)

    async def process_item(self, item: BulletinPage) -> BulletinPage:
        run = archive_run(self.crawler)
        if not isinstance(item, BulletinPage) or item.record is None or run is None:
            return item
        spider = self.crawler.spider
        wanted = []
        for attachment in item.record.attachments:
            if spider.is_portal_url(attachment.url):
                wanted.append(attachment)
            else:
                self.stats.inc_value("attachments/offsite_skipped")
        if not wanted:
            return item
        try:  # files archived already are only linked to this bulletin too
            archived = set(await run.writer.ask("archived_attachments", item.url, wanted))
        except WorkerFailed as error:
            run.stop_on_worker_failure(str(error))
            raise DropItem(f"not stored: {error}: {item.url}") from None
        for attachment in wanted:
            if attachment.url not in archived:
                await self._download(run, item.url, attachment.name, attachment.url)
        return item

    async def _download(self, run: ArchiveRun, bulletin_url: str, name: str, url: str) -> None:
        request = scrapy.Request(
            url, meta={"page_kind": "attachment", "download_maxsize": self.maxsize},
        )
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as error:  # network faults, size cap, robots: all recorded
            self._failed(run, url, str(error) or type(error).__name__)
            return
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        if response.status != 200:
            self._failed(run, url, f"HTTP {response.status}")
            return
        if _looks_like_html(response.body, content_type) or not response.body:
            self._failed(run, url, "not a file: the server sent an HTML page or nothing")
            return
        run.writer.send(
            "attachment", bulletin_url, url, name,
            content_type.split(";")[0].strip() or "application/octet-stream", response.body,
            utc_now(), request.meta.get("capture_id"))
        self.stats.inc_value("attachments/downloaded")

    def _failed(self, run: ArchiveRun, url: str, reason: str) -> None:
        self.stats.inc_value("attachments/failed")
        run.record_failure(url, "attachment", reason)
