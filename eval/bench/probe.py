"""A serving process in miniature, for the scale benchmark: ``python -m eval.bench.probe``.

Opens the index with its models, answers one question and prints ``FIRST`` (the parent
times the cold start from spawning this process to that line), then asks the questions
warm and prints one JSON line: ask, vector-search (both spaces side by side, as an answer
searches them) and BM25 latency, and the median of each stage of an ask (encode, search,
quote). ``--first-only`` stops after the first answer. The resident memory of a serving
process is measured on ``verbatim serve`` itself (:func:`eval.bench.scale.serving_rss`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("index")
    parser.add_argument("questions", help="JSON file: a list of question strings")
    parser.add_argument("--first-only", action="store_true", help="stop after the first answer")

    args = parser.parse_args()

    from retriever import Answerer

    questions = json.load(open(args.questions, encoding="utf-8"))
    answerer = Answerer.open(args.index)
    answerer.ask(questions[0])
    print("FIRST", flush=True)
    if args.first_only:
        return

    from eval.bench.common import stats_ms
    from retriever.search import rankings

    depth = answerer.scoring.depth
    asks, vector, lexical, bm25s_own = [], [], [], []
    words = getattr(answerer.index.lexical, "_bm25", None)  # a whole index's bm25s model
    stages: dict[str, list[float]] = {}
    for q in questions:
        timing = answerer.ask(q).timing_ms
        asks.append(timing["total"])
        for stage, ms in timing.items():
            stages.setdefault(stage, []).append(ms)
        question = answerer.embed(q)
        t0 = time.perf_counter()
        rankings(answerer.index, depth, question.vector, question.cross_lingual_vector)
        vector.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        answerer.index.search_lexical(q, depth)
        lexical.append((time.perf_counter() - t0) * 1000)
        tokens = answerer.index.lexical.query_tokens(q) if words is not None else []
        if tokens:  # the same sum by bm25s's own retrieve: the figure before
            t0 = time.perf_counter()
            k = min(depth, len(answerer.index))
            words.retrieve([tokens], k=k, show_progress=False, n_threads=1)
            bm25s_own.append((time.perf_counter() - t0) * 1000)
    json.dump(
        {
            "ask_ms": stats_ms(asks),
            "vector_search_ms": stats_ms(vector),
            "lexical_search_ms": stats_ms(lexical),
            **({"lexical_search_bm25s_ms": stats_ms(bm25s_own)} if bm25s_own else {}),
            "stage_p50_ms": {s: stats_ms(ms)["p50"] for s, ms in stages.items() if s != "total"},
        },
        sys.stdout,
    )
    print(flush=True)


if __name__ == "__main__":
    main()
