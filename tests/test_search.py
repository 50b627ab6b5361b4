"""Lexical search per language and the fusion of dense and lexical rankings."""

from __future__ import annotations

import numpy as np
import pytest

from retriever import Answerer, BadArgumentError
from retriever.lexical import LexicalIndex, tokenize
from retriever.search import hybrid_search
from retriever.settings import DEFAULT_SCORING


def _fusion(name: str, **more: object):  # type: ignore[no-untyped-def]
    return DEFAULT_SCORING.replace(fusion=name, **more)


def test_tokenize_stems_and_drops_stopwords_per_language() -> None:
    assert tokenize("The Soviets liberated the cities", "en") == ["soviet", "liber", "citi"]
    assert tokenize("Die Rote Armee befreite die Städte", "de") == [
        "rot", "arme", "befreit", "stadt"
    ]  # fmt: skip
    assert tokenize("a I", "en") == []


def test_german_text_is_searched_as_german() -> None:
    index = LexicalIndex.build(
        [
            ("Am 3. Juli befreite die Rote Armee Minsk.", "de"),
            ("The Red Army freed many towns in the summer.", "en"),
        ]
    )
    assert index.langs == ("de", "en")
    scores, ids = index.search("Wann befreiten sie Minsk?", k=5, n_chunks=2)
    assert ids.tolist() == [0] and scores[0] > 0
    # A question is tokenised under every language's rules, known words only.
    both = LexicalIndex.build([("The Soviets liberated Minsk", "en"), ("Sie befreite Minsk", "de")])
    assert set(both.query_tokens("befreiten liberated Minsk Kiev")) == {"befreit", "liber", "minsk"}
    assert index.search("quantum chromodynamics", k=5, n_chunks=2)[1].size == 0


def test_lexical_index_survives_a_save_and_load(tmp_path) -> None:
    index = LexicalIndex.build([("Minsk fell on July 3.", "en"), ("Kiev fell in November.", "en")])
    index.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded.search("When did Kiev fall?", 2, 2)[1].tolist() == [1]


def test_lexical_scores_are_bm25s_own_and_ties_rank_by_chunk(tmp_path) -> None:
    rng = np.random.default_rng(3)
    words = ["minsk", "kiev", "army", "tank", "river", "bridge", "summer", "winter"]
    chunks = [(" ".join(rng.choice(words, 6)), "en") for _ in range(300)]
    chunks += [("minsk kiev", "en")] * 3  # equal scores
    index = LexicalIndex.build(chunks)
    index.save(tmp_path)
    for built in (index, LexicalIndex.load(tmp_path)):
        for question in ("minsk kiev", "tank bridge in winter", "army army river"):
            tokens = built.query_tokens(question)
            per_word = [np.asarray(built._bm25.get_scores([t]), np.float64) for t in tokens]
            expected = np.sum(per_word, axis=0).astype(np.float32)  # bm25s's score of each
            order = sorted(np.flatnonzero(expected > 0), key=lambda i: (-expected[i], i))[:40]
            scores, ids = built.search(question, k=40, n_chunks=len(chunks))
            assert ids.tolist() == order
            np.testing.assert_allclose(scores, expected[order], rtol=1e-5)
    assert index.search("minsk kiev", k=500, n_chunks=len(chunks))[1].size == len(chunks) - sum(
        "minsk" not in t and "kiev" not in t for t, _ in chunks
    )


def test_fusions_rank_and_carry_the_dense_cosine(tiny_answerer, encoder) -> None:
    index = tiny_answerer.index
    question = "Which camp did Soviet soldiers capture near Lublin?"
    q = encoder.encode([question])[0]
    dense = hybrid_search(index, question, q, 5, scoring=_fusion("dense"))
    scores, ids = index.search(q[None, :], 5)
    assert [h.id for h in dense] == ids[0].tolist()
    for fusion in ("rrf", "convex"):
        hits = hybrid_search(index, question, q, 5, scoring=_fusion(fusion))
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert index.chunk(hits[0].id).source == "notes/majdanek.txt"
        for h in hits:  # every hit knows its cosine, found by BM25 or not
            assert h.meaning == pytest.approx(float(index.vectors(h.id, h.id + 1)[0] @ q), abs=1e-5)


def test_a_chunk_found_only_by_words_is_still_ranked(tiny_answerer, encoder) -> None:
    index = tiny_answerer.index
    # A query vector orthogonal to everything: dense search ranks arbitrarily, BM25 decides.
    q = np.zeros(encoder.dim, np.float32)
    q[1] = 1.0
    hits = hybrid_search(index, "Prokhorovka", q, 1, scoring=_fusion("rrf", depth=1))
    assert index.chunk(hits[0].id).source == "kursk.md"


