"""E5Pieces (SentencePiece) against build_tokenizer (tokenizers), the cut the reader was
trained with: the same ids and the same character offsets."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from retriever.e5_pieces import E5Pieces
from tests.test_e5_torch import _seed_chunks, _texts


@pytest.fixture(scope="module")
def e5():  # type: ignore[no-untyped-def]
    from retriever.e5_file import default_model_path, read_e5_file

    return read_e5_file(default_model_path(), weights=())


@pytest.fixture(scope="module")
def both(e5):  # type: ignore[no-untyped-def]
    from retriever.e5_tokenizer import build_tokenizer

    return build_tokenizer(e5), E5Pieces(e5)


def _differences(both, texts: list[str]) -> list[tuple[str, list, list]]:  # type: ignore[no-untyped-def,type-arg]
    tokenizer, pieces = both
    theirs = tokenizer.encode_batch(texts, add_special_tokens=False)
    ours = pieces.encode_batch(texts)
    return [
        (text, list(zip(a.ids, map(tuple, a.offsets))), list(zip(b.ids, b.offsets)))
        for text, a, b in zip(texts, theirs, ours, strict=True)
        if a.ids != b.ids or [tuple(o) for o in a.offsets] != b.offsets
    ]


@pytest.mark.parametrize("prefix", ["query: ", "passage: "])
def test_the_corner_texts_cut_alike(both, prefix: str) -> None:  # type: ignore[no-untyped-def]
    texts = [prefix + t for t in _texts()]
    assert len(texts) >= 300
    assert not (diff := _differences(both, texts)), diff[:3]


def test_every_seed_chunk_cuts_alike(both) -> None:  # type: ignore[no-untyped-def]
    chunks = _seed_chunks()
    assert len(chunks) > 20
    assert not (diff := _differences(both, ["passage: " + c for c in chunks])), diff[:3]


def test_the_engines_corners_are_put_back(both, e5) -> None:  # type: ignore[no-untyped-def]
    _, pieces = both
    unknown, trailing, literal = pieces.encode_batch(
        ["passage: \U0001d11e\U0001d11e\U0001d11e", "passage: a  ", "passage: <s></s>"]
    )
    # Three unknown characters: three <unk>, one character each (SentencePiece: one).
    assert unknown.ids[-3:] == [e5.unk] * 3
    assert unknown.offsets[-3:] == [(9, 10), (10, 11), (11, 12)]
    # Whitespace at the end: one "▁" on the last of it (SentencePiece: none).
    assert [e5.pieces[i] for i in trailing.ids][-2:] == ["▁a", "▁"]
    assert trailing.offsets[-1] == (11, 12)
    # "<s>" in text is a piece like any other, as the engine matches it.
    assert {e5.bos, e5.eos} <= set(literal.ids)
    with pytest.raises(Exception, match="special tokens"):
        pieces.encode_batch(["x"], add_special_tokens=True)


def test_the_normalisation_trie_passes_sentencepieces_check(e5) -> None:  # type: ignore[no-untyped-def]
    from retriever.e5_tokenizer import precompiled_charsmap

    blob = precompiled_charsmap(e5.normalization)
    (size,) = struct.unpack("<I", blob[:4])
    units = np.frombuffer(blob[4 : 4 + size], dtype="<u4")
    assert units[0] >> 10, "the root needs an offset (darts-clone's validate)"


def test_the_reader_cuts_with_sentencepiece() -> None:
    from retriever.reader import load_reader

    assert isinstance(load_reader().tokenizer, E5Pieces)


def test_the_model_is_kept_in_the_cache_checked_and_written_again_when_damaged(
    e5, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import retriever.onnx_encoder as onnx_encoder
    from retriever.e5_file import default_model_path
    from retriever.e5_pieces import _cached_model, sentencepiece_model

    monkeypatch.setattr(onnx_encoder, "ONNX_CACHE", tmp_path)
    built = sentencepiece_model(e5)
    assert _cached_model(e5, default_model_path()) == built
    (cached,) = tmp_path.glob("*-pieces-*.model")
    stamp = cached.stat().st_mtime_ns
    assert _cached_model(e5, default_model_path()) == built  # read back, not rebuilt
    assert cached.stat().st_mtime_ns == stamp
    text = ["passage: Grüße aus Köln, am 3. Juli."]
    from_cache = E5Pieces(e5, _cached_model(e5, default_model_path())).encode_batch(text)
    assert from_cache == E5Pieces(e5).encode_batch(text)
    blob = bytearray(cached.read_bytes())
    blob[5000] ^= 1  # one flipped bit in the model
    cached.write_bytes(bytes(blob))
    assert _cached_model(e5, default_model_path()) == built
    assert cached.read_bytes() != bytes(blob)  # written again
    cached.unlink()

    def refused(*args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        raise PermissionError("read-only cache")

    monkeypatch.setattr("retriever.durable.write_atomic", refused)
    assert _cached_model(e5, default_model_path()) == built  # built, not kept
    assert not cached.exists()
