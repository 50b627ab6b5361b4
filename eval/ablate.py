"""Does each hand-set weight still earn its place? Each gold set, asked under the defaults
and under each variant that takes one part away, never abstaining.

``python -m eval.ablate`` asks the answerable questions of the five measured sets (the
seeds, the real documents, the SQuAD bench and both XQuAD directions) under every
:data:`VARIANTS` entry and prints quote@1 and hit@1 of each, as a Markdown table. The
reader reads each question's passages once (its answers are remembered across variants).
It measures; nothing here tunes on those sets.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.gold import load_gold
from eval.metrics import first_hit_rank, quote_correct
from eval.runner import DEFAULT_CACHE, prepare_index
from retriever.reader_inputs import Reading, Window
from retriever.reading import ReaderLike
from retriever.settings import DEFAULT_SCORING

__all__ = ["SETS", "VARIANTS", "Remembering", "figures", "main"]

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "bench"
#: name → (gold set, corpus folder or None for a SQuAD file's own paragraphs)
SETS: dict[str, tuple[Path, Path | None]] = {
    "seeds": (Path("eval/gold/seeds.jsonl"), Path("seeds")),
    "docs": (Path("eval/gold/docs.jsonl"), Path("eval/gold/docs")),
    "squad": (BENCH / "squad2-dev-3articles.json", None),
    "en-de": (BENCH / "xquad/en-de/gold.jsonl", BENCH / "xquad/en-de/corpus"),
    "de-en": (BENCH / "xquad/de-en/gold.jsonl", BENCH / "xquad/de-en/corpus"),
}
#: name → the scoring changes that take one part away (``None``: no reader).
VARIANTS: dict[str, dict[str, Any] | None] = {
    "defaults": {},
    "no reader": None,
    "no pairs": {"pair_bonus": -10.0},
    "no answer kinds": {"kind_weight": 0.0},
    "no question words": {"words_weight": 0.0},
    "no rank penalty": {"rank_penalty": 0.0},
    "reader on every question": {"reader_margin": 1e9},
    "reader reads all quote passages": {"reader_reach": 1e9},
    "dense search only": {"fusion": "dense"},
}


class Remembering:
    """A reader that reads each question and window once, however often it is asked."""

    def __init__(self, reader: ReaderLike) -> None:
        self.reader = reader
        self.memory: dict[tuple[str, str], Reading] = {}
        #: windows asked for, remembered or not
        self.asked = 0

    def read(self, question: str, windows: Sequence[Window]) -> list[Reading]:
        self.asked += len(windows)
        todo = [w for w in windows if (question, w.text) not in self.memory]
        for w, reading in zip(todo, self.reader.read(question, todo) if todo else [], strict=True):
            self.memory[(question, w.text)] = reading
        return [self.memory[(question, w.text)] for w in windows]


def figures(answerer: Any, items: Sequence[Any]) -> dict[str, float]:
    """quote@1 and hit@1 of ``items`` (answerable) through ``answerer``, never abstaining,
    judged as ``verbatim eval`` judges them (the source too, where the gold names one)."""
    quote = hit = 0
    for item in items:
        row = {**item.to_dict(), "response": answerer.ask(item.question).to_dict()}
        row["response"]["answered"] = True
        quote += quote_correct(row)
        hit += first_hit_rank(row) == 1
    return {"quote@1": round(quote / len(items), 4), "hit@1": round(hit / len(items), 4)}


def main(argv: Sequence[str] | None = None) -> None:
    from retriever.answer import Answerer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    names = args.sets.split(",")
    table: dict[str, dict[str, dict[str, float]]] = {v: {} for v in VARIANTS}
    for name in names:
        gold_path, corpus = SETS[name]
        gold = load_gold(gold_path)
        index = prepare_index(gold, corpus=corpus, cache=args.cache)
        answerer = Answerer.open(index, scoring=DEFAULT_SCORING.replace(min_score=-1.0))
        reader = Remembering(answerer.reader) if answerer.reader is not None else None
        items = [item for item in gold.items if item.answerable]
        for variant, changes in VARIANTS.items():
            answerer.reader = reader if changes is not None else None
            answerer.scoring = DEFAULT_SCORING.replace(min_score=-1.0, **(changes or {}))
            table[variant][name] = figures(answerer, items)
            print(name, variant, table[variant][name], flush=True)
    print("\n| variant | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for variant, row in table.items():
        cells = [f"{row[n]['quote@1']:.3f} / {row[n]['hit@1']:.3f}" for n in names]
        print(f"| {variant} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
