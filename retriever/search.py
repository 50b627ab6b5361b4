"""Hybrid search: dense vectors and BM25, fused into one ranking.

Three fusions, chosen by measurement (``python -m eval.fusion``; ``Scoring.fusion``):

- ``rrf``: reciprocal-rank fusion, ``Σ 1 / (rrf_k + rank)`` over the rankings; blind to
  score scales.
- ``convex``: ``alpha · meaning + (1 − alpha) · bm25 / max(bm25)``; keeps how far apart
  the scores are.
- ``dense``: vectors only (the baseline).

With a cross-lingual space in the store, its (calibrated) cosine joins the main model's:
mixed into the meaning score (``cross_lingual_weight``), or as a third ranking for
``rrf``. Every hit carries its meaning score as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from retriever.beside import beside
from retriever.settings import DEFAULT_SCORING, FUSIONS, Scoring
from retriever.store import Space, Store

__all__ = ["Hit", "hybrid_search", "rankings"]

@dataclass(frozen=True, slots=True)
class Hit:
    """One fused result: chunk number, fused score, meaning score and BM25 score.

    ``meaning`` is the cosine mix the fusion weighs (for a chunk in another language than
    the question, its cross-lingual cosine plus ``cross_language_offset``).
    """

    id: int
    score: float
    meaning: float
    lexical: float


def _identity(cosines: Any) -> Any:
    return cosines


def hybrid_search(
    store: Store,
    question: str,
    query_vector: np.ndarray,
    k: int,
    *,
    scoring: Scoring = DEFAULT_SCORING,
    cross_lingual_vector: np.ndarray | None = None,
    calibrate: Callable[[Any], Any] = _identity,
    language_weights: dict[str, float] | None = None,
) -> list[Hit]:
    """The top ``k`` chunks for a question.

    Args:
        store: the store to search.
        question: the question's text (for BM25).
        query_vector: its unit embedding under the main model, shape ``(dim,)``.
        k: hits to return.
        scoring: fusion, weights and depth (see :class:`~retriever.settings.Scoring`).
        cross_lingual_vector: the question in the cross-lingual space, if the store has it.
        calibrate: puts cross-lingual cosines on the common scale
            (:func:`retriever.encoder.calibrate` of the cross-lingual encoder).
        language_weights: how likely the question is in each language of the store
            (:func:`retriever.language.language_weights`). With a cross-lingual space, a
            passage is judged by words and both models as far as the question is in its
            language, and by the cross-lingual model alone for the rest: words and the main
            model's cosine say nothing across languages.

    Returns:
        Hits, best first.
    """
    depth = max(scoring.depth, k)
    main, cross, lexical = rankings(
        store,
        depth,
        query_vector,
        cross_lingual_vector,
        question=question if scoring.fusion != "dense" else None,
    )
    ids = list(dict.fromkeys([*main, *cross, *lexical]))
    # Candidates found by one ranking still need their cosine in the other space.
    for space, scores, vector in (
        (Space.MAIN, main, query_vector),
        (Space.CROSS_LINGUAL, cross, cross_lingual_vector),
    ):
        if vector is None:
            continue
        missing = np.array([i for i in ids if i not in scores], dtype=np.int64)
        for i, s in zip(missing, store.similarity(vector, missing, space), strict=True):
            scores[int(i)] = float(s)
    if cross:
        cross = {i: calibrate(s) for i, s in cross.items()}
    w = scoring.cross_lingual_weight if cross_lingual_vector is not None else 0.0
    meaning = {i: (1 - w) * main[i] + w * cross.get(i, 0.0) for i in ids}
    fused = _fuse(scoring, ids, main, cross, lexical, meaning)
    if scoring.fusion == "convex" and cross_lingual_vector is not None and language_weights:
        _across_languages(store, scoring, ids, cross, meaning, fused, language_weights)
    best = sorted(ids, key=lambda i: (-fused[i], i))[:k]
    return [Hit(i, fused[i], meaning[i], lexical.get(i, 0.0)) for i in best]


def rankings(
    store: Store,
    depth: int,
    query_vector: np.ndarray,
    cross_lingual_vector: np.ndarray | None = None,
    *,
    question: str | None = None,
) -> tuple[dict[int, float], dict[int, float], dict[int, float]]:
    """The ``depth`` best chunks by each ranking, ``{chunk: score}``: the main space, the
    cross-lingual space (empty without its vector) and BM25 (empty without ``question``).

    The cross-lingual search runs on a second thread while this one searches the main
    space and BM25: faiss and NumPy leave the GIL, so the two cores share the work.
    """

    def ranked(space: Space, vector: np.ndarray) -> dict[int, float]:
        scores, ids = store.search(vector[None, :], depth, space)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0}

    pending = (
        beside(ranked, Space.CROSS_LINGUAL, cross_lingual_vector)
        if cross_lingual_vector is not None
        else None
    )
    try:
        main = ranked(Space.MAIN, query_vector)
        lexical: dict[int, float] = {}
        if question is not None:
            l_scores, l_ids = store.search_lexical(question, depth)
            lexical = {int(i): float(s) for s, i in zip(l_scores, l_ids, strict=True)}
    finally:
        cross = pending.result() if pending is not None else {}
    return main, cross, lexical


def _fuse(
    scoring: Scoring,
    ids: list[int],
    main: dict[int, float],
    cross: dict[int, float],
    lexical: dict[int, float],
    meaning: dict[int, float],
) -> dict[int, float]:
    """Each candidate's fused score under ``scoring.fusion``."""
    if scoring.fusion == "dense":
        return dict(meaning)
    if scoring.fusion == "rrf":
        fused = dict.fromkeys(ids, 0.0)
        for scores in (main, cross, lexical):
            order = sorted(scores, key=lambda i: (-scores[i], i))
            for rank, i in enumerate(order):
                fused[i] += 1.0 / (scoring.rrf_k + 1 + rank)
        return fused
    if scoring.fusion == "convex":
        top = max(lexical.values(), default=0.0) or 1.0
        a = scoring.alpha
        return {i: a * meaning[i] + (1 - a) * lexical.get(i, 0.0) / top for i in ids}
    raise ValueError(f"fusion {scoring.fusion!r} is not one of {', '.join(FUSIONS)}")


def _across_languages(
    store: Store,
    scoring: Scoring,
    ids: list[int],
    cross: dict[int, float],
    meaning: dict[int, float],
    fused: dict[int, float],
    weights: dict[str, float],
) -> None:
    """Rescore the candidates, in place, for the chance that the question is in another
    language than theirs: for that share, the cross-lingual cosine stands in for meaning
    and, relative to the best candidate, for the missing word overlap."""
    top_cross = max(cross.values(), default=0.0)
    top_cross = top_cross if top_cross > 0 else 1.0  # calibrated cosines may all be < 0
    a = scoring.alpha
    for i in ids:
        same = weights.get(store.chunk_lang(i), 0.0)
        if same >= 1.0:
            continue
        other = cross[i] + scoring.cross_language_offset
        meaning[i] = same * meaning[i] + (1 - same) * other
        fused[i] = same * fused[i] + (1 - same) * (a * other + (1 - a) * cross[i] / top_cross)
