"""One contract, every store: what the answerer needs of an index, tested on each backend.

A new store is a new module plus one line in :data:`STORES`: a function that builds it from
the tiny corpus (documents, chunk spans and the two encoders' vectors) and returns it. The
stores that need a service (a Milvus server) are in :data:`SERVICES`, marked ``service``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from retriever import Answerer, Space, Store
from retriever.settings import DEFAULT_SCORING
from tests.conftest import TINY


def _local(request, tmp_path: Path, docs: Path, encoder, cross) -> Store:  # type: ignore[no-untyped-def]
    from ingest import ingest
    from retriever import Index

    ingest([docs], tmp_path / "local", encoder=encoder, cross_lingual_encoder=cross)
    return Index.open(tmp_path / "local")


def _milvus(request, tmp_path: Path, docs: Path, encoder, cross) -> Store:  # type: ignore[no-untyped-def]
    from ingest import ingest
    from retriever.stores import open_store

    location = request.getfixturevalue("milvus_store")
    ingest([docs], location, encoder=encoder, cross_lingual_encoder=cross)
    return open_store(location)


#: name → builder of a store holding the tiny corpus.
STORES: dict[str, Callable[..., Store]] = {"local": _local, "milvus": _milvus}
#: The stores that need a running service.
SERVICES = {"milvus"}


@pytest.fixture(
    params=[pytest.param(n, marks=[pytest.mark.service] if n in SERVICES else []) for n in STORES]
)
def store(request, tmp_path: Path, tiny_docs: Path, encoder, aux_encoder) -> Store:  # type: ignore[no-untyped-def]
    return STORES[request.param](request, tmp_path, tiny_docs, encoder, aux_encoder)


def test_it_is_a_store_of_the_corpus(store: Store, encoder, aux_encoder) -> None:
    assert isinstance(store, Store)
    assert store.model == encoder.name and store.dim == encoder.dim
    assert store.cross_lingual_model == aux_encoder.name
    assert sorted(d.source for d in store.documents) == sorted(TINY)
    assert set(store.langs) == {"en", "de"}
    assert store.has(Space.MAIN) and store.has(Space.CROSS_LINGUAL)
    assert len(store) == sum(d.chunk_end - d.chunk_start for d in store.documents) > 0
    ids = store.ids()
    assert len(ids) == len(set(ids.tolist())) == len(store) and list(ids) == sorted(ids)
    assert store.splitter["chunk_size"] == 500 and store.backend == "torch"
    assert isinstance(store.version, str) and store.version


def test_chunks_are_slices_of_their_documents(store: Store) -> None:
    for i in store.ids():
        chunk = store.chunk(i)
        assert store.document_text(chunk.source)[chunk.start : chunk.end] == chunk.text
        assert store.chunk_lang(i) == store.document(chunk.source).lang
    with pytest.raises(KeyError):
        store.document("nope.txt")


@pytest.mark.parametrize("space", list(Space))
def test_search_ranks_by_exact_cosine_and_similarity_agrees(
    store: Store, encoder, aux_encoder, space: Space
) -> None:
    enc = encoder if space is Space.MAIN else aux_encoder
    q = enc.encode(["When did Operation Bagration begin?"])
    scores, ids = store.search(q, 3, space)
    assert scores.shape == ids.shape == (1, 3)
    assert list(scores[0]) == sorted(scores[0], reverse=True)
    assert store.chunk(int(ids[0, 0])).source == "bagration.html"
    np.testing.assert_allclose(store.similarity(q[0], ids[0], space), scores[0], atol=1e-5)
    # k past the store's size: every chunk, no padding
    scores, ids = store.search(q, 10_000, space)
    assert ids.shape == (1, len(store)) and sorted(ids[0].tolist()) == store.ids().tolist()


def test_lexical_search_finds_words_in_their_own_language(store: Store) -> None:
    scores, ids = store.search_lexical("Prokhorovka tanks", 5)
    assert len(ids) >= 1 and store.chunk(int(ids[0])).source == "kursk.md"
    assert list(scores) == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    scores, ids = store.search_lexical("befreite Armee", 5)
    assert store.chunk(int(ids[0])).source == "minsk-de.txt"
    assert len(store.search_lexical("xyzzy", 5)[1]) == 0


def test_an_answerer_answers_from_it_with_exact_offsets(store: Store, encoder, aux_encoder) -> None:
    answerer = Answerer(
        store,
        encoder,
        cross_lingual_encoder=aux_encoder,
        scoring=DEFAULT_SCORING.replace(min_score=0.2),
    )
    answer = answerer.ask("When did Operation Bagration begin?")
    assert answer.quote == "Operation Bagration began on June 22, 1944."
    c = answer.citation
    assert store.document_text(c.source)[c.start : c.end] == answer.quote
