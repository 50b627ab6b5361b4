"""How the reader sees a question and a passage: one token sequence, and back to sentences.

The same layout at training (``eval/train/``) and at question time (:mod:`retriever.reader`),
so that the weights read what they were trained on::

    <cls> query: question <sep> passage: sentence sentence sentence … <sep>

A passage is a :class:`Window`: the whole sentences of one retrieved chunk, joined by one
space (text the answer path keeps out, such as page furniture between them, is not read).
The reader gives each token of the passage a start and an end logit, and the first token
(``<cls>``) the pair of "no answer here"; :meth:`Reading.sentence_scores` turns them into
one score per sentence: its best answer span against no answer, a log-odds.

The question is cut at :data:`QUESTION_TOKENS` and the whole at :data:`MAX_TOKENS`;
sentences past the cut are not read (they score ``-inf``).

Example:
    >>> w = Window.of(["Ann won.", "It rained."])
    >>> w.text, w.sentences
    ('Ann won. It rained.', ((0, 8), (9, 19)))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

__all__ = [
    "Cutter",
    "MAX_ANSWER_TOKENS",
    "MAX_TOKENS",
    "QUESTION_TOKENS",
    "PairLayout",
    "Reading",
    "Window",
]


class Cutter(Protocol):
    """What cuts text into token ids with character offsets: a ``tokenizers.Tokenizer``
    (training) or :class:`retriever.e5_pieces.E5Pieces` (question time), which agree."""

    def encode_batch(self, texts: Any, add_special_tokens: bool = ...) -> list[Any]: ...


MAX_TOKENS = 256
QUESTION_TOKENS = 48
#: The longest answer span the scores consider, in tokens.
MAX_ANSWER_TOKENS = 40
_QUERY, _PASSAGE = "query: ", "passage: "


@dataclass(frozen=True)
class Window:
    """Sentences joined by one space, and where each stands in the joined text."""

    text: str
    sentences: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, sentences: Sequence[str]) -> Window:
        spans, pos = [], 0
        for s in sentences:
            spans.append((pos, pos + len(s)))
            pos += len(s) + 1
        return cls(" ".join(sentences), tuple(spans))


@dataclass(frozen=True)
class Encoded:
    """One question/passage sequence: token ids, and for each passage token its character
    span in the window (``(-1, -1)`` for the question and special tokens)."""

    ids: list[int]
    offsets: list[tuple[int, int]]


@dataclass(frozen=True)
class PairLayout:
    """The special tokens of a model's vocabulary, and whether it wants E5's prefixes."""

    cls: int
    sep: int
    pad: int
    prefixes: bool = True

    def encode(
        self, tokenizer: Cutter, question: str, windows: Sequence[Window]
    ) -> list[Encoded]:
        """Each window read with ``question``, cut to :data:`MAX_TOKENS`."""
        q_text = _QUERY + question if self.prefixes else question
        lead = len(_PASSAGE) if self.prefixes else 0
        texts = [(_PASSAGE if self.prefixes else "") + w.text for w in windows]
        encoded = tokenizer.encode_batch([q_text, *texts], add_special_tokens=False)
        q = encoded[0].ids[:QUESTION_TOKENS]
        head = [self.cls, *q, self.sep]
        out = []
        for enc in encoded[1:]:
            room = MAX_TOKENS - len(head) - 1
            ids, offsets = [], []
            for tid, (a, b) in zip(enc.ids[:room], enc.offsets[:room], strict=True):
                ids.append(tid)
                # The prefix's tokens stand before the window: no place in it.
                offsets.append((a - lead, b - lead) if b > lead else (-1, -1))
            none = [(-1, -1)] * len(head)
            out.append(Encoded([*head, *ids, self.sep], [*none, *offsets, (-1, -1)]))
        return out

    def batch(self, rows: Sequence[Encoded]) -> tuple[np.ndarray, np.ndarray]:
        """``(input_ids, attention_mask)`` of ``rows``, padded to the longest (int64)."""
        width = max((len(r.ids) for r in rows), default=0)
        ids = np.full((len(rows), width), self.pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r.ids)] = r.ids
            mask[i, : len(r.ids)] = 1
        return ids, mask


def token_range(offsets: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """The first and one past the last token overlapping characters ``[start, end)``
    (``(0, 0)`` when none does: the span was cut off)."""
    first = last = -1
    for i, (a, b) in enumerate(offsets):
        if a < 0 or b <= start or a >= end:
            continue
        if first < 0:
            first = i
        last = i
    return (first, last + 1) if first >= 0 else (0, 0)


@dataclass(frozen=True)
class Reading:
    """What the reader made of one window: start and end logits per token (index 0 is
    ``<cls>``, "no answer")."""

    encoded: Encoded
    start: np.ndarray
    end: np.ndarray

    @property
    def null(self) -> float:
        return float(self.start[0] + self.end[0])

    def sentence_scores(self, window: Window) -> np.ndarray:
        """Each sentence's best span (at most :data:`MAX_ANSWER_TOKENS`) against no answer:
        ``max start[i] + end[j] − null`` over ``i ≤ j`` inside it; ``-inf`` when cut off."""
        out = np.full(len(window.sentences), -np.inf, dtype=np.float32)
        for n, (a, b) in enumerate(window.sentences):
            lo, hi = token_range(self.encoded.offsets, a, b)
            if hi > lo:
                out[n] = best_span(self.start[lo:hi], self.end[lo:hi]) - self.null
        return out


def best_span(start: np.ndarray, end: np.ndarray, longest: int = MAX_ANSWER_TOKENS) -> float:
    """``max start[i] + end[j]`` over ``i ≤ j < i + longest``.

    Example:
        >>> best_span(np.array([1.0, 0.0, 5.0]), np.array([0.0, 3.0, 1.0]))
        6.0
    """
    best = -np.inf
    for j in range(len(end)):
        lo = max(0, j - longest + 1)
        best = max(best, float(start[lo : j + 1].max() + end[j]))
    return best
