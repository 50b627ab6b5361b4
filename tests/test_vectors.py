"""Vector spaces: exact search, and ANN indexes checked against brute force."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retriever import Answerer, Index, IndexCorruptError
from retriever.errors import BadArgumentError
from retriever.settings import DEFAULT_SCORING
from retriever.vectors import (
    TARGET_RECALL,
    TUNE_STEPS,
    SpaceSpec,
    VectorSpace,
    _sample_queries,
    choose_index_type,
    recall_at,
    write_space,
)


def _clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 50 centres: shaped like text embeddings, not uniform noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim))
    x = centres[rng.integers(0, 50, n)] + 0.6 * rng.normal(size=(n, dim))
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _brute(x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(q @ x.T), axis=1, kind="stable")[:, :k]


def test_auto_type_follows_the_size_and_bad_names_are_refused() -> None:
    assert choose_index_type(10) == "flat"
    assert choose_index_type(200_000) == "flat"
    assert choose_index_type(200_001) == "ivf"
    assert choose_index_type(10, "hnsw") == "hnsw"
    with pytest.raises(BadArgumentError, match="not one of auto, flat, ivf, hnsw"):
        choose_index_type(10, "annoy")


def test_flat_search_is_brute_force(tmp_path: Path) -> None:
    x = _clustered(3000, 16)
    spec = write_space(tmp_path, "v", x, "flat")
    assert spec == SpaceSpec() and not (tmp_path / "v.faiss").exists()
    space = VectorSpace.open(tmp_path, "v", spec)
    q = x[:20]
    scores, ids = space.search(q, 10)
    assert (ids == _brute(x, q, 10)).all()
    np.testing.assert_allclose(scores, np.take_along_axis(q @ x.T, ids, 1), atol=1e-5)
    np.testing.assert_allclose(space.similarity(q[0], np.array([5, 2, 9])), x[[5, 2, 9]] @ q[0])
    np.testing.assert_array_equal(space.vectors(10, 13), x[10:13])


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_ann_agrees_with_brute_force(tmp_path: Path, kind: str) -> None:
    data = _clustered(20_200, 32)
    x, q = data[:20_000], data[20_000:]  # held-out queries from the same distribution
    spec = write_space(tmp_path, "v", x, kind)
    assert spec.kind == kind and (tmp_path / "v.faiss").exists()
    space = VectorSpace.open(tmp_path, "v", spec)
    scores, ids = space.search(q, 10)
    exact = _brute(x, q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact, strict=True)])
    assert recall >= 0.95, recall
    # Rows re-scored from the file (read with pread) are the stored rows.
    np.testing.assert_array_equal(space.rows(np.array([3, 7, 19_999])), x[[3, 7, 19_999]])
    # The scores are exact cosines of the ids returned, best first.
    np.testing.assert_allclose(scores, np.take_along_axis(q @ x.T, ids, 1), atol=1e-5)
    assert (np.diff(scores, axis=1) <= 1e-6).all()


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_an_opened_ann_file_is_mapped_in_place_not_read(tmp_path: Path, kind: str) -> None:
    import faiss

    x = _clustered(20_000, 32)
    spec = write_space(tmp_path, "v", x, kind)
    space = VectorSpace.open(tmp_path, "v", spec)
    # The file is mapped (its pages shared with the page cache, loaded as searched) ...
    assert str((tmp_path / "v.faiss").resolve()) in Path("/proc/self/maps").read_text()
    if kind == "ivf":
        # ... as plain lists, which faiss scans at full speed, not its on-disk lists.
        lists = faiss.downcast_InvertedLists(faiss.extract_index_ivf(space._ann).invlists)
        assert isinstance(lists, faiss.ArrayInvertedLists)
    scores, ids = space.search(x[:5], 3)
    assert (ids[:, 0] == np.arange(5)).all()


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_the_build_tunes_to_the_least_search_that_reaches_the_recall(
    tmp_path: Path, kind: str
) -> None:
    import dataclasses

    x = _clustered(20_000, 32)
    spec = write_space(tmp_path, "v", x, kind)
    ann = VectorSpace.open(tmp_path, "v", spec)._ann
    queries = _sample_queries(x)
    exact = VectorSpace(x, SpaceSpec(), None).exact(queries, 10)[1]
    field = "nprobe" if kind == "ivf" else "ef_search"

    def recall(value: int) -> float:
        space = VectorSpace(x, dataclasses.replace(spec, **{field: value}), ann)
        return recall_at(space.search(queries, 10)[1], exact)

    tuned = getattr(spec, field)
    assert recall(tuned) >= TARGET_RECALL
    # One step of the tuning's precision less falls short: not the next power of two.
    less = tuned - max(1, tuned // TUNE_STEPS)
    assert less < 1 or recall(less) < TARGET_RECALL, (tuned, recall(less))


def test_ingest_honours_the_index_type_and_answers_alike(
    tmp_path: Path, tiny_docs: Path, encoder, aux_encoder
) -> None:
    from ingest import ingest

    answers = {}
    for kind in ("flat", "hnsw"):
        ingest([tiny_docs], tmp_path / kind, encoder=encoder, cross_lingual_encoder=aux_encoder,
               index_type=kind)  # fmt: skip
        index = Index.open(tmp_path / kind)
        assert index.manifest.index_type == kind
        assert index.manifest.spaces["aux"]["kind"] == kind
        answer = Answerer(
            index,
            encoder,
            cross_lingual_encoder=aux_encoder,
            scoring=DEFAULT_SCORING.replace(min_score=0.1),
        ).ask("When did Operation Bagration begin?")
        answers[kind] = (answer.quote, [p.source for p in answer.passages])
    assert answers["flat"] == answers["hnsw"]
    # Asking for another type rewrites an otherwise current index.
    report = ingest([tiny_docs], tmp_path / "flat", encoder=encoder,
                    cross_lingual_encoder=aux_encoder, index_type="ivf")  # fmt: skip
    assert report.wrote and Index.open(tmp_path / "flat").manifest.index_type == "ivf"
    # Later updates keep the type asked for, until told otherwise.
    (tiny_docs / "riga.txt").write_text("Riga was taken on 13 October 1944.", encoding="utf-8")
    report = ingest(
        [tiny_docs], tmp_path / "flat", encoder=encoder, cross_lingual_encoder=aux_encoder
    )
    manifest = Index.open(tmp_path / "flat").manifest
    assert report.wrote and report.added == ["riga.txt"]
    assert (manifest.index_type, manifest.index_type_requested) == ("ivf", "ivf")
    assert not ingest([tiny_docs], tmp_path / "flat", encoder=encoder,
                      cross_lingual_encoder=aux_encoder, index_type="ivf").wrote  # fmt: skip
    report = ingest([tiny_docs], tmp_path / "flat", encoder=encoder,
                    cross_lingual_encoder=aux_encoder, index_type="auto")  # fmt: skip
    manifest = Index.open(tmp_path / "flat").manifest
    assert report.wrote and report.embedded == 0
    assert (manifest.index_type, manifest.index_type_requested) == ("flat", "auto")


def test_an_index_of_an_older_format_says_how_to_rebuild(
    tmp_path: Path, tiny_index: Path, tiny_docs: Path, encoder, aux_encoder
) -> None:
    from ingest import ingest

    gen = tiny_index / (tiny_index / "CURRENT").read_text()
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["format"] = 2
    del manifest["digest"], manifest["files"]  # what format 2 did not have
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="has format 2, this version reads 3.*ingest"):
        Index.open(tiny_index)
    warnings: list[str] = []
    report = ingest([tiny_docs], tiny_index, encoder=encoder, cross_lingual_encoder=aux_encoder,
                    warn=warnings.append)  # fmt: skip
    assert report.wrote and report.embedded == report.chunks
    assert any("rebuilt" in w for w in warnings)
    assert Index.open(tiny_index).manifest.format == 3
