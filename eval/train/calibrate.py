"""Tune how much the reader weighs in the quote, on articles held apart from its training.

``python -m eval.train.calibrate --reader reader-e5`` indexes the SQuAD 2.0 dev-part articles
that the reader never saw (``eval.train.data.CALIBRATION_ARTICLES``), asks every answerable
question through the real answer path under each setting of the grid (``reader_weight``
by ``reader_margin``, then ``reader_reach``), and measures quote@1 and hit@1 with no
abstaining. The best setting and its figures, beside those without a reader, go into the
reader's card under ``tuning`` (``--german``: the same grid on 116 of those questions asked
in German, printed only); the defaults of :class:`~retriever.settings.Scoring` are
set from it by hand.

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

__all__ = ["GERMAN_QUESTIONS", "calibration_gold", "tune"]

WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5)
MARGINS = (0.02, 0.05, 0.1, 1e9)
REACHES = (0.1, 0.2, 0.3)


#: German translations (by hand) of 156 questions of the calibration articles, 116 answerable
#: and 40 not, one ``{"id", "question"}`` per line: the same questions asked across languages.
GERMAN_QUESTIONS = Path(__file__).with_name("calib-de.jsonl")


def calibration_gold(folder: Path, questions: Path | None = None) -> Path:
    """The calibration articles as a SQuAD 2.0 gold file in ``folder``. With ``questions``
    (``{"id", "question"}`` lines, e.g. :data:`GERMAN_QUESTIONS`), just those questions,
    asked in those words."""
    with gzip.open(TRAIN / "squad2.0-dev-part.json.gz", "rt", encoding="utf-8") as f:
        data = json.load(f)
    data["data"] = [a for a in data["data"] if a["title"] in CALIBRATION_ARTICLES]
    name = "calibration-squad2.json"
    if questions is not None:
        asked = {}
        for line in questions.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            asked[row["id"]] = row["question"]
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                paragraph["qas"] = [
                    {**q, "question": asked[q["id"]]} for q in paragraph["qas"] if q["id"] in asked
                ]
        name = f"calibration-squad2-{questions.stem}.json"
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def tune(answerer: Any, items: Sequence[Any]) -> dict[str, Any]:
    """The grid's best setting by quote@1 then hit@1, with the figures of each and of no
    reader: weight by margin (reading every passage), then the best pair's reach. Ties go
    to the lighter weight, the smaller margin and the shorter reach, which read less;
    ``read`` is the passages read per question."""
    reader, base = answerer.reader, answerer.scoring.replace(min_score=-1.0)
    answerer.reader, answerer.scoring = None, base
    plain = figures(answerer, items)
    answerer.reader = counting = Remembering(reader)

    def run(**setting: float) -> dict[str, float]:
        answerer.scoring = base.replace(**setting)
        asked = counting.asked
        row = {**setting, **figures(answerer, items)}
        row["read"] = round((counting.asked - asked) / len(items), 2)
        print(json.dumps(row), flush=True)
        return row

    def key(r: dict[str, float]) -> tuple[float, ...]:
        return (r["quote@1"], r["hit@1"], -r["reader_weight"], -r["reader_margin"],
                -r["reader_reach"])  # fmt: skip

    tried = [run(reader_weight=w, reader_margin=m, reader_reach=1e9)
             for w, m in itertools.product(WEIGHTS, MARGINS)]  # fmt: skip
    best = max(tried, key=key)
    setting = {k: best[k] for k in ("reader_weight", "reader_margin")}
    reached = [run(**setting, reader_reach=r) for r in REACHES]
    best = max([best, *reached], key=key)
    answerer.reader = reader
    return {"without_reader": plain, "best": best, "grid": tried + reached,
            "questions": len(items), "articles": list(CALIBRATION_ARTICLES)}  # fmt: skip


def main() -> None:
    from eval.train.export import write_card
    from retriever.answer import Answerer
    from retriever.reader import CARD, WEIGHTS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reader", required=True, help="the reader's weights folder name")
    parser.add_argument("--cache", default="data/cache", help="where the index is built")
    parser.add_argument(
        "--german", action="store_true",
        help="run the grid on the 116 answerable German questions (GERMAN_QUESTIONS) and "
        "print it; the card keeps the English questions' tuning",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        gold = load_gold(calibration_gold(Path(tmp), GERMAN_QUESTIONS if args.german else None))
        index = prepare_index(gold, cache=Path(args.cache))
    answerer = Answerer.open(index, scoring=DEFAULT_SCORING.replace(reader=args.reader))
    tuning = tune(answerer, [item for item in gold.items if item.answerable])
    if args.german:
        print(json.dumps({k: tuning[k] for k in ("without_reader", "best")}, indent=1))
        return
    card = json.loads((WEIGHTS / args.reader / CARD).read_text(encoding="utf-8"))
    card.pop("calibration", None)
    write_card(WEIGHTS / args.reader, {**card, "tuning": tuning})
    print(json.dumps({k: tuning[k] for k in ("without_reader", "best")}, indent=1))


if __name__ == "__main__":
    main()
