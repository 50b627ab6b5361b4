"""Fusion of dense, cross-lingual and lexical search, chosen by measurement.

``python -m eval.fusion`` runs both gold sets (the seeds against ``--index``, SQuAD
against its own paragraphs) under each setting and prints the headline figures, overall
and for English questions answered in the German page.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from eval.runner import run_eval
from retriever.settings import DEFAULT_SCORING

#: (fusion, alpha, cross_lingual_weight); a weight of 0 ignores the cross-lingual encoder.
SETTINGS = [
    ("dense", 0.5, 0.0),
    ("convex", 0.5, 0.0),
    ("rrf", 0.5, 0.7),
    ("convex", 0.5, 0.5),
    ("convex", 0.5, 0.7),
    ("convex", 0.5, 0.9),
    ("convex", 0.7, 0.7),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", default="data/index", help="index of seeds/")
    parser.add_argument("--seeds-gold", default="eval/gold/seeds.jsonl")
    parser.add_argument("--squad", default="../shared/bench/squad2-dev-3articles.json")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="verbatim-fusion-"))
    print(
        f"{'set':6} {'fusion':7} {'alpha':>5} {'cross':>5} {'hit@1':>6} {'hit@5':>6} "
        f"{'quote@1':>7} {'en-de hit@1':>11} {'en-de quote@1':>13} {'p50 ms':>7}"
    )
    for name, gold, index in (("seeds", args.seeds_gold, args.index), ("squad", args.squad, None)):
        if not Path(gold).is_file():
            continue
        for fusion, alpha, cross in SETTINGS:
            scoring = DEFAULT_SCORING.replace(
                fusion=fusion, alpha=alpha, cross_lingual_weight=cross
            )
            m = run_eval(
                gold, out / f"{name}-{fusion}-{alpha}-{cross}", index=index, scoring=scoring
            ).metrics
            o = m["overall"]
            ende = m["by_kind"].get("en-de", {})
            h, q = ende.get("hit@1"), ende.get("quote@1")
            print(
                f"{name:6} {fusion:7} {alpha:5.1f} {cross:5.1f} {o['hit@1']:6.3f} "
                f"{o['hit@5']:6.3f} "
                f"{o['quote@1']:7.3f} {'—' if h is None else f'{h:.3f}':>11} "
                f"{'—' if q is None else f'{q:.3f}':>13} {o['latency_ms_p50']:7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
