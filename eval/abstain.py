"""Which signal tells that the documents do not answer? Each candidate abstain signal's
separation of unanswerable questions from answerable ones, set by set.

``python -m eval.abstain`` asks every question of the sets that hold unanswerable ones (the
held-apart training articles ``calib`` of :data:`eval.train.data.CALIBRATION_ARTICLES`, the
seeds, the real documents and the SQuAD bench) under the defaults, never abstaining, and
scores each signal as ``verbatim eval`` scores the quote score (:func:`eval.metrics.abstain_curve`):

- ``closeness``: the quote score, what the abstain decision reads today;
- ``reader_quote``: the reader's log-odds that the quote's sentences hold the answer, read
  in the passage cited first (the best of its sentences that the quote covers);
- ``reader_passage``: the reader's best log-odds of any sentence of that passage;
- ``words``: the share of the question's words that the quote holds;
- ``gap``: how far the best passage's search score stands above the runner-up's.

It measures and prints a Markdown table; nothing here tunes (``python -m eval.train.abstain``
fits a probability on the rows that ``--rows`` writes). A signal is worth a
calibrated model only if it separates on ``calib`` *and* keeps doing so on the sets nothing
was tuned on.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.ablate import SETS
from eval.gold import load_gold
from eval.metrics import abstain_curve
from eval.runner import DEFAULT_CACHE, prepare_index
from retriever.lexical import tokenize
from retriever.quote import Candidate, passage_sentences
from retriever.reader_inputs import Window
from retriever.settings import DEFAULT_SCORING, Scoring

__all__ = ["SIGNALS", "signals", "separation", "at_threshold", "main"]

SIGNALS = ("closeness", "reader_quote", "reader_passage", "words", "gap")
#: The sets with unanswerable questions (``calib``: the held-apart training articles;
#: ``calib-de``: 156 of their questions in German, asked of the English articles).
ABSTAIN_SETS = ("calib", "calib-de", "seeds", "docs", "squad")


def signals(answerer: Any, items: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per item: its ``answers`` and the value of each of :data:`SIGNALS` (None
    where there is no quote; the reader's where the answerer has one)."""
    rows = []
    for item in items:
        answer = answerer.ask(item.question)
        row: dict[str, Any] = {"id": item.id, "answers": list(item.answers)}
        row.update(dict.fromkeys(SIGNALS))
        if answer.citation is not None and answer.quote is not None:
            row["closeness"] = answer.quote_score
            lang = answerer.index.document(answer.citation.source).lang
            asked = set(tokenize(item.question, lang))
            held = asked & set(tokenize(answer.quote, lang))
            row["words"] = len(held) / len(asked) if asked else 0.0
            scores = [p.score for p in answer.passages[:2]]
            row["gap"] = scores[0] - scores[1] if len(scores) == 2 else scores[0]
            if answerer.reader is not None:
                row.update(_read_cited(answerer, item.question, answer))
        rows.append(row)
    return rows


def _read_cited(answerer: Any, question: str, answer: Any) -> dict[str, float]:
    """The reader's log-odds for the passage cited first, as the quote reads it."""
    cited = answer.passages[0]
    documents = {cited.source: answerer._doc_info(cited.source)}
    (spans,) = passage_sentences(
        [Candidate(cited.source, cited.start, cited.end)], documents, answerer.scoring.widen_chars
    )
    text = documents[cited.source][0]
    window = Window.of([text[s.start : s.end] for s in spans])
    if not window.sentences:
        return {}
    (reading,) = answerer.reader.read(question, [window])
    scores = [float(v) for v in reading.sentence_scores(window)]
    start, end = answer.citation.start, answer.citation.end
    finite = [(s, v) for s, v in zip(spans, scores, strict=True) if math.isfinite(v)]
    out = {"reader_passage": max(v for _, v in finite)} if finite else {}
    covered = [v for s, v in finite if s.start < end and start < s.end]
    if covered:
        out["reader_quote"] = max(covered)
    return out


