"""How the reader sees a question and a candidate sentence: one token sequence.

The same layout at training (``eval/train/``) and at question time (:mod:`retriever.reader`),
so that the weights read what they were trained on::

    <cls> question <sep> candidate sentence <sep> the sentence before it <sep>

The question is cut at :data:`QUESTION_TOKENS`, the candidate at :data:`CANDIDATE_TOKENS`,
and the context fills what is left of :data:`MAX_TOKENS`. Models with E5's prefixes see
``query: `` before the question and ``passage: `` before the candidate.

Example:
    >>> layout = PairLayout(cls=0, sep=2, pad=1, prefixes=True)      # doctest: +SKIP
    >>> ids, mask = layout.batch(tokenizer, "Who?", [("It was Ann.", "")])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = ["PairLayout", "MAX_TOKENS", "QUESTION_TOKENS", "CANDIDATE_TOKENS"]

MAX_TOKENS = 72
QUESTION_TOKENS = 24
CANDIDATE_TOKENS = 40


@dataclass(frozen=True)
class PairLayout:
    """The special tokens of a model's vocabulary, and whether it wants E5's prefixes."""

    cls: int
    sep: int
    pad: int
    prefixes: bool = False

    def ids(self, q: list[int], cand: list[int], ctx: list[int]) -> list[int]:
        """One sequence from the pieces' token ids (no special tokens in them)."""
        q, cand = q[:QUESTION_TOKENS], cand[:CANDIDATE_TOKENS]
        room = max(0, MAX_TOKENS - 4 - len(q) - len(cand))
        return [self.cls, *q, self.sep, *cand, self.sep, *ctx[:room], self.sep]

    def batch(
        self, tokenizer: Tokenizer, question: str, candidates: Sequence[tuple[str, str]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(input_ids, attention_mask)`` of ``(candidate, context)`` pairs with ``question``,
        padded to the longest (int64 arrays, one row per candidate)."""
        q_text = f"query: {question}" if self.prefixes else question
        texts = [f"passage: {c}" if self.prefixes else c for c, _ in candidates]
        encoded = tokenizer.encode_batch(
            [q_text, *texts, *(ctx for _, ctx in candidates)], add_special_tokens=False
        )
        q = encoded[0].ids
        n = len(candidates)
        rows = [self.ids(q, encoded[1 + i].ids, encoded[1 + n + i].ids) for i in range(n)]
        width = max((len(r) for r in rows), default=0)
        ids = np.full((n, width), self.pad, dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return ids, mask
