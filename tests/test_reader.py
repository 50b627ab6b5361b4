"""The reader's stage: its input layout and the way back from tokens to sentences, the
close calls it settles and the passages it ranks (with stand-in readers; the trained one is
tested in ``test_reader_model.py``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from retriever.reader_inputs import (
    MAX_TOKENS,
    QUESTION_TOKENS,
    PairLayout,
    Reading,
    Window,
    best_span,
    token_range,
)
from retriever.settings import DEFAULT_SCORING

LAYOUT = PairLayout(cls=0, sep=2, pad=1, prefixes=True)


class WordTokenizer:
    """Stands in for a ``tokenizers.Tokenizer``: one token per word, with its offsets."""

    class _Encoding:
        def __init__(self, text: str) -> None:
            words = list(re.finditer(r"\S+", text))
            self.ids = [10 + len(m.group()) for m in words]
            self.offsets = [(m.start(), m.end()) for m in words]

    def encode_batch(self, texts: list[str], add_special_tokens: bool = False):  # type: ignore[no-untyped-def]
        return [self._Encoding(t) for t in texts]


class LikesWord:
    """A reader that marks ``word`` as the answer wherever a window holds it."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls: list[list[Window]] = []

    def read(self, question: str, windows: Sequence[Window]) -> list[Reading]:
        self.calls.append(list(windows))
        out = []
        for enc in LAYOUT.encode(WordTokenizer(), question, windows):
            w = windows[len(out)]
            logits = np.array(
                [5.0 if a >= 0 and self.word in w.text[a:b] else -5.0 for a, b in enc.offsets],
                np.float32,
            )
            logits[0] = 0.0  # "no answer" between the two
            out.append(Reading(enc, logits, logits.copy()))
        return out


def test_a_window_joins_sentences_and_knows_where_each_stands() -> None:
    w = Window.of(["Ann won.", "It rained on the day.", "Bob lost."])
    expected = ["Ann won.", "It rained on the day.", "Bob lost."]
    assert [w.text[a:b] for a, b in w.sentences] == expected


def test_a_question_and_passage_are_laid_out_cut_and_mapped_back() -> None:
    w = Window.of(["Ann won the race.", "long " * 400])
    (enc,) = LAYOUT.encode(WordTokenizer(), "who won " * 40, [w])
    assert len(enc.ids) == MAX_TOKENS and enc.ids[0] == 0 and enc.ids[-1] == 2
    assert enc.ids.count(2) == 2  # one separator after the question, one at the end
    assert enc.offsets[: QUESTION_TOKENS + 2] == [(-1, -1)] * (QUESTION_TOKENS + 2)
    # The first passage token is the window's first word, not the "passage:" prefix.
    first = next(i for i, (a, _) in enumerate(enc.offsets) if a >= 0)
    assert w.text[slice(*enc.offsets[first])] == "Ann"
    assert token_range(enc.offsets, *w.sentences[0]) == (first, first + 4)
    ids, mask = LAYOUT.batch([enc, LAYOUT.encode(WordTokenizer(), "who?", [Window.of(["a."])])[0]])
    assert ids.shape == (2, MAX_TOKENS) and mask[1].sum() == 7 and (ids[1][mask[1] == 0] == 1).all()


def test_a_sentence_scores_its_best_span_against_no_answer() -> None:
    assert best_span(np.array([1.0, 0.0, 5.0]), np.array([0.0, 3.0, 1.0])) == 6.0
    assert best_span(np.array([9.0, 0.0, 0.0]), np.array([0.0, 0.0, 9.0]), longest=2) == 9.0
    w = Window.of(["Ann won.", "Bob lost."])
    reading = LikesWord("Bob").read("Who lost?", [w])[0]
    scores = reading.sentence_scores(w)
    assert reading.null == 0.0 and scores[1] == 10.0 and scores[0] == -10.0
    cut = Window.of(["Ann won.", "word " * 400, "Bob lost."])
    assert np.isneginf(LikesWord("Bob").read("Who lost?", [cut])[0].sentence_scores(cut)[2])


def test_the_reader_settles_a_close_call_and_ranks_the_passages(
    tiny_index: Path, encoder, aux_encoder
) -> None:
    from retriever import Answerer, Index

    def ask(reader: LikesWord | None, **settings: float):  # type: ignore[no-untyped-def]
        scoring = DEFAULT_SCORING.replace(min_score=-1.0, **settings)
        answerer = Answerer(
            Index.open(tiny_index), encoder, cross_lingual_encoder=aux_encoder,
            scoring=scoring, reader=reader,
        )  # fmt: skip
        return answerer.ask("What happened in July 1944?")

    plain = ask(None)
    assert "Majdanek" not in plain.quote  # the hand-set scores alone miss it
    reader = LikesWord("Majdanek")
    answer = ask(reader, reader_margin=1e9, reader_weight=5.0)
    assert "Majdanek" in answer.quote
    assert answer.passages[0].source == "notes/majdanek.txt"  # reranked by its read sentence
    assert len(reader.calls) == 1 and len(reader.calls[0]) <= DEFAULT_SCORING.quote_passages
    text = Index.open(tiny_index).document_text(answer.citation.source)
    assert text[answer.citation.start : answer.citation.end] == answer.quote  # Contract 1
    # A clear call is not read, and a reader's weight of 0 changes nothing.
    unread = LikesWord("Majdanek")
    assert ask(unread, reader_margin=0.0, reader_weight=5.0).quote == plain.quote
    assert unread.calls == []
    assert ask(LikesWord("Majdanek"), reader_margin=1e9, reader_weight=0.0).quote == plain.quote
    # Only the passages holding a candidate within reach of the best are read.
    near = LikesWord("Majdanek")
    assert ask(near, reader_margin=1e9, reader_weight=5.0, reader_reach=0.0).quote == plain.quote
    assert len(near.calls) == 1 and len(near.calls[0]) == 1
    assert " ".join(plain.quote.split()) in near.calls[0][0].text
    assert "Majdanek" not in near.calls[0][0].text


