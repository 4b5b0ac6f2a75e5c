"""WARC records read back: what was written, whatever its shape; anything else is no capture."""
from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from archive.warc import CaptureMismatch, WarcCaptureWriter, read_capture

PAGE = "<html><head><title>督查通报</title></head><body><p>咸宁市政务督查</p></body></html>".encode("utf-8")
NOISE = random.Random(7).randbytes(300_000)  # incompressible


def _exchange(url: str, body: bytes, headers: list[tuple[str, str]], status: int = 200, *,
              payload: bytes | None = None) -> dict:
    """``payload``: what reading gives back, when not the body as sent (a content-encoding undone)."""
    return dict(url=url, body=body, response_headers=headers, status=status,
                payload=body if payload is None else payload)


EXCHANGES = {
    "page": _exchange("http://127.0.0.1/a/t20240101_1.html", PAGE,
                      [("Content-Type", "text/html; charset=utf-8"), ("Server", "replica")]),
    "pdf stored uncompressed": _exchange("http://127.0.0.1/a/f.pdf", b"%PDF-1.4\n" + NOISE,
                                          [("Content-Type", "application/pdf")]),
    "large compressible": _exchange("http://127.0.0.1/a/big.html", PAGE * 40_000, [("Content-Type", "text/html")]),
    "empty 304": _exchange("http://127.0.0.1/a/t20240101_2.html", b"", [("ETag", '"x"')], status=304),
    "repeated header, empty value": _exchange("http://127.0.0.1/a/r", PAGE,
                                              [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Empty", "")]),
    "unknown status": _exchange("http://127.0.0.1/a/odd", PAGE, [("Content-Type", "text/html")], status=599),
    "gzip content-encoding": _exchange("http://127.0.0.1/a/z.html", gzip.compress(PAGE),
                                       [("Content-Type", "text/html"), ("Content-Encoding", "gzip")], payload=PAGE),
    "non-ASCII header": _exchange("http://127.0.0.1/a/附件.doc", b"\xd0\xcf\x11\xe0" + NOISE[:5000],
                                  [("Content-Disposition", "attachment; filename=督查.doc")]),
}


@pytest.fixture(scope="module")
def warc(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("warc") / "run.warc.gz"
    writer = WarcCaptureWriter(path, software="test")
    offsets = {}
    for name, exchange in EXCHANGES.items():
        location = writer.write(exchange["url"], method="GET", request_headers=[("Host", "127.0.0.1")],
                                status=exchange["status"], response_headers=exchange["response_headers"],
                                body=exchange["body"], fetched_at="2026-11-30T02:00:00+00:00")
        offsets[name] = location.offset
    writer.close()
    return path, offsets


@pytest.mark.parametrize("name", EXCHANGES)
def test_a_capture_reads_back_as_it_was_written(warc, name):
    path, offsets = warc
    exchange = EXCHANGES[name]
    stored = read_capture(path, offsets[name], exchange["url"])
    assert (stored.url, stored.status, stored.body) == (exchange["url"], exchange["status"], exchange["payload"])
    # the headers as sent (a repeated one: its last value), and the length of the body stored
    assert stored.headers == {**dict(exchange["response_headers"]), "Content-Length": str(len(exchange["body"]))}


def test_a_record_that_is_not_the_capture_s_is_refused(warc):
    path, offsets = warc
    with pytest.raises(CaptureMismatch, match="is http://127.0.0.1/a/t20240101_1.html, not"):
        read_capture(path, offsets["page"], "http://127.0.0.1/a/other.html")
    with pytest.raises(CaptureMismatch, match="no response record"):
        read_capture(path, 0)  # the warcinfo record
    for inside in range(1, 40):  # inside a gzip member: whatever warcio makes of the bytes there
        with pytest.raises(CaptureMismatch, match="no WARC record|no response record"):
            read_capture(path, offsets["page"] + inside)
