"""The quote as the reader judges it: the best sentences by the hand-set scores of
:mod:`retriever.quote`, read with the question by a trained reader
(:class:`retriever.reader.Reader`), which reranks them and the passages that hold them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from retriever.abstain import AbstainModel
from retriever.quote import Candidate, Meaning, QuoteChoice, score_sentences

__all__ = ["ReaderLike", "read_quote", "with_probability"]


class ReaderLike(Protocol):
    """What the quote needs of a reader (:class:`retriever.reader.Reader`)."""

    def score(self, question: str, candidates: Sequence[tuple[str, str]]) -> np.ndarray: ...


def read_quote(
    question: str,
    candidates: Sequence[Candidate],
    documents: dict[str, tuple[str, str, Sequence[tuple[int, int]]]],
    meaning: Meaning,
    reader: ReaderLike,
) -> QuoteChoice | None:
    """Pick the sentence that answers ``question`` as the reader judges it.

    The ``scoring.reader_sentences`` best sentences by :func:`score_sentences` are read
    with the question (each with the sentence before it); a sentence's score is the
    reader's logit plus ``heuristic_weight`` times its own score. A passage ranks by its
    best read sentence. ``features`` of the choice hold what the abstain decision reads.

    Returns:
        The best quote, or ``None`` when the passages hold no usable sentence.
    """
    scored = score_sentences(question, candidates, documents, meaning)
    if scored is None:
        return None
    scoring = meaning.scoring
    order = sorted(range(len(scored.texts)), key=lambda n: -scored.scores[n])
    read = order[: scoring.reader_sentences]
    logits = reader.score(question, [(scored.texts[n], scored.before(n)) for n in read])
    final = [
        float(logits[j]) + scoring.heuristic_weight * scored.scores[n] for j, n in enumerate(read)
    ]
    passage_scores = [-np.inf] * len(candidates)
    for j, n in enumerate(read):
        rank = scored.sentences[n][0]
        passage_scores[rank] = max(passage_scores[rank], final[j])
    best = max(range(len(read)), key=final.__getitem__)
    n = read[best]
    rank, source, span, _ = scored.sentences[n]
    ranked = sorted(logits.tolist(), reverse=True)
    features = {
        "logit": float(logits[best]),
        "margin": float(logits[best]) - (ranked[1] if len(ranked) > 1 else ranked[0] - 5.0),
        "closeness": float(scored.closeness[n]),
        "heuristic": float(scored.scores[n]),
        "rank": float(rank),
    }
    return QuoteChoice(
        source,
        span,
        scored.texts[n],
        final[best],
        float(scored.closeness[n]),
        tuple(passage_scores),
        features,
    )


def with_probability(
    choice: QuoteChoice, top_score: float, abstain: AbstainModel | None
) -> QuoteChoice:
    """``choice`` with its quote score the probability that the documents answer: the
    abstain model's, over the choice's features and the best passage's search score, or
    without one the reader's own logit as a probability."""
    features = {**choice.features, "top_score": top_score}
    if abstain is not None:
        p = abstain.probability(features)
    else:
        p = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, features["logit"]))))
    return replace(choice, quote_score=p, features=features)
