from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest import BadPathError, ingest
from retriever import Answerer, Index, IndexMismatchError
from retriever.settings import DEFAULT_SCORING
from tests.conftest import TINY, HashEncoder


def _snapshot(index: Path) -> dict[str, tuple[int, int]]:
    """Every file of the index with its size and modification time in nanoseconds."""
    out = {}
    for p in sorted(index.rglob("*")):
        if p.is_file() and p.name != ".lock":
            st = p.stat()
            out[str(p.relative_to(index))] = (st.st_size, st.st_mtime_ns)
    return out


def test_first_ingest_indexes_every_supported_file(
    tiny_docs: Path, tmp_path: Path, encoder: HashEncoder
) -> None:
    report = ingest([tiny_docs], tmp_path / "idx", encoder=encoder)
    assert report.wrote
    assert sorted(report.added) == sorted(TINY)
    index = Index.open(tmp_path / "idx")
    assert [d.source for d in index.documents] == sorted(TINY)
    assert index.document("bagration.html").title == "Operation Bagration"
    assert index.document("minsk-de.txt").lang == "de"
    assert index.document("leningrad.txt").lang == "en"
    assert index.manifest.model == "test-hash" and index.manifest.dim == 256
    assert index.manifest.splitter["chunk_size"] == 500
    for i in range(len(index)):
        c = index.chunk(i)
        assert index.document_text(c.source)[c.start : c.end] == c.text
        assert "Popular pages" not in c.text and "Close Search Dialog" not in c.text


def test_second_run_on_unchanged_documents_touches_nothing(
    tiny_docs: Path, tiny_index: Path, aux_encoder: HashEncoder
) -> None:
    before = _snapshot(tiny_index)

    class Boom(HashEncoder):
        def encode(self, texts, *, batch_size=64):  # type: ignore[no-untyped-def]
            raise AssertionError("nothing should be embedded")

    report = ingest([tiny_docs], tiny_index, encoder=Boom(), cross_lingual_encoder=aux_encoder)
    assert not report.wrote
    assert sorted(report.unchanged) == sorted(TINY)
    assert report.added == report.updated == report.removed == []
    assert _snapshot(tiny_index) == before


def test_a_changed_document_replaces_its_old_chunks(
    tiny_docs: Path, tiny_index: Path, encoder: HashEncoder, aux_encoder: HashEncoder
) -> None:
    (tiny_docs / "kursk.md").write_text("# Kursk\n\nThe salient was attacked by surprise.\n")
    report = ingest([tiny_docs], tiny_index, encoder=encoder, cross_lingual_encoder=aux_encoder)
    assert report.updated == ["kursk.md"]
    assert report.embedded == 1  # only the changed document was embedded again
    index = Index.open(tiny_index)
    texts = [index.chunk(i).text for i in range(len(index))]
    assert any("salient" in t for t in texts)
    assert not any("Prokhorovka" in t for t in texts)
    # Reused documents keep answering exactly.
    answer = Answerer(
        index,
        encoder,
        cross_lingual_encoder=aux_encoder,
        scoring=DEFAULT_SCORING.replace(min_score=0.1),
    ).ask("When was the siege of Leningrad broken?")
    assert answer.citation is not None and answer.citation.source == "leningrad.txt"


def test_a_removed_document_is_dropped(
    tiny_docs: Path, tiny_index: Path, encoder: HashEncoder, aux_encoder: HashEncoder
) -> None:
    (tiny_docs / "notes" / "majdanek.txt").unlink()
    report = ingest([tiny_docs], tiny_index, encoder=encoder, cross_lingual_encoder=aux_encoder)
    assert report.removed == ["notes/majdanek.txt"]
    index = Index.open(tiny_index)
    assert "notes/majdanek.txt" not in {d.source for d in index.documents}
    assert not any("Majdanek" in index.chunk(i).text for i in range(len(index)))


