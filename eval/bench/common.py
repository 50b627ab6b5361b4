"""What every benchmark shares: medians of repeats, percentiles, the machine, corpora."""

from __future__ import annotations

import os
import platform
import socket
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.metrics import percentile

__all__ = [
    "ROOT",
    "SEEDS",
    "SEEDS_GOLD",
    "SQUAD_GOLD",
    "machine",
    "timed",
    "stats_ms",
    "free_port",
    "rss_mb",
]

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
SEEDS_GOLD = ROOT / "eval" / "gold" / "seeds.jsonl"
#: The shared SQuAD bench beside the repository (absent: the SQuAD figures are skipped).
SQUAD_GOLD = Path(
    os.environ.get("VERBATIM_SQUAD", ROOT.parent / "shared" / "bench" / "squad2-dev-3articles.json")
)


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model and versions: the context every figure needs."""
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds ``fn`` took, and what it returned."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def stats_ms(values_ms: list[float]) -> dict[str, float | int]:
    """p50 / p95 / mean (ms) and count of ``values_ms``."""
    if not values_ms:
        return {"n": 0}
    return {
        "n": len(values_ms),
        "p50": round(statistics.median(values_ms), 2),
        "p95": round(percentile(values_ms, 0.95), 2),
        "mean": round(statistics.fmean(values_ms), 2),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (default: this one), MiB."""
    import psutil

    return psutil.Process(pid or os.getpid()).memory_info().rss / 2**20


def resident_parts(pid: int, folder: Path) -> dict[str, float]:
    """Where a process's resident memory lies, MiB: ``anonymous`` (not backed by any file),
    each file under ``folder`` by its path there, and ``other files`` (libraries, models).

    Example:
        >>> resident_parts(os.getpid(), Path("data/index"))   # doctest: +SKIP
        {'anonymous': 655.2, 'vectors.faiss': 321.4, ..., 'other files': 150.3}
    """
    root = os.path.realpath(folder) + os.sep
    parts: dict[str, float] = {"anonymous": 0.0}
    name = None
    with open(f"/proc/{pid}/smaps", encoding="utf-8", errors="replace") as f:
        for line in f:
            head = line.split(maxsplit=5)
            if "-" in head[0] and not head[0].endswith(":"):  # a mapping's first line
                path = head[5].rstrip("\n") if len(head) > 5 else ""
                name = (
                    path[len(root) :] if path.startswith(root)
                    else "anonymous" if not path.startswith("/") else "other files"
                )  # fmt: skip
            elif head[0] == "Rss:" and name is not None:
                parts[name] = parts.get(name, 0.0) + int(head[1]) / 1024
    return {k: round(v, 1) for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if v >= 0.1}


class PeakRss:
    """The largest resident memory of this process while the block runs, MiB, sampled
    every 50 ms (what a step such as writing an index costs at its peak).

    Example:
        >>> with PeakRss() as peak:   # doctest: +SKIP
        ...     write_generation(...)
        >>> peak.mb                   # doctest: +SKIP
    """

    def __init__(self, every_s: float = 0.05) -> None:
        import threading

        self.every_s = every_s
        self.mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.mb = max(self.mb, rss_mb())
            if self._stop.wait(self.every_s):
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.mb = round(max(self.mb, rss_mb()), 1)
