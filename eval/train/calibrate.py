"""Fit the abstain decision, and tune the reader's settings, on articles held apart.

``python -m eval.train.calibrate --reader reader-e5-l6`` indexes the SQuAD 2.0 dev-part
articles that the reader never saw (``eval.train.data.CALIBRATION_ARTICLES``), asks every
question through the real answer path, and

1. measures the settings of the reader's stage (``--grid``: passages read, sentences read,
   the weight of the heuristic score) by quote@1 and hit@1 on the answerable questions;
2. fits a logistic model of "the documents answer" on the chosen quote's features, its
   figures measured article by article (fitted on three, measured on the fourth), and
   saves it as ``retriever/weights/<reader>/abstain.json``;
3. prints the threshold that answers 95 % of the answerable questions: the default of
   ``Scoring.min_score``.

Nothing here reads ``../shared/bench/``.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from eval.gold import fold, load_gold
from eval.runner import prepare_index
from eval.train.data import CALIBRATION_ARTICLES, TRAIN
from retriever.abstain import ABSTAIN_FILE, AbstainModel
from retriever.settings import DEFAULT_SCORING, Scoring

__all__ = ["FEATURES", "collect", "fit"]

#: What the abstain model reads (keys of a quote's features).
FEATURES = ("reader", "margin", "null", "closeness", "heuristic", "rank", "passages", "top_score")


def _calibration_gold(folder: Path) -> Path:
    with gzip.open(TRAIN / "squad2.0-dev-part.json.gz", "rt", encoding="utf-8") as f:
        data = json.load(f)
    data["data"] = [a for a in data["data"] if a["title"] in CALIBRATION_ARTICLES]
    path = folder / "calibration-squad2.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def collect(answerer: Any, items: list[Any]) -> list[dict[str, Any]]:
    """Each question through the answer path: its quote's features and whether it is right."""
    from retriever.answer import check_question

    rows = []
    for item in items:
        q = answerer.embed(check_question(item.question))
        found = answerer.search(q, max(10, answerer.scoring.reader_passages))
        hits = [(h.score, answerer.index.chunk(h.id)) for h in found]
        choice, hits = answerer.quote(q, hits)
        answers = [fold(a) for a in item.answers]
        row = {
            "article": str(item.extra.get("paragraph", "")).split("/")[0],
            "answerable": item.answerable,
            "quote_ok": bool(choice and any(a in fold(choice.text) for a in answers)),
            "hit1": bool(hits and any(a in fold(hits[0][1].text) for a in answers)),
            "features": dict(choice.features) if choice else {},
        }
        rows.append(row)
    return rows


def fit(rows: list[dict[str, Any]]) -> AbstainModel:
    """A logistic model of "answerable" on the quotes' features (standardised)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r["features"].get(f, 0.0) for f in FEATURES] for r in rows])
    y = np.array([r["answerable"] for r in rows])
    mean, scale = x.mean(0), x.std(0) + 1e-9
    model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y)
    return AbstainModel(
        FEATURES,
        tuple(float(c) for c in model.coef_[0]),
        float(model.intercept_[0]),
        tuple(float(m) for m in mean),
        tuple(float(s) for s in scale),
    )


def _figures(rows: list[dict[str, Any]], probs: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    y = np.array([r["answerable"] for r in rows])
    threshold = float(np.quantile(probs[y], 0.05))  # answers 95 % of the answerable
    return {
        "abstain_auc": round(float(roc_auc_score(y, probs)), 4),
        "abstain_recall@ar95": round(float(np.mean(probs[~y] < threshold)), 4),
        "min_score@ar95": round(threshold, 4),
        "questions": len(rows),
    }


def held_out_figures(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Figures of models fitted on all articles but one, measured on that one, pooled."""
    probs = np.zeros(len(rows))
    for article in sorted({r["article"] for r in rows}):
        train = [r for r in rows if r["article"] != article]
        model = fit(train)
        for i, r in enumerate(rows):
            if r["article"] == article:
                probs[i] = model.probability(r["features"])
    return _figures(rows, probs)


def _tune(
    answerer: Any, items: list[Any], grid: bool, sample: int
) -> tuple[Scoring, list[dict[str, Any]]]:
    """The reader's settings with the best quote@1 then hit@1 on the answerable questions
    (of every n-th question, ``sample`` in all, when a grid is tried), and every question's
    row under them."""
    base = answerer.scoring
    choices = [(base.reader_passages, base.heuristic_weight)]
    tried = items
    if grid:
        choices = list(itertools.product((2, 3, 4), (0.0, 0.5, 1.0, 2.0)))
        tried = items[:: max(1, len(items) // sample)]
    best: tuple[float, float] | None = None
    chosen, kept = base, []
    for passages, weight in choices:
        answerer.scoring = base.replace(reader_passages=passages, heuristic_weight=weight)
        rows = collect(answerer, tried)
        answerable = [r for r in rows if r["answerable"]]
        figure = (
            float(np.mean([r["quote_ok"] for r in answerable])),
            float(np.mean([r["hit1"] for r in answerable])),
        )
        print(f"passages {passages} heuristic {weight}: "
              f"quote@1 {figure[0]:.3f} hit@1 {figure[1]:.3f}", flush=True)  # fmt: skip
        if best is None or figure > best:
            best, chosen, kept = figure, answerer.scoring, rows
    answerer.scoring = chosen
    return chosen, kept if tried is items else collect(answerer, items)


def main() -> None:
    from eval.train.export import write_card
    from retriever.answer import Answerer
    from retriever.reader import CARD, WEIGHTS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reader", required=True, help="the reader's weights folder name")
    parser.add_argument("--grid", action="store_true", help="also tune the reader's settings")
    parser.add_argument("--cache", default="data/cache", help="where the index is built")
    parser.add_argument("--grid-questions", type=int, default=500,
                        help="questions each setting of the grid is tried on")  # fmt: skip
    parser.add_argument("--rows", help="also write each question's row (JSON Lines) here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gold = load_gold(_calibration_gold(Path(tmp)))
        index = prepare_index(gold, cache=Path(args.cache))
    scoring = DEFAULT_SCORING.replace(reader=args.reader, min_score=-1.0)
    answerer = Answerer.open(index, scoring=scoring)
    answerer.abstain = None
    chosen, rows = _tune(answerer, list(gold.items), args.grid, args.grid_questions)
    if args.rows:
        Path(args.rows).write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = fit(rows)
    figures = held_out_figures(rows)
    model = AbstainModel(model.features, model.coef, model.intercept, model.mean, model.scale,
                         {**figures, "articles": list(CALIBRATION_ARTICLES),
                          "settings": {k: getattr(chosen, k) for k in
                                       ("reader_passages", "heuristic_weight")}})  # fmt: skip
    model.save(WEIGHTS / args.reader / ABSTAIN_FILE)
    card = json.loads((WEIGHTS / args.reader / CARD).read_text(encoding="utf-8"))
    write_card(WEIGHTS / args.reader, {**card, "calibration": model.figures})
    print(json.dumps(model.figures, indent=1))


if __name__ == "__main__":
    main()
