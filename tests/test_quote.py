"""Sentence boundaries and the choice of the quote, with encoders whose cosines are set."""

from __future__ import annotations

import numpy as np
import pytest

from retriever.kinds import kind_bonus, quantities
from retriever.quote import Candidate, Meaning, choose_quote
from retriever.sentences import sentence_spans
from retriever.settings import DEFAULT_SCORING

#: The weights these tests were written for: the two models' meaning mixed half and half.
HALF = DEFAULT_SCORING.replace(cross_lingual_weight=0.5)
CROSS_LANGUAGE_CLOSENESS = HALF.cross_language_closeness
CROSS_LANGUAGE_FACTOR = HALF.cross_language_factor


def sentences(text: str, lang: str = "en") -> list[str]:
    return [text[s.start : s.end] for s in sentence_spans(text, lang)]


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        (
            "Am 3. Juli befreite sie Minsk, zehn Tage später Wilna. Am 24. Juli fiel Lublin.",
            "de",
            ["Am 3. Juli befreite sie Minsk, zehn Tage später Wilna.", "Am 24. Juli fiel Lublin."],
        ),
        (
            "Die 1. Baltische Front erreichte die Rigaer Bucht. Danach kam der 8. Mai 1945.",
            "de",
            ["Die 1. Baltische Front erreichte die Rigaer Bucht.", "Danach kam der 8. Mai 1945."],
        ),
        (
            "Dr. Smith met Mr. Jones in the U.S. in 1944. They talked.",
            "en",
            ["Dr. Smith met Mr. Jones in the U.S. in 1944.", "They talked."],
        ),
        # Timeline lines run together: each line stands alone, and a stop run into the
        # next sentence still ends it.
        (
            "July3Soviet forces liberate Minsk\nJuly24Soviet forces capture Majdanek",
            "en",
            ["July3Soviet forces liberate Minsk", "July24Soviet forces capture Majdanek"],
        ),
        (
            "Soviet forces liberate Minsk.July 13Vilnius falls",
            "en",
            ["Soviet forces liberate Minsk.", "July 13Vilnius falls"],
        ),
        ("Pi is 3.14.Next comes e.g.This one.", "en", ["Pi is 3.14.Next comes e.g.This one."]),
    ],
)
def test_sentence_boundaries(text: str, lang: str, expected: list[str]) -> None:
    assert sentences(text, lang) == expected


class SetEncoder:
    """Embeds each known text as a set unit vector: cosines are whatever a test needs."""

    def __init__(self, name: str, vectors: dict[str, list[float]]) -> None:
        self.name, self.dim = name, 3
        self._vectors = {t: np.asarray(v, np.float32) for t, v in vectors.items()}

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        return np.stack([self._vectors.get(t, np.array([0, 0, 1], np.float32)) for t in texts])


def cosine(c: float) -> list[float]:
    """A vector at cosine ``c`` to the question vector (1, 0, 0)."""
    return [c, float(np.sqrt(1 - c * c)), 0.0]


Q = np.array([1, 0, 0], np.float32)


def choose(text: str, lang: str, main: dict, aux: dict | None = None, languages=None):
    meaning = Meaning(
        (SetEncoder("main", main), Q),
        (SetEncoder("aux", aux), Q) if aux is not None else None,
        languages,
        HALF,
    )
    docs = {"d.txt": (text, lang, ())}
    return choose_quote("Who won the battle?", [Candidate("d.txt", 0, len(text))], docs, meaning)


def test_the_sentence_closest_in_meaning_is_quoted_at_its_offsets() -> None:
    a, b = "The weather was fine that summer.", "Soviet forces won the battle at Kursk."
    text = f"{a} {b}"
    choice = choose(text, "en", {a: cosine(0.2), b: cosine(0.8)})
    assert choice.text == b == text[choice.span.start : choice.span.end]
    assert choice.quote_score == pytest.approx(0.8)


def test_two_adjacent_sentences_are_quoted_when_the_answer_follows_its_subject() -> None:
    a = "The battle near the river lasted for many weeks in July."
    b = "In the end Soviet forces won it with great losses."
    text = f"{a} {b}"
    choice = choose(text, "en", {a: cosine(0.6), b: cosine(0.55)})
    assert choice.text == text  # both: neither alone holds "won" and "battle"
    alone = choose(text, "en", {a: cosine(0.9), b: cosine(0.1)})
    assert alone.text == a  # the second adds nothing close: one sentence is enough


