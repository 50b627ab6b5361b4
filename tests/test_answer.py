from __future__ import annotations

import json

import pytest

from retriever import Answer, BadArgumentError, BadQuestionError
from retriever.settings import DEFAULT_SCORING
from tests.conftest import TINY

QUESTIONS = [
    "When was the siege of Leningrad broken?",
    "How many people died from starvation during the siege?",
    "When did the battle of Kursk begin?",
    "How many tanks clashed at Prokhorovka?",
    "When did Operation Bagration begin?",
    "Who took Minsk on July 3?",
    "Wann befreite die Rote Armee Minsk?",
    "Which camp did Soviet soldiers capture near Lublin?",
    "What happened by July 14?",
    "Popular pages",
    "Close Search Dialog",
]


def assert_offsets_hold(answer: Answer, document_text) -> None:  # type: ignore[no-untyped-def]
    """Contract 1: every quote, passage and highlight slices its document exactly."""
    for p in answer.passages:
        doc = document_text(p.source)
        assert doc[p.start : p.end] == p.text
        if p.highlight is not None:
            assert p.start <= p.highlight.start < p.highlight.end <= p.end
    if answer.answered:
        c = answer.citation
        assert c is not None and answer.quote is not None
        assert document_text(c.source)[c.start : c.end] == answer.quote
        assert len(answer.quote) <= 400
    else:
        assert answer.quote is None and answer.citation is None


@pytest.mark.parametrize("question", QUESTIONS)
def test_offsets_slice_the_document_text(tiny_answerer, question: str) -> None:
    answer = tiny_answerer.ask(question, k=5)
    assert_offsets_hold(answer, tiny_answerer.index.document_text)
    for source in {p.source for p in answer.passages if p.source.endswith(".txt")}:
        assert tiny_answerer.index.document_text(source) == TINY[source]  # plain text: unchanged
    assert 1 <= len(answer.passages) <= 5
    assert [p.rank for p in answer.passages] == list(range(1, len(answer.passages) + 1))
    # Search order, except that the passages the quote is looked in are reranked by their
    # best sentence: they still outrank the rest, which keep search order.
    scores = [p.score for p in answer.passages]
    head, tail = scores[: DEFAULT_SCORING.quote_passages], scores[DEFAULT_SCORING.quote_passages :]
    assert tail == sorted(tail, reverse=True)
    assert not tail or min(head) >= max(tail)


def test_the_quote_is_the_answering_sentence(tiny_answerer) -> None:
    answer = tiny_answerer.ask("When was the siege of Leningrad broken?")
    assert answer.answered
    assert answer.quote == (
        "On January 27, 1944, the siege of Leningrad was broken after about 900 days."
    )
    assert answer.citation.source == "leningrad.txt"
    assert answer.citation.start == 0
    top = answer.passages[0]
    assert top.highlight is not None
    assert (top.highlight.start, top.highlight.end) == (answer.citation.start, answer.citation.end)


def test_an_unrelated_question_abstains_and_still_shows_passages(tiny_answerer) -> None:
    answer = tiny_answerer.ask("Recipe for banana bread with walnuts?")
    assert not answer.answered
    assert answer.quote is None and answer.citation is None
    assert answer.passages and all(p.highlight is None for p in answer.passages)
    # The quote it would have given scored below the threshold, and the answer says how far.
    assert answer.quote_score is not None and answer.quote_score < tiny_answerer.min_score


@pytest.mark.parametrize("question", QUESTIONS)
def test_answered_exactly_when_the_quote_score_reaches_the_threshold(
    tiny_answerer, question: str
) -> None:
    answer = tiny_answerer.ask(question)
    assert answer.answered == (
        answer.quote_score is not None and answer.quote_score >= tiny_answerer.min_score
    )


def test_json_matches_contract_1(tiny_answerer) -> None:
    d = json.loads(json.dumps(tiny_answerer.ask("When did Operation Bagration begin?").to_dict()))
    assert set(d) == {"question", "answered", "quote", "citation", "passages", "timing_ms"}
    place = {"page", "section"}  # optional in Contract 1, where the format has them
    assert {"source", "title", "start", "end"} <= set(d["citation"])
    assert set(d["citation"]) - {"source", "title", "start", "end"} <= place
    required = {"rank", "source", "title", "start", "end", "score", "text", "highlight"}
    assert required <= set(d["passages"][0]) and set(d["passages"][0]) - required <= place
    assert d["citation"]["section"] == "Operation Bagration"  # the page's heading
    assert d["citation"]["title"] == "Operation Bagration"
    assert "total" in d["timing_ms"]


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "x" * 2001])
def test_unusable_questions_get_a_clear_message(tiny_answerer, question: str) -> None:
    with pytest.raises(BadQuestionError, match="question"):
        tiny_answerer.ask(question)


@pytest.mark.parametrize("k", [0, -1, 101, 2.5, True])
def test_bad_k_is_refused(tiny_answerer, k: object) -> None:
    with pytest.raises(BadArgumentError, match="k of"):
        tiny_answerer.ask("When did Operation Bagration begin?", k=k)  # type: ignore[arg-type]


def test_k_larger_than_the_index_returns_what_there_is(tiny_answerer) -> None:
    answer = tiny_answerer.ask("Minsk", k=100)
    assert len(answer.passages) == len(tiny_answerer.index)
