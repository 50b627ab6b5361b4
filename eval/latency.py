"""Start-up and query latency of one index: ``python -m eval.latency [--index DIR]``.

Prints the time to open the index and load the model (cold start), the first answer
after that, and the median and 95th percentile of warm ``ask`` over the gold questions,
with the share of each stage. Timings vary between runs on a busy machine; compare
figures from one run with each other: ``--scoring A.json B.json`` measures the defaults
and each of those settings (e.g. ``{"reader": ""}``, no reader) in the same run, round by
round in turn, and their p50 against the defaults'.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from eval.gold import load_gold
from eval.metrics import percentile
from retriever import Answerer
from retriever.settings import DEFAULT_SCORING, Scoring


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", default="data/index")
    parser.add_argument("--gold", default="eval/gold/seeds.jsonl")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    parser.add_argument(
        "--scoring", type=Path, nargs="+", default=[],
        help="also measure these settings (JSON objects of Scoring fields) in the same run",
    )  # fmt: skip
    args = parser.parse_args(argv)
    settings = {"defaults": DEFAULT_SCORING} | {p.stem: Scoring.load(p) for p in args.scoring}

    t0 = time.perf_counter()
    answerer = Answerer.open(args.index)
    t_open = time.perf_counter()
    questions = [item.question for item in load_gold(args.gold).items]
    answerer.ask(questions[0])
    t_first = time.perf_counter()
    print(f"open index + load model: {(t_open - t0) * 1000:8.1f} ms")
    print(f"first answer after that: {(t_first - t_open) * 1000:8.1f} ms")

    answerers = {
        name: answerer if name == "defaults" else Answerer(
            answerer.index, answerer.encoder, scoring=scoring,
            cross_lingual_encoder=answerer.cross_lingual_encoder,
        )
        for name, scoring in settings.items()
    }  # fmt: skip
    for other in answerers.values():
        other.ask(questions[0])  # its reader loaded
    stages: dict[str, dict[str, list[float]]] = {name: {} for name in settings}
    for _ in range(args.rounds):
        for name, each in answerers.items():
            for q in questions:
                for k, v in each.ask(q).timing_ms.items():
                    stages[name].setdefault(k, []).append(v)
    base = statistics.median(stages["defaults"]["total"])
    for name, times in stages.items():
        totals = times["total"]
        p50 = statistics.median(totals)
        against = "" if name == "defaults" else f", {p50 / base:.2f}× the defaults'"
        print(f"{name}: warm ask, {len(totals)} questions: p50 {p50:.1f} ms, "
              f"p95 {percentile(totals, 0.95):.1f} ms{against}")  # fmt: skip
        total = sum(totals)
        for k, v in times.items():
            if k != "total":
                share = sum(v) / total
                print(f"  {k:8} p50 {statistics.median(v):6.1f} ms  ({share:5.1%} of the time)")


if __name__ == "__main__":
    main()
