"""Scaling out, measured: the local index against a Milvus store, and Ray ingest against
the plain one.

``milvus`` (10k and 100k chunks): the synthetic corpora of :mod:`eval.bench.scale` (real
sentences, their real vectors plus noise) written once into a local index and once into a
Milvus store on ``milvus-lite server`` (127.0.0.1; ``$VERBATIM_BENCH_MILVUS`` names another
server). Vectors are given, so the ingest rate is the store's own (embedding is the same for
both and measured by the ``ingest`` part); ``ask`` is the whole answer with the real models;
recall@10 is each store's search against exact search over the same vectors.

``ray``: the seeds and the SQuAD bench's paragraphs ingested into Milvus with the real
models, plainly and on a local Ray cluster of this machine's cores (one embedding actor):
the overhead ratio of Ray's run to the plain one, and the cluster's start apart.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench.common import SEEDS, SQUAD_GOLD, stats_ms, timed

__all__ = ["MILVUS_SIZES", "bench_milvus", "bench_ray"]

MILVUS_SIZES = [10_000, 100_000]
QUICK_MILVUS_SIZES = [2_000]
#: Questions timed whole (``ask``) at each size; recall is measured on all of them. Milvus
#: Lite's BM25 is plain Python (seconds per search at 10k chunks), so whole answers are
#: timed on the first few.
ASK_QUESTIONS = 40
QUICK_ASK_QUESTIONS = 10


def _server(work: Path) -> Any:
    """The Milvus server to measure: ``$VERBATIM_BENCH_MILVUS`` or a Lite one started here."""
    url = os.environ.get("VERBATIM_BENCH_MILVUS")
    if url:
        return nullcontext((url.rstrip("/"), None))
    from eval.bench.lite import lite_server

    shutil.rmtree(work / "milvus", ignore_errors=True)
    return lite_server(work / "milvus" / "data")


def _row_bytes(rows: list[dict[str, Any]], texts: list[str]) -> dict[str, float]:
    """Mean bytes per chunk of what a Milvus store holds, by part: the two vectors, the
    text, the BM25 words and sparse vector (4-byte index and 4-byte weight per distinct
    word), the scalars, and the chunk's share of the documents' texts."""
    n = len(rows)
    vectors = sum(r["main"].nbytes + r.get("cross_lingual", r["main"][:0]).nbytes for r in rows)
    words = sum(len(r.get("terms", "").encode()) for r in rows)
    sparse = sum(8 * len(set(r.get("terms", "").split())) for r in rows)
    scalars = sum(8 * 4 + len(r["source"].encode()) + len(r["sha"]) + len(r["lang"]) for r in rows)
    text = sum(len(r["text"].encode()) for r in rows)
    documents = sum(len(t.encode()) for t in texts)
    parts = {"vectors": vectors, "text": text, "bm25_words": words, "bm25_sparse": sparse,
             "scalars": scalars, "document_text": documents}  # fmt: skip
    return {name: round(total / n) for name, total in parts.items()}


def _write_store(index: Any, location: str) -> tuple[float, dict[str, float]]:
    """Write ``index``'s documents, texts and vectors into a new Milvus store: the seconds
    until it answers a first search, and the bytes per chunk (:func:`_row_bytes`)."""
    from retriever.milvus_rows import chunk_rows
    from retriever.milvus_schema import StoreMeta
    from retriever.milvus_store import MilvusStore
    from retriever.milvus_writer import MilvusWriter
    from retriever.store import Space

    meta = StoreMeta(
        model=index.model, dim=index.dim, splitter=index.splitter, backend=index.backend,
        cross_lingual_model=index.cross_lingual_model,
        cross_lingual_dim=index.manifest.cross_lingual_dim,
    )  # fmt: skip
    t0 = time.perf_counter()
    writer = MilvusWriter.open(location, meta)
    records = []
    for doc in index.documents:
        text = index.document_text(doc.source)
        sha = hashlib.sha256(text.encode()).hexdigest()  # synthetic records share one hash
        n = doc.chunk_end - doc.chunk_start
        size = len(text.encode())
        records.append(
            replace(doc, sha256=sha, chunk_start=0, chunk_end=n, byte_start=0, byte_end=size)
        )
    writer.begin((r.source, r.sha256) for r in records)
    sample: list[dict[str, Any]] = []
    texts: list[str] = []
    for doc, record in zip(index.documents, records, strict=True):
        rows = index.chunks[doc.chunk_start : doc.chunk_end]
        spans = list(zip(rows["start"].tolist(), rows["end"].tolist(), strict=True))
        main = index.vectors(doc.chunk_start, doc.chunk_end)
        cross = index.vectors(doc.chunk_start, doc.chunk_end, Space.CROSS_LINGUAL)
        text = index.document_text(doc.source)
        written = chunk_rows(record, text, spans, main, cross, meta.lexical)
        if len(sample) < 5_000:
            sample += written
            texts.append(text)
        writer.upsert_chunks(written)
        writer.put_text(record.source, record.sha256, text)
        writer.commit(record)
    writer.publish()
    store = MilvusStore.open(location)
    store.search(np.asarray(index.vectors(0, 1)), 10)  # indexes are built by now
    return time.perf_counter() - t0, _row_bytes(sample, texts)


def _ask(answerer: Any, questions: list[str]) -> dict[str, Any]:
    for q in questions[:3]:
        answerer.ask(q)  # warm: what loads lazily, first connections
    ask, search = [], []
    for q in questions:
        t0 = time.perf_counter()
        answer = answerer.ask(q)
        ask.append((time.perf_counter() - t0) * 1000)
        search.append(answer.timing_ms["search"])
    return {"ask_ms": stats_ms(ask), "search_ms": stats_ms(search)}


def _recall(index: Any, store: Any, questions: list[str], encoders: dict[Any, Any]) -> dict:
    """recall@10 per space of each store against exact search over the same vectors."""
    from retriever.milvus_schema import chunk_id
    from retriever.vectors import recall_at

    ids = np.empty(len(index), np.int64)  # local row → the Milvus store's id
    for doc in index.documents:
        text = index.document_text(doc.source)
        sha = hashlib.sha256(text.encode()).hexdigest()
        for row in range(doc.chunk_start, doc.chunk_end):
            r = index.chunks[row]
            ids[row] = chunk_id(sha, int(r["start"]), int(r["end"]))
    out: dict[str, dict[str, float]] = {"local": {}, "milvus": {}}
    for space, enc in encoders.items():
        q = enc.encode(questions)
        exact = index.search_exact(q, 10, space)[1]
        name = "main" if space.value == "main" else "cross_lingual"
        out["local"][name] = round(recall_at(index.search(q, 10, space)[1], exact), 4)
        out["milvus"][name] = round(recall_at(store.search(q, 10, space)[1], ids[exact]), 4)
    return out


def bench_milvus(
    work: Path, sizes: list[int] | None, quick: bool, log: Callable[[str], None] = print
) -> list[dict[str, Any]]:
    """Local index against a Milvus store at each size: ingest rate, ask p50/p95, recall."""
    from eval.bench.common import rss_mb
    from eval.bench.scale import build_corpus, scale_questions
    from retriever import Answerer, Index, Space
    from retriever.cross_lingual import DEFAULT_CROSS_LINGUAL_MODEL
    from retriever.milvus_store import MilvusStore
    from retriever.models import load_cross_lingual, load_encoder

    sizes = sizes or (QUICK_MILVUS_SIZES if quick else MILVUS_SIZES)
    questions = scale_questions(20 if quick else 200)
    main, cross = load_encoder(), load_cross_lingual(DEFAULT_CROSS_LINGUAL_MODEL)
    out = []
    with _server(work) as (url, pid):
        for n in sizes:
            folder, local_s, _ = build_corpus(work, n, quick=quick)
            index = Index.open(folder)
            milvus_s, row_bytes = _write_store(index, f"{url}/scale_{n}")
            log(f"milvus {n:,} chunks: written in {milvus_s:.0f} s (local {local_s:.0f} s)")
            store = MilvusStore.open(f"{url}/scale_{n}")
            timed_questions = questions[: QUICK_ASK_QUESTIONS if quick else ASK_QUESTIONS]
            row: dict[str, Any] = {
                "chunks": n, "questions": len(questions), "asked": len(timed_questions)
            }
            for name, s, seconds in (("local", index, local_s), ("milvus", store, milvus_s)):
                answerer = Answerer(s, main, cross_lingual_encoder=cross)
                row[name] = {
                    "ingest_s": round(seconds, 1),
                    "chunks_per_s": round(n / seconds),
                    **_ask(answerer, timed_questions),
                }
            log(f"milvus {n:,} chunks: asked {len(timed_questions)} questions on each store")
            spaces = {Space.MAIN: main, Space.CROSS_LINGUAL: cross}
            recall = _recall(index, store, questions, spaces)
            for name in ("local", "milvus"):
                row[name]["recall@10"] = recall[name]
            row["milvus"]["index"] = store.meta.index_type
            row["milvus"]["row_bytes"] = row_bytes
            if pid is not None:
                row["milvus"]["server_rss_mb"] = round(rss_mb(pid))
                data = work / "milvus" / "data"
                size = sum(p.stat().st_size for p in data.rglob("*") if p.is_file())
                row["milvus"]["server_disk_mb"] = round(size / 2**20, 1)
            out.append(row)
            shutil.rmtree(folder, ignore_errors=True)
    return out


def bench_ray(work: Path, quick: bool) -> dict[str, Any]:
    """Plain ingest against Ray ingest of the same documents into Milvus (real models)."""
    import ray

    from eval.gold import load_gold, write_squad_corpus
    from ingest.distributed import ingest_distributed, start_ray
    from ingest.milvus_ingest import ingest_milvus
    from retriever.cross_lingual import DEFAULT_CROSS_LINGUAL_MODEL
    from retriever.models import load_cross_lingual, load_encoder

    corpus = work / "ray-corpus"
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.copytree(SEEDS, corpus / "seeds")
    if SQUAD_GOLD.exists() and not quick:
        write_squad_corpus(load_gold(SQUAD_GOLD), corpus / "squad")
    load_encoder(), load_cross_lingual(DEFAULT_CROSS_LINGUAL_MODEL)  # loaded before the clock
    with _server(work) as (url, _pid):
        plain_s, plain = timed(lambda: ingest_milvus([corpus], f"{url}/plain"))
        cpus = os.cpu_count() or 2
        init_s, _ = timed(lambda: start_ray("local", num_cpus=cpus))
        try:
            ray_s, on_ray = timed(lambda: ingest_distributed([corpus], f"{url}/ray", actors=1))
        finally:
            ray.shutdown()
    assert on_ray.chunks == plain.chunks, (on_ray.summary(), plain.summary())
    return {
        "documents": len(plain.added), "chunks": plain.chunks, "cores": cpus, "actors": 1,
        "plain_s": round(plain_s, 1), "ray_s": round(ray_s, 1), "ray_init_s": round(init_s, 1),
        "plain_chunks_per_s": round(plain.chunks / plain_s, 1),
        "ray_chunks_per_s": round(on_ray.chunks / ray_s, 1),
        "overhead": round(ray_s / plain_s, 2),
    }  # fmt: skip
