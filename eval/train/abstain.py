"""Abstaining as a calibrated probability: does the reader make the decision better?

``python -m eval.abstain --rows DIR`` writes each set's abstain signals, one row per question.
``python -m eval.train.abstain DIR`` fits a logistic regression of "the documents answer it"
on the quote's closeness and the reader's log-odds for the quote (clipped to
``±reader_clip``, a missing value at the clip's floor), over the rows of :data:`FIT_SETS`:
the articles held apart from the reader's training, asked in English and in German. It
prints

- the fitted probability's coefficients;
- each held-apart article's separation (``abstain_auc / abstain_recall@ar95``) by the
  closeness, the reader and a fit on the other articles (leave one article out);
- every set's separation by each, the fit made on the fit sets whole;
- the operating point: the highest threshold that answers ``ANSWER_RATE_FLOOR`` of the
  answerable questions of each fit set, and the answer rate and abstain recall it gives on
  every set, for the closeness and for the fit.

It measures; it changes nothing. A fit earns a place in :class:`~retriever.settings.Scoring`
only if its operating point beats the closeness's on the sets nothing was tuned on.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import ANSWER_RATE_FLOOR, abstain_curve
from eval.train.data import CALIBRATION_ARTICLES, TRAIN
from retriever.settings import DEFAULT_SCORING

__all__ = ["FIT_SETS", "Fit", "fit", "operating_point", "at", "articles", "main"]

#: The rows a probability is fitted on: the held-apart articles' questions, and 156 of them
#: asked in German (``eval.abstain``'s ``calib`` and ``calib-de``).
FIT_SETS = ("calib", "calib-de")

Score = Callable[[dict[str, Any]], "float | None"]


@dataclass(frozen=True)
class Fit:
    """``P(answerable) = σ(bias + closeness_weight · closeness + reader_weight · reader)``,
    the reader's log-odds clipped to ``±clip``; None where the question got no quote."""

    bias: float
    closeness_weight: float
    reader_weight: float
    clip: float

    def features(self, row: dict[str, Any]) -> tuple[float, float]:
        reader = row.get("reader_quote")
        reader = -self.clip if reader is None else max(-self.clip, min(self.clip, reader))
        return row["closeness"], reader

    def __call__(self, row: dict[str, Any]) -> float | None:
        if row.get("closeness") is None:
            return None
        closeness, reader = self.features(row)
        z = self.bias + self.closeness_weight * closeness + self.reader_weight * reader
        return 1.0 / (1.0 + math.exp(-z))


def fit(rows: Sequence[dict[str, Any]], clip: float = DEFAULT_SCORING.reader_clip) -> Fit:
    """The logistic regression (scikit-learn's, L2 with C=1) over the rows with a quote."""
    from sklearn.linear_model import LogisticRegression

    shape = Fit(0.0, 0.0, 0.0, clip)
    known = [r for r in rows if r.get("closeness") is not None]
    model = LogisticRegression(max_iter=1000).fit(
        [shape.features(r) for r in known], [bool(r["answers"]) for r in known]
    )
    (closeness, reader), bias = model.coef_[0], model.intercept_[0]
    return Fit(float(bias), float(closeness), float(reader), clip)


def closeness(row: dict[str, Any]) -> float | None:
    return row.get("closeness")


def separation(score: Score, rows: Sequence[dict[str, Any]]) -> str:
    curve = abstain_curve([{"answers": r["answers"], "quote_score": score(r)} for r in rows])
    auc, recall = curve["abstain_auc"], curve["abstain_recall@ar95"]
    return "—" if auc is None else f"{auc:.3f} / {recall or 0:.3f}"


def at(
    score: Score, threshold: float, rows: Sequence[dict[str, Any]]
) -> tuple[float, float | None]:
    """The answer rate on answerable ``rows`` and the share of unanswerable ones declined
    when answering iff ``score >= threshold`` (no score: declined)."""
    values = [(bool(r["answers"]), score(r)) for r in rows]
    answered = [v is not None and v >= threshold for _, v in values]
    yes = [a for (ok, _), a in zip(values, answered, strict=True) if ok]
    no = [not a for (ok, _), a in zip(values, answered, strict=True) if not ok]
    return sum(yes) / len(yes), (sum(no) / len(no) if no else None)


