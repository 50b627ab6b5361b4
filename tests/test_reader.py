"""The reader's stage: its input layout, the quote it picks and the passages it ranks, and
the abstain model it feeds (with stand-in readers: no trained reader ships yet, see
``eval/train/``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retriever.abstain import AbstainModel
from retriever.reader_inputs import MAX_TOKENS, PairLayout
from retriever.settings import DEFAULT_SCORING


class WordTokenizer:
    """Stands in for a ``tokenizers.Tokenizer``: one id per word."""

    class _Encoding:
        def __init__(self, ids: list[int]) -> None:
            self.ids = ids

    def encode_batch(self, texts: list[str], add_special_tokens: bool = False):  # type: ignore[no-untyped-def]
        return [self._Encoding([10 + len(w) for w in t.split()]) for t in texts]


class LikesWord:
    """A reader that scores a sentence by whether it holds ``word``."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls: list[list[tuple[str, str]]] = []

    def score(self, question: str, candidates):  # type: ignore[no-untyped-def]
        self.calls.append(list(candidates))
        return np.array([5.0 if self.word in c else -5.0 for c, _ in candidates], np.float32)


def test_a_pair_is_laid_out_and_cut_to_fit() -> None:
    layout = PairLayout(cls=0, sep=2, pad=1, prefixes=True)
    ids, mask = layout.batch(
        WordTokenizer(), "who won " * 40, [("a b c", "x y"), ("long " * 80, "z")]
    )
    assert ids.shape[0] == 2 and ids.shape[1] <= MAX_TOKENS
    assert ids[0, 0] == 0 and (ids == 2).sum(1).tolist() == [3, 3]
    assert mask[0].sum() < mask[1].sum() == ids.shape[1]  # the short row is padded
    assert (ids[0][mask[0] == 0] == 1).all()


def test_the_reader_picks_the_quote_and_ranks_the_passages(tiny_index: Path, encoder, aux_encoder):
    from retriever import Answerer, Index

    reader = LikesWord("Majdanek")
    scoring = DEFAULT_SCORING.replace(reader_passages=5, heuristic_weight=0.0, min_score=0.5)
    answerer = Answerer(
        Index.open(tiny_index), encoder, cross_lingual_encoder=aux_encoder, scoring=scoring,
        reader=reader,
    )  # fmt: skip
    answer = answerer.ask("What happened in July 1944?")
    assert answer.answered and "Majdanek" in answer.quote
    assert answer.passages[0].source == "notes/majdanek.txt"  # reranked by its read sentence
    assert 0.99 < answer.quote_score <= 1.0  # no abstain model: the reader's own probability
    assert len(reader.calls[0]) <= scoring.reader_sentences
    declined = Answerer(
        Index.open(tiny_index), encoder, cross_lingual_encoder=aux_encoder, scoring=scoring,
        reader=LikesWord("nothing like this"),
    ).ask("What happened in July 1944?")  # fmt: skip
    assert not declined.answered and declined.quote_score < 0.01


def test_the_abstain_model_reads_the_quote_features(
    tmp_path: Path, tiny_index, encoder, aux_encoder
) -> None:
    from retriever import Answerer, Index

    model = AbstainModel(("logit", "top_score"), (2.0, 0.0), -1.0, (0.0, 0.0), (1.0, 1.0))
    model.save(tmp_path / "abstain.json")
    loaded = AbstainModel.load(tmp_path / "abstain.json")
    assert loaded == model
    assert loaded.probability({"logit": 0.5}) == pytest.approx(0.5)
    answerer = Answerer(
        Index.open(tiny_index), encoder, cross_lingual_encoder=aux_encoder,
        scoring=DEFAULT_SCORING.replace(min_score=0.5), reader=LikesWord("Prokhorovka"),
        abstain=loaded,
    )  # fmt: skip
    answer = answerer.ask("How many tanks clashed at Prokhorovka?")
    assert answer.quote_score == pytest.approx(model.probability({"logit": 5.0}))