def test_a_sentence_in_another_language_is_judged_by_the_cross_lingual_model() -> None:
    en = "The weather in the valley was mild for the season."
    de = "Die sowjetischen Truppen gewannen die Schlacht bei Kursk."
    main = {en: cosine(0.5), de: cosine(0.0)}  # the main model cannot read German
    aux = {en: cosine(0.3), de: cosine(0.5)}
    meaning = Meaning(
        (SetEncoder("m", main), Q), (SetEncoder("a", aux), Q), {"en": 1.0, "de": 0.0}, HALF
    )
    docs = {"en.txt": (en, "en", ()), "de.txt": (de, "de", ())}
    cands = [Candidate("en.txt", 0, len(en)), Candidate("de.txt", 0, len(de))]
    choice = choose_quote("Who won the battle?", cands, docs, meaning)
    # English: 0.5·0.5 + 0.5·0.3 = 0.40; German: 0.5 × the factor. German wins, and the
    # abstain decision reads it as its cosine plus the closeness offset.
    assert choice.text == de and choice.source == "de.txt"
    assert choice.quote_score == pytest.approx(0.5 + CROSS_LANGUAGE_CLOSENESS)
    assert CROSS_LANGUAGE_FACTOR > 1


def test_each_passage_gets_the_score_of_its_best_sentence() -> None:
    a, b = "Nothing of interest happened on that day.", "Soviet forces won the battle at Kursk."
    text = f"{a}\n{b}"
    meaning = Meaning((SetEncoder("main", {a: cosine(0.1), b: cosine(0.9)}), Q))
    cands = [Candidate("d.txt", 0, len(a)), Candidate("d.txt", len(a) + 1, len(text))]
    choice = choose_quote("Who won the battle?", cands, {"d.txt": (text, "en", ())}, meaning)
    assert choice.text == b
    first, second = choice.passage_scores
    assert second > first


def test_the_passage_holding_a_quoted_pair_gets_the_pair_s_score() -> None:
    lone = "The battle near the river began in the first week of July."
    a = "The battle near the river lasted for many weeks in July."
    b = "In the end Soviet forces won it with great losses."
    text = f"{lone}\n{a} {b}"
    vectors = {lone: cosine(0.62), a: cosine(0.6), b: cosine(0.55)}
    meaning = Meaning((SetEncoder("main", vectors), Q))
    cands = [
        Candidate("d.txt", 0, len(lone)),
        Candidate("d.txt", len(lone) + 1, len(text)),
    ]
    choice = choose_quote("Who won the battle?", cands, {"d.txt": (text, "en", ())}, meaning)
    assert choice.text == f"{a} {b}"
    # Each sentence alone scores below the lone one; the pair lifts its passage above it.
    first, second = choice.passage_scores
    assert second == choice.score > first


def test_a_heading_lends_its_words_to_the_sentences_under_it() -> None:
    """ "Who won the battle?": the sentence under the heading "The Battle" holds "won" only,
    the other "won" only; the heading's "battle" settles it, at equal meaning."""
    other = "Soviet forces won much ground that year."
    under = "In the end Soviet forces won it clearly."
    text = f"{other}\n\nThe Battle\n\n{under}"
    choice = choose(text, "en", {other: cosine(0.5), under: cosine(0.5)})
    assert choice.text == under
    # Without the heading neither says more than the other: both are quoted together.
    flat = f"{other}\n\n{under}"
    assert choose(flat, "en", {other: cosine(0.5), under: cosine(0.5)}).text == flat


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("The Soviets advanced with nearly 2 million troops.", {"2", "million"}),
        ("Rund 500.000 Soldaten und 6.000 Flugzeuge.", {"500.000", "6.000"}),
        ("There were two teams, and seventeen ships; vierzig Divisionen.",
         {"two", "seventeen", "vierzig"}),
        ("It began on June 22, 1944, and am 3. Juli fiel Minsk.", set()),
        ("It began three years to the day later, nach 900 Tagen.", set()),
        ("A 200-mile front and hundreds of bodies.", {"200", "hundreds"}),
    ],
)  # fmt: skip
def test_amounts_leave_out_years_dates_and_spans_of_time(text: str, amounts: set[str]) -> None:
    assert quantities(text) == amounts


def test_how_many_wants_an_amount_the_question_does_not_already_hold() -> None:
    q = "How many troops did the Soviets advance with in 1944?"
    assert kind_bonus(q, "Operation Bagration began three years later, on June 22, 1944.") == 0
    assert kind_bonus(q, "The Soviets advanced with nearly 2 million troops.") == 1
    assert kind_bonus("How many of the 40 divisions were lost?", "Of 40 divisions…") == 0
    # "How long" is answered by a span of time.
    assert kind_bonus("How long did the siege last?", "It lasted nearly 900 days.") == 1