def test_bad_files_are_skipped_with_a_warning_and_the_rest_ingested(
    tiny_docs: Path, tmp_path: Path, encoder: HashEncoder
) -> None:
    (tiny_docs / "photo.txt").write_bytes(bytes(range(256)) * 100)
    (tiny_docs / "empty.md").write_bytes(b"")
    (tiny_docs / "data.xlsx").write_bytes(b"PK\x03\x04")
    # A name that is not UTF-8 (bytes 0xff) cannot go into the index's manifest.
    (tiny_docs / os.fsdecode(b"bad\xffname.txt")).write_text("Words enough to be a document.")
    locked = tiny_docs / "locked.txt"
    locked.write_text("secret")
    locked.chmod(0)
    warnings: list[str] = []
    try:
        report = ingest([tiny_docs], tmp_path / "idx", encoder=encoder, warn=warnings.append)
    finally:
        locked.chmod(0o644)
    skipped = dict(report.skipped)
    assert "binary" in skipped["photo.txt"]
    assert "empty" in skipped["empty.md"]
    assert "not valid UTF-8" in skipped["bad\\xffname.txt"]
    if os.geteuid() != 0:  # root reads any file
        assert "cannot read" in skipped["locked.txt"]
    assert any("data.xlsx" in w and "unsupported" in w for w in warnings)
    assert any("photo.txt" in w for w in warnings)
    assert sorted(report.added) == sorted([*TINY, *(["locked.txt"] if os.geteuid() == 0 else [])])


def test_a_path_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadPathError, match="no such file or folder: .*nope"):
        ingest([tmp_path / "nope"], tmp_path / "idx", encoder=HashEncoder())
    assert not (tmp_path / "idx" / "CURRENT").exists()


def test_a_single_file_is_named_by_its_file_name(tiny_docs: Path, tmp_path: Path) -> None:
    ingest([tiny_docs / "notes" / "majdanek.txt"], tmp_path / "idx", encoder=HashEncoder())
    assert [d.source for d in Index.open(tmp_path / "idx").documents] == ["majdanek.txt"]


def test_another_model_re_embeds_everything(
    tiny_docs: Path, tiny_index: Path, aux_encoder: HashEncoder
) -> None:
    report = ingest(
        [tiny_docs],
        tiny_index,
        encoder=HashEncoder(name="other", dim=128),
        cross_lingual_encoder=aux_encoder,
    )
    assert report.wrote and "re-embedded" in report.note
    assert sorted(report.added) == sorted(TINY)
    assert Index.open(tiny_index).manifest.dim == 128


def test_asking_with_another_model_or_dimension_is_refused(tiny_index: Path) -> None:
    index = Index.open(tiny_index)
    with pytest.raises(IndexMismatchError, match="built with model 'test-hash'"):
        Answerer(index, HashEncoder(name="other"))
    with pytest.raises(IndexMismatchError, match="256-dimensional"):
        Answerer(index, HashEncoder(dim=64))
    with pytest.raises(IndexMismatchError, match="leave out --model"):
        Answerer.open(tiny_index, model="some/other-model")


