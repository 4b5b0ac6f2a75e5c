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
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator

#: Hop-by-hop framing already undone by the HTTP client: the stored payload is de-chunked.
_FRAMING_HEADERS = {"transfer-encoding", "content-length"}
#: zlib level of records: level 1 makes pages 2–3% larger than 6 (warcio's 9: 1–2% smaller)
#: for half the CPU, which on a fast local portal is a tenth of the crawl's.
_GZIP_LEVEL = 1
#: Payloads already compressed by their format (PDF, ZIP and so Office Open XML, OFD, RAR, 7z,
#: gzip, PNG, JPEG, GIF) are stored in their gzip member without compression: deflating them
#: again saves 5–15% of their size for ~30 ms of CPU a megabyte.
_COMPRESSED_MAGIC = (b"%PDF", b"PK\x03\x04", b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b", b"\x89PNG", b"\xff\xd8\xff", b"GIF8")


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


def _sha1(*pieces: bytes) -> str:
    digest = hashlib.sha1()
    for piece in pieces:
        digest.update(piece)
    return "sha1:" + base64.b32encode(digest.digest()).decode("ascii")


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


class CaptureMismatch(ValueError):
    """The record read back is not the capture it should be (another URL, or no response)."""


class WarcCaptureWriter:
    """Appends request/response pairs to ``path``; one writer per crawl run.

    The file is created on the first record (a run that captures nothing leaves no file) and
    never appended to once it exists: run files are unique, a name that is taken is an error.
    """

    def __init__(self, path: Path, software: str):
        self.path = path
        self.software = software
        self._file: BinaryIO | None = None

    def _open(self) -> BinaryIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "xb")
        fields = f"software: {self.software}\r\nformat: WARC/1.0\r\n".encode("utf-8")
        self._write_record({
            "WARC-Type": "warcinfo", "WARC-Record-ID": _record_id(), "WARC-Filename": self.path.name,
            "WARC-Date": _warc_date(None), "Content-Type": "application/warc-fields",
        }, (fields,))
        return self._file

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
        """Write one exchange; return where its response record starts in the file.

        The body is hashed and compressed where it lies, never copied: a large page costs
        its own size plus its compressed size.
        """
        handle = self._file or self._open()
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        headers = [(k, v) for k, v in response_headers if k.lower() not in _FRAMING_HEADERS]
        headers.append(("Content-Length", str(len(body))))
        date = _warc_date(fetched_at)
        response_id = _record_id()
        head = _http_block(f"HTTP/1.1 {status} {reason}", headers)
        offset, length = self._write_record({
            "WARC-Type": "response", "WARC-Record-ID": response_id, "WARC-Target-URI": url,
            "WARC-Date": date, "WARC-Payload-Digest": _sha1(body), "WARC-Block-Digest": _sha1(head, body),
            "Content-Type": "application/http; msgtype=response",
        }, (head, body), level=0 if body.startswith(_COMPRESSED_MAGIC) else _GZIP_LEVEL)
        path = url.split("://", 1)[-1].split("/", 1)
        target = "/" + (path[1] if len(path) > 1 else "")
        request = _http_block(f"{method} {target} HTTP/1.1", request_headers)
        self._write_record({
            "WARC-Type": "request", "WARC-Record-ID": _record_id(), "WARC-Target-URI": url,
            "WARC-Date": date, "WARC-Concurrent-To": response_id, "WARC-Block-Digest": _sha1(request),
            "Content-Type": "application/http; msgtype=request",
        }, (request,))
        handle.flush()
        return CaptureLocation(self.path.name, offset, length, hashlib.sha256(body).hexdigest())

    def _write_record(self, warc_headers: dict[str, str], block: tuple[bytes, ...],
                      level: int = _GZIP_LEVEL) -> tuple[int, int]:
        """One record as one gzip member; returns its (offset, length) in the file."""
        assert self._file is not None
        size = sum(len(piece) for piece in block)
        head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in warc_headers.items())
        head += f"Content-Length: {size}\r\n\r\n"
        compressor = zlib.compressobj(level, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        offset = self._file.tell()
        for piece in (head.encode("utf-8"), *block, b"\r\n\r\n"):
            self._file.write(compressor.compress(piece))
        self._file.write(compressor.flush())
        return offset, self._file.tell() - offset

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _warc_date(fetched_at: str | None) -> str:
    """``2026-11-26T18:43:03Z`` (WARC/1.0 dates are UTC, to the second)."""
    if fetched_at is None:
        fetched_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    return fetched_at.replace("+00:00", "Z")


def read_capture(warc_path: Path, offset: int, url: str | None = None) -> StoredResponse:
    """The response record at ``offset``, its payload decoded (content-encoding undone).

    With ``url``, the record must be that URL's (:class:`CaptureMismatch` otherwise): a
    ``captures`` row is trusted only once the bytes it points at are proved to be its own.
    """
    where = f"{warc_path.name}:{offset}"
    with open(warc_path, "rb") as handle:
        handle.seek(offset)
        try:
            record = next(iter(ArchiveIterator(handle)), None)
            is_response = record is not None and record.rec_type == "response" and record.http_headers is not None
            stored = StoredResponse(
                url=record.rec_headers.get_header("WARC-Target-URI"),
                status=int(record.http_headers.get_statuscode()),
                headers=dict(record.http_headers.headers),
                body=record.content_stream().read(),
            ) if is_response else None
        except Exception as error:  # warcio's own errors, or bytes it half-read as a record: not one there
            raise CaptureMismatch(f"no WARC record at {where} ({type(error).__name__}: {error})") from None
    if stored is None:
        raise CaptureMismatch(f"no response record at {where}")
    if url is not None and stored.url != url:
        raise CaptureMismatch(f"the record at {where} is {stored.url}, not {url}")
    return stored
