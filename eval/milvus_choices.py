"""The two choices of the Milvus store, by measurement: where BM25's words come from, and
who fuses the rankings.

``python -m eval.milvus_choices [--store PATH.db] [--squad-limit N]`` indexes the seeds and
the SQuAD bench's paragraphs into Milvus stores (with the real models) and prints:

1. **BM25 words**: BM25 alone (hit@1, hit@10 over the answerable questions) with the words
   Verbatim's tokenizer stems per document language fed to Milvus's BM25 function
   (``verbatim``), with the raw text through Milvus's own analyzer (``engine``: standard
   tokenizer, lower case, English and German stopwords; Milvus Lite has no stemmer), and
   with the local index's bm25s for reference; then whole answers (hit@1, quote@1) on the
   seeds with each store.
2. **Fusion**: whole answers with Verbatim's fusion (:mod:`retriever.search`: three
   searches and the cosines of the candidates one ranking missed) against Milvus's own
   ``hybrid_search`` with ``RRFRanker(60)`` and with a ``WeightedRanker`` of Verbatim's
   weights, and the search stage's time per question.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from eval.gold import GoldSet, load_gold, write_squad_corpus
from eval.metrics import score
from retriever.answer import Answerer, Question
from retriever.search import Hit
from retriever.settings import DEFAULT_SCORING

__all__ = ["EngineFusion", "main"]

ROOT = Path(__file__).resolve().parents[1]


class EngineFusion(Answerer):
    """An answerer whose search is Milvus's ``hybrid_search`` with ``ranker``."""

    ranker: Any = None

    def search(self, question: Question, k: int) -> list[Hit]:
        depth = max(self.scoring.depth, k)
        scores, ids = self.index.engine_hybrid(  # type: ignore[attr-defined]
            question.text, question.vector, question.cross_lingual_vector, k, self.ranker, depth
        )
        return [Hit(int(i), float(s), float(s), 0.0) for s, i in zip(scores, ids, strict=True)]


def _ask(answerer: Answerer, gold: GoldSet, limit: int | None) -> tuple[dict[str, Any], float]:
    """Metrics of ``answerer`` on ``gold``, and the search stage's median milliseconds."""
    rows, search_ms = [], []
    for item in gold.items[:limit]:
        answer = answerer.ask(item.question, k=10)
        search_ms.append(answer.timing_ms["search"])
        rows.append({**item.to_dict(), "response": answer.to_dict()})
    return score(rows), statistics.median(search_ms)


def _lexical(store: Any, gold: GoldSet, limit: int | None) -> dict[str, Any]:
    """hit@1 and hit@10 of BM25 alone."""
    rows = []
    for item in gold.items[:limit]:
        if not item.answers:
            continue
        _, ids = store.search_lexical(item.question, 10)
        passages = [{"text": store.chunk(int(i)).text, "source": store.chunk(int(i)).source}
                    for i in ids]  # fmt: skip
        rows.append({**item.to_dict(), "response": {"passages": passages}})
    m = score(rows)
    return {"hit@1": m["hit@1"], "hit@10": m["hit@10"], "n": m["answerable"]}


def _stores(base: str, corpus: Path, lexical: str) -> str:
    from ingest.milvus_ingest import ingest_milvus

    location = f"{base}#{corpus.name.replace('-', '_')}_{lexical}"
    ingest_milvus([corpus], location, lexical=lexical)
    return location


def _rankers(scoring: Any) -> dict[str, Any]:
    from pymilvus import RRFRanker, WeightedRanker

    a, w = scoring.alpha, scoring.cross_lingual_weight
    weights = {2: (a, 1 - a), 3: (a * (1 - w), a * w, 1 - a)}
    return {
        "engine rrf(60)": lambda n: RRFRanker(60),
        "engine weighted": lambda n: WeightedRanker(*weights[n], norm_score=True),
    }


def _print(label: str, m: dict[str, Any], ms: float | None = None) -> None:
    extra = f"  search p50 {ms:.1f} ms" if ms is not None else ""
    print(f"  {label:28} hit@1 {m['hit@1']:.3f}  quote@1 {m['quote@1']:.3f}{extra}", flush=True)


def main() -> None:
    from eval.runner import prepare_index
    from retriever.index import Index
    from retriever.stores import open_answerer, open_store

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--store", default="runs/milvus-choices.db", help="Milvus Lite file")
    p.add_argument("--squad", default=str(ROOT.parent / "shared/bench/squad2-dev-3articles.json"))
    p.add_argument("--squad-limit", type=int, default=300, help="SQuAD questions for fusion")
    args = p.parse_args()
    seeds_gold = load_gold(ROOT / "eval/gold/seeds.jsonl")
    sets = [("seeds", seeds_gold, ROOT / "seeds")]
    if Path(args.squad).is_file():
        squad = load_gold(args.squad)
        sets.append(("squad", squad, write_squad_corpus(squad, ROOT / "runs/squad-docs")))
    print("BM25 alone (answerable questions): hit@1 / hit@10")
    located: dict[tuple[str, str], str] = {}
    for name, gold, corpus in sets:
        local = Index.open(prepare_index(gold, corpus=corpus if name == "seeds" else None))
        print(f"  {name:6} bm25s (local index)        {_lexical(local, gold, None)}", flush=True)
        for way in ("verbatim", "engine"):
            located[name, way] = _stores(args.store, corpus, way)
            found = _lexical(open_store(located[name, way]), gold, None)
            print(f"  {name:6} Milvus, words by {way:9} {found}", flush=True)
    print("Whole answers, seeds (102 questions), by BM25 words:")
    for way in ("verbatim", "engine"):
        _print(f"words by {way}", *_ask(open_answerer(located["seeds", way]), seeds_gold, None))
    print("Fusion, by who fuses:")
    for name, gold, _ in sets:
        limit = args.squad_limit if name == "squad" else None
        base = open_answerer(located[name, "verbatim"])
        print(f" {name} ({len(gold.items[:limit])} questions)")
        _print("Verbatim (convex, 3 searches)", *_ask(base, gold, limit))
        for label, ranker in _rankers(DEFAULT_SCORING).items():
            engine = EngineFusion(base.index, base.encoder,
                                  cross_lingual_encoder=base.cross_lingual_encoder)  # fmt: skip
            engine.ranker = ranker
            _print(label, *_ask(engine, gold, limit))


if __name__ == "__main__":
    main()
