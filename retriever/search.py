"""Hybrid search: dense vectors and BM25, fused into one ranking.

Two fusions, chosen by measurement (``python -m eval.fusion``):

- ``rrf``: reciprocal-rank fusion, ``Σ 1 / (60 + rank)`` over the two rankings; blind to
  score scales.
- ``convex``: ``alpha · cosine + (1 − alpha) · bm25 / max(bm25)``; keeps how far apart
  the scores are.
- ``dense``: vectors only (the baseline).

Every hit carries its dense cosine as well, the signal the abstain decision reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retriever.index import Index

__all__ = ["Hit", "hybrid_search", "FUSIONS", "RRF_K"]

FUSIONS = ("rrf", "convex", "dense")
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

    Returns:
        Hits, best first.
    """
    depth = max(depth, k)
    d_scores, d_ids = index.search(query_vector[None, :], depth)
    dense = {int(i): float(s) for s, i in zip(d_scores[0], d_ids[0], strict=True) if i >= 0}
    lexical: dict[int, float] = {}
    if fusion != "dense":
        l_scores, l_ids = index.search_lexical(question, depth)
        lexical = {int(i): float(s) for s, i in zip(l_scores, l_ids, strict=True)}
    # Chunks found only by BM25 still need their cosine, for fusion and for abstaining.
    missing = np.array([i for i in lexical if i not in dense], dtype=np.int64)
    for i, s in zip(missing, index.similarity(query_vector, missing), strict=True):
        dense[int(i)] = float(s)

    ids = list(dense)
    if fusion == "dense":
        fused = dict(dense)
    elif fusion == "rrf":
        d_rank = {i: r for r, i in enumerate(sorted(dense, key=dense.__getitem__, reverse=True))}
        l_rank = {
            i: r for r, i in enumerate(sorted(lexical, key=lexical.__getitem__, reverse=True))
        }
        fused = {
            i: 1.0 / (RRF_K + 1 + d_rank[i])
            + (1.0 / (RRF_K + 1 + l_rank[i]) if i in l_rank else 0.0)
            for i in ids
        }
    elif fusion == "convex":
        top = max(lexical.values(), default=0.0) or 1.0
        fused = {i: alpha * dense[i] + (1 - alpha) * lexical.get(i, 0.0) / top for i in ids}
    else:
        raise ValueError(f"fusion {fusion!r} is not one of {', '.join(FUSIONS)}")
    best = sorted(ids, key=lambda i: (-fused[i], i))[:k]
    return [Hit(i, fused[i], dense[i], lexical.get(i, 0.0)) for i in best]
