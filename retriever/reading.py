"""The quote as a trained reader judges it: each top passage's whole sentences are read
with the question by :class:`retriever.reader.Reader`, which says how likely each sentence
holds the answer; :func:`retriever.quote.choose_quote` adds that to its own scores when
they leave the choice close."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

from retriever.quote import Candidate, Scored
from retriever.reader_inputs import Reading, Window

__all__ = ["ReaderLike", "reader_judge"]


class ReaderLike(Protocol):
    """What the quote needs of a reader (:class:`retriever.reader.Reader`)."""

    def read(self, question: str, windows: Sequence[Window]) -> list[Reading]: ...


def reader_judge(
    reader: ReaderLike,
    question: str,
    candidates: Sequence[Candidate],
    documents: dict[str, tuple[str, str, Sequence[tuple[int, int]]]],
) -> Callable[[Scored, set[int]], list[float]]:
    """A judge for :func:`~retriever.quote.choose_quote`: for each scored sentence, the
    reader's log-odds of its best answer span against "no answer here", the best over the
    passages it stands in (``-inf`` where the reader did not see it: cut off, or not in the
    candidates numbered in ``passages``). Each passage is read as its whole sentences, as
    the quote found them (``Scored.passages``).

    The passages are read only when the judge is called.
    """

    def judge(scored: Scored, passages: set[int]) -> list[float]:
        read = [c for n, c in enumerate(candidates) if n in passages]
        per_passage = [spans for n, spans in enumerate(scored.passages) if n in passages]
        windows = [
            Window.of([documents[c.source][0][s.start : s.end] for s in spans])
            for c, spans in zip(read, per_passage, strict=True)
        ]
        readings = iter(reader.read(question, [w for w in windows if w.sentences]))
        by_span: dict[tuple[str, int, int], float] = {}
        for c, spans, w in zip(read, per_passage, windows, strict=True):
            if not w.sentences:
                continue
            for span, value in zip(spans, next(readings).sentence_scores(w), strict=True):
                key = (c.source, span.start, span.end)
                by_span[key] = max(by_span.get(key, -math.inf), float(value))
        return [by_span.get((src, s.start, s.end), -math.inf) for _, src, s, _ in scored.sentences]

    return judge