def test_unknown_fusion_or_alpha_is_refused(tiny_index, encoder) -> None:
    from retriever import Index

    with pytest.raises(BadArgumentError, match="fusion 'magic'"):
        Answerer(Index.open(tiny_index), encoder, scoring=_fusion("magic"))
    with pytest.raises(BadArgumentError, match="alpha of 1.5"):
        Answerer(Index.open(tiny_index), encoder, scoring=DEFAULT_SCORING.replace(alpha=1.5))


def test_passages_in_another_language_keep_their_order_when_every_cosine_is_below_zero(
    tmp_path, encoder, aux_encoder
) -> None:
    from ingest import ingest
    from retriever import Index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "en.txt").write_text("The Red Army reached the river in the summer of 1944.\n")
    (docs / "de1.txt").write_text("Die Rote Armee befreite die Stadt Minsk im Juli.\n")
    (docs / "de2.txt").write_text("Der Winter war kalt und die Straßen waren leer.\n")
    ingest([docs], tmp_path / "idx", encoder=encoder, cross_lingual_encoder=aux_encoder)
    index = Index.open(tmp_path / "idx")
    question = "Red Army Minsk Armee Stadt"
    q, q_aux = encoder.encode([question])[0], aux_encoder.encode([question])[0]

    def order(calibrate=lambda cosines: cosines) -> list[str]:  # type: ignore[no-untyped-def]
        hits = hybrid_search(
            index, question, q, 3, scoring=_fusion("convex"), cross_lingual_vector=q_aux,
            calibrate=calibrate, language_weights={"en": 1.0, "de": 0.0},
        )  # fmt: skip
        return [index.chunk(h.id).source for h in hits if index.chunk(h.id).source != "en.txt"]

    assert order() == ["de1.txt", "de2.txt"]
    # A model whose cosines all land below 0 on the common scale ranks them the same way.
    assert order(lambda cosines: (cosines - 0.99) * 1.0) == ["de1.txt", "de2.txt"]


def test_the_cross_lingual_search_runs_beside_the_main_one(
    tiny_index, encoder, aux_encoder
) -> None:
    import threading

    from retriever import Index
    from retriever.search import rankings
    from retriever.store import Space

    index = Index.open(tiny_index)
    question = "When did the Red Army liberate Minsk?"
    q, q_aux = encoder.encode([question])[0], aux_encoder.encode([question])[0]
    meet = threading.Barrier(2, timeout=20)

    class Meeting:
        """The index, whose vector searches wait until both spaces' are in flight."""

        def __getattr__(self, name: str) -> object:
            return getattr(index, name)

        def search(self, queries, k, space=Space.MAIN):  # type: ignore[no-untyped-def]
            meet.wait()  # breaks (and the test fails) unless the other space searches too
            return index.search(queries, k, space)

    main, cross, lexical = rankings(Meeting(), 10, q, q_aux, question=question)

    def alone(vector: np.ndarray, space: Space) -> dict[int, float]:
        scores, ids = index.search(vector[None, :], 10, space)
        return {int(i): float(s) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0}

    assert main == alone(q, Space.MAIN) and main
    assert cross == alone(q_aux, Space.CROSS_LINGUAL) and cross
    l_scores, l_ids = index.search_lexical(question, 10)
    assert lexical == dict(zip(l_ids.tolist(), l_scores.tolist(), strict=True)) and lexical
    # Without a question, BM25 is left out; without a cross-lingual vector, that space.
    assert rankings(index, 10, q) == (main, {}, {})


def test_a_failed_cross_lingual_search_reaches_the_caller(tiny_index, encoder) -> None:
    from retriever import Index
    from retriever.search import rankings
    from retriever.store import Space

    index = Index.open(tiny_index)

    class Broken:
        def __getattr__(self, name: str) -> object:
            return getattr(index, name)

        def search(self, queries, k, space=Space.MAIN):  # type: ignore[no-untyped-def]
            if space is Space.CROSS_LINGUAL:
                raise OSError("the cross-lingual file went away")
            return index.search(queries, k, space)

    q = encoder.encode(["Minsk"])[0]
    with pytest.raises(OSError, match="went away"):
        rankings(Broken(), 5, q, np.ones(192, np.float32) / np.sqrt(192), question="Minsk")
