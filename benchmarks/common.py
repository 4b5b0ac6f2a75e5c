"""What every benchmark shares: figures, statistics, progress, child processes, the machine."""
from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Generated data that reruns reuse (gitignored); see benchmarks/README.md.
CACHE = REPO / "benchmarks" / ".cache"
PYTHON = sys.executable
_STARTED = time.perf_counter()


@dataclass(frozen=True)
class Figure:
    """One line of the results table: a measured value beside its reference or target."""

    benchmark: str
    name: str
    value: str
    reference: str = ""
    verdict: str = ""  # "met", "MISSED" or "" (informative)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def progress(message: str) -> None:
    """A progress line on stderr with the time since the benchmarks started."""
    print(f"[{time.perf_counter() - _STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (linear interpolation between closest ranks)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * pct / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def mib(size_bytes: float) -> str:
    return f"{size_bytes / 2 ** 20:,.1f} MiB"


def rss_bytes() -> int:
    """Resident set size of this process now (``VmRSS``)."""
    return _status_kib("self", "VmRSS") * 1024


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (``VmHWM``)."""
    return _status_kib("self", "VmHWM") * 1024


def _status_kib(pid: str, field: str) -> int:
    """A ``kB`` field of ``/proc/PID/status``; 0 once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith(field + ":")), 0)


@dataclass(frozen=True)
class ProcessUse:
    """What one process of a child's tree used: its name (``comm``), CPU seconds, peak RSS."""

    name: str
    cpu: float
    peak_rss: int


@dataclass(frozen=True)
class ChildRun:
    """A finished child process: exit code, wall and CPU time (``wait4``), peak RSS, output.

    The peak RSS is the child's ``VmHWM``, polled every 10 ms until it exits: ``ru_maxrss`` of a
    forked child starts from the parent's RSS, so it would report this process's size instead.
    ``processes`` are the child and its descendants (a browser, say), each as last seen
    by the same polling; ``cpu`` from ``wait4`` includes the descendants the child waited for.
    """

    returncode: int
    wall: float
    cpu: float
    max_rss: int
    stdout: str
    stderr: str
    processes: tuple[ProcessUse, ...] = ()


_TICKS = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants, as far as /proc still shows them."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def _use(pid: int) -> ProcessUse | None:
    """The process's name, CPU time and peak RSS now; None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    name, fields = stat[stat.index("(") + 1: stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime
    return ProcessUse(name, cpu, _status_kib(str(pid), "VmHWM") * 1024)


def run_child(argv: Sequence[str], timeout: float = 1800) -> ChildRun:
    """Run ``python ARGV`` from the repository, timing it and polling its tree's use."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out_path, err_path = CACHE / f".child-{os.getpid()}.out", CACHE / f".child-{os.getpid()}.err"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w+", encoding="utf-8") as out, open(err_path, "w+", encoding="utf-8") as err:
        started = time.perf_counter()
        child = subprocess.Popen([PYTHON, *argv], cwd=REPO, env=env, stdout=out, stderr=err)
        deadline = started + timeout
        seen: dict[int, ProcessUse] = {}
        while True:
            for pid in _tree(child.pid):
                use, before = _use(pid), seen.get(pid)
                if use is not None:  # a process read as it exits shows zeros: keep the maxima
                    seen[pid] = use if before is None else ProcessUse(
                        use.name, max(use.cpu, before.cpu), max(use.peak_rss, before.peak_rss))
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                child.kill()
                _, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen consistent
        out.seek(0)
        err.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        own = seen.get(child.pid)
        processes = tuple(use for use in seen.values() if use.cpu >= 0.05)  # not the resource tracker
        result = ChildRun(child.returncode, wall, cpu, own.peak_rss if own else 0, out.read(), err.read(),
                          processes)
    out_path.unlink(missing_ok=True)
    err_path.unlink(missing_ok=True)
    return result


def machine() -> dict[str, str]:
    """Date, cores, CPU model, memory and versions, for the results header."""
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor() or "unknown")
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    return {
        "date": datetime.now().astimezone().isoformat(timespec="minutes"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "memory": f"{mem_kib / 2 ** 20:.1f} GiB",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "scrapy": version("Scrapy"),
        "sqlite-utils": version("sqlite-utils"),
    }


def results_table(figures: Sequence[Figure]) -> str:
    """The figures as a Markdown table."""
    lines = ["| benchmark | figure | value | reference / target | verdict |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| {f.benchmark} | {f.name} | {f.value} | {f.reference} | {f.verdict} |" for f in figures]
    return "\n".join(lines)
