"""Warm ``ask`` latency in process, the share of each stage, and the floor it is held to.

The floor of a question is what no answer can skip: embedding the question (both models)
and searching the index (vectors and BM25, fused). ``ask`` adds the quote. Round 1 asks
each question once with an empty sentence cache; later rounds repeat the questions.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from eval.bench.common import stats_ms
from eval.gold import load_gold
from retriever.search import rankings

__all__ = ["bench_query", "cold_start"]


def bench_query(index_dir: Path, gold_path: Path, rounds: int, limit: int | None) -> dict[str, Any]:
    """Latency figures of ``rounds`` passes over the gold questions against ``index_dir``."""
    from retriever import Answerer

    answerer = Answerer.open(index_dir)
    index = answerer.index
    questions = [item.question for item in load_gold(gold_path).items][:limit]
    answerer.ask(questions[0])  # loads what loads lazily; not part of any figure
    answerer = Answerer.open(index_dir)  # a fresh, empty sentence cache
    depth = answerer.scoring.depth
    k = max(5, answerer.scoring.quote_passages)
    stages: dict[str, list[float]] = {
        k: [] for k in ("encode", "vector_search", "lexical_search", "search", "floor")
    }
    ask_first: list[float] = []
    ask_all: list[float] = []
    quote: list[float] = []
    for r in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            question = answerer.embed(q)
            t1 = time.perf_counter()
            rankings(index, depth, question.vector, question.cross_lingual_vector)
            t2 = time.perf_counter()
            index.search_lexical(q, depth)
            t3 = time.perf_counter()
            answerer.search(question, k)
            t4 = time.perf_counter()
            stages["encode"].append((t1 - t0) * 1000)
            stages["vector_search"].append((t2 - t1) * 1000)
            stages["lexical_search"].append((t3 - t2) * 1000)
            stages["search"].append((t4 - t3) * 1000)
            stages["floor"].append((t1 - t0 + t4 - t3) * 1000)
            timing = answerer.ask(q).timing_ms
            (ask_first if r == 0 else ask_all).append(timing["total"])
            quote.append(timing["quote"])
    ask_all = ask_first + ask_all
    floor = stats_ms(stages["floor"])
    total_mean = sum(ask_all) / len(ask_all)
    enc = sum(stages["encode"]) / len(ask_all)
    vec = sum(stages["vector_search"]) / len(ask_all)
    lex = sum(stages["lexical_search"]) / len(ask_all)
    fused = sum(stages["search"]) / len(ask_all)
    quote_mean = sum(quote) / len(quote)
    return {
        "questions": len(questions),
        "rounds": rounds,
        "chunks": len(index),
        "ask_first_round_ms": stats_ms(ask_first),
        "ask_ms": stats_ms(ask_all),
        "floor_ms": floor,
        "p50_over_floor": round(stats_ms(ask_all)["p50"] / floor["p50"], 2),
        "p50_over_floor_first_round": round(stats_ms(ask_first)["p50"] / floor["p50"], 2),
        "stage_ms": {k: stats_ms(v) for k, v in stages.items()},
        "quote_ms": stats_ms(quote),
        # Shares of a mean ask; the search share splits into its vector and BM25 parts
        # and the fusion (candidate scores, languages, sorting) that remains.
        "share": {
            "encode": round(enc / total_mean, 3),
            "vector_search": round(vec / total_mean, 3),
            "lexical_search": round(lex / total_mean, 3),
            "fusion": round(max(0.0, fused - vec - lex) / total_mean, 3),
            "quote": round(quote_mean / total_mean, 3),
        },
    }


def cold_start(index_dir: Path, question: str, repeats: int) -> dict[str, Any]:
    """Seconds from starting ``verbatim ask`` to its answer, as it runs by default (the
    index's PyTorch model run on ONNX Runtime) and with ``--backend torch`` (the figure
    before), alternating which runs first; the medians and their ratio."""
    runs: dict[str, list[float]] = {"default": [], "torch": []}
    base = [sys.executable, "-m", "ui.cli", "ask", question, "--index", str(index_dir)]
    commands = {"default": base, "torch": [*base, "--backend", "torch"]}
    subprocess.run(commands["default"], capture_output=True, check=True)  # the ONNX export
    for r in range(repeats):
        for name in sorted(commands, reverse=bool(r % 2)):
            t0 = time.perf_counter()
            subprocess.run(commands[name], capture_output=True, check=True, timeout=600)
            runs[name].append(time.perf_counter() - t0)
    default, torch = (statistics.median(runs[k]) for k in ("default", "torch"))
    return {
        "repeats": repeats,
        "default_s": round(default, 2),
        "torch_s": round(torch, 2),
        "ratio": round(default / torch, 2),
    }
