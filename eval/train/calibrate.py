"""Tune how much the reader weighs in the quote, on articles held apart from its training.

``python -m eval.train.calibrate --reader reader-e5`` indexes the SQuAD 2.0 dev-part articles
that the reader never saw (``eval.train.data.CALIBRATION_ARTICLES``), asks every answerable
question through the real answer path under each setting of the grid (``reader_weight``
by ``reader_margin``), and measures quote@1 and hit@1 with no abstaining. The best setting
and its figures, beside those without a reader, go into the reader's card under
``tuning``; the defaults of :class:`~retriever.settings.Scoring` are set from it by hand.

Each question's passages are read once (the reader's answers are remembered across
settings), so the grid costs one pass of the reader. Nothing here reads ``../shared/bench/``.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.ablate import Remembering, figures
from eval.gold import load_gold
from eval.runner import prepare_index
from eval.train.data import CALIBRATION_ARTICLES, TRAIN
from retriever.settings import DEFAULT_SCORING

__all__ = ["tune"]

WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5)
MARGINS = (0.02, 0.05, 0.1, 1e9)


def _calibration_gold(folder: Path) -> Path:
    with gzip.open(TRAIN / "squad2.0-dev-part.json.gz", "rt", encoding="utf-8") as f:
        data = json.load(f)
    data["data"] = [a for a in data["data"] if a["title"] in CALIBRATION_ARTICLES]
    path = folder / "calibration-squad2.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def tune(answerer: Any, items: Sequence[Any]) -> dict[str, Any]:
    """The grid's best setting by quote@1 then hit@1 (ties: the lighter weight and the
    smaller margin, which reads less), with the figures of each and of no reader."""
    reader, base = answerer.reader, answerer.scoring.replace(min_score=-1.0)
    answerer.reader, answerer.scoring = None, base
    plain = figures(answerer, items)
    answerer.reader = Remembering(reader)
    tried = []
    for weight, margin in itertools.product(WEIGHTS, MARGINS):
        answerer.scoring = base.replace(reader_weight=weight, reader_margin=margin)
        row = {"reader_weight": weight, "reader_margin": margin, **figures(answerer, items)}
        print(json.dumps(row), flush=True)
        tried.append(row)
    best = max(tried, key=lambda r: (r["quote@1"], r["hit@1"], -r["reader_weight"],
                                     -r["reader_margin"]))  # fmt: skip
    answerer.reader = reader
    return {"without_reader": plain, "best": best, "grid": tried, "questions": len(items),
            "articles": list(CALIBRATION_ARTICLES)}  # fmt: skip


def main() -> None:
    from eval.train.export import write_card
    from retriever.answer import Answerer
    from retriever.reader import CARD, WEIGHTS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reader", required=True, help="the reader's weights folder name")
    parser.add_argument("--cache", default="data/cache", help="where the index is built")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gold = load_gold(_calibration_gold(Path(tmp)))
        index = prepare_index(gold, cache=Path(args.cache))
    answerer = Answerer.open(index, scoring=DEFAULT_SCORING.replace(reader=args.reader))
    tuning = tune(answerer, [item for item in gold.items if item.answerable])
    card = json.loads((WEIGHTS / args.reader / CARD).read_text(encoding="utf-8"))
    card.pop("calibration", None)
    write_card(WEIGHTS / args.reader, {**card, "tuning": tuning})
    print(json.dumps({k: tuning[k] for k in ("without_reader", "best")}, indent=1))


if __name__ == "__main__":
    main()
