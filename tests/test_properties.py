"""Properties that hold for any text in any script (hypothesis, with the fake encoder).

- every chunk's text is exactly its document's slice, and a plain-text document's text is
  the file's decoded content, unchanged;
- every quote, passage and highlight is exactly a slice of its document;
- any text encoded with a byte-order mark decodes back to itself;
- any question, whatever its characters, gets an answer or a BadQuestionError.

Examples per property are set by ``max_examples`` below (``derandomize``: the same
examples on every run, so the suite is deterministic).
"""

from __future__ import annotations

import codecs
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from ingest import SplitterSettings, decode_text, ingest
from ingest.clean import debris_spans, quotable_segments
from ingest.split import split_spans
from retriever import Answerer, BadQuestionError, Index
from retriever.quote import MAX_QUOTE_CHARS
from retriever.settings import DEFAULT_SCORING
from tests.conftest import HashEncoder, write_tiny

pytestmark = pytest.mark.timeout(600)

#: Examples per property (reported in the README's reliability section).
EXAMPLES = {"split": 500, "ingest": 150, "quotes": 150, "decode": 500, "questions": 500}


def _settings(name: str) -> settings:
    return settings(
        max_examples=EXAMPLES[name],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- text in any script --------------------------------------------------------------------

#: Letters and digits of every script, and the marks that join them.
_letters = st.characters(categories=["L", "M", "N"], codec="utf-8")
_word = st.text(_letters, min_size=1, max_size=12)
_separators = st.sampled_from(
    [" ", " ", " ", ", ", ". ", "! ", "? ", "。", "؟ ", "\n", "\n\n", "\r\n", "\t", " — ",
     "\u00a0", "\u200b", "\u2028", " 😀 ", " 🇺🇦 ", "…", "; ", ": ", " (", ") ", "\"", "«"]
)  # fmt: skip
_sentence_text = st.lists(st.tuples(_word, _separators), min_size=1, max_size=120).map(
    lambda parts: "".join(w + s for w, s in parts)
)
#: Any character but surrogates (which no file can hold) and the C0 controls other than
#: tab and line ends (a file full of them is, rightly, read as binary).
_any_char = st.characters(codec="utf-8").filter(lambda c: c >= " " or c in "\t\n\r")
_raw_text = st.text(_any_char, min_size=1, max_size=1500)
ANY_TEXT = st.one_of(_sentence_text, _raw_text)


def _check_chunks(index: Index) -> None:
    for i in range(len(index)):
        c = index.chunk(i)
        assert index.document_text(c.source)[c.start : c.end] == c.text
        assert c.text.strip()


# -- chunks --------------------------------------------------------------------------------


@_settings("split")
@given(
    text=ANY_TEXT,
    size=st.integers(20, 600),
    overlap_share=st.floats(0, 0.5),
)
def test_split_spans_slice_the_text_and_skip_debris(
    text: str, size: int, overlap_share: float
) -> None:
    settings_ = SplitterSettings(chunk_size=size, chunk_overlap=int(size * overlap_share))
    excluded = debris_spans(text)
    spans = split_spans(text, quotable_segments(text, excluded), settings_)
    for a, b in spans:
        assert 0 <= a < b <= len(text)
        chunk = text[a:b]
        assert chunk.strip() and chunk == chunk.strip()
        for x, y in excluded:  # debris is never inside a chunk
            assert b <= x or a >= y


def _ingest_texts(texts: list[str], root: Path, **kw) -> tuple[Path, dict[str, str]]:
    docs = root / "docs"
    docs.mkdir()
    for i, text in enumerate(texts):
        (docs / f"d{i}.txt").write_bytes(text.encode("utf-8"))
    encoders = {"encoder": HashEncoder(), "cross_lingual_encoder": HashEncoder("aux-hash", 192)}
    report = ingest([docs], root / "index", warn=lambda m: None, **encoders, **kw)
    return root / "index", dict(report.skipped)


@pytest.mark.slow  # an index is written for each example
@_settings("ingest")
@given(texts=st.lists(ANY_TEXT, min_size=1, max_size=4), size=st.integers(30, 500))
def test_ingested_text_is_the_file_unchanged_and_chunks_slice_it(
    texts: list[str], size: int
) -> None:
    splitter = SplitterSettings(chunk_size=size, chunk_overlap=size // 5)
    with tempfile.TemporaryDirectory() as tmp:
        index_dir, skipped = _ingest_texts(texts, Path(tmp), splitter=splitter)
        if not Index.exists(index_dir):
            assert len(skipped) == len(texts)
            return
        index = Index.open(index_dir)
        indexed = {d.source for d in index.documents}
        first_with: dict[str, str] = {}
        for i, text in enumerate(texts):
            source = f"d{i}.txt"
            if source in indexed:
                # A leading U+FEFF is a byte-order mark, not text.
                expected = text[1:] if text.startswith("\ufeff") else text
                assert index.document_text(source) == expected
            else:
                reason = skipped[source]
                duplicate = first_with.get(text) == reason.removeprefix("same content as ")
                blank = not text.strip("\ufeff").strip() and reason in (
                    "the file is empty",
                    "no text could be extracted",
                )
                furniture = reason.startswith("nothing to search") and not split_spans(
                    text, quotable_segments(text, debris_spans(text)), splitter
                )
                assert duplicate or blank or furniture or "binary" in reason, reason
            first_with.setdefault(text, source)
        _check_chunks(index)


# -- quotes and highlights -------------------------------------------------------------------


@pytest.mark.slow  # an index is written for each example
@_settings("quotes")
@given(
    texts=st.lists(_sentence_text, min_size=1, max_size=3),
    picks=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.integers(1, 8)),
        min_size=1,
        max_size=4,
    ),  # fmt: skip
    noise=st.lists(_word, max_size=3),
    k=st.integers(1, 10),
)
def test_quotes_passages_and_highlights_slice_their_documents(
    texts: list[str], picks: list[tuple[int, int, int]], noise: list[str], k: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        index_dir, _ = _ingest_texts(texts, Path(tmp))
        assume(Index.exists(index_dir))
        index = Index.open(index_dir)
        answerer = Answerer(
            index,
            HashEncoder(),
            cross_lingual_encoder=HashEncoder("aux-hash", 192),
            scoring=DEFAULT_SCORING.replace(min_score=-1.0),  # always try to quote
        )
        for doc_no, at, n_words in picks:
            # A question made of a run of one document's words, plus some noise.
            words = texts[doc_no % len(texts)].split()
            start = at % max(1, len(words))
            question = " ".join(words[start : start + n_words] + noise)
            try:
                answer = answerer.ask(question, k=k)
            except BadQuestionError:
                continue
            d = answer.to_dict()
            json.dumps(d, ensure_ascii=False).encode("utf-8")
            event("answered" if answer.answered else "abstained")
            if answer.answered:
                c = answer.citation
                doc = index.document_text(c.source)
                assert doc[c.start : c.end] == answer.quote
                assert answer.quote.strip() and len(answer.quote) <= MAX_QUOTE_CHARS
            assert len(answer.passages) <= k
            for p in answer.passages:
                doc = index.document_text(p.source)
                assert doc[p.start : p.end] == p.text
                if p.highlight is not None:
                    event("a passage highlighted")
                    h = p.highlight
                    assert p.start <= h.start < h.end <= p.end
                    assert answer.answered and p.source == answer.citation.source
                    assert c.start <= h.start and h.end <= c.end
                    assert doc[h.start : h.end] in answer.quote


# -- decoding ------------------------------------------------------------------------------

_BOM_ENCODINGS = [
    (codecs.BOM_UTF8, "utf-8"),
    (b"", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
]


@_settings("decode")
@given(text=ANY_TEXT, which=st.integers(0, len(_BOM_ENCODINGS) - 1))
def test_any_text_with_a_byte_order_mark_or_in_utf8_decodes_to_itself(
    text: str, which: int
) -> None:
    bom, encoding = _BOM_ENCODINGS[which]
    assume(not text.startswith("\ufeff"))
    assert decode_text(bom + text.encode(encoding)) == text


# -- questions -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory) -> Answerer:
    tmp = tmp_path_factory.mktemp("q")
    enc, aux = HashEncoder(), HashEncoder("aux-hash", 192)
    ingest([write_tiny(tmp / "docs")], tmp / "index", encoder=enc, cross_lingual_encoder=aux)
    return Answerer(
        Index.open(tmp / "index"),
        enc,
        cross_lingual_encoder=aux,
        scoring=DEFAULT_SCORING.replace(min_score=0.1),
    )


@_settings("questions")
@given(
    question=st.one_of(
        st.text(st.characters(), max_size=300),  # any code point, lone surrogates too
        _sentence_text,
        st.text(st.characters(codec="utf-8"), min_size=1900, max_size=2100),
    ),
    k=st.integers(1, 100),
)
def test_any_question_gets_an_answer_or_a_clear_refusal(
    answerer: Answerer, question: str, k: int
) -> None:
    try:
        answer = answerer.ask(question, k=k)
    except BadQuestionError as exc:
        event("refused")
        assert str(exc).startswith("the question ")
        return
    event("answered" if answer.answered else "abstained")
    d = answer.to_dict()
    json.dumps(d, ensure_ascii=False).encode("utf-8")
    index = answerer.index
    if answer.answered:
        c = answer.citation
        assert index.document_text(c.source)[c.start : c.end] == answer.quote
    for p in answer.passages:
        assert index.document_text(p.source)[p.start : p.end] == p.text
