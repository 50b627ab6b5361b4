"""A running server answers from the last good index: while an update is written, when it
fails, and until a generation written by another process is complete and opens cleanly."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

import ui.library
from ingest import ingest
from retriever import durable
from ui.library import Library

NEW_TEXT = "Riga was taken by the Red Army on 13 October 1944 after a month of fighting."
QUESTION = "When was Riga taken?"


def _quote(library: Library) -> str | None:
    return library.answerer.ask(QUESTION).quote


def _upload(tmp_path: Path, text: str = NEW_TEXT) -> Path:
    p = tmp_path / f"upload-{len(text)}.txt"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def library(tiny_answerer, tmp_path: Path, monkeypatch) -> Library:
    monkeypatch.setattr(ui.library, "FOLLOW_INTERVAL_S", 0.0)
    return Library(tiny_answerer, tmp_path / "data")


def test_questions_during_an_update_are_answered_from_the_last_good_index(
    library: Library, tmp_path: Path, monkeypatch
) -> None:
    before = library.answerer.ask(QUESTION).to_dict()
    assert "Riga" not in (before["quote"] or "")
    # Hold the update once its new generation is written, before it goes live.
    written, go = threading.Event(), threading.Event()
    real_seal = durable.seal

    def held_seal(folder: Path, *args):  # type: ignore[no-untyped-def]
        out = real_seal(folder, *args)
        written.set()
        assert go.wait(30)
        return out

    monkeypatch.setattr(durable, "seal", held_seal)
    worker = threading.Thread(target=library.add, args=([("riga.txt", _upload(tmp_path))],))
    worker.start()
    try:
        assert written.wait(30)
        assert library.busy
        for _ in range(3):
            during = library.answerer.ask(QUESTION).to_dict()
            during.pop("timing_ms"), before.pop("timing_ms", None)
            assert during == before
    finally:
        go.set()
        worker.join(30)
    assert "riga.txt" in {d.source for d in library.documents}
    assert "13 October 1944" in (_quote(library) or "")


def test_a_failed_update_leaves_the_answers_and_the_index_as_they_were(
    library: Library, tmp_path: Path, monkeypatch
) -> None:
    index_dir = library.index_dir
    current = (index_dir / "CURRENT").read_text()
    before = library.answerer.ask(QUESTION).to_dict()

    def full_disk(folder: Path, *_):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(durable, "seal", full_disk)
    with pytest.raises(OSError, match="No space left"):
        library.add([("riga.txt", _upload(tmp_path))])
    after = library.answerer.ask(QUESTION).to_dict()
    before.pop("timing_ms"), after.pop("timing_ms")
    assert after == before
    assert (index_dir / "CURRENT").read_text() == current
    assert sorted(p.name for p in index_dir.iterdir() if p.name.startswith(".tmp")) == []
    # The upload itself is kept, so the next update indexes it.
    assert (library.documents_dir / "riga.txt").read_text(encoding="utf-8") == NEW_TEXT
    monkeypatch.undo()
    monkeypatch.setattr(ui.library, "FOLLOW_INTERVAL_S", 0.0)
    library.add([("tallinn.txt", _upload(tmp_path, "Tallinn was taken in September 1944."))])
    assert {"riga.txt", "tallinn.txt"} <= {d.source for d in library.documents}


def test_an_index_written_by_another_process_is_followed_once_complete(
    library: Library, tiny_docs: Path, tmp_path: Path, encoder, aux_encoder
) -> None:
    """``verbatim ingest`` on the served index: the server switches to the new generation."""
    assert "Riga" not in (_quote(library) or "")
    (tiny_docs / "riga.txt").write_text(NEW_TEXT, encoding="utf-8")
    ingest([tiny_docs], library.index_dir, encoder=encoder, cross_lingual_encoder=aux_encoder)
    assert "13 October 1944" in (_quote(library) or "")
    assert "riga.txt" in {d.source for d in library.documents}


def test_a_damaged_generation_from_another_process_is_not_followed(
    library: Library, tiny_docs: Path, encoder, aux_encoder, caplog
) -> None:
    old = library.answerer
    (tiny_docs / "riga.txt").write_text(NEW_TEXT, encoding="utf-8")
    ingest([tiny_docs], library.index_dir, encoder=encoder, cross_lingual_encoder=aux_encoder)
    gen = library.index_dir / (library.index_dir / "CURRENT").read_text().strip()
    (gen / "texts.bin").write_bytes(b"damaged")
    with caplog.at_level(logging.WARNING, logger="ui.library"):
        assert library.answerer is old
        assert library.answerer is old  # logged once, not retried on every question
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "keeping the current index" in warnings[0]
    assert "texts.bin" in warnings[0]
    assert "Riga" not in (old.ask(QUESTION).quote or "")


def test_an_upload_past_the_delta_limit_is_folded_in_by_a_background_rebuild(
    tiny_answerer, tmp_path: Path, monkeypatch
) -> None:
    from ingest.compact import DeltaPolicy
    from retriever import Index

    monkeypatch.setattr(ui.library, "FOLLOW_INTERVAL_S", 0.0)
    library = Library(
        tiny_answerer, tmp_path / "data", delta=DeltaPolicy(min_base=1, max_rows=0)
    )
    library.add([("riga.txt", _upload(tmp_path))])
    assert library.answerer.index.manifest.format == 4  # the upload answers at once
    assert "13 October 1944" in (_quote(library) or "")
    assert library.rebuilding is not None
    library.rebuilding.join(120)
    live = Index.open(library.index_dir)
    assert live.manifest.format == 3 and len(live.dead) == 0
    assert "13 October 1944" in (_quote(library) or "")
    assert library.answerer.index.version == live.version  # followed once swapped in
