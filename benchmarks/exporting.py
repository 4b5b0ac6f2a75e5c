"""Export of the synthetic archive to CSV, JSON Lines and Parquet: rows/s and peak memory.

Each format is exported in a child process of its own (``python -m benchmarks.exporting FMT DB
OUT``), so memory figures are the export's alone: the child opens the archive, notes its RSS,
exports with :func:`archive.export.export_table` (timed), notes its peak RSS (``VmHWM``), then
exports again under ``tracemalloc`` (slower, not timed) for the peak of Python allocations, and
prints the figures as JSON. A streaming export keeps both flat however many rows there are.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from benchmarks.common import Figure, mib, peak_rss_bytes, progress, rss_bytes, run_child, verdict
from benchmarks.synthetic import synthetic_archive, warm_page_cache

#: "Bounded" means: the export's own memory stays under this, whatever the table's size.
MEMORY_BOUND = 256 * 2 ** 20
FORMATS = ("csv", "jsonl", "parquet")


def measure(fmt: str, archive: Path, output: Path, trace: bool = True) -> dict[str, float]:
    """Export ``archive``'s bulletins to ``output`` (in this process) and measure it."""
    from archive.export import export_table
    from archive.schema import open_archive

    db = open_archive(archive, create=False)
    if fmt == "parquet":
        import pyarrow  # noqa: F401 - imported before the baseline, as the CSV writer's modules are

    before = rss_bytes()
    started = time.perf_counter()
    result = export_table(db, fmt, output)
    figures = {"rows": result.rows, "seconds": time.perf_counter() - started,
               "rss_growth": peak_rss_bytes() - before, "bytes": output.stat().st_size}
    if fmt == "parquet":
        import pyarrow

        figures["arrow_peak"] = pyarrow.default_memory_pool().max_memory() or 0
    output.unlink()
    if trace:
        tracemalloc.start()
        export_table(db, fmt, output)
        figures["traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        output.unlink()
    db.close()
    return figures


def run(rows: int = 100_000, trace: bool = True) -> list[Figure]:
    """Export all ``rows`` bulletins in every format; ``trace`` adds the tracemalloc pass."""
    from archive.export import DEFAULT_BATCH_ROWS

    path, _info = synthetic_archive(rows)
    warm_page_cache(path)
    scratch = Path(tempfile.mkdtemp(prefix="zwdc-export-"))
    figures = []
    try:
        for fmt in FORMATS:
            progress(f"export: {rows:,} rows to {fmt}" + (" (twice: timed, then under tracemalloc)" if trace else ""))
            child = run_child(["-m", "benchmarks.exporting", fmt, str(path), str(scratch / f"bulletins.{fmt}"),
                               "trace" if trace else "no-trace"])
            if child.returncode != 0:
                raise RuntimeError(f"export to {fmt} failed: {child.stderr.strip()[-2000:]}")
            m = json.loads(child.stdout.strip().splitlines()[-1])
            memory = [f"RSS growth {mib(m['rss_growth'])}"]
            if "traced_peak" in m:
                memory.insert(0, f"tracemalloc peak {mib(m['traced_peak'])}")
            if "arrow_peak" in m:
                memory.append(f"Arrow pool peak {mib(m['arrow_peak'])}")
            worst = max(m["rss_growth"], m.get("traced_peak", 0))
            figures += [
                Figure("export", f"{fmt}: {m['rows']:,} rows ({mib(m['bytes'])} file)",
                       f"{m['rows'] / m['seconds']:,.0f} rows/s", f"{m['seconds']:.1f} s"),
                Figure("export", f"{fmt}: memory (batches of {DEFAULT_BATCH_ROWS:,} rows; process peak "
                                 f"{mib(child.max_rss)})",
                       ", ".join(memory), f"bounded: ≤ {mib(MEMORY_BOUND)}", verdict(worst <= MEMORY_BOUND)),
            ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return figures


if __name__ == "__main__":
    fmt_, archive_, output_, trace_ = sys.argv[1:5]
    print(json.dumps(measure(fmt_, Path(archive_), Path(output_), trace_ == "trace")))
