"""A run's figures on the articles training never saw, beside those on the ones it did.

XQuAD's 48 articles are SQuAD 1.1 development articles, and the 12 SQuAD 2.0 development
articles of ``../shared/train/`` are among them: the reader was trained on 8 of them (in
English) and its abstain model calibrated on 4. So an XQuAD run is split here by whether
a question's article is one of those 12; the unseen part is the honest figure.

``python -m eval.unseen RUN...`` prints, for each run folder of ``verbatim eval``, the
headline metrics overall, on the unseen articles and on the seen ones.
"""

from __future__ import annotations

import argparse
import gzip
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from eval.metrics import abstain_curve, score
from eval.train.data import TRAIN

__all__ = ["seen_articles", "split"]

HEADLINE = ("n", "hit@1", "quote@1", "answer_rate", "abstain_auc", "abstain_recall@ar95")


@lru_cache(maxsize=1)
def seen_articles() -> frozenset[str]:
    """The titles of the articles of ``../shared/train/`` (training and calibration)."""
    titles = set()
    for name in ("squad2.0-dev-part.json.gz", "squad1.1-train.json.gz"):
        with gzip.open(TRAIN / name, "rt", encoding="utf-8") as f:
            titles |= {a["title"] for a in json.load(f)["data"]}
    return frozenset(titles)


def _article(row: dict[str, Any]) -> str:
    source = row.get("source") or ""
    return source.rsplit(".", 1)[0] if source.endswith(".txt") else source.split("/")[0]


def split(
    rows: list[dict[str, Any]], seen: frozenset[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Headline metrics of ``rows`` (``results.jsonl`` lines): all, on the articles not in
    ``seen`` (default: :func:`seen_articles`) and on those in it."""
    seen = seen_articles() if seen is None else seen
    parts = {
        "all": rows,
        "unseen": [r for r in rows if _article(r) not in seen],
        "seen": [r for r in rows if _article(r) in seen],
    }
    out = {}
    for name, part in parts.items():
        if not part:
            continue
        figures = {**score(part), **abstain_curve(part)}
        out[name] = {k: figures.get(k) for k in HEADLINE}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders of verbatim eval")
    args = parser.parse_args()
    for run in args.runs:
        rows = [json.loads(x) for x in (run / "results.jsonl").read_text().splitlines()]
        print(run)
        for name, figures in split(rows).items():
            cells = "  ".join(
                f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in figures.items()
                if v is not None
            )
            print(f"  {name:7} {cells}")


if __name__ == "__main__":
    main()
