"""WARC records read back: the direct reader of plain records agrees with warcio on every shape."""
from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from archive.warc import CaptureMismatch, WarcCaptureWriter, _read_plain_record, _read_with_warcio, read_capture

PAGE = "<html><head><title>督查通报</title></head><body><p>咸宁市政务督查</p></body></html>".encode("utf-8")
NOISE = random.Random(7).randbytes(300_000)  # incompressible: spans many reads


def _exchange(url: str, body: bytes, headers: list[tuple[str, str]], status: int = 200) -> dict:
    return dict(url=url, body=body, response_headers=headers, status=status)


PLAIN = {
    "page": _exchange("http://127.0.0.1/a/t20240101_1.html", PAGE,
                      [("Content-Type", "text/html; charset=utf-8"), ("Server", "replica")]),
    "pdf stored uncompressed": _exchange("http://127.0.0.1/a/f.pdf", b"%PDF-1.4\n" + NOISE,
                                          [("Content-Type", "application/pdf")]),
    "large stored, read in several chunks": _exchange("http://127.0.0.1/a/big.pdf",
                                                       b"%PDF-1.4\n" + random.Random(8).randbytes(2_600_000),
                                                       [("Content-Type", "application/pdf")]),
    "large compressible": _exchange("http://127.0.0.1/a/big.html", PAGE * 40_000, [("Content-Type", "text/html")]),
    "empty 304": _exchange("http://127.0.0.1/a/t20240101_2.html", b"", [("ETag", '"x"')], status=304),
    "repeated header, empty value": _exchange("http://127.0.0.1/a/r", PAGE,
                                              [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Empty", "")]),
    "unknown status": _exchange("http://127.0.0.1/a/odd", PAGE, [("Content-Type", "text/html")], status=599),
}
LEFT_TO_WARCIO = {
    "gzip content-encoding": _exchange("http://127.0.0.1/a/z.html", gzip.compress(PAGE),
                                       [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]),
    "non-ASCII header": _exchange("http://127.0.0.1/a/附件.doc", b"\xd0\xcf\x11\xe0" + NOISE[:5000],
                                  [("Content-Disposition", "attachment; filename=督查.doc")]),
}


@pytest.fixture(scope="module")
def warc(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("warc") / "run.warc.gz"
    writer = WarcCaptureWriter(path, software="test")
    offsets = {}
    for name, exchange in {**PLAIN, **LEFT_TO_WARCIO}.items():
        location = writer.write(exchange["url"], method="GET", request_headers=[("Host", "127.0.0.1")],
                                status=exchange["status"], response_headers=exchange["response_headers"],
                                body=exchange["body"], fetched_at="2026-11-30T02:00:00+00:00")
        offsets[name] = location.offset
    writer.close()
    return path, offsets


def _by_warcio(path: Path, offset: int):
    with open(path, "rb") as handle:
        handle.seek(offset)
        return _read_with_warcio(handle, "test")


@pytest.mark.parametrize("name", PLAIN)
def test_a_plain_record_is_read_directly_and_as_warcio_reads_it(warc, name):
    path, offsets = warc
    with open(path, "rb") as handle:
        handle.seek(offsets[name])
        direct = _read_plain_record(handle)
    assert direct is not None, "a record this module wrote must not need warcio"
    assert direct == _by_warcio(path, offsets[name]) == read_capture(path, offsets[name], PLAIN[name]["url"])
    assert direct.body == PLAIN[name]["body"]


@pytest.mark.parametrize("name", LEFT_TO_WARCIO)
def test_an_encoded_or_non_ascii_record_is_left_to_warcio(warc, name):
    path, offsets = warc
    with open(path, "rb") as handle:
        handle.seek(offsets[name])
        assert _read_plain_record(handle) is None
    stored = read_capture(path, offsets[name])
    assert stored == _by_warcio(path, offsets[name])
    if name == "gzip content-encoding":
        assert stored.body == PAGE  # the encoding undone, as before


def test_a_record_that_is_not_the_capture_s_is_refused(warc):
    path, offsets = warc
    with pytest.raises(CaptureMismatch, match="is http://127.0.0.1/a/t20240101_1.html, not"):
        read_capture(path, offsets["page"], "http://127.0.0.1/a/other.html")
    with pytest.raises(CaptureMismatch, match="no response record"):
        read_capture(path, 0)  # the warcinfo record
    for inside in range(1, 40):  # inside a gzip member: whatever warcio makes of the bytes there
        with pytest.raises(CaptureMismatch, match="no WARC record|no response record"):
            read_capture(path, offsets["page"] + inside)
