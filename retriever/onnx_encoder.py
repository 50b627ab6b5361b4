"""A faster CPU encoder: the same sentence-transformers model run by ONNX Runtime, int8.

The model is exported to ONNX from the local sentence-transformers folder (torch's
exporter, nothing downloaded) and its weights quantized to int8 with ONNX Runtime's
dynamic quantization; the result is cached under :data:`ONNX_CACHE` and reused. Pooling
and normalisation are the model's own (read from its ``modules.json``), so vectors match
the PyTorch ones up to quantization error (``verbatim bench`` measures the speed and the
hit@1 on both gold sets).

Why not sentence-transformers' own ``backend="onnx"``: it needs ``optimum-onnx``, whose
only release (0.1.0) requires ``transformers<4.58`` and ``huggingface-hub<1``, while
sentence-transformers 6 needs ``transformers>=5`` and Gradio 6 ``huggingface-hub>=1.16``;
the three cannot be installed together. The export and quantization here are the same
steps that backend performs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from retriever.durable import atomic_folder
from retriever.encoder import resolve_model
from retriever.errors import BadArgumentError

__all__ = [
    "OnnxEncoder",
    "ONNX_CACHE",
    "build_onnx_model",
    "cpu_session",
    "return_freed_memory",
    "threads_default",
]

#: Where exported models are kept (one folder per model and precision).
ONNX_CACHE = Path(
    os.environ.get("VERBATIM_ONNX_CACHE", Path.home() / ".cache" / "verbatim" / "onnx")
)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _pooling(model_path: Path) -> tuple[str, bool, int]:
    """The model's pooling mode, whether it normalises, and its max sequence length."""
    modules = json.loads((model_path / "modules.json").read_text())
    kinds = {m["type"].rsplit(".", 1)[-1]: m for m in modules}
    mode = "mean"
    if "Pooling" in kinds:
        cfg = json.loads((model_path / kinds["Pooling"]["path"] / "config.json").read_text())
        if cfg.get("pooling_mode_cls_token"):
            mode = "cls"
        elif not cfg.get("pooling_mode_mean_tokens", True):
            raise BadArgumentError(
                f"the ONNX backend supports mean or CLS pooling; {model_path} uses another"
            )
    max_len = 256
    st_cfg = model_path / "sentence_bert_config.json"
    if st_cfg.exists():
        max_len = int(json.loads(st_cfg.read_text()).get("max_seq_length") or max_len)
    return mode, "Normalize" in kinds, max_len


#: How models are exported and quantized; a new recipe exports again instead of reusing.
#: 2: 7-bit weight range (``reduce_range``): on CPUs without VNNI (AVX2 only), ONNX
#: Runtime's u8·s8 products saturate with full-range int8 weights, which cost 2 of 85 seed
#: questions their first-ranked passage (``verbatim bench --only backends``).
_RECIPE = "2"


