"""The reader's training examples (``eval.train.data``): swapped questions."""

from __future__ import annotations

import random

from eval.train.data import examples, swapped

ARTICLE = {
    "title": "Bands",
    "paragraphs": [
        {
            "context": "Beyoncé left Destiny's Child in 2005. She then recorded alone.",
            "qas": [
                {
                    "id": "q1",
                    "question": "When did Beyoncé leave Destiny's Child?",
                    "answers": [{"text": "2005", "answer_start": 32}],
                }
            ],
        },
        {
            "context": "Kelly Rowland sang with Michelle Williams for nine years.",
            "qas": [],
        },
    ],
}


def test_a_swap_replaces_a_shared_name_with_one_the_passage_never_mentions() -> None:
    rng = random.Random(0)
    pool = ["Kelly Rowland", "Michelle Williams", "Destiny's Child", "Beyoncé", "2005", "1990"]
    passage = ARTICLE["paragraphs"][0]["context"]
    seen = {swapped("When did Beyoncé leave Destiny's Child?", passage, pool, rng)
            for _ in range(40)}  # fmt: skip
    assert seen == {
        "When did Kelly Rowland leave Destiny's Child?",
        "When did Michelle Williams leave Destiny's Child?",
        "When did Beyoncé leave Kelly Rowland?",
        "When did Beyoncé leave Michelle Williams?",
    }
    # Figures swap for figures only; the first word and what the passage lacks stay.
    assert swapped("How many in 2005?", passage, pool, rng) == "How many in 1990?"
    assert swapped("Who sang?", passage, pool, rng) is None
    assert swapped("Beyoncé sang what?", passage, ["Kelly Rowland"], rng) is None


def test_swapped_questions_are_unanswerable_examples_of_the_answering_passage(tmp_path) -> None:
    import json

    path = tmp_path / "squad.json"
    path.write_text(json.dumps({"data": [ARTICLE]}), encoding="utf-8")
    plain = list(examples(path, random.Random(1), negatives=0.0))
    assert [(e.id, e.answerable, e.answer is not None) for e in plain] == [("q1", True, True)]
    rows = list(examples(path, random.Random(1), negatives=0.0, swaps=1.0))
    (positive, swap) = rows
    assert positive == plain[0]  # drawn before the swap (with no swaps, nothing is drawn)
    assert swap.id == "q1-swap" and not swap.answerable and swap.answer is None
    assert swap.sentences == positive.sentences
    assert swap.question != positive.question
    assert "Kelly Rowland" in swap.question or "Michelle Williams" in swap.question


def test_the_german_calibration_questions_are_asked_of_the_same_articles(tmp_path) -> None:
    import json

    from eval.gold import load_gold
    from eval.train.calibrate import GERMAN_QUESTIONS, calibration_gold

    german = {}
    for line in GERMAN_QUESTIONS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        german[row["id"]] = row["question"]
    english = {i.id: i for i in load_gold(calibration_gold(tmp_path)).items}
    asked = load_gold(calibration_gold(tmp_path, GERMAN_QUESTIONS)).items
    assert len(asked) == len(german) == 156
    for item in asked:
        assert item.question == german[item.id] != english[item.id].question
        assert item.answers == english[item.id].answers
    assert sum(bool(i.answers) for i in asked) == 116
