"""The cross-lingual encoders, their common scale, and which one an index is built with."""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ingest import ingest
from retriever import Index, Space, language
from retriever.cross_lingual import E5Encoder, USEEncoder
from retriever.encoder import calibrate, encode_query
from retriever.errors import BadArgumentError
from retriever.models import load_cross_lingual
from retriever.settings import DEFAULT_CROSS_LINGUAL_MODEL, E5_MODEL, USE_MODEL
from tests.conftest import HashEncoder

QUESTION = "When did the Red Army liberate Minsk?"
ANSWER_DE = "Am 3. Juli 1944 befreite die Rote Armee Minsk."
ANSWER_EN = "On July 3, 1944, the Red Army liberated Minsk."
UNRELATED_DE = "Der Kuchen wird eine Stunde bei 180 Grad gebacken."
UNRELATED_EN = "Bake the cake for an hour at 180 degrees."


@pytest.fixture(scope="module")
def e5():
    return load_cross_lingual(E5_MODEL)


def test_e5_finds_the_german_answer_to_an_english_question(e5) -> None:
    q = encode_query(e5, QUESTION)
    rows = e5.encode([ANSWER_DE, UNRELATED_DE, ANSWER_EN, UNRELATED_EN])
    assert rows.shape == (4, 384) and rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-3)
    answer_de, unrelated_de, answer_en, unrelated_en = calibrate(e5, rows @ q)
    assert answer_de > unrelated_de + 0.3 and answer_en > unrelated_en + 0.3
    # On the common scale an unrelated sentence lands near 0, as with the other models.
    assert max(unrelated_de, unrelated_en) < 0.25 < min(answer_de, answer_en)


def test_e5_embeds_questions_and_passages_differently_and_nothing_as_nothing(e5) -> None:
    as_query, as_passage = encode_query(e5, QUESTION), e5.encode([QUESTION])[0]
    assert not np.allclose(as_query, as_passage) and float(as_query @ as_passage) > 0.8
    assert e5.encode([]).shape == (0, 384)
    assert np.array_equal(e5.encode([ANSWER_DE] * 3)[2], e5.encode([ANSWER_DE])[0])


def test_an_encoder_without_encode_query_embeds_questions_like_passages() -> None:
    enc = HashEncoder()
    assert np.array_equal(encode_query(enc, QUESTION), enc.encode([QUESTION])[0])


def test_calibration_leaves_other_models_as_they_are() -> None:
    scores = np.array([0.1, 0.5])
    assert calibrate(USEEncoder, scores) is scores and calibrate(HashEncoder(), scores) is scores
    assert calibrate(E5Encoder, np.array([0.70, 0.95])) == pytest.approx([0.0, 0.8])


def test_an_unknown_cross_lingual_model_is_refused_before_any_work(
    tiny_docs: Path, tmp_path: Path
) -> None:
    with pytest.raises(BadArgumentError, match="known: .*multilingual-e5-small-q4"):
        load_cross_lingual("babel-fish")
    with pytest.raises(BadArgumentError, match="unknown cross-lingual model 'babel-fish'"):
        ingest([tiny_docs], tmp_path / "idx", cross_lingual_model="babel-fish")
    assert not (tmp_path / "idx").exists()


def test_an_index_keeps_its_cross_lingual_model_until_told_otherwise(
    tiny_docs: Path, tmp_path: Path, fake_models: None
) -> None:
    index = tmp_path / "idx"
    ingest([tiny_docs], index, model="test-hash")
    assert Index.open(index).manifest.cross_lingual_model == DEFAULT_CROSS_LINGUAL_MODEL == E5_MODEL

    report = ingest([tiny_docs], index, cross_lingual_model=USE_MODEL)
    assert report.wrote and report.embedded > 0  # another model: everything embedded again
    assert Index.open(index).manifest.cross_lingual_model == USE_MODEL

    (tiny_docs / "leningrad.txt").write_text("The siege of Leningrad ended in January 1944.\n")
    report = ingest([tiny_docs], index)  # no model named: the index's own
    assert report.embedded == 1 and Index.open(index).manifest.cross_lingual_model == USE_MODEL

    ingest([tiny_docs], index, cross_lingual=False)
    assert not Index.open(index).has(Space.CROSS_LINGUAL)


def test_the_cli_names_the_cross_lingual_model_or_says_what_is_wrong(
    tiny_docs: Path, tmp_path: Path, fake_models: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from ui.cli import main

    index = tmp_path / "idx"
    args = ["ingest", str(tiny_docs), "--index", str(index), "--model", "test-hash", "--quiet"]
    assert main([*args, "--cross-lingual-model", "babel-fish"]) == 2
    err = capsys.readouterr().err
    assert "unknown cross-lingual model 'babel-fish'" in err and len(err.strip().splitlines()) == 1
    assert main([*args, "--cross-lingual-model", USE_MODEL]) == 0
    assert Index.open(index).manifest.cross_lingual_model == USE_MODEL


def test_the_language_identifier_preloads_once_while_a_question_waits_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[str] = []
    started, release = threading.Event(), threading.Event()
    real = language._load_identifier.__wrapped__

    def slow_load(langs: tuple[str, ...]):  # the model takes a while to unpack
        loads.append(threading.current_thread().name)
        started.set()
        release.wait(10)
        return real(langs)

    cached = functools.lru_cache(maxsize=8)(slow_load)
    monkeypatch.setattr(language, "_load_identifier", cached)
    language.preload()
    assert started.wait(10)
    asked: dict[str, float] = {}
    question = threading.Thread(
        target=lambda: asked.update(
            language.language_weights("Wann befreite die Rote Armee Minsk?", ["de", "en"])
        )
    )
    question.start()
    time.sleep(0.2)
    assert not asked  # the question waits for the loading thread's identifier...
    release.set()
    question.join(10)
    assert asked["de"] == 1.0 and asked["en"] < 0.1
    assert loads == ["load languages"]  # ...and never unpacks it a second time
