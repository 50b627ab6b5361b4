"""One document uploaded into a large index: the delta write against a full one, asking
with a delta, and the background rebuild while questions go on.

The large index is the scale part's synthetic corpus (:func:`eval.bench.scale.build_corpus`,
with the ingest splitter's settings so that real documents can join it); the upload is a
real seed document, embedded by the real models, through ``ingest(..., keep_existing=True)``
as the web app's uploads are.
"""

from __future__ import annotations

import shutil
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from eval.bench.common import SEEDS, stats_ms
from eval.bench.scale import build_corpus, scale_questions

__all__ = ["bench_upload"]


def _inodes(generation: Path) -> set[int]:
    return {p.stat().st_ino for p in generation.rglob("*") if p.is_file()}


def _written_mb(generation: Path, before: set[int]) -> float:
    """Megabytes of a generation's files that were written for it: files linked from the
    generation before (inodes in ``before``) are not counted."""
    files = [p.stat() for p in generation.rglob("*") if p.is_file()]
    return round(sum(st.st_size for st in files if st.st_ino not in before) / 2**20, 1)


def _ask_ms(answerer: Any, questions: list[str]) -> dict[str, float]:
    times = []
    for q in questions:
        t = time.perf_counter()
        answerer.ask(q)
        times.append((time.perf_counter() - t) * 1000)
    return stats_ms(times)


def bench_upload(work: Path, n: int, quick: bool = False) -> dict[str, Any]:
    """Upload one seed document into a synthetic index of ``n`` chunks, both ways.

    Returns seconds and megabytes written for the delta and for a full write (each from
    the same starting index), ask latency before and with the delta, and the background
    rebuild's seconds with the questions answered (and failed) while it ran.
    """
    from ingest import ingest
    from ingest.compact import DeltaPolicy, compact
    from retriever import Answerer, Index
    from retriever.cross_lingual import DEFAULT_CROSS_LINGUAL_MODEL
    from retriever.models import load_cross_lingual, load_encoder

    questions = scale_questions(10 if quick else 40)
    doc = sorted(SEEDS.iterdir())[0]
    index_dir, build_s, _ = build_corpus(work, n, quick=quick, real_splitter=True)
    base = work / f"upload-base-{n}"
    shutil.rmtree(base, ignore_errors=True)
    shutil.copytree(index_dir, base)
    encoders = {
        "encoder": load_encoder(),
        "cross_lingual_encoder": load_cross_lingual(DEFAULT_CROSS_LINGUAL_MODEL, batches=True),
    }
    answerer = Answerer.open(index_dir)
    answerer.ask(questions[0])
    before = _ask_ms(answerer, questions)
    row: dict[str, Any] = {"chunks": n, "build_s": round(build_s, 1), "document": doc.name}
    # A quick run's small index counts as large.
    policy_delta = DeltaPolicy(min_base=min(n, DeltaPolicy().min_base))
    for way, policy in (("full", DeltaPolicy(min_base=10**12)), ("delta", policy_delta)):
        target = work / f"upload-{way}-{n}"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(base, target)
        before_inodes = _inodes(Index.open(target).generation)
        t = time.perf_counter()
        report = ingest([doc], target, keep_existing=True, delta=policy, **encoders)
        seconds = time.perf_counter() - t
        generation = Index.open(target).generation
        row[way] = {
            "seconds": round(seconds, 2),
            "written_mb": _written_mb(generation, before_inodes),
            "format": Index.open(target).manifest.format,
            "embedded": report.embedded,
        }
    target = work / f"upload-delta-{n}"
    with_delta = answerer.on(Index.open(target))
    with_delta.ask(questions[0])
    row["ask_before_ms"], row["ask_with_delta_ms"] = before, _ask_ms(with_delta, questions)
    row["rebuild"] = _rebuild_while_asking(target, with_delta, questions, compact)
    for folder in (base, work / f"upload-full-{n}", target, index_dir):
        shutil.rmtree(folder, ignore_errors=True)
    return row


def _rebuild_while_asking(
    target: Path, answerer: Any, questions: list[str], compact: Any
) -> dict[str, Any]:
    """Run the background rebuild in a thread and ask questions until it is done."""
    result: dict[str, Any] = {}

    def rebuild() -> None:
        t = time.perf_counter()
        result["swapped"] = compact(target)
        result["seconds"] = round(time.perf_counter() - t, 1)

    thread = threading.Thread(target=rebuild)
    thread.start()
    times, failed = [], 0
    while thread.is_alive():
        for q in questions:
            t = time.perf_counter()
            try:
                answerer.ask(q)
            except Exception:  # counted: the promise is that none fails
                failed += 1
            times.append((time.perf_counter() - t) * 1000)
            if not thread.is_alive():
                break
    thread.join()
    result.update(asked=len(times), failed=failed)
    result["ask_p50_ms"] = round(statistics.median(times), 1) if times else None
    return result
