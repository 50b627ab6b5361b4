"""How cost grows with the corpus: 10k, 100k and 1M chunks.

Embedding a million texts would take this machine hours, so the corpora are synthetic but
made of real parts: every chunk joins three real sentences (from the seeds and the SQuAD
paragraphs), and its vector in each space is the normalised sum of those sentences' real
embeddings (MiniLM and the cross-lingual model) plus Gaussian noise. The texts, the BM25
index and the vectors are therefore shaped like real ones, and the questions asked are the real gold
questions. Each size is generated deterministically and written with the same
``write_generation`` that ingest uses, with the index type ``auto`` chooses.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from eval.bench.common import (
    ROOT,
    SEEDS,
    SEEDS_GOLD,
    SQUAD_GOLD,
    PeakRss,
    rss_mb,
    stats_ms,
    timed,
)
from eval.gold import load_gold

__all__ = ["bench_scale", "bench_index_kinds", "scale_questions"]

CHUNKS_PER_DOC = 100
SENTENCES_PER_CHUNK = 3
NOISE = 0.03  # per dimension, on a sum of three unit vectors


def _base(work: Path, quick: bool = False) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Real sentences and their MiniLM and cross-lingual vectors (cached in ``work``).

    The seeds' and SQuAD paragraphs' sentences (only the seeds' when ``quick``).
    """
    from retriever.cross_lingual import DEFAULT_CROSS_LINGUAL_MODEL
    from retriever.language import detect_language
    from retriever.models import load_cross_lingual, load_encoder
    from retriever.sentences import sentence_spans

    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS.iterdir())]
    if SQUAD_GOLD.exists() and not quick:
        texts += [t for _, t in load_gold(SQUAD_GOLD).corpus]
    sentences = []
    for text in texts:
        lang = detect_language(text)
        for span in sentence_spans(text, lang):
            s = " ".join(text[span.start : span.end].split())
            if 30 <= len(s) <= 300:
                sentences.append(s)
    sentences = sorted(set(sentences))
    cache = work / f"sentences-{len(sentences)}-{DEFAULT_CROSS_LINGUAL_MODEL}.npz"
    if cache.exists():
        data = np.load(cache)
        return sentences, data["main"], data["cross_lingual"]
    main = load_encoder().encode(sentences)
    cross = load_cross_lingual(DEFAULT_CROSS_LINGUAL_MODEL).encode(sentences)
    work.mkdir(parents=True, exist_ok=True)
    np.savez(cache, main=main, cross_lingual=cross)
    return sentences, main, cross