def test_the_tuning_grid_reads_once_and_finds_the_weight_that_settles_it(
    tiny_index: Path, encoder, aux_encoder
) -> None:
    from eval.ablate import Remembering
    from eval.gold import GoldItem
    from eval.train.calibrate import MARGINS, REACHES, WEIGHTS, tune
    from retriever import Answerer, Index

    reader = LikesWord("Majdanek")
    answerer = Answerer(
        Index.open(tiny_index), encoder, cross_lingual_encoder=aux_encoder, reader=reader
    )
    items = [GoldItem("q1", "What happened in July 1944?", ("Majdanek",))]
    tuning = tune(answerer, items)
    assert tuning["without_reader"]["quote@1"] == 0.0
    assert tuning["best"]["quote@1"] == 1.0 and tuning["best"]["hit@1"] == 1.0
    assert len(tuning["grid"]) == len(WEIGHTS) * len(MARGINS) + len(REACHES)
    assert all(row["read"] <= DEFAULT_SCORING.quote_passages for row in tuning["grid"])
    assert answerer.reader is reader  # given back
    # Every setting past the first that reads asks the reader nothing new.
    assert len(reader.calls) == 1
    remembering = Remembering(reader)
    windows = [Window.of(["Ann won."])]
    assert remembering.read("Who?", windows)[0] is remembering.read("Who?", windows)[0]
    assert len(reader.calls) == 2


def test_abstain_signals_are_read_from_the_cited_passage_and_scored_like_the_quote_score(
    tiny_index: Path, encoder, aux_encoder
) -> None:
    from eval.abstain import SIGNALS, separation, signals
    from eval.gold import GoldItem
    from retriever import Answerer, Index

    reader = LikesWord("Majdanek")
    answerer = Answerer(
        Index.open(tiny_index), encoder, cross_lingual_encoder=aux_encoder, reader=reader,
        scoring=DEFAULT_SCORING.replace(min_score=-1.0),
    )  # fmt: skip
    items = [
        GoldItem("yes", "Which camp did Soviet soldiers capture near Lublin?", ("Majdanek",)),
        GoldItem("no", "How many tanks clashed at Prokhorovka in 1950?", ()),
    ]
    rows = signals(answerer, items)
    yes, no = rows
    assert yes["closeness"] == answerer.ask(items[0].question).quote_score
    assert yes["reader_quote"] == yes["reader_passage"] == pytest.approx(10.0)  # 5 + 5 - 0
    assert no["reader_quote"] == pytest.approx(-10.0)  # no "Majdanek" in its quote's passage
    assert 0.0 < no["words"] <= 1.0 and yes["words"] > 0.5
    first, second = answerer.ask(items[0].question).passages[:2]
    assert yes["gap"] == pytest.approx(first.score - second.score)
    table = separation(rows)
    assert set(table) == set(SIGNALS)
    assert table["reader_quote"] == {"abstain_auc": 1.0, "abstain_recall@ar95": 1.0}
    # A question with no quote counts as never answered, as in `verbatim eval`.
    assert separation([*rows, {"answers": [], **dict.fromkeys(SIGNALS)}])["reader_quote"] == {
        "abstain_auc": 1.0, "abstain_recall@ar95": 1.0,
    }  # fmt: skip


def test_the_closeness_at_a_threshold_counts_a_missing_quote_as_declined() -> None:
    from eval.abstain import at_threshold

    rows = [{"answers": ["a"], "closeness": s} for s in (0.2, 0.5, 0.6, None)]
    rows += [{"answers": [], "closeness": s} for s in (0.1, 0.45, None)]
    held = at_threshold(rows, 0.4)
    assert held["answer_rate"] == 0.5  # 0.5 and 0.6 of four
    assert held["abstain_recall"] == pytest.approx(2 / 3)  # 0.1 and the missing quote
    assert held["median_closeness"] == 0.5
    # One answerable question has no quote: no threshold answers 0.95 of them.
    assert held["min_score@ar95"] is None
    assert at_threshold(rows[:3] + rows[4:], 0.4)["min_score@ar95"] == 0.2


def test_warming_reads_the_quotes_longest_batch_once() -> None:
    from retriever.reader import warm

    calls: list[list[Window]] = []

    class Counting:
        def read(self, question: str, windows: Sequence[Window]) -> list[Reading]:
            calls.append(list(windows))
            return []

    warm(Counting(), 3)
    assert len(calls) == 1 and len(calls[0]) == 3
    # each window fills the reader's input on its own (cut to MAX_TOKENS as it is read)
    assert all(len(w.text.split()) == MAX_TOKENS for w in calls[0])