def separation(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """For each signal, ``abstain_auc`` and ``abstain_recall@ar95`` as ``verbatim eval``
    computes them for the quote score (a missing value never answers)."""
    out = {}
    for name in SIGNALS:
        curve = abstain_curve([{"answers": r["answers"], "quote_score": r[name]} for r in rows])
        out[name] = {k: curve[k] for k in ("abstain_auc", "abstain_recall@ar95")}
    return out


def at_threshold(rows: Sequence[dict[str, Any]], threshold: float) -> dict[str, float | None]:
    """What the closeness does at ``threshold``: the answer rate on answerable questions,
    the share of unanswerable ones declined, the answerable questions' median closeness,
    and ``min_score@ar95`` (the highest threshold that still answers 0.95 of them)."""
    yes = [r["closeness"] for r in rows if r["answers"]]
    no = [r["closeness"] for r in rows if not r["answers"]]
    known = [s for s in yes if s is not None]
    curve = abstain_curve([{"answers": r["answers"], "quote_score": r["closeness"]} for r in rows])
    answered = sum(s is not None and s >= threshold for s in yes)
    declined = sum(s is None or s < threshold for s in no)
    return {
        "answer_rate": answered / len(yes) if yes else None,
        "abstain_recall": declined / len(no) if no else None,
        "median_closeness": statistics.median(known) if known else None,
        "min_score@ar95": curve["min_score@ar95"],
    }


def _gold(name: str, folder: Path) -> tuple[Any, Path | None]:
    if name in ("calib", "calib-de"):
        from eval.train.calibrate import GERMAN_QUESTIONS, calibration_gold

        questions = GERMAN_QUESTIONS if name == "calib-de" else None
        return load_gold(calibration_gold(folder, questions)), None
    gold_path, corpus = SETS[name]
    return load_gold(gold_path), corpus


def main(argv: Sequence[str] | None = None) -> None:
    from retriever.answer import Answerer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(ABSTAIN_SETS), help="comma-separated names")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--min-score",
        type=float,
        nargs="+",
        default=[DEFAULT_SCORING.min_score],
        help="report the closeness's answer rate and abstain recall at each of these "
        "thresholds (default: %(default)s)",
    )
    parser.add_argument("--rows", type=Path, help="also write each set's rows to DIR/SET.jsonl")
    parser.add_argument(
        "--scoring", type=Path, help="a JSON object of Scoring fields (default: the defaults)"
    )
    parser.add_argument("--reader", help="the reader's name (default: the scoring's)")
    args = parser.parse_args(argv)
    scoring = Scoring.load(args.scoring) if args.scoring else DEFAULT_SCORING
    if args.reader is not None:
        scoring = scoring.replace(reader=args.reader)
    names = args.sets.split(",")
    table: dict[str, dict[str, dict[str, float | None]]] = {}
    held: dict[tuple[str, float], dict[str, float | None]] = {}
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            gold, corpus = _gold(name, Path(tmp))
            index = prepare_index(gold, corpus=corpus, cache=args.cache)
        answerer = Answerer.open(index, scoring=scoring.replace(min_score=-1.0))
        rows = signals(answerer, gold.items)
        if args.rows is not None:
            args.rows.mkdir(parents=True, exist_ok=True)
            with (args.rows / f"{name}.jsonl").open("w", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
        table[name] = separation(rows)
        print(name, table[name], flush=True)
        for t in args.min_score:
            held[name, t] = at_threshold(rows, t)
    print("\n| signal | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for signal in SIGNALS:
        cells = []
        for n in names:
            auc, recall = (table[n][signal][k] for k in ("abstain_auc", "abstain_recall@ar95"))
            cells.append("—" if auc is None else f"{auc:.3f} / {recall or 0:.3f}")
        print(f"| {signal} | " + " | ".join(cells) + " |")

    print("\nThe closeness at each --min-score:\n")
    print("| set | min-score | answer_rate | abstain_recall | median closeness (answerable) "
          "| min_score@ar95 |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for (n, t), values in held.items():
        cells = ["—" if v is None else f"{v:.3f}" for v in values.values()]
        print(f"| {n} | {t} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
