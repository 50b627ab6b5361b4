"""Hybrid search: dense vectors and BM25, fused into one ranking.

Two fusions, chosen by measurement (``python -m eval.fusion``):

- ``rrf``: reciprocal-rank fusion, ``Σ 1 / (60 + rank)`` over the two rankings; blind to
  score scales.
- ``convex``: ``alpha · cosine + (1 − alpha) · bm25 / max(bm25)``; keeps how far apart
  the scores are.
- ``dense``: vectors only (the baseline).

With a cross-lingual encoder in the index, its cosine joins the main model's: averaged
into the meaning score (``aux_weight``), or as a third ranking for ``rrf``. Every hit
carries its meaning score as well, the signal the abstain decision reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retriever.index import Index
from retriever.multilingual import calibrated

__all__ = ["Hit", "hybrid_search", "FUSIONS", "RRF_K"]

FUSIONS = ("rrf", "convex", "dense")
#: Added to the cross-lingual cosine of a passage in another language than the question:
#: cosines across languages run lower than within one.
CROSS_LANGUAGE_OFFSET = 0.1
RRF_K = 60


@dataclass(frozen=True, slots=True)
class Hit:
    """One fused result: chunk number, fused score, and its dense and BM25 scores."""

    id: int
    score: float
    dense: float
    lexical: float


def hybrid_search(
    index: Index,
    question: str,
    query_vector: np.ndarray,
    k: int,
    *,
    fusion: str = "rrf",
    alpha: float = 0.5,
    depth: int = 50,
    aux_vector: np.ndarray | None = None,
    aux_weight: float = 0.5,
    question_lang: str | None = None,
) -> list[Hit]:
    """The top ``k`` chunks for a question.

    Args:
        index: the index to search.
        question: the question's text (for BM25).
        query_vector: its unit embedding, shape ``(dim,)``.
        k: hits to return.
        fusion: ``rrf``, ``convex`` or ``dense`` (see the module docstring).
        alpha: weight of the cosine in ``convex`` fusion (higher: meaning over words).
        depth: candidates taken from each ranking before fusing (larger: better recall
            of chunks that only one method ranks high, slightly slower).
        aux_vector: the question in the cross-lingual encoder's space, if the index has it.
        aux_weight: share of the cross-lingual cosine in a hit's meaning score (higher:
            finds answers in other languages, at some cost on same-language questions).
        question_lang: the question's language, if known. With a cross-lingual encoder,
            a passage in another language is judged by that encoder alone: its words and
            the main model's cosine say nothing across languages.

    Returns:
        Hits, best first.
    """
    depth = max(depth, k)

    def ranked(space: str, vector: np.ndarray) -> dict[int, float]:
        scores, ids = index.search(vector[None, :], depth, space)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0}

    main = ranked("main", query_vector)
    aux = ranked("aux", aux_vector) if aux_vector is not None else {}
    lexical: dict[int, float] = {}
    if fusion != "dense":
        l_scores, l_ids = index.search_lexical(question, depth)
        lexical = {int(i): float(s) for s, i in zip(l_scores, l_ids, strict=True)}
    ids = list(dict.fromkeys([*main, *aux, *lexical]))
    # Candidates found by one ranking still need their cosine in the other space.
    for space, scores, vector in (("main", main, query_vector), ("aux", aux, aux_vector)):
        if vector is None:
            continue
        missing = np.array([i for i in ids if i not in scores], dtype=np.int64)
        for i, s in zip(missing, index.similarity(vector, missing, space), strict=True):
            scores[int(i)] = float(s)
    if aux:
        aux = {i: calibrated(index.manifest.aux_model, s) for i, s in aux.items()}
    w = aux_weight if aux_vector is not None else 0.0
    dense = {i: (1 - w) * main[i] + w * aux.get(i, 0.0) for i in ids}

    if fusion == "dense":
        fused = dict(dense)
    elif fusion == "rrf":
        fused = dict.fromkeys(ids, 0.0)
        for scores in (main, aux, lexical):
            order = sorted(scores, key=lambda i: (-scores[i], i))
            for rank, i in enumerate(order):
                fused[i] += 1.0 / (RRF_K + 1 + rank)
    elif fusion == "convex":
        top = max(lexical.values(), default=0.0) or 1.0
        fused = {i: alpha * dense[i] + (1 - alpha) * lexical.get(i, 0.0) / top for i in ids}
        if aux_vector is not None and question_lang is not None:
            top_aux = max(aux.values(), default=0.0)
            top_aux = top_aux if top_aux > 0 else 1.0  # calibrated cosines may all be < 0
            for i in ids:
                if index.chunk_lang(i) != question_lang:
                    # The cross-lingual cosine stands in for meaning and, relative to the
                    # best candidate, for the missing word overlap.
                    dense[i] = aux[i] + CROSS_LANGUAGE_OFFSET
                    fused[i] = alpha * dense[i] + (1 - alpha) * aux[i] / top_aux
    else:
        raise ValueError(f"fusion {fusion!r} is not one of {', '.join(FUSIONS)}")
    best = sorted(ids, key=lambda i: (-fused[i], i))[:k]
    return [Hit(i, fused[i], dense[i], lexical.get(i, 0.0)) for i in best]
