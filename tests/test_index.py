from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retriever import (
    CHUNK_DTYPE,
    DocumentRecord,
    Index,
    IndexCorruptError,
    IndexNotFoundError,
    write_generation,
)


def _write(path: Path, texts: dict[str, str], dim: int = 8) -> Path:
    docs, rows = [], []
    for source, text in texts.items():
        # Two chunks per document: its halves.
        mid = len(text) // 2
        part = np.zeros(2, CHUNK_DTYPE)
        part["start"], part["end"] = [0, mid], [mid, len(text)]
        rows.append(part)
        docs.append(
            DocumentRecord(source, source.upper(), "0" * 64, "text", "en", len(text), 0, 0, 0, 2)
        )
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2 * len(texts), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return write_generation(
        path,
        model="m",
        splitter={"chunk_size": 10},
        documents=docs,
        texts=list(texts.values()),
        chunks=np.concatenate(rows),
        vectors=vectors,
    )


def test_roundtrip_chunks_slice_documents_in_any_script(tmp_path: Path) -> None:
    texts = {
        "a.txt": "Grüße, Straße — ünïcödé 😀 text here",
        "b/c.txt": "日本語のテキストです。",
        "d.txt": "plain ascii",
    }
    _write(tmp_path / "idx", texts)
    index = Index.open(tmp_path / "idx")
    assert len(index) == 6
    for i in range(len(index)):
        chunk = index.chunk(i)
        assert index.document_text(chunk.source)[chunk.start : chunk.end] == chunk.text
    assert index.document_text("b/c.txt") == texts["b/c.txt"]
    assert index.document("a.txt").title == "A.TXT"
    scores, ids = index.search(index.vectors(0, 1), k=3)
    assert ids[0, 0] == 0 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)


def test_texts_are_read_by_offset_never_mapped(tmp_path: Path) -> None:
    """A served index reads texts at random: through a map, every read would also make
    the cached pages around it resident (``retriever.file_bytes.FileBytes``)."""
    text = "Ännchen von Tharau. " * 5000  # spans many pages
    _write(tmp_path / "idx", {"a.txt": text, "b.txt": "short"})
    index = Index.open(tmp_path / "idx")
    assert index.document_text("a.txt") == text
    assert [index.chunk(i).text for i in (2, 3)] == ["sh", "ort"]
    with open("/proc/self/maps", encoding="utf-8") as f:
        assert not [line for line in f if line.rstrip().endswith("texts.bin")]


def test_a_new_generation_replaces_the_old_one_whole(tmp_path: Path) -> None:
    first = _write(tmp_path / "idx", {"a.txt": "first version"})
    second = _write(tmp_path / "idx", {"a.txt": "second version", "b.txt": "another"})
    assert not first.exists() and second.exists()
    assert (tmp_path / "idx" / "CURRENT").read_text() == second.name
    index = Index.open(tmp_path / "idx")
    assert index.document_text("a.txt") == "second version"
    assert [d.source for d in index.documents] == ["a.txt", "b.txt"]


def test_missing_index_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="verbatim ingest"):
        Index.open(tmp_path / "nothing")


@pytest.mark.parametrize("victim", ["texts.bin", "chunks.npy", "vectors.npy", "manifest.json"])
def test_truncated_files_are_a_clear_error(tmp_path: Path, victim: str) -> None:
    gen = _write(tmp_path / "idx", {"a.txt": "some text to index", "b.txt": "more text"})
    data = (gen / victim).read_bytes()
    (gen / victim).write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError, match="verbatim ingest"):
        Index.open(tmp_path / "idx")


def test_a_dangling_current_pointer_is_a_clear_error(tmp_path: Path) -> None:
    _write(tmp_path / "idx", {"a.txt": "text"})
    (tmp_path / "idx" / "CURRENT").write_text("gen-missing")
    with pytest.raises(IndexCorruptError, match="rebuild"):
        Index.open(tmp_path / "idx")


@pytest.mark.parametrize("step", ["_write_lexical", "_write_spaces"])
def test_a_write_failing_on_either_side_leaves_the_live_generation_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    import retriever.writer as writer

    first = _write(tmp_path / "idx", {"a.txt": "first version"})
    before = sorted(p.name for p in (tmp_path / "idx").iterdir())

    def full(*args: object, **kwargs: object) -> None:
        raise OSError("No space left on device")

    # BM25 is written on a thread beside the vectors: a failure on either side ends the
    # write once both have stopped, and removes what it had written.
    monkeypatch.setattr(writer, step, full)
    with pytest.raises(OSError, match="No space left"):
        _write(tmp_path / "idx", {"a.txt": "second version"})
    assert sorted(p.name for p in (tmp_path / "idx").iterdir()) == before
    assert first.exists()
    assert Index.open(tmp_path / "idx").document_text("a.txt") == "first version"
