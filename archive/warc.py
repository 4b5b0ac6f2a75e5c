"""Raw captures as WARC: one gzip WARC file per crawl run, request and response records.

Responses are written as the server sent them (before decompression or redirects are
handled), so the file can be replayed and checked by standard tools (``warcio check``,
``warcio index``). :func:`read_capture` gives back the payload for offline reprocessing.

Records are written here rather than with warcio's writer, which costs several times more
per record (a crawl writes two per fetched page); warcio reads them back and checks them.
Each record is its own gzip member, with the block and payload SHA-1 digests WARC readers
verify.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
import zlib
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

#: Hop-by-hop framing already undone by the HTTP client: the stored payload is de-chunked.
_FRAMING_HEADERS = {"transfer-encoding", "content-length"}
#: zlib's default level: level 9 (warcio's) costs more CPU for 1–2% smaller pages.
_GZIP_LEVEL = 6


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


def _sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def _header_bytes(value: str) -> bytes:
    """HTTP header text as sent: Latin-1, or UTF-8 for what Latin-1 cannot hold."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _http_block(start_line: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [_header_bytes(start_line)] + [_header_bytes(f"{k}: {v}") for k, v in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


class WarcCaptureWriter:
    """Appends request/response pairs to ``path``; one writer per crawl run."""

    def __init__(self, path: Path, software: str):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")
        fields = f"software: {software}\r\nformat: WARC/1.0\r\n".encode("utf-8")
        self._write_record({
            "WARC-Type": "warcinfo", "WARC-Record-ID": _record_id(), "WARC-Filename": path.name,
            "WARC-Date": _warc_date(None), "Content-Type": "application/warc-fields",
        }, fields)
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
        date = _warc_date(fetched_at)
        response_id = _record_id()
        block = _http_block(f"HTTP/1.1 {status} {reason}", headers) + body
        offset, length = self._write_record({
            "WARC-Type": "response", "WARC-Record-ID": response_id, "WARC-Target-URI": url,
            "WARC-Date": date, "WARC-Payload-Digest": _sha1(body), "WARC-Block-Digest": _sha1(block),
            "Content-Type": "application/http; msgtype=response",
        }, block)
        path = url.split("://", 1)[-1].split("/", 1)
        target = "/" + (path[1] if len(path) > 1 else "")
        request = _http_block(f"{method} {target} HTTP/1.1", request_headers)
        self._write_record({
            "WARC-Type": "request", "WARC-Record-ID": _record_id(), "WARC-Target-URI": url,
            "WARC-Date": date, "WARC-Concurrent-To": response_id, "WARC-Block-Digest": _sha1(request),
            "Content-Type": "application/http; msgtype=request",
        }, request)
        self._file.flush()
        return CaptureLocation(self.path.name, offset, length, hashlib.sha256(body).hexdigest())

    def _write_record(self, warc_headers: dict[str, str], block: bytes) -> tuple[int, int]:
        """One record as one gzip member; returns its (offset, length) in the file."""
        head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in warc_headers.items())
        head += f"Content-Length: {len(block)}\r\n\r\n"
        compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        member = b"".join((compressor.compress(head.encode("utf-8")), compressor.compress(block),
                           compressor.compress(b"\r\n\r\n"), compressor.flush()))
        offset = self._file.tell()
        self._file.write(member)
        return offset, len(member)

    def close(self) -> None:
        self._file.close()


def _warc_date(fetched_at: str | None) -> str:
    """``2026-11-26T18:43:03Z`` (WARC/1.0 dates are UTC, to the second)."""
    if fetched_at is None:
        fetched_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return fetched_at.replace("+00:00", "Z")


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
