"""Chunk size and overlap, chosen by measurement: ``python -m eval.sweep``.

For each setting, index the seed documents and the SQuAD bench paragraphs, ask every
answerable gold question, and print hit@1, hit@5, quote@1 and the chunk count. Chunking
is measured on its own: dense search with the main model only, as when it was chosen
(the threshold of that time, 0.35: :data:`CHUNKING_SCORING`). The default in
``ingest/split.py`` is the best setting of this table.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from eval.gold import load_gold, write_squad_corpus
from eval.metrics import score
from ingest import DEFAULT_SPLITTER, SplitterSettings, ingest
from retriever import DEFAULT_SCORING, Answerer

SETTINGS = [(300, 50), (500, 0), (500, 100), (800, 100), (1200, 200)]
#: How chunking was measured: the main model's vectors alone, the threshold of that time.
CHUNKING_SCORING = DEFAULT_SCORING.replace(fusion="dense", min_score=0.35)


def _score(answerer: Answerer, items) -> dict[str, float]:  # type: ignore[no-untyped-def]
    rows = [
        {**item.to_dict(), "response": answerer.ask(item.question, k=5).to_dict()}
        for item in items
        if item.answerable
    ]
    return score(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds-gold", default="eval/gold/seeds.jsonl")
    parser.add_argument("--squad", default="../shared/bench/squad2-dev-3articles.json")
    args = parser.parse_args()
    corpora = [("seeds", Path("seeds"), load_gold(args.seeds_gold))]
    squad_path = Path(args.squad)
    tmp = Path(tempfile.mkdtemp(prefix="verbatim-sweep-"))
    if squad_path.is_file():
        squad = load_gold(squad_path)
        corpora.append(("squad", write_squad_corpus(squad, tmp / "squad-corpus"), squad))
    print(
        f"{'corpus':8} {'size':>5} {'overlap':>7} {'chunks':>6} {'hit@1':>6} {'hit@5':>6} "
        f"{'quote@1':>7}"
    )
    for name, folder, gold in corpora:
        for size, overlap in SETTINGS:
            settings = SplitterSettings(
                chunk_size=size, chunk_overlap=overlap, separators=DEFAULT_SPLITTER.separators
            )
            index = tmp / f"{name}-{size}-{overlap}"
            report = ingest([folder], index, splitter=settings, cross_lingual=False)
            m = _score(Answerer.open(index, scoring=CHUNKING_SCORING), gold.items)
            print(
                f"{name:8} {size:5d} {overlap:7d} {report.chunks:6d} {m['hit@1']:6.3f} "
                f"{m['hit@5']:6.3f} {m['quote@1']:7.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
