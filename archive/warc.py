"""Raw captures as WARC: one gzip WARC file per crawl run, request and response records.

Responses are written as the server sent them (before decompression or redirects are
handled), so the file can be replayed and checked by standard tools (``warcio check``,
``warcio index``). :func:`read_capture` gives back the payload for offline reprocessing.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

#: Hop-by-hop framing already undone by the HTTP client: the stored payload is de-chunked.
_FRAMING_HEADERS = {"transfer-encoding", "content-length"}


@dataclass(frozen=True)
class CaptureLocation:
    warc_file: str
    offset: int
    length: int
    payload_sha256: str


@dataclass(frozen=True)
class StoredResponse:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes


class WarcCaptureWriter:
    """Appends request/response pairs to ``path``; one writer per crawl run."""

    def __init__(self, path: Path, software: str):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")
        self._writer = WARCWriter(self._file, gzip=True)
        info = self._writer.create_warcinfo_record(path.name, {"software": software, "format": "WARC/1.0"})
        self._writer.write_record(info)
        self._file.flush()

    def write(
        self,
        url: str,
        *,
        method: str,
        request_headers: list[tuple[str, str]],
        status: int,
        response_headers: list[tuple[str, str]],
        body: bytes,
        fetched_at: str,
    ) -> CaptureLocation:
        """Write one exchange; return where its response record starts in the file."""
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        headers = [(k, v) for k, v in response_headers if k.lower() not in _FRAMING_HEADERS]
        headers.append(("Content-Length", str(len(body))))
        date = {"WARC-Date": fetched_at.replace("+00:00", "Z")}
        response = self._writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), length=len(body),
            warc_headers_dict=dict(date),
            http_headers=StatusAndHeaders(f"{status} {reason}", headers, protocol="HTTP/1.1"),
        )
        offset = self._file.tell()
        self._writer.write_record(response)
        length = self._file.tell() - offset
        path = url.split("://", 1)[-1].split("/", 1)
        target = "/" + (path[1] if len(path) > 1 else "")
        request = self._writer.create_warc_record(
            url, "request", payload=io.BytesIO(b""), length=0,
            warc_headers_dict={
                **date, "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            },
            http_headers=StatusAndHeaders(f"{method} {target} HTTP/1.1", request_headers, is_http_request=True),
        )
        self._writer.write_record(request)
        self._file.flush()
        return CaptureLocation(self.path.name, offset, length, hashlib.sha256(body).hexdigest())

    def close(self) -> None:
        self._file.close()


def read_capture(warc_path: Path, offset: int) -> StoredResponse:
    """The response record at ``offset``, its payload decoded (content-encoding undone)."""
    with open(warc_path, "rb") as handle:
        handle.seek(offset)
        record = next(iter(ArchiveIterator(handle)))
        if record.rec_type != "response":
            raise ValueError(f"no response record at {warc_path}:{offset}")
        headers = {k: v for k, v in record.http_headers.headers}
        return StoredResponse(
            url=record.rec_headers.get_header("WARC-Target-URI"),
            status=int(record.http_headers.get_statuscode()),
            headers=headers,
            body=record.content_stream().read(),
        )
