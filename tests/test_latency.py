"""``python -m eval.latency``: one index's start-up and warm answers, and other settings
measured beside the defaults in the same run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eval import latency
from retriever.errors import BadArgumentError


def test_other_settings_are_timed_in_the_same_run_against_the_defaults(
    tiny_index: Path, tmp_path: Path, fake_models: None, capsys: pytest.CaptureFixture[str]
) -> None:
    gold = tmp_path / "gold.jsonl"
    questions = ["When was the siege of Leningrad broken?", "Who led the army?"]
    gold.write_text(
        "".join(json.dumps({"id": f"q{i}", "question": q, "answers": ["x"]}) + "\n"
                for i, q in enumerate(questions)),
        encoding="utf-8",
    )  # fmt: skip
    wide = tmp_path / "wide.json"
    wide.write_text('{"quote_passages": 5}', encoding="utf-8")
    latency.main(["--index", str(tiny_index), "--gold", str(gold), "--rounds", "2",
                  "--scoring", str(wide)])  # fmt: skip
    out = capsys.readouterr().out
    assert re.search(r"^defaults: warm ask, 4 questions: p50 [\d.]+ ms, p95 [\d.]+ ms$", out, re.M)
    assert re.search(r"^wide: warm ask, 4 questions: .*, [\d.]+× the defaults'$", out, re.M)
    # each setting's stages, twice
    assert len(re.findall(r"^  quote +p50 ", out, re.M)) == 2


def test_a_setting_that_is_not_scoring_is_refused(tiny_index: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"warp": 9}', encoding="utf-8")
    with pytest.raises(BadArgumentError, match="scoring has no warp"):
        latency.main(["--index", str(tiny_index), "--scoring", str(bad)])
