from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.clean import debris_spans, is_debris, quotable_segments
from ingest.split import SplitterSettings, split_spans
from tests.conftest import SEEDS


def test_seed_debris_is_found_and_nothing_else() -> None:
    text = (SEEDS / "001_d76bb921c4821f5a.txt").read_text(encoding="utf-8")
    found = [text[a:b] for a, b in debris_spans(text)]
    assert found == [
        "Artboard Created with Sketch. Close Search Dialog",
        "! Error Created with Sketch.",
        "World War II (1939–1945): Popular pages",
    ]
    text0 = (SEEDS / "000_c51f980ed00a777f.txt").read_text(encoding="utf-8")
    assert [text0[a:b] for a, b in debris_spans(text0)] == [
        "Popular pages: World War II (1939–1945)"
    ]


def test_sentences_and_headings_are_not_debris() -> None:
    assert not is_debris("The Battle of Kursk")
    assert not is_debris("July3Soviet forces liberate Minsk")
    assert not is_debris("Search parties found the crew on May 3.")
    assert is_debris("Search")
    assert is_debris("  ***  ")


def test_seed_chunks_slice_their_document_and_avoid_debris() -> None:
    for path in SEEDS.iterdir():
        text = path.read_text(encoding="utf-8")
        excluded = debris_spans(text)
        spans = split_spans(text, quotable_segments(text, excluded))
        assert spans, path
        for a, b in spans:
            chunk = text[a:b]
            assert chunk == chunk.strip() and chunk
            assert b - a <= 500
            assert "Created with Sketch" not in chunk and "Popular pages" not in chunk
        covered = " ".join(text[a:b] for a, b in spans)
        # Every word outside debris lands in some chunk.
        clean = " ".join(text[a:b] for a, b in quotable_segments(text, excluded))
        assert set(clean.split()) <= set(covered.split())


def test_quotable_segments_are_the_gaps_between_debris() -> None:
    text = "aaa\nDEBRIS\nbbb"
    assert quotable_segments(text, [(4, 10)]) == [(0, 4), (10, 14)]
    assert quotable_segments(text, []) == [(0, 14)]
    assert quotable_segments("   ", []) == []


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=2000),
    st.sampled_from([(50, 0), (120, 30), (500, 100)]),
)
def test_every_chunk_is_its_document_slice(text: str, size_overlap: tuple[int, int]) -> None:
    size, overlap = size_overlap
    settings_ = SplitterSettings(chunk_size=size, chunk_overlap=overlap)
    excluded = debris_spans(text)
    for a, b in split_spans(text, quotable_segments(text, excluded), settings_):
        assert 0 <= a < b <= len(text)
        assert text[a:b].strip()
        assert not any(ea < b and a < eb for ea, eb in excluded)
