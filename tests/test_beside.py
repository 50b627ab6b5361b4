"""One answer on both cores: its two encoders embed the question, and then the candidate
sentences, at the same time, and the answer is the one they give one after the other."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import numpy as np
import pytest

from retriever.answer import Answerer
from retriever.beside import beside
from retriever.encoder import calibrate
from retriever.quote import Meaning

TEXTS = ["Minsk was liberated on 3 July 1944.", "Am 3. Juli befreite die Rote Armee Minsk.", "x"]


class Fake:
    """A deterministic encoder; with a barrier, each call waits until the other encoder's
    call is in flight too (it breaks, failing the test, when they run one after the other)."""

    def __init__(self, seed: int, dim: int, meet: threading.Barrier | None = None) -> None:
        self.seed, self.dim, self.meet = seed, dim, meet
        self.calibration = (0.70, 3.2) if seed else None

    def _vectors(self, texts: list[str]) -> np.ndarray:
        rows = []
        for t in texts:
            v = np.random.default_rng([self.seed, *t.encode()]).standard_normal(self.dim)
            rows.append(v / np.linalg.norm(v))
        return np.asarray(rows, dtype=np.float32)

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        if self.meet is not None:
            self.meet.wait()
        return self._vectors(texts)

    def encode_query(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        return self.encode(texts)


def test_work_beside_returns_its_result_and_raises_its_error() -> None:
    assert beside(sum, [1, 2, 3]).result() == 6
    with pytest.raises(ZeroDivisionError):
        beside(divmod, 1, 0).result()


def test_the_sentences_are_embedded_by_both_encoders_at_once() -> None:
    meet = threading.Barrier(2, timeout=20)
    q_main, q_cross = Fake(0, 8)._vectors(["q"])[0], Fake(1, 6)._vectors(["q"])[0]
    at_once = Meaning((Fake(0, 8, meet), q_main), (Fake(1, 6, meet), q_cross))
    sims, closeness = at_once.scores(TEXTS, ["en", "de", "en"])
    main = Fake(0, 8)._vectors(TEXTS) @ q_main
    cross = calibrate(Fake(1, 6), Fake(1, 6)._vectors(TEXTS) @ q_cross)
    w = at_once.scoring.cross_lingual_weight
    np.testing.assert_allclose(sims, (1 - w) * main + w * cross, rtol=1e-6)
    np.testing.assert_array_equal(sims, closeness)
    # Without the cross-lingual model, the main one alone, on this thread.
    alone = Meaning((Fake(0, 8), q_main))
    np.testing.assert_array_equal(alone.scores(TEXTS, ["en"] * 3)[0], main)


def test_a_failed_sentence_encoding_reaches_the_caller() -> None:
    class Broken(Fake):
        def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
            raise MemoryError("no room for the sentences")

    q = np.ones(8, np.float32) / np.sqrt(8)
    with pytest.raises(MemoryError, match="no room"):
        Meaning((Fake(0, 8), q), (Broken(1, 8), q)).scores(TEXTS, ["en"] * 3)


def test_the_question_is_embedded_by_both_encoders_at_once() -> None:
    meet = threading.Barrier(2, timeout=20)
    answerer = SimpleNamespace(
        encoder=Fake(0, 8, meet),
        cross_lingual_encoder=Fake(1, 6, meet),
        index=SimpleNamespace(langs=["en", "de"]),
    )
    question = Answerer.embed(answerer, "When was Minsk liberated?")  # type: ignore[arg-type]
    np.testing.assert_array_equal(question.vector, Fake(0, 8)._vectors([question.text])[0])
    np.testing.assert_array_equal(
        question.cross_lingual_vector, Fake(1, 6)._vectors([question.text])[0]
    )
    assert question.languages and max(question.languages, key=question.languages.get) == "en"
