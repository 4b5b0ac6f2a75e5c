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
    A record as this module writes it (plain ASCII heads, no content- or transfer-encoding)
    is read directly; anything else by warcio, which gives the same answer for those
    (ingest reads every bulletin back, and warcio's parsing was a tenth of its CPU).
    """
    with open(warc_path, "rb") as handle:
        handle.seek(offset)
        stored = _read_plain_record(handle)
        if stored is None:
            handle.seek(offset)
            stored = _read_with_warcio(handle, f"{warc_path.name}:{offset}")
    if url is not None and stored.url != url:
        raise CaptureMismatch(f"the record at {warc_path.name}:{offset} is {stored.url}, not {url}")
    return stored


def _read_with_warcio(handle: BinaryIO, where: str) -> StoredResponse:
    try:
        record = next(iter(ArchiveIterator(handle)), None)
        if record is None or record.rec_type != "response" or record.http_headers is None:
            raise CaptureMismatch(f"no response record at {where}")
        return StoredResponse(
            url=record.rec_headers.get_header("WARC-Target-URI"),
            status=int(record.http_headers.get_statuscode()),
            headers=dict(record.http_headers.headers),
            body=record.content_stream().read(),
        )
    except CaptureMismatch:
        raise
    except Exception as error:  # warcio's own errors, or bytes it half-read as a record: not one there
        raise CaptureMismatch(f"no WARC record at {where} ({type(error).__name__}: {error})") from None


#: Read at a time from the file while looking for a record's heads, and inflated at most.
_HEAD_CHUNK = 16384
_HEADS_AT_MOST = 1 << 20
#: Read at a time for the payload: compressed bytes of a large page, never much of the records after it.
_PAYLOAD_CHUNK = 1 << 20
#: Headers after which the stored payload is not the body as is (warcio undoes them).
_ENCODING_HEADERS = {"content-encoding", "transfer-encoding"}


def _read_plain_record(handle: BinaryIO) -> StoredResponse | None:
    """The response record at the handle's position, or ``None`` when it is not plainly one.

    ``None`` (warcio decides) for anything but a gzip member holding a ``response`` record
    with ASCII heads of ``Name: value`` lines, an ``HTTP/…`` status line and a payload
    stored without content- or transfer-encoding, complete.
    """
    inflater = zlib.decompressobj(zlib.MAX_WBITS + 16)
    inflated = b""
    while True:
        chunk = handle.read(_HEAD_CHUNK)
        try:
            inflated += inflater.decompress(chunk)
        except zlib.error:
            return None
        warc_end = inflated.find(b"\r\n\r\n")
        http_end = inflated.find(b"\r\n\r\n", warc_end + 4) if warc_end >= 0 else -1
        if http_end >= 0:
            break
        if not chunk or inflater.eof or len(inflated) > _HEADS_AT_MOST:
            return None
    warc_head, http_head = inflated[:warc_end], inflated[warc_end + 4:http_end]
    if not (warc_head + http_head).isascii():
        return None
    warc_lines = warc_head.decode("ascii").split("\r\n")
    http_lines = http_head.decode("ascii").split("\r\n")
    warc_fields, http_fields = _fields(warc_lines[1:]), _fields(http_lines[1:])
    status = http_lines[0].split(" ", 2)
    if (warc_fields is None or http_fields is None or not warc_lines[0].startswith("WARC/")
            or warc_fields.get("WARC-Type") != "response" or "WARC-Target-URI" not in warc_fields
            or len(status) < 2 or not status[0].startswith("HTTP/") or not status[1].isdigit()
            or any(name.lower() in _ENCODING_HEADERS for name in http_fields)):
        return None
    try:
        payload_length = int(warc_fields["Content-Length"]) - (http_end + 4 - warc_end - 4)
    except (KeyError, ValueError):
        return None
    pieces = [inflated[http_end + 4:]]
    del inflated
    have = len(pieces[0])
    while have < payload_length and not inflater.eof:
        chunk = handle.read(min(max(_HEAD_CHUNK, payload_length - have), _PAYLOAD_CHUNK))
        try:
            piece = inflater.decompress(chunk)
        except zlib.error:
            return None
        pieces.append(piece)
        have += len(piece)
        if not chunk:
            break
    if have < payload_length or payload_length < 0:
        return None
    body = pieces[0][:payload_length] if len(pieces) == 1 else b"".join(pieces)[:payload_length]
    return StoredResponse(url=warc_fields["WARC-Target-URI"], status=int(status[1]), headers=http_fields,
                          body=body)


def _fields(lines: list[str]) -> dict[str, str] | None:
    """``Name: value`` lines as warcio reads them (the last of a repeated name wins), or
    ``None`` for a line that is not one (a folded continuation, no colon)."""
    fields: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or line[:1] in (" ", "\t"):
            return None
        fields[name] = value.strip()
    return fields
