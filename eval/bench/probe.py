"""A serving process in miniature, for the scale benchmark: ``python -m eval.bench.probe``.

Opens the index with its models, answers one question and prints ``FIRST`` (the parent
times the cold start from spawning this process to that line), builds the web app as
``verbatim serve`` does, then asks the questions warm and prints one JSON line: ask and
vector-search latency and this process's resident memory.
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
    args = parser.parse_args()

    from retriever import Answerer

    questions = json.load(open(args.questions, encoding="utf-8"))
    answerer = Answerer.open(args.index)
    answerer.ask(questions[0])
    print("FIRST", flush=True)

    from eval.bench.common import rss_mb, stats_ms
    from retriever.encoder import encode_query
    from ui.app import build_app

    build_app(answerer)
    asks, vector = [], []
    for q in questions:
        asks.append(answerer.ask(q).timing_ms["total"])
        q_vec = answerer.encoder.encode([q])
        q_aux = encode_query(answerer.aux_encoder, q)[None, :] if answerer.aux_encoder else None
        t0 = time.perf_counter()
        answerer.index.search(q_vec, 50)
        if q_aux is not None:
            answerer.index.search(q_aux, 50, "aux")
        vector.append((time.perf_counter() - t0) * 1000)
    json.dump(
        {"ask_ms": stats_ms(asks), "vector_search_ms": stats_ms(vector), "rss_mb": rss_mb()},
        sys.stdout,
    )
    print(flush=True)


if __name__ == "__main__":
    main()
