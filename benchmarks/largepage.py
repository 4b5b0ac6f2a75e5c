"""One large bulletin page ingested: peak memory against the page's size (issue #14: a 50 MB page
took the writer to 1.7 GB, 35× its size).

Two archives are built without a crawl, each holding one capture (WARC record and ``captures``
row, ready) of a replica bulletin page: a page of the usual size, and the same bulletin's body
repeated until the page weighs :data:`PAGE_MIB` MiB. Each is ingested by ``python -m crawler
ingest`` in a child process whose peak RSS (``VmHWM``) is read; what the large page adds above
the small one, divided by its size, is the figure.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from archive.layout import ArchiveLayout
from archive.schema import open_archive
from archive.warc import WarcCaptureWriter
from benchmarks.common import Figure, mib, progress, run_child, verdict
from pipelines.dates import utc_now
from tests.replica.site import Site

#: Size of the large page; the one measured in benchmarks/README.md (6.3 M characters of body).
PAGE_MIB = 18
#: Target: the large page costs at most this many times its size above the small page's peak.
TARGET_MULTIPLE = 5.0
#: A UTF-8 family whose body is most of its page (about 3.4 bytes of page per character of body).
FAMILY = "hanweb"
HOST = "127.0.0.1:8999"


def bulletin_pages(page_mib: float = PAGE_MIB) -> tuple[tuple[str, str, bytes], tuple[str, str, bytes]]:
    """(URL, content type, page bytes) of a usual bulletin and of a large one made of its body repeated."""
    site = Site(HOST, per_family=1, families=[FAMILY])

    def page(truth: dict) -> tuple[str, str, bytes]:
        resource = site.resolve(urlsplit(truth["url"]).path)
        assert resource is not None
        return truth["url"], resource.content_type, resource.render()

    def repeated(times: int) -> tuple[str, str, bytes]:
        return page(site.add_bulletin(FAMILY, kind="meetings", attachments=[], blocks=blocks * times))

    small = site.add_bulletin(FAMILY, kind="meetings", attachments=[])
    blocks = list(site.doc_at(small["url"]).blocks)
    small_page, probe = page(small), repeated(11)
    per_repeat = (len(probe[2]) - len(small_page[2])) / 10
    return small_page, repeated(round((page_mib * 2 ** 20 - len(small_page[2])) / per_repeat) + 1)


def capture_archive(folder: Path, url: str, content_type: str, body: bytes) -> Path:
    """An archive holding one ready capture of ``url``, as a killed crawl leaves it."""
    layout = ArchiveLayout.of(folder / "archive.db")
    db = open_archive(layout.db)
    fetched_at = utc_now()
    db["crawl_runs"].insert({"id": 1, "started_at": fetched_at, "mode": "full", "outcome": "killed"})
    writer = WarcCaptureWriter(layout.captures / "archive-run-00001.warc.gz", software="benchmarks.largepage")
    location = writer.write(url, method="GET", request_headers=[("Host", HOST)], status=200,
                            response_headers=[("Content-Type", content_type)], body=body, fetched_at=fetched_at)
    writer.close()
    db.execute(
        "insert into captures (id, run_id, url, kind, status, fetched_at, content_type, warc_file, warc_offset,"
        " warc_length, payload_sha256, ingest_state) values (1, 1, ?, 'bulletin', 200, ?, ?, ?, ?, ?, ?, 'ready')",
        [url, fetched_at, content_type, location.warc_file, location.offset, location.length,
         location.payload_sha256])
    db.conn.commit()
    db.close()
    return layout.db


def ingest_peak(archive: Path) -> int:
    """Peak RSS of ``python -m crawler ingest`` of the archive (bytes); the one capture must be stored."""
    result = run_child(["-m", "crawler", "ingest", "--archive", str(archive)])
    if result.returncode != 0 or "new 1" not in result.stdout:
        raise RuntimeError(f"ingest failed ({result.returncode}): {result.stdout.strip()} {result.stderr[-2000:]}")
    return result.max_rss


def run(page_mib: float = PAGE_MIB) -> list[Figure]:
    progress(f"largepage: making a bulletin page of {page_mib} MiB")
    small, large = bulletin_pages(page_mib)
    scratch = Path(tempfile.mkdtemp(prefix="zwdc-largepage-"))
    try:
        archives = [capture_archive(scratch / name, *page) for name, page in (("small", small), ("large", large))]
        size = len(large[2])
        del small, large  # the benchmark process holds no page while the children run
        progress("largepage: ingesting the usual page, then the large one")
        baseline, peak = (ingest_peak(archive) for archive in archives)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    multiple = (peak - baseline) / size
    return [
        Figure("largepage", "python -m crawler ingest of one usual bulletin page: peak RSS", mib(baseline)),
        Figure("largepage", f"the same of one {mib(size)} bulletin page: peak RSS", mib(peak),
               f"usual page {mib(baseline)} + ≤ {TARGET_MULTIPLE:g}× the page"),
        Figure("largepage", "what the large page adds, as a multiple of its size",
               f"{multiple:.1f}× (+{mib(peak - baseline)})", f"≤ {TARGET_MULTIPLE:g}×",
               verdict(multiple <= TARGET_MULTIPLE)),
    ]
