"""Pipeline: download a bulletin's attachments into the archive folder, by content hash.

Only from the portal's own hosts and under ``ATTACHMENT_MAXSIZE``. Files are stored as
``files/<sha256[:2]>/<sha256>.<ext>``: the name a page gives a file is recorded, never used
as a path (no ``..``, no absolute paths, no NUL bytes can reach the file system), and the
extension comes from a fixed list. Responses pass through the downloader middlewares, so
robots.txt, host rules and WARC captures apply to them too.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import scrapy
from scrapy.crawler import Crawler

from crawler.extensions import archive_run, utc_now
from crawler.items import BulletinPage
from pipelines.body import ATTACHMENT_EXTENSIONS

_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<body")


def stored_name(sha256: str, url: str) -> str:
    """``ab/abcdef….pdf``: a relative path made only of the hash and a listed extension."""
    ext = posixpath.splitext(urlsplit(url).path)[1].lower().lstrip(".")
    suffix = f".{ext}" if ext in ATTACHMENT_EXTENSIONS else ".bin"
    return f"{sha256[:2]}/{sha256}{suffix}"


def _looks_like_html(body: bytes, content_type: str) -> bool:
    return "html" in content_type.lower() or body[:200].lstrip().lower().startswith(_HTML_START)


def _write_once(path: Path, data: bytes) -> None:
    """Write atomically (temp file + rename); content-addressed files never change."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temp, path)


class AttachmentsPipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.maxsize = crawler.settings.getint("ATTACHMENT_MAXSIZE")
        self.files = Path(crawler.settings.get("ARCHIVE_PATH")).parent / "files"

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "AttachmentsPipeline":
        return cls(crawler)

    async def process_item(self, item: BulletinPage) -> BulletinPage:
        run = archive_run(self.crawler)
        if not isinstance(item, BulletinPage) or item.record is None or run is None:
            return item
        spider = self.crawler.spider
        for attachment in item.record.attachments:
            if not spider.is_portal_url(attachment.url):
                self.stats.inc_value("attachments/offsite_skipped")
                continue
            stored = next(run.db.query(
                "select * from attachments where url = ? order by bulletin_url = ? desc limit 1",
                [attachment.url, item.url]), None)
            if stored is None:
                await self._download(run, item.url, attachment.name, attachment.url)
            elif stored["bulletin_url"] != item.url:  # same file linked from another bulletin
                run.db["attachments"].upsert(
                    {**stored, "bulletin_url": item.url, "name": attachment.name},
                    pk=("bulletin_url", "url"))
        return item

    async def _download(self, run, bulletin_url: str, name: str, url: str) -> None:
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
        sha256 = hashlib.sha256(response.body).hexdigest()
        relative = stored_name(sha256, url)
        _write_once(self.files / relative, response.body)
        run.db["attachments"].upsert({
            "bulletin_url": bulletin_url, "url": url, "name": name,
            "mime_type": content_type.split(";")[0].strip() or "application/octet-stream",
            "size": len(response.body), "sha256": sha256, "path": f"files/{relative}",
            "fetched_at": utc_now(), "capture_id": request.meta.get("capture_id"),
        }, pk=("bulletin_url", "url"))
        self.stats.inc_value("attachments/downloaded")

    def _failed(self, run, url: str, reason: str) -> None:
        self.stats.inc_value("attachments/failed")
        run.record_failure(url, "attachment", reason)