def build_onnx_model(model: str | None, folder: Path, quantize: bool = True) -> Path:
    """Export ``model`` to ``folder/model.onnx`` (int8 weights if ``quantize``), atomically.

    Raises:
        BadArgumentError: the model is not a local sentence-transformers folder, or
            the ONNX tools are missing.
    """
    try:
        import onnxruntime  # noqa: F401
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # pragma: no cover - declared dependencies
        raise BadArgumentError(
            "the ONNX backend needs onnxruntime and onnx: pip install onnxruntime onnx"
        ) from exc
    from retriever.sentence_encoder import SentenceTransformerEncoder

    st = SentenceTransformerEncoder(model)._model
    hf = st[0].auto_model.eval()
    tokenizer = st.tokenizer

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = hf

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    with atomic_folder(folder) as tmp:
        sample = tokenizer(["a sample sentence", "another"], padding=True, return_tensors="pt")
        if "token_type_ids" not in sample:
            sample["token_type_ids"] = torch.zeros_like(sample["input_ids"])
        axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "hidden")}
        with torch.no_grad():
            torch.onnx.export(
                _Hidden(),
                tuple(sample[name] for name in _INPUTS),
                str(tmp / "fp32.onnx"),
                input_names=list(_INPUTS),
                output_names=["hidden"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        if quantize:
            quantize_dynamic(
                str(tmp / "fp32.onnx"),
                str(tmp / "model.onnx"),
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
            )
            (tmp / "fp32.onnx").unlink()
        else:
            (tmp / "fp32.onnx").rename(tmp / "model.onnx")
        tokenizer.save_pretrained(str(tmp))
    return folder


def threads_default() -> int:
    """ONNX Runtime's threads: the cores this process was given (a Ray actor's, through
    ``OMP_NUM_THREADS``), else every core."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    return int(given) if given.isdigit() and int(given) > 0 else (os.cpu_count() or 1)


def cpu_session(model: Path | bytes, threads: int | None = None, *, arena: bool = True) -> Any:
    """An ONNX Runtime session on the CPU for ``model`` (a file or its bytes), on
    ``threads`` intra-op threads (default: :func:`threads_default`). Its threads sleep when
    a run ends instead of spinning: an answer runs the other encoder and the quote right
    after, on the same cores. Without ``arena``, each run's working memory is returned when
    it ends instead of kept for the next (ONNX Runtime's arena keeps its peak: over 1 GiB
    for multilingual-e5-small after one batch of long texts)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = arena
    options.intra_op_num_threads = threads or threads_default()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def return_freed_memory() -> None:
    """Give the memory a run freed back to the system. Without its arena, ONNX Runtime
    frees a run's working memory, but its threads freed it into the C allocator's
    per-thread heaps, which keep it: a fresh process kept between 20 and 490 MiB after one
    batch of eight 512-token windows, differently on each run. ``malloc_trim`` returns it
    (under 1 ms). Only on glibc; elsewhere nothing happens."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim`` among the process's own symbols, looked up once (None
    without glibc)."""
    import ctypes

    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


def _fast_tokenizer(folder: Path, max_len: int) -> Any:
    """The model's tokenizer as saved with its export (``tokenizer.json``), run by the
    ``tokenizers`` library: the ids of the model's own tokenizer, padded to the longest
    text and cut at ``max_len``, without importing transformers (and with it PyTorch)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    pad = config.get("pad_token") or "[PAD]"
    pad = pad["content"] if isinstance(pad, dict) else pad
    tokenizer.enable_truncation(max_length=max_len)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id(pad), pad_token=pad)
    return tokenizer


class OnnxEncoder:
    """A sentence-transformers model run by ONNX Runtime, behind the Encoder interface.

    Args:
        model: as for :class:`~retriever.encoder.SentenceTransformerEncoder`.
        quantize: int8 weights (faster, within quantization error) or float32.
        cache: folder of exported models (built on first use, a few seconds).
        threads: ONNX Runtime intra-op threads (default: the cores given to this process,
            see :func:`threads_default`).

    Example:
        >>> enc = OnnxEncoder()                         # doctest: +SKIP
        >>> enc.encode(["Minsk was liberated"]).shape   # doctest: +SKIP
        (1, 384)
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        quantize: bool = True,
        cache: Path | None = None,
        threads: int | None = None,
    ) -> None:
        self.name, path = resolve_model(model)
        model_path = Path(path)
        if not (model_path / "modules.json").is_file():
            raise BadArgumentError(
                f"the ONNX backend exports from a local sentence-transformers folder; "
                f"{path!r} is not one"
            )
        self._pool, self._normalize, self._max_len = _pooling(model_path)
        digest = hashlib.sha256(
            (model_path / "config.json").read_bytes()
            + str(model_path.resolve()).encode()
            + _RECIPE.encode()
        ).hexdigest()[:10]
        precision = "int8" if quantize else "fp32"
        folder = (cache or ONNX_CACHE) / f"{self.name.replace('/', '_')}-{precision}-{digest}"
        if not (folder / "model.onnx").is_file():
            build_onnx_model(str(model_path), folder, quantize=quantize)
        self.backend = f"onnx-{precision}"
        self._session = cpu_session(folder / "model.onnx", threads)
        self._tokenizer = _fast_tokenizer(folder, self._max_len)
        self.dim = int(self._embed(["x"]).shape[1])
        self._lock = threading.Lock()

    def _embed(self, texts: list[str]) -> np.ndarray:
        enc = self._tokenizer.encode_batch(texts)
        feed = {
            "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
        }
        hidden = self._session.run(None, feed)[0]
        if self._pool == "cls":
            vectors = hidden[:, 0]
        else:
            mask = feed["attention_mask"][..., None].astype(np.float32)
            vectors = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
        if self._normalize:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32)

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        """Unit rows for ``texts``, batched longest first so padding stays small."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._lock:
            for i in range(0, len(texts), batch_size):
                rows = order[i : i + batch_size]
                out[rows] = self._embed([texts[j] for j in rows])
        return out
