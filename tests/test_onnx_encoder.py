"""The ONNX backends: built locally from the packaged model; int8 close to PyTorch's
vectors, float32 the same vectors, and asking on a PyTorch-built index never imports
PyTorch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

TEXTS = [
    "On January 27, 1944, the siege of Leningrad was finally broken.",
    "Am 3. Juli befreite die Rote Armee Minsk.",
    "Nearly 2,000 tanks clashed at Prokhorovka during the Battle of Kursk, " * 8,
    "x",
]


def test_onnx_int8_is_built_offline_and_matches_torch(tmp_path: Path) -> None:
    from retriever.models import load_encoder
    from retriever.onnx_encoder import OnnxEncoder

    onnx = OnnxEncoder(cache=tmp_path)
    built = list(tmp_path.glob("*-int8-*/model.onnx"))
    assert len(built) == 1 and onnx.backend == "onnx-int8" and onnx.dim == 384
    torch_vecs = load_encoder().encode(TEXTS)
    vecs = onnx.encode(TEXTS, batch_size=2)  # batches of mixed lengths, order kept
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    cos = (vecs * torch_vecs).sum(1)
    assert cos.min() > 0.9 and cos.mean() > 0.95, cos
    # The nearest torch vector of each ONNX vector is its own text's.
    assert ((vecs @ torch_vecs.T).argmax(1) == np.arange(len(TEXTS))).all()
    # A second encoder reuses the built model instead of exporting again.
    mtime = built[0].stat().st_mtime_ns
    OnnxEncoder(cache=tmp_path)
    assert built[0].stat().st_mtime_ns == mtime


def test_onnx_fp32_gives_torchs_vectors_and_its_tokens(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from retriever.models import load_encoder
    from retriever.onnx_encoder import OnnxEncoder

    onnx = OnnxEncoder(quantize=False, cache=tmp_path)
    assert onnx.backend == "onnx-fp32"
    folder = next(tmp_path.glob("*-fp32-*"))
    hf = AutoTokenizer.from_pretrained(str(folder))
    for text in TEXTS:  # the same ids, the long one cut at the model's length alike
        ids = hf(text, truncation=True, max_length=onnx._max_len)["input_ids"]
        assert onnx._tokenizer.encode(text).ids == ids
    torch_vecs = load_encoder().encode(TEXTS)
    vecs = onnx.encode(TEXTS, batch_size=3)
    np.testing.assert_allclose(vecs, torch_vecs, atol=2e-5)


def test_asking_on_a_pytorch_index_never_imports_pytorch(seed_index: Path, tmp_path: Path) -> None:
    from retriever.onnx_encoder import OnnxEncoder

    OnnxEncoder(quantize=False, cache=tmp_path)  # exported once per machine (this needs torch)
    code = (
        "import json, sys\n"
        "from retriever.stores import open_answerer\n"
        "a = open_answerer(sys.argv[1])\n"
        "r = a.ask('When was the siege of Leningrad broken?')\n"
        "print(json.dumps([r.answered, r.quote, a.encoder.backend, 'torch' in sys.modules]))\n"
    )
    env = {**os.environ, "VERBATIM_ONNX_CACHE": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", code, str(seed_index)],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )  # fmt: skip
    answered, quote, backend, torch_loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert backend == "onnx-fp32" and not torch_loaded, run.stderr[-2000:]
    assert answered and "January 27, 1944" in quote
