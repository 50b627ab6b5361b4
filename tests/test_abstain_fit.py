"""The abstain probability's fit (``python -m eval.train.abstain``): what it learns from
the signals' rows, the threshold it reads off, and its report."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from eval.metrics import abstain_curve
from eval.train import abstain
from eval.train.abstain import Fit, at, fit, operating_point


def _rows(n: int, seed: int) -> list[dict]:
    """Answerable and unanswerable questions whose closeness overlaps a lot and whose
    reader log-odds tell them apart better."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        answerable = i % 3 != 0
        rows.append({
            "id": f"q{seed}-{i}",
            "answers": ["x"] if answerable else [],
            "closeness": rng.gauss(0.55 if answerable else 0.5, 0.1),
            "reader_quote": rng.gauss(4.0 if answerable else -2.0, 3.0),
        })  # fmt: skip
    return rows


def _auc(score, rows) -> float:
    return abstain_curve([{"answers": r["answers"], "quote_score": score(r)} for r in rows])[
        "abstain_auc"
    ]


def test_the_fit_weighs_the_signal_that_separates_and_beats_closeness_on_new_rows() -> None:
    model = fit(_rows(600, seed=1))
    assert model.reader_weight > 0 and model.closeness_weight > 0
    new = _rows(300, seed=2)
    assert _auc(model, new) > _auc(lambda r: r["closeness"], new) + 0.1
    # A probability; no quote, no probability; the reader's log-odds count up to the clip.
    row = {"answers": [], "closeness": 0.5, "reader_quote": 50.0}
    assert 0.0 < model(row) < 1.0
    assert model(row) == model({**row, "reader_quote": model.clip})
    assert model({"answers": [], "closeness": None, "reader_quote": None}) is None
    assert model.features({"closeness": 0.5, "reader_quote": None}) == (0.5, -model.clip)


def test_the_operating_point_answers_the_floor_of_every_set_and_no_quote_is_declined() -> None:
    first = [{"answers": ["x"], "closeness": c} for c in (0.2, *[0.5 + i / 100 for i in range(19)])]
    second = [{"answers": ["x"], "closeness": 0.3 + i / 100} for i in range(20)]
    second += [{"answers": [], "closeness": 0.1}, {"answers": [], "closeness": None}]
    score = Fit(0.0, 1.0, 0.0, 10.0)  # monotone in the closeness
    threshold = operating_point(score, [first, second])
    assert at(score, threshold, first)[0] >= 0.95 and at(score, threshold, second)[0] >= 0.95
    assert threshold == score({"closeness": 0.31})  # the second set binds
    assert at(score, threshold, second) == (0.95, 1.0)
    assert at(score, threshold, first) == (0.95, None)


def test_the_report_prints_every_set_and_both_operating_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, seed in (("calib", 1), ("calib-de", 2), ("seeds", 3)):
        lines = [json.dumps(r) for r in _rows(90, seed)]
        (tmp_path / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    by_id = {r["id"]: "Geology" for r in _rows(90, 1) + _rows(90, 2)}
    by_id.update({r["id"]: "Warsaw" for r in _rows(90, 1)[::2]})
    monkeypatch.setattr(abstain, "articles", lambda: by_id)
    abstain.main([str(tmp_path)])
    out = capsys.readouterr().out
    assert out.startswith("P(answerable) = σ(")
    assert "| Geology | calib |" in out and "| Warsaw | calib-de | 0 |" in out
    assert "| seeds | 90 |" in out
    assert "| closeness | " in out and "| fit | " in out


def test_the_report_says_which_rows_it_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "calib.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        abstain.main([str(tmp_path)])
    assert exc.value.code == 2
    assert "holds no calib-de.jsonl; run python -m eval.abstain" in capsys.readouterr().err
