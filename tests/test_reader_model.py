"""The shipped reader, loaded offline from this repository: it ranks the sentence that
answers above the others in English, in German and across the two."""

from __future__ import annotations

import pytest

from retriever.reader import DEFAULT_READER, WEIGHTS, Reader, readers
from retriever.reader_inputs import Window
from retriever.settings import DEFAULT_SCORING

BRIDGE_EN = ["The river is wide and slow.", "The bridge was built by Anna Weber in 1901.",
             "Fish live in it."]  # fmt: skip
BRIDGE_DE = ["Der Fluss ist breit und langsam.", "Die Brücke wurde 1901 von Anna Weber gebaut.",
             "Darin leben Fische."]  # fmt: skip


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader(WEIGHTS / DEFAULT_READER)


def test_the_default_reader_ships_with_its_card() -> None:
    assert DEFAULT_SCORING.reader == DEFAULT_READER and DEFAULT_READER in readers()


@pytest.mark.parametrize(
    ("question", "sentences"),
    [
        ("Who built the bridge?", BRIDGE_EN),
        ("Wer baute die Brücke?", BRIDGE_DE),
        ("Who built the bridge?", BRIDGE_DE),
        ("Wer baute die Brücke?", BRIDGE_EN),
    ],
    ids=["en", "de", "en-de", "de-en"],
)
def test_the_answer_sentence_scores_above_the_others(
    reader: Reader, question: str, sentences: list[str]
) -> None:
    window = Window.of(sentences)
    scores = reader.read(question, [window])[0].sentence_scores(window)
    assert scores.argmax() == 1
    assert scores[1] - max(scores[0], scores[2]) > 2.0


def test_a_passage_that_does_not_answer_scores_below_one_that_does(reader: Reader) -> None:
    answers = Window.of(["The war ended in 1945 after six years.", "Many cities were rebuilt."])
    other = Window.of(["Paris is the capital of France.", "It lies on the Seine."])
    read = reader.read("When did the war end?", [answers, other])
    assert read[0].sentence_scores(answers).max() > 0 > read[1].sentence_scores(other).max()


@pytest.mark.slow  # fast tests stand a hand-set quote in for the loading reader (conftest)
def test_the_reader_loads_beside_the_first_answers_and_is_waited_for_when_read() -> None:
    from retriever.errors import BadArgumentError
    from retriever.reader import LoadingReader

    window = Window.of(BRIDGE_EN)
    loading = LoadingReader(DEFAULT_READER)
    scores = loading.read("Who built the bridge?", [window])[0].sentence_scores(window)
    assert scores.argmax() == 1
    shipped = "unknown reader 'nope'; shipped: reader-e5, reader-e5-12"
    with pytest.raises(BadArgumentError, match=shipped):
        LoadingReader("nope")


def test_the_model_card_shows_the_shipped_cards_figures() -> None:
    import json

    from eval.train.export import model_card
    from retriever.reader import CARD

    folder = WEIGHTS / DEFAULT_READER
    card = json.loads((folder / CARD).read_text(encoding="utf-8"))
    text = model_card(card)
    assert text == (folder / "README.md").read_text(encoding="utf-8")  # written together
    best = card["tuning"]["best"]
    assert (best["reader_weight"], best["reader_margin"], best["reader_reach"]) == (
        DEFAULT_SCORING.reader_weight,
        DEFAULT_SCORING.reader_margin,
        DEFAULT_SCORING.reader_reach,
    )  # the defaults are the tuned setting
    assert f"quote@1 {best['quote@1']}" in text and card["sha256"][:16] in text


def test_a_run_resumed_longer_is_told_with_each_command_that_remakes_it() -> None:
    import json

    from eval.train.export import model_card
    from retriever.reader import CARD

    card = json.loads((WEIGHTS / DEFAULT_READER / CARD).read_text(encoding="utf-8"))
    card["recipe"] = {**card["recipe"], "steps": 6400, "phases": [[0, 3600], [3600, 6400]]}
    text = model_card(card)
    # The longer run's line (warm-up 321 steps) stands at (6400 - 3600) / (6400 - 321).
    assert "decay to 0 at step 3,600, then resumed to step 6,400" in text
    assert "restarting at 0.46 of its peak" in text and "0.71 of an epoch" in text
    for steps in (3600, 6400):
        assert f"--out runs/train/{DEFAULT_READER} --steps {steps}`" in text


def test_a_finished_run_resumed_longer_records_the_new_line() -> None:
    from eval.train.reader import resumed_phases

    assert resumed_phases(None, 3600, 3600) == [[0, 3600]]  # a checkpoint of the first run
    assert resumed_phases(None, 3600, 6400) == [[0, 3600], [3600, 6400]]
    assert resumed_phases([[0, 3600], [3600, 6400]], 4100, 6400) == [[0, 3600], [3600, 6400]]
