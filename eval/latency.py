"""Start-up and query latency of one index: ``python -m eval.latency [--index DIR]``.

Prints the time to open the index and load the model (cold start), the first answer
after that, and the median and 95th percentile of warm ``ask`` over the gold questions,
with the share of each stage. Timings vary between runs on a busy machine; compare
figures from one run with each other.
"""

from __future__ import annotations

import argparse
import statistics
import time

from eval.gold import load_gold
from eval.metrics import percentile
from retriever import Answerer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", default="data/index")
    parser.add_argument("--gold", default="eval/gold/seeds.jsonl")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    args = parser.parse_args()

    t0 = time.perf_counter()
    answerer = Answerer.open(args.index)
    t_open = time.perf_counter()
    questions = [item.question for item in load_gold(args.gold).items]
    answerer.ask(questions[0])
    t_first = time.perf_counter()
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for q in questions:
            timing = answerer.ask(q).timing_ms
            totals.append(timing["total"])
            for k, v in timing.items():
                stages.setdefault(k, []).append(v)
    print(f"open index + load model: {(t_open - t0) * 1000:8.1f} ms")
    print(f"first answer after that: {(t_first - t_open) * 1000:8.1f} ms")
    print(
        f"warm ask, {len(totals)} questions: p50 {statistics.median(totals):.1f} ms, "
        f"p95 {percentile(totals, 0.95):.1f} ms"
    )
    total = sum(stages["total"])
    for k, v in stages.items():
        if k != "total":
            share = sum(v) / total
            print(f"  {k:8} p50 {statistics.median(v):6.1f} ms  ({share:5.1%} of the time)")


if __name__ == "__main__":
    main()