def test_a_failed_update_leaves_the_previous_index_answering(
    tiny_docs: Path,
    tiny_index: Path,
    encoder: HashEncoder,
    monkeypatch: pytest.MonkeyPatch,
    aux_encoder: HashEncoder,
) -> None:
    question = "When was the siege of Leningrad broken?"
    before = (
        Answerer(
            Index.open(tiny_index),
            encoder,
            cross_lingual_encoder=aux_encoder,
            scoring=DEFAULT_SCORING.replace(min_score=0.1),
        )
        .ask(question)
        .to_dict()
    )
    snapshot = _snapshot(tiny_index)
    (tiny_docs / "new.txt").write_text("A new document about the Dnieper crossing.")

    class Failing(HashEncoder):
        def encode(self, texts, *, batch_size=64):  # type: ignore[no-untyped-def]
            raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        ingest([tiny_docs], tiny_index, encoder=Failing(), cross_lingual_encoder=aux_encoder)

    import retriever.writer

    def broken_write(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(retriever.writer, "write_space", broken_write)
    with pytest.raises(OSError, match="disk full"):
        ingest([tiny_docs], tiny_index, encoder=encoder, cross_lingual_encoder=aux_encoder)
    assert _snapshot(tiny_index) == snapshot  # no leftovers, CURRENT untouched
    after = (
        Answerer(
            Index.open(tiny_index),
            encoder,
            cross_lingual_encoder=aux_encoder,
            scoring=DEFAULT_SCORING.replace(min_score=0.1),
        )
        .ask(question)
        .to_dict()
    )
    before.pop("timing_ms"), after.pop("timing_ms")
    assert after == before


def test_keep_existing_adds_to_the_index_and_drop_takes_out(
    tiny_index: Path, tmp_path: Path, encoder: HashEncoder, aux_encoder: HashEncoder
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "warsaw.txt").write_text("The Warsaw Uprising began on August 1, 1944.\n")
    report = ingest(
        [uploads],
        tiny_index,
        encoder=encoder,
        cross_lingual_encoder=aux_encoder,
        keep_existing=True,
    )
    assert report.added == ["warsaw.txt"] and report.removed == []
    assert report.embedded == 1  # the indexed documents were carried over, not re-embedded
    index = Index.open(tiny_index)
    assert [d.source for d in index.documents] == sorted([*TINY, "warsaw.txt"])

    report = ingest(
        [uploads],
        tiny_index,
        encoder=encoder,
        cross_lingual_encoder=aux_encoder,
        keep_existing=True,
        drop=["kursk.md"],
    )
    assert report.removed == ["kursk.md"] and report.embedded == 0
    index = Index.open(tiny_index)
    assert "kursk.md" not in {d.source for d in index.documents}
    answer = Answerer(
        index,
        encoder,
        cross_lingual_encoder=aux_encoder,
        scoring=DEFAULT_SCORING.replace(min_score=0.1),
    ).ask("When did the Warsaw Uprising begin?")
    assert answer.citation is not None and answer.citation.source == "warsaw.txt"


def test_keep_existing_refuses_other_settings(
    tiny_index: Path, tiny_docs: Path, aux_encoder: HashEncoder
) -> None:
    from retriever import VerbatimError

    with pytest.raises(VerbatimError, match="other model or splitter"):
        ingest(
            [tiny_docs],
            tiny_index,
            encoder=HashEncoder(name="another"),
            cross_lingual_encoder=aux_encoder,
            keep_existing=True,
        )


def test_ingest_tells_each_stage_and_how_far_embedding_is(
    tiny_docs: Path, tmp_path: Path, encoder: HashEncoder, aux_encoder: HashEncoder
) -> None:
    lines: list[str] = []
    report = ingest(
        [tiny_docs], tmp_path / "idx", encoder=encoder, cross_lingual_encoder=aux_encoder,
        status=lines.append,
    )  # fmt: skip
    total = 2 * report.embedded  # both encoders
    assert lines[0] == f"Reading and splitting {len(TINY)} file(s)…"
    embedding = [x for x in lines if x.startswith("Embedding passages:")]
    assert embedding[0] == f"Embedding passages: 0 of {total} (0 %)…"
    assert embedding[-1] == f"Embedding passages: {total} of {total} (100 %)…"
    assert lines[-1] == "Writing the index…"
    lines.clear()
    ingest([tiny_docs], tmp_path / "idx", encoder=encoder, cross_lingual_encoder=aux_encoder,
           status=lines.append)  # fmt: skip
    assert not any(x.startswith("Embedding") for x in lines)  # nothing new to embed


def test_a_removed_upload_can_be_restored_and_its_page_says_it_was_removed(
    tiny_answerer, tmp_path: Path
) -> None:
    from tests.conftest import app_client
    from ui.app import build_app
    from ui.library import Library

    library = Library(tiny_answerer, tmp_path / "data", catch_up=False)
    upload = tmp_path / "riga.txt"
    upload.write_text("Riga was taken on October 13, 1944.", encoding="utf-8")
    library.add([("riga.txt", upload)])
    library.remove(["riga.txt"])
    assert not (library.documents_dir / "riga.txt").exists()
    assert library.removal_of("riga.txt") is not None
    app = build_app(library.answerer, data_dir=tmp_path / "data", examples=[])
    with app_client(app) as client:
        page = client.get("/doc/riga.txt")
        assert page.status_code == 404 and "riga.txt was removed from the documents" in page.text
        assert "No document named" in client.get("/doc/never.txt").text
    result = library.restore(["riga.txt"])
    assert result.report.added == ["riga.txt"] and library.removal_of("riga.txt") is None
    assert (library.documents_dir / "riga.txt").is_file()
    with pytest.raises(Exception, match="cannot be restored"):
        library.restore(["riga.txt"])
