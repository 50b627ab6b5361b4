"""The quote's sentence vectors are remembered: same answers, fewer embeddings."""

from __future__ import annotations

import numpy as np

from retriever import Answerer, Index
from retriever.encoder import CachedEncoder
from retriever.settings import DEFAULT_SCORING
from tests.conftest import HashEncoder


class Counting(HashEncoder):
    def __init__(self, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kw)
        self.texts = 0

    def encode(self, texts, *, batch_size=64):  # type: ignore[no-untyped-def]
        self.texts += len(texts)
        return super().encode(texts, batch_size=batch_size)


def test_cached_encoder_returns_the_same_vectors_and_stays_bounded() -> None:
    inner = Counting()
    cached = CachedEncoder(inner, max_items=3)
    texts = ["a b", "c d", "a b", "e f"]
    np.testing.assert_array_equal(cached.encode(texts), inner.encode(texts))
    assert inner.texts == 3 + 4  # the repeated text was embedded once
    cached.encode(["c d", "e f"])
    assert inner.texts == 7 and len(cached) == 3
    cached.encode(["g h"])  # evicts the least recently used, "a b"
    assert len(cached) == 3
    cached.encode(["a b"])
    assert inner.texts == 9
    assert cached.encode([]).shape == (0, inner.dim)


def test_answers_are_unchanged_and_sentences_embedded_once(tiny_index) -> None:
    main, aux = Counting(), Counting(name="aux-hash", dim=192)
    answerer = Answerer(
        Index.open(tiny_index),
        main,
        cross_lingual_encoder=aux,
        scoring=DEFAULT_SCORING.replace(min_score=0.1),
    )
    questions = ["When did Operation Bagration begin?", "How many tanks clashed at Prokhorovka?"]
    first = [answerer.ask(q).to_dict() for q in questions]
    embedded = main.texts
    again = [answerer.ask(q).to_dict() for q in questions]
    assert main.texts == embedded + len(questions)  # only the questions themselves
    for a, b in zip(first, again, strict=True):
        a.pop("timing_ms"), b.pop("timing_ms")
        assert a == b