def operating_point(score: Score, sets: Sequence[Sequence[dict[str, Any]]]) -> float:
    """The highest threshold that answers ``ANSWER_RATE_FLOOR`` of each of ``sets``'
    answerable questions."""
    points = []
    for rows in sets:
        yes = sorted(v for r in rows if r["answers"] and (v := score(r)) is not None)
        needed = math.ceil(ANSWER_RATE_FLOOR * sum(bool(r["answers"]) for r in rows) - 1e-9)
        if needed > len(yes):
            return -math.inf
        points.append(yes[len(yes) - needed])
    return min(points)


def articles() -> dict[str, str]:
    """Each held-apart question's article, by id ({} where ``../shared/train`` is missing)."""
    path = TRAIN / "squad2.0-dev-part.json.gz"
    if not path.exists():
        return {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    return {
        q["id"]: a["title"]
        for a in data
        if a["title"] in CALIBRATION_ARTICLES
        for p in a["paragraphs"]
        for q in p["qas"]
    }


def _reader(clip: float) -> Score:
    def score(row: dict[str, Any]) -> float | None:
        if row.get("closeness") is None:
            return None
        return Fit(0.0, 0.0, 1.0, clip).features(row)[1]

    return score


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", type=Path, help="the folder of `python -m eval.abstain --rows`")
    args = parser.parse_args(argv)
    sets = {
        p.stem: [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines()]
        for p in sorted(args.rows.glob("*.jsonl"))
    }
    missing = [n for n in FIT_SETS if n not in sets]
    if missing:
        parser.error(f"{args.rows} holds no {', '.join(missing)}.jsonl; run python -m eval.abstain "
                     f"--sets {','.join(FIT_SETS)} --rows {args.rows}")  # fmt: skip
    fitted = [r for n in FIT_SETS for r in sets[n]]
    model, clip = fit(fitted), DEFAULT_SCORING.reader_clip
    scores = {"closeness": closeness, "reader": _reader(clip), "fit": model}
    print(f"P(answerable) = σ({model.bias:.3f} + {model.closeness_weight:.3f} · closeness + "
          f"{model.reader_weight:.3f} · reader log-odds clipped to ±{clip:g})")  # fmt: skip

    by_id = articles()
    if by_id:
        print("\nEach held-apart article, the fit made on the others (AUC / recall@ar95):\n")
        print("| article | set | questions | closeness | reader | fit |")
        print("| --- | --- | --- | --- | --- | --- |")
        for title in CALIBRATION_ARTICLES:
            held = fit([r for r in fitted if by_id.get(r["id"]) != title])
            for name in FIT_SETS:
                rows = [r for r in sets[name] if by_id.get(r["id"]) == title]
                cells = [separation(s, rows) for s in (closeness, scores["reader"], held)]
                print(f"| {title} | {name} | {len(rows)} | " + " | ".join(cells) + " |")

    print("\nEvery set (AUC / recall@ar95):\n")
    print("| set | questions | " + " | ".join(scores) + " |")
    print("| --- | --- |" + " --- |" * len(scores))
    for name, rows in sets.items():
        cells = [separation(s, rows) for s in scores.values()]
        print(f"| {name} | {len(rows)} | " + " | ".join(cells) + " |")

    print(f"\nThe operating point: the threshold that answers {ANSWER_RATE_FLOOR} of each fit "
          "set's answerable questions (answer rate / abstain recall):\n")  # fmt: skip
    print("| signal | threshold | " + " | ".join(sets) + " |")
    print("| --- | --- |" + " --- |" * len(sets))
    for label, score in (("closeness", closeness), ("fit", model)):
        threshold = operating_point(score, [sets[n] for n in FIT_SETS])
        cells = []
        for rows in sets.values():
            rate, recall = at(score, threshold, rows)
            cells.append(f"{rate:.3f} / " + ("—" if recall is None else f"{recall:.3f}"))
        print(f"| {label} | {threshold:.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