def _vectors(base: np.ndarray, picks: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((len(picks), base.shape[1]), np.float32)
    for lo in range(0, len(picks), 65536):
        v = base[picks[lo : lo + 65536]].sum(1)
        v += rng.normal(0.0, NOISE, v.shape).astype(np.float32)
        out[lo : lo + 65536] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def build_corpus(
    work: Path, n: int, index_type: str = "auto", quick: bool = False, real_splitter: bool = False
) -> tuple[Path, float, dict[str, float]]:
    """Write the synthetic index of ``n`` chunks.

    Returns its folder, the build's seconds, and this process's resident memory (MiB)
    before the write (the corpus and vectors it is given) and at its peak during it.

    With ``real_splitter`` the index records ingest's splitter settings, so that real
    documents can be added to it (the ``upload`` part).
    """
    from ingest.split import DEFAULT_SPLITTER
    from retriever.cross_lingual import DEFAULT_CROSS_LINGUAL_MODEL
    from retriever.manifest import CHUNK_DTYPE, DocumentRecord
    from retriever.writer import write_generation

    sentences, main, cross = _base(work, quick)
    rng = np.random.default_rng(n)
    picks = rng.integers(0, len(sentences), (n, SENTENCES_PER_CHUNK))
    docs, texts = [], []
    chunks = np.zeros(n, CHUNK_DTYPE)
    for d, lo in enumerate(range(0, n, CHUNKS_PER_DOC)):
        parts, pos = [], 0
        for row in range(lo, min(n, lo + CHUNKS_PER_DOC)):
            text = " ".join(sentences[i] for i in picks[row])
            chunks[row]["start"], chunks[row]["end"] = pos, pos + len(text)
            parts.append(text)
            pos += len(text) + 2
        doc_text = "\n\n".join(parts)
        texts.append(doc_text)
        docs.append(
            DocumentRecord(
                f"doc{d:06d}.txt",
                f"Document {d}",
                "0" * 64,
                "text",
                "en",
                len(doc_text),
                0,
                0,
                0,
                len(parts),
            )  # fmt: skip
        )
    main_vecs = _vectors(main, picks, seed=1)
    cross_vecs = _vectors(cross, picks, seed=2)
    target = work / f"scale-{n}"
    shutil.rmtree(target, ignore_errors=True)
    before = rss_mb()
    with PeakRss() as peak:
        seconds, _ = timed(
            lambda: write_generation(
                target,
                model="all-MiniLM-L6-v2",
                splitter=DEFAULT_SPLITTER.to_dict() if real_splitter else {"synthetic": True},
                documents=docs,
                texts=texts,
                chunks=chunks,
                vectors=main_vecs,
                cross_lingual_model=DEFAULT_CROSS_LINGUAL_MODEL,
                cross_lingual_vectors=cross_vecs,
                index_type=index_type,
            )  # fmt: skip
        )
    return target, seconds, {"peak_mb": peak.mb, "before_mb": round(before, 1)}


def scale_questions(limit: int = 200) -> list[str]:
    questions = [i.question for i in load_gold(SEEDS_GOLD).items]
    if SQUAD_GOLD.exists():
        questions += [i.question for i in load_gold(SQUAD_GOLD).items]
    return questions[:limit]


def _recall(index_dir: Path, questions: list[str]) -> dict[str, float]:
    """recall@10 of the index's search against exact search, per vector space."""
    from retriever import Index, Space
    from retriever.cross_lingual import DEFAULT_CROSS_LINGUAL_MODEL
    from retriever.models import load_cross_lingual, load_encoder
    from retriever.vectors import recall_at

    index = Index.open(index_dir)
    out = {}
    cross = load_cross_lingual(DEFAULT_CROSS_LINGUAL_MODEL)
    for space, enc in ((Space.MAIN, load_encoder()), (Space.CROSS_LINGUAL, cross)):
        q = enc.encode(questions)
        found = index.search(q, 10, space)[1]
        exact = index.search_exact(q, 10, space)[1]
        out["main" if space is Space.MAIN else "cross_lingual"] = round(recall_at(found, exact), 4)
    return out


def _probe(index_dir: Path, questions: list[str], work: Path, cold_runs: int = 3) -> dict[str, Any]:
    """Cold start (the median of ``cold_runs`` new processes), then the warm figures."""
    qfile = work / "questions.json"
    qfile.write_text(json.dumps(questions), encoding="utf-8")
    command = [sys.executable, "-m", "eval.bench.probe", str(index_dir), str(qfile)]
    colds = [_first_answer(command + ["--first-only"])[0] for _ in range(cold_runs - 1)]
    cold, rest = _first_answer(command)
    colds.append(cold)
    return {
        "cold_start_s": round(float(np.median(colds)), 2),
        "cold_start_runs_s": [round(c, 2) for c in colds],
        **json.loads(rest),
        **serving_rss(index_dir, questions),
    }


def _first_answer(command: list[str]) -> tuple[float, str]:
    """Seconds from spawning the probe to its first answer, and what it printed after."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    cold = time.perf_counter() - t0
    rest = proc.stdout.read()
    if proc.wait() != 0 or first.strip() != "FIRST":
        raise RuntimeError(f"the probe failed ({proc.returncode}): {first}{rest}")
    return cold, rest


def serving_rss(index_dir: Path, questions: list[str]) -> dict[str, Any]:
    """Resident memory (MiB) of ``verbatim serve`` on ``index_dir`` once it has answered
    ``questions`` (``rss_mb``: the models, the web stack and the index pages that answering
    touched), and where it lies (``rss_parts_mb``: :func:`~eval.bench.common.resident_parts`)."""
    import httpx

    from eval.bench.common import resident_parts, rss_mb
    from eval.bench.http_load import served

    with served(index_dir) as (base, pid), httpx.Client(base_url=base, timeout=120) as client:
        for q in questions:
            client.get("/api/ask", params={"q": q})
        return {"rss_mb": rss_mb(pid), "rss_parts_mb": resident_parts(pid, index_dir)}


def _open_ms(index_dir: Path, repeats: int = 3) -> dict[str, float]:
    """Median ``Index.open`` time, trusting the stat cache and hashing every file.

    Opening checks each file against the manifest's sha256; the stat cache lets files
    unchanged since they were written skip the hashing (see ``retriever.index``).
    """
    import os

    from retriever import Index
    from retriever.durable import STAT_CACHE
    from retriever.generations import live_generation

    def median_open() -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            Index.open(index_dir)
            times.append((time.perf_counter() - t0) * 1000)
        return round(float(np.median(times)), 1)

    gen = index_dir / str(live_generation(index_dir))
    cached = median_open()
    aside = gen / f"{STAT_CACHE}.aside"
    os.rename(gen / STAT_CACHE, aside)
    try:
        full = median_open()
    finally:
        os.rename(aside, gen / STAT_CACHE)
    return {"stat_cache": cached, "hash_all": full}


def _size_mb(folder: Path) -> dict[str, float]:
    from retriever.generations import live_generation

    gen = folder / str(live_generation(folder))
    sizes: dict[str, float] = {}
    for p in gen.rglob("*"):
        if p.is_file():
            key = "lexical/" if p.parent.name == "lexical" else p.name
            sizes[key] = sizes.get(key, 0.0) + p.stat().st_size / 2**20
    sizes = {k: round(v, 1) for k, v in sorted(sizes.items())}
    sizes["total"] = round(sum(sizes.values()), 1)
    return sizes


def bench_scale(
    work: Path, sizes: list[int], quick: bool = False, keep: bool = False
) -> list[dict[str, Any]]:
    """Build, measure and (unless ``keep``) delete each synthetic index."""
    from retriever import Index

    questions = scale_questions(20 if quick else 200)
    out = []
    for n in sizes:
        index_dir, build_s, build_rss = build_corpus(work, n, quick=quick)
        manifest = Index.open(index_dir).manifest
        row: dict[str, Any] = {
            "chunks": n,
            "index_type": manifest.index_type,
            "spaces": manifest.spaces,
            "build_s": round(build_s, 1),
            "build_rss_mb": build_rss,
            "disk_mb": _size_mb(index_dir),
            "recall@10": _recall(index_dir, questions),
            "open_ms": _open_ms(index_dir),
        }
        row.update(_probe(index_dir, questions, work))
        out.append(row)
        if not keep:
            shutil.rmtree(index_dir, ignore_errors=True)
    return out


def bench_index_kinds(work: Path, n: int, quick: bool = False) -> list[dict[str, Any]]:
    """flat, IVF and HNSW over the same ``n`` synthetic MiniLM vectors: what ``auto`` uses."""
    from retriever.models import load_encoder
    from retriever.vectors import SpaceSpec, VectorSpace, recall_at, write_space

    sentences, main, _ = _base(work, quick)
    picks = np.random.default_rng(n).integers(0, len(sentences), (n, SENTENCES_PER_CHUNK))
    vectors = _vectors(main, picks, seed=1)
    q = load_encoder().encode(scale_questions(20 if quick else 200))
    exact = VectorSpace(vectors, SpaceSpec(), None).search(q, 10)[1]
    out = []
    for kind in ("flat", "ivf", "hnsw"):
        folder = work / f"kinds-{n}-{kind}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        build_s, spec = timed(lambda k=kind, f=folder: write_space(f, "v", vectors, k))
        space = VectorSpace.open(folder, "v", spec)
        times = []
        for row in q:
            t0 = time.perf_counter()
            space.search(row[None, :], 50)
            times.append((time.perf_counter() - t0) * 1000)
        found = space.search(q, 10)[1]
        faiss_mb = sum(p.stat().st_size for p in folder.glob("*.faiss")) / 2**20
        out.append({
            "kind": kind, "chunks": n, "spec": spec.to_dict(), "build_s": round(build_s, 1),
            "ann_mb": round(faiss_mb, 1), "recall@10": round(recall_at(found, exact), 4),
            "search_ms": stats_ms(times),
        })  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
    return out
