"""The served app under load on 127.0.0.1: ``/api/ask`` and the Gradio ``ask`` endpoint.

Every run is bounded in requests and in seconds and stops by itself; the server is a
``verbatim serve`` subprocess on a free port, stopped at the end. The soak holds 32
clients for minutes and samples the server's resident memory each second.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from eval.bench.common import ROOT, free_port, rss_mb, stats_ms

__all__ = ["served", "load", "bench_http", "soak"]


@contextlib.contextmanager
def served(index_dir: Path, timeout: float = 180.0) -> Iterator[tuple[str, int]]:
    """Run ``verbatim serve`` on a free local port; yield ``(base_url, pid)``."""
    import httpx

    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "serve", "--index", str(index_dir),
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"the server exited with {proc.returncode}: {err[-2000:]}")
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within {timeout:.0f}s")
            time.sleep(0.3)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _ask_api(client: Any, base: str, q: str) -> bool:
    r = await client.get(f"{base}/api/ask", params={"q": q})
    return r.status_code == 200 and "answered" in r.json()


async def _ask_gradio(client: Any, base: str, q: str) -> bool:
    r = await client.post(f"{base}/gradio_api/call/ask", json={"data": [q, []]})
    if r.status_code != 200:
        return False
    event = r.json()["event_id"]
    r = await client.get(f"{base}/gradio_api/call/ask/{event}")
    return r.status_code == 200 and "event: complete" in r.text and "event: error" not in r.text


def load(
    base: str,
    questions: list[str],
    clients: int,
    *,
    endpoint: str = "api",
    max_requests: int,
    max_seconds: float,
    server_pid: int | None = None,
) -> dict[str, Any]:
    """``clients`` concurrent clients asking in turn until either bound is reached.

    Returns:
        Latency p50/p95 (ms), answers per second, errors, and the server's resident
        memory sampled each second (MiB) when ``server_pid`` is given.
    """
    import httpx

    ask = _ask_api if endpoint == "api" else _ask_gradio
    latencies: list[float] = []
    errors: list[str] = []
    memory: list[tuple[float, float]] = []

    async def run() -> float:
        sent = 0
        start = time.perf_counter()
        stop = start + max_seconds

        async def client_loop(c: int, client: httpx.AsyncClient) -> None:
            nonlocal sent
            while sent < max_requests and time.perf_counter() < stop:
                q = questions[(sent + c) % len(questions)]
                sent += 1
                t0 = time.perf_counter()
                try:
                    ok = await ask(client, base, q)
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    ok = False
                    errors.append(f"{exc.__class__.__name__}: {exc}")
                else:
                    if not ok:
                        errors.append(f"bad answer to {q!r}")
                if ok:
                    latencies.append((time.perf_counter() - t0) * 1000)

        async def sample() -> None:
            while True:
                memory.append((time.perf_counter() - start, rss_mb(server_pid)))
                await asyncio.sleep(1.0)

        limits = httpx.Limits(max_connections=clients + 4)
        timeout = httpx.Timeout(120.0)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            sampler = asyncio.create_task(sample()) if server_pid else None
            await asyncio.gather(*(client_loop(c, client) for c in range(clients)))
            if sampler:
                sampler.cancel()
        return time.perf_counter() - start

    seconds = asyncio.run(run())
    return {
        "endpoint": endpoint,
        "clients": clients,
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "error_examples": errors[:3],
        "seconds": round(seconds, 1),
        "answers_per_s": round(len(latencies) / seconds, 2),
        "latency_ms": stats_ms(latencies),
        "rss_mb": [(round(t, 1), round(m, 1)) for t, m in memory],
    }


def bench_http(index_dir: Path, questions: list[str], quick: bool) -> list[dict[str, Any]]:
    """1, 8 and 32 clients on each endpoint (1 and 8, a few requests, when quick)."""
    levels = (1, 8) if quick else (1, 8, 32)
    out = []
    with served(index_dir) as (base, pid):
        load(base, questions[:4], 2, max_requests=8, max_seconds=30)  # warm-up
        for endpoint in ("api", "gradio"):
            for clients in levels:
                result = load(
                    base, questions, clients, endpoint=endpoint,
                    max_requests=8 if quick else max(48, 4 * clients),
                    max_seconds=10 if quick else 45,
                )  # fmt: skip
                result.pop("rss_mb")
                out.append(result)
    return out


def soak(
    index_dir: Path, questions: list[str], *, clients: int, seconds: float, warmup: float
) -> dict[str, Any]:
    """Hold ``clients`` on ``/api/ask`` for ``seconds``; memory growth after ``warmup``.

    Returns:
        The load figures plus ``rss_after_warmup_mb``, ``rss_max_after_warmup_mb``,
        ``rss_end_mb`` and ``growth_mb`` (the largest sample after warm-up minus the
        sample at the end of it).
    """
    with served(index_dir) as (base, pid):
        result = load(
            base, questions, clients, max_requests=10**9, max_seconds=seconds, server_pid=pid
        )
    samples = result["rss_mb"]
    after = [m for t, m in samples if t >= warmup] or [samples[-1][1]]
    at_warmup = after[0]
    result.update(
        warmup_s=warmup,
        rss_after_warmup_mb=at_warmup,
        rss_max_after_warmup_mb=max(after),
        rss_end_mb=samples[-1][1],
        growth_mb=round(max(after) - at_warmup, 1),
    )
    return result
