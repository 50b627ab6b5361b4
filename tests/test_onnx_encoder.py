"""The onnx-int8 backend: built locally from the packaged model, close to PyTorch's vectors."""

from __future__ import annotations

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
