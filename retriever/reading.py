"""The quote as the reader judges it: each top passage's whole sentences, read with the
question by a trained reader (:class:`retriever.reader.Reader`), which says where the
answer stands and how likely none does; the sentence holding the best answer is the
quote, and the passages rank by their best sentence."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

import numpy as np

from retriever.abstain import AbstainModel
from retriever.quote import Candidate, Meaning, QuoteChoice, passage_sentences, score_sentences
from retriever.reader_inputs import Reading, Window
from retriever.records import Span

__all__ = ["ReaderLike", "read_quote", "with_probability"]


class ReaderLike(Protocol):
    """What the quote needs of a reader (:class:`retriever.reader.Reader`)."""

    def read(self, question: str, windows: Sequence[Window]) -> list[Reading]: ...


def read_quote(
    question: str,
    candidates: Sequence[Candidate],
    documents: dict[str, tuple[str, str, Sequence[tuple[int, int]]]],
    meaning: Meaning,
    reader: ReaderLike,
) -> QuoteChoice | None:
    """Pick the sentence that answers ``question`` as the reader judges it.

    Each candidate's whole sentences are read as one window. A sentence's score is the
    reader's (its best answer span against "no answer here", a log-odds; the best over the
    windows it stands in) plus ``heuristic_weight`` times its score by
    :func:`~retriever.quote.score_sentences`. A passage ranks by its best sentence.
    ``features`` of the choice hold what the abstain decision reads.

    Returns:
        The best quote, or ``None`` when the passages hold no usable sentence.
    """
    scored = score_sentences(question, candidates, documents, meaning)
    if scored is None:
        return None
    per_passage = passage_sentences(candidates, documents, meaning.scoring.widen_chars)
    windows = [
        Window.of([documents[c.source][0][s.start : s.end] for s in spans])
        for c, spans in zip(candidates, per_passage, strict=True)
    ]
    read = reader.read(question, [w for w in windows if w.sentences])
    by_span: dict[tuple[str, int, int], float] = {}
    nulls: list[float] = []
    readings = iter(read)
    for c, spans, w in zip(candidates, per_passage, windows, strict=True):
        if not w.sentences:
            continue
        reading = next(readings)
        nulls.append(reading.null)
        for span, value in zip(spans, reading.sentence_scores(w), strict=True):
            key = (c.source, span.start, span.end)
            by_span[key] = max(by_span.get(key, -math.inf), float(value))
    weight = meaning.scoring.heuristic_weight
    reads = [by_span.get((src, s.start, s.end), -math.inf) for _, src, s, _ in scored.sentences]
    final = [r + weight * h for r, h in zip(reads, scored.scores, strict=True)]
    if not any(math.isfinite(f) for f in final):
        return None
    passage_scores = [-np.inf] * len(candidates)
    for n, (rank, *_) in enumerate(scored.sentences):
        passage_scores[rank] = max(passage_scores[rank], final[n])
    best = max(range(len(final)), key=final.__getitem__)
    rank, source, span, _ = scored.sentences[best]
    ranked = sorted((p for p in passage_scores if math.isfinite(p)), reverse=True)
    features = {
        "reader": reads[best],
        "margin": reads[best] - max(
            (r for n, r in enumerate(reads) if scored.sentences[n][0] != rank), default=-20.0
        ),
        "null": nulls[0] if nulls else 0.0,
        "closeness": float(scored.closeness[best]),
        "heuristic": float(scored.scores[best]),
        "rank": float(rank),
        "passages": float(sum(p > 0 for p in ranked)),
    }
    return QuoteChoice(
        source,
        Span(span.start, span.end),
        scored.texts[best],
        final[best],
        float(scored.closeness[best]),
        tuple(passage_scores),
        features,
    )


def with_probability(
    choice: QuoteChoice, top_score: float, abstain: AbstainModel | None
) -> QuoteChoice:
    """``choice`` with its quote score the probability that the documents answer: the
    abstain model's, over the choice's features and the best passage's search score, or
    without one the reader's own log-odds as a probability."""
    features = {**choice.features, "top_score": top_score}
    if abstain is not None:
        p = abstain.probability(features)
    else:
        p = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, features["reader"]))))
    return replace(choice, quote_score=p, features=features)
