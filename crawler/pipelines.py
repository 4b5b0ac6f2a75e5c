"""Item pipelines: a fetched bulletin's attachment files, then its capture handed to ingest.

The spider yields each bulletin page once it and its further pages are captured
(:class:`spiders.items.BulletinPage`). :class:`AttachmentFiles` downloads the files it links
to (Scrapy's ``FilesPipeline``: every response captured too); :class:`IngestReady` then marks
the page's capture ready, and the run's next ingest batch builds its archive rows
(:mod:`crawler.ingest`), attachments rows included. With a feed export configured
(``-O bulletins.jsonl``), the page is ingested at once and the feed gets the bulletin as the
archive stored it (:class:`spiders.items.Bulletin`); a page that is no bulletin is dropped
with ingest's reason.
"""
from __future__ import annotations

import hashlib
import json
import os
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from scrapy.http import Response
from scrapy.pipelines.files import FilesPipeline, FSFilesStore
from scrapy.pipelines.media import FileException
from twisted.python.failure import Failure

from archive.attachments import PendingFile
from archive.layout import ArchiveLayout
from crawler.extensions import ArchiveRun
from crawler.ingest import archived_file
from spiders.items import Bulletin, BulletinPage
from pipelines.body import stored_name

_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<body")


def _looks_like_html(body: bytes, content_type: str) -> bool:
    return "html" in content_type.lower() or body[:200].lstrip().lower().startswith(_HTML_START)


class ArchiveFilesStore(FSFilesStore):
    """The archive's files folder: created with the first file, each file written whole.

    A file appears under its final name only complete (temporary name, then rename), so a
    crash never leaves a truncated file under a content hash it does not have.
    """

    def __init__(self, basedir: str):
        self.basedir = basedir
        self.created_directories = {}

    def persist_file(self, path: str, buf: BytesIO, info: Any, meta: Any = None, headers: Any = None) -> None:
        target = Path(self.basedir, *path.split("/"))
        if target.exists():  # content-addressed: the same bytes
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".part-{os.getpid()}-{target.name}")
        temporary.write_bytes(buf.getbuffer())
        os.replace(temporary, target)


class AttachmentFiles(FilesPipeline):
    """Downloads a bulletin's attachment files into the archive's files folder, by content hash.

    Only from the portal's own hosts and under ``ATTACHMENT_MAXSIZE``; a file archived already
    (for this bulletin or another) is not downloaded again. Files are stored as
    ``<archive>.files/<sha256[:2]>/<sha256>.<ext>``: the name a page gives a file is recorded,
    never used as a path (no ``..``, no absolute paths, no NUL bytes reach the file system),
    and the extension comes from a fixed list. Requests pass through the downloader
    middlewares, so robots.txt, the host rule and captures apply to them too. Every file that
    cannot be had is recorded as a failure with its reason.
    """

    STORE_SCHEMES = {**FilesPipeline.STORE_SCHEMES, "": ArchiveFilesStore, "file": ArchiveFilesStore}

    def __init__(self, store_uri: str, *, crawler: Crawler):
        super().__init__(store_uri, crawler=crawler)
        self.run = crawler.get_extension(ArchiveRun)
        self.maxsize = crawler.settings.getint("ATTACHMENT_MAXSIZE")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "AttachmentFiles":
        return cls(str(ArchiveLayout.of(crawler.settings.get("ARCHIVE_PATH")).files), crawler=crawler)

    def get_media_requests(self, item: Any, info: Any) -> list[Request]:
        if not isinstance(item, BulletinPage) or self.run is None:
            return []
        stats = self.crawler.stats
        requests = []
        for url in item.attachment_urls:
            if self.crawler.spider.is_portal_url(url):
                requests.append(Request(url, meta={"page_kind": "attachment", "download_maxsize": self.maxsize}))
            else:
                stats.inc_value("attachments/offsite_skipped")
        return requests

    def media_to_download(self, request: Request, info: Any, *, item: Any = None) -> dict[str, Any] | None:
        """A file archived already is only linked (by ingest), never fetched again."""
        found = archived_file(self.run.db, self.run.layout, request.url)
        if found is None:
            return None
        return {"url": request.url, "path": found["path"], "checksum": found["sha256"], "status": "uptodate"}

    async def media_downloaded(self, response: Response, request: Request, info: Any, *,
                               item: Any = None) -> dict[str, Any]:
        if response.status != 200:
            raise FileException(f"HTTP {response.status}")
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        if not response.body or _looks_like_html(response.body, content_type):
            raise FileException("not a file: the server sent an HTML page or nothing")
        path = self.file_path(request, response, info, item=item)
        self.store.persist_file(path, BytesIO(response.body), info)
        self.crawler.stats.inc_value("attachments/downloaded")
        if self.run is not None:
            self.run.texts.read_early(PendingFile(
                PurePosixPath(path).stem, (self.run.layout.file_path(path),),
                unquote(PurePosixPath(urlsplit(request.url).path).name), content_type), response.body)
        return {"url": request.url, "path": path, "checksum": None, "status": "downloaded"}

    def media_failed(self, failure: Failure, request: Request, info: Any) -> None:
        """Network faults, the size cap, robots.txt, a refused response: recorded, in one line.

        Returns instead of raising: the failure is told here, once (Scrapy would log it again
        with a traceback), and nothing is archived for the file.
        """
        self.crawler.stats.inc_value("attachments/failed")
        if self.run is not None:
            self.run.record_failure(request.url, "attachment",
                                    str(failure.value) or type(failure.value).__name__)

    def file_path(self, request: Request, response: Response | None = None, info: Any = None, *,
                  item: Any = None) -> str:
        """``ab/<sha256>.<ext>``: the file's content hash (only known once downloaded)."""
        assert response is not None, "files are named by their content"
        return stored_name(hashlib.sha256(response.body).hexdigest(), request.url)

    def item_completed(self, results: list[Any], item: Any, info: Any) -> Any:
        return item


class IngestReady:
    """The page and its files are fetched: its capture is ready for the run's next ingest batch.

    With a feed configured, the capture is ingested now and the item becomes the archived
    :class:`~spiders.items.Bulletin` (one extraction, ingest's, for the archive and the feed).
    """

    def __init__(self, crawler: Crawler):
        self.run = crawler.get_extension(ArchiveRun)
        self.feeding = bool(crawler.settings.getdict("FEEDS"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "IngestReady":
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, BulletinPage) and self.run is not None and item.capture_id is not None:
            self.run.bulletin_ready(item.capture_id)
            if self.feeding:
                return self._archived(item)
        return item

    def _archived(self, page: BulletinPage) -> Bulletin:
        """The bulletin ingest made of ``page``; DropItem with ingest's reason when none."""
        self.run.ingest_all()  # now, not in the background: the feed needs the row
        db = self.run.db
        row = next(db.query(f"select {', '.join(Bulletin.fields)} from bulletins where url = ? and capture_id = ?",
                            [page.url, page.capture_id]), None)
        if row is None:
            failure = db.execute("select reason from run_failures where run_id = ? and url = ? order by id desc"
                                 " limit 1", [self.run.run_id, page.url]).fetchone()
            raise DropItem(f"not archived: {page.url} ({failure[0] if failure else 'see the run'})",
                           log_level="INFO")
        row["attachments"] = json.loads(row["attachments"] or "[]")
        return Bulletin(row)
