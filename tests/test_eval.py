"""Gold sets, metrics (against hand-computed values), the runner, reports and comparisons."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eval.compare import compare_runs, format_comparison
from eval.gold import GoldFormatError, load_gold
from eval.metrics import abstain_curve, exact_match, first_hit_rank, score, score_by, token_f1
from eval.report import threshold_line
from eval.runner import run_eval
from retriever.settings import DEFAULT_SCORING
from tests.independent_rescore import rescore
from ui.cli import main


def _row(answers, passages, quote=None, answered=None, source=None, kind=None, total=10.0):
    answered = bool(quote) if answered is None else answered
    return {
        "id": "x",
        "question": "q",
        "answers": answers,
        "source": source,
        "kind": kind,
        "response": {
            "answered": answered,
            "quote": quote,
            "citation": {"source": source or "d.txt"} if quote else None,
            "passages": [{"text": t, "source": s} for t, s in passages],
            "timing_ms": {"total": total},
        },
    }


def test_metrics_match_hand_computed_values() -> None:
    rows = [
        # first hit at rank 1, right quote
        _row(
            ["Jan 27"], [("on jan  27 it ended", "d.txt"), ("x", "d.txt")], "On Jan 27.", total=10
        ),
        # first hit at rank 3 (rank 2 holds it but from the wrong source), wrong quote
        _row(
            ["Minsk"],
            [("a", "d.txt"), ("Minsk", "other.txt"), ("minsk", "d.txt")],
            "Nope.",
            source="d.txt",
            total=20,
        ),
        # no hit, abstained
        _row(["Kiev"], [("a", "d.txt")], None, total=30),
        # unanswerable, abstained / answered
        _row([], [("a", "d.txt")], None, total=40),
        _row([], [("a", "d.txt")], "Something.", total=50),
    ]
    m = score(rows)
    assert first_hit_rank(rows[0]) == 1 and first_hit_rank(rows[1]) == 3
    assert first_hit_rank(rows[2]) is None
    assert m["hit@1"] == pytest.approx(1 / 3)
    assert m["hit@3"] == pytest.approx(2 / 3)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3) / 3)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4)) / 3)
    assert m["quote@1"] == pytest.approx(1 / 3)
    assert m["answer_rate"] == pytest.approx(2 / 3)
    assert m["abstain_recall"] == pytest.approx(1 / 2)
    assert m["latency_ms_p50"] == 30 and m["latency_ms_p95"] == pytest.approx(48)
    assert m["quote_chars_mean"] == pytest.approx((10 + 5 + 10) / 3)
    assert m["answerable"] == 3 and m["unanswerable"] == 2


def test_abstain_curve_from_quote_scores_matches_hand_computed_values() -> None:
    answerable = [0.9, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3, 0.25] * 2 + [None]
    unanswerable = [0.1, 0.2, 0.42, 0.5, 0.95, None]
    rows = [{"answers": ["a"], "quote_score": s} for s in answerable]
    rows += [{"answers": [], "quote_score": s} for s in unanswerable]
    m = abstain_curve(rows)
    # 21 answerable: answering at least 0.95 of them (20) needs every score from 0.25 up.
    assert m["min_score@ar95"] == 0.25
    assert m["abstain_recall@ar95"] == pytest.approx(3 / 6)  # 0.1, 0.2 and no quote
    # Pairs (unanswerable, answerable) where the unanswerable one scores lower, ties 1/2;
    # no quote scores below any score.
    lower = {0.1: 20, 0.2: 20, 0.42: 12, 0.5: 8 + 2 / 2, 0.95: 0, None: 20 + 1 / 2}
    assert m["abstain_auc"] == pytest.approx(sum(lower.values()) / (6 * 21))
    # A run without quote scores (made before they were recorded) has none of these.
    assert abstain_curve([{"answers": ["a"]}, {"answers": []}])["abstain_auc"] is None
    assert abstain_curve(rows[:21])["min_score@ar95"] is None  # no unanswerable question
    # No quote scores at all, or too many answerable questions without a quote to answer
    # 95 % of them: no threshold can, and none is suggested.
    assert set(abstain_curve([{**r, "quote_score": None} for r in rows]).values()) == {None}
    few = [{"answers": ["a"], "quote_score": s} for s in (0.9, None)] + rows[21:]
    assert abstain_curve(few)["abstain_recall@ar95"] is None
    assert abstain_curve(few)["min_score@ar95"] is None


def test_the_suggested_threshold_is_short_and_decides_as_the_exact_one() -> None:
    answerable = [0.3491 + i / 100 for i in range(19)]  # 19: each must be answered
    unanswerable = [0.1, 0.3483, 0.35832]
    rows = [{"answers": ["a"], "quote_score": s} for s in answerable]
    rows += [{"answers": [], "quote_score": s} for s in unanswerable]
    m = abstain_curve(rows)
    # 0.3491 must be answered and 0.3483 lies just below: 0.349 decides as 0.3491 does.
    assert m["min_score@ar95"] == 0.349
    assert m["abstain_recall@ar95"] == pytest.approx(2 / 3)
    assert "--min-score 0.349 " in threshold_line(m)


def test_squad_exact_match_and_f1() -> None:
    assert exact_match("The Normans.", ["Normans"]) == 1.0
    assert exact_match("Normans in France", ["Normans"]) == 0.0
    # "the" is dropped: 1 of 3 predicted tokens right, the one gold token found.
    assert token_f1("the Normans in France", ["Normans"]) == pytest.approx(0.5)
    assert token_f1("", ["x"]) == 0.0
    assert token_f1("x b", ["c d", "b"]) == pytest.approx(2 * 0.5 / 1.5)


def test_breakdown_by_kind() -> None:
    rows = [_row(["a"], [("a", "d")], "a", kind="en"), _row(["b"], [("x", "d")], None, kind="de")]
    by = score_by(rows, "kind")
    assert by["en"]["hit@1"] == 1.0 and by["de"]["hit@1"] == 0.0


def test_gold_errors_name_the_line(tmp_path: Path) -> None:
    p = tmp_path / "gold.jsonl"
    p.write_text('{"id": "1", "question": "q?", "answers": []}\n{"id": "2", "question": \n')
    with pytest.raises(GoldFormatError, match=r"gold.jsonl:2: not valid JSON"):
        load_gold(p)
    p.write_text('{"id": "1", "question": "q?"}\n')
    with pytest.raises(GoldFormatError, match=r":1: missing field 'answers'"):
        load_gold(p)
    p.write_text('{"id": "1", "question": "q?", "answers": "x"}\n')
    with pytest.raises(GoldFormatError, match="list of non-empty strings"):
        load_gold(p)
    p.write_text('{"id": "1", "question": "q", "answers": []}\n' * 2)
    with pytest.raises(GoldFormatError, match="duplicate id"):
        load_gold(p)
    p.write_text('{"version": "v9", "data": [{"title": "t"}]}')
    with pytest.raises(GoldFormatError, match="not a SQuAD"):
        load_gold(p)


def test_squad_questions_and_corpus(tmp_path: Path) -> None:
    p = tmp_path / "squad.json"
    p.write_text(
        json.dumps(
            {
                "version": "v2.0",
                "data": [
                    {
                        "title": "Normans",
                        "paragraphs": [
                            {
                                "context": "The Normans lived in Normandy.",
                                "qas": [
                                    {
                                        "id": "a",
                                        "question": "Where?",
                                        "answers": [
                                            {"text": "Normandy", "answer_start": 21},
                                            {"text": "Normandy", "answer_start": 21},
                                        ],
                                        "is_impossible": False,
                                    },
                                    {
                                        "id": "b",
                                        "question": "When?",
                                        "answers": [],
                                        "is_impossible": True,
                                    },
                                ],
                            }
                        ],
                    }
                ],
            }
        )
    )
    gold = load_gold(p)
    assert gold.format == "squad"
    assert gold.corpus == (("Normans/000.txt", "The Normans lived in Normandy."),)
    assert [(i.id, i.answers, i.kind) for i in gold.items] == [
        ("a", ("Normandy",), "answerable"),
        ("b", (), "unanswerable"),
    ]


GOLD_LINES = [
    {
        "id": "g1",
        "question": "When was the siege of Leningrad broken?",
        "answers": ["January 27, 1944"],
        "source": "leningrad.txt",
        "kind": "en",
    },
    {
        "id": "g2",
        "question": "When did Operation Bagration begin?",
        "answers": ["June 22, 1944"],
        "kind": "en",
    },
    {
        "id": "g3",
        "question": "Wann befreite die Rote Armee Minsk?",
        "answers": ["3. Juli"],
        "kind": "de",
    },
    {
        "id": "g4",
        "question": "Which zebras collect quartz crystals?",
        "answers": [],
        "kind": "none",
    },
]


def _gold(tmp_path: Path, lines=GOLD_LINES) -> Path:
    p = tmp_path / "gold.jsonl"
    p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return p


def _run(tmp_path: Path, tiny_docs: Path, out: str, lines=GOLD_LINES, min_score: float = 0.2):
    return run_eval(
        _gold(tmp_path, lines),
        tmp_path / out,
        corpus=tiny_docs,
        k=5,
        model="test-hash",
        scoring=DEFAULT_SCORING.replace(min_score=min_score),
        cache=tmp_path / "cache",
    )


def test_a_run_writes_results_metrics_and_report(tmp_path, tiny_docs, fake_models) -> None:
    out = tmp_path / "run"
    result = _run(tmp_path, tiny_docs, "run")
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["g1", "g2", "g3", "g4"]
    assert rows[0]["kind"] == "en" and rows[0]["source"] == "leningrad.txt"
    assert set(rows[0]["response"]) >= {"answered", "quote", "citation", "passages", "timing_ms"}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["overall"]["hit@1"] == 1.0 and metrics["overall"]["quote@1"] == 1.0
    assert metrics["overall"]["abstain_recall"] == 1.0
    assert set(metrics["by_kind"]) == {"en", "de", "none"}
    assert metrics["run"]["model"] == "test-hash" and metrics["run"]["k"] == 5
    report = (out / "report.html").read_text()
    assert report.count("<svg") == 2 and "Failures (0 of 4)" in report
    assert "http" not in report.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert result.metrics == metrics


def test_rescoring_results_independently_gives_the_same_metrics(
    tmp_path, tiny_docs, fake_models
) -> None:
    lines = GOLD_LINES + [
        {"id": "g5", "question": "How many tanks clashed?", "answers": ["2,000 tanks"]},
        {"id": "g6", "question": "Where is Majdanek?", "answers": ["Lublin"], "source": "x.txt"},
        {"id": "g7", "question": "Who took Minsk?", "answers": ["Soviet forces"]},
    ]
    out = tmp_path / "run"
    _run(tmp_path, tiny_docs, "run", lines, min_score=0.2)
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    ours = json.loads((out / "metrics.json").read_text())["overall"]
    theirs = rescore(rows)
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value), key


def test_the_suggested_threshold_gives_the_figures_it_promises(
    tmp_path, tiny_docs, fake_models
) -> None:
    lines = GOLD_LINES + [
        {"id": "g5", "question": "How many tanks clashed?", "answers": ["2,000 tanks"]},
        {"id": "g6", "question": "Who took Minsk?", "answers": ["Soviet forces"]},
        {"id": "g7", "question": "purple violin", "answers": []},
    ]
    first = _run(tmp_path, tiny_docs, "a", lines, min_score=-1.0)
    for row in first.rows:  # answered exactly when the quote scores at the threshold or above
        assert row["response"]["answered"] == (row["quote_score"] >= -1.0)
    m = first.metrics["overall"]
    again = _run(tmp_path, tiny_docs, "b", lines, min_score=m["min_score@ar95"]).metrics["overall"]
    assert again["answer_rate"] >= 0.95
    assert again["abstain_recall"] == m["abstain_recall@ar95"]
    assert again["abstain_recall@ar95"] == m["abstain_recall@ar95"]  # the signal is the same


def test_compare_shows_deltas_and_flips(tmp_path, tiny_docs, fake_models) -> None:
    gold = _gold(tmp_path)
    kw = dict(corpus=tiny_docs, k=5, model="test-hash", cache=tmp_path / "cache")
    run_eval(gold, tmp_path / "a", scoring=DEFAULT_SCORING.replace(min_score=0.2), **kw)
    # abstains on everything:
    run_eval(gold, tmp_path / "b", scoring=DEFAULT_SCORING.replace(min_score=0.99), **kw)
    c = compare_runs(tmp_path / "a", tmp_path / "b")
    assert sorted(r["id"] for r in c.regressions) == ["g1", "g2", "g3"]
    assert c.fixes == []
    text = format_comparison(c)
    assert "right in A, wrong in B: 3" in text and "g1: When was the siege" in text
    assert "answer_rate" in text and "-1.000" in text


def test_cli_eval_and_compare(tmp_path, tiny_docs, fake_models, capsys) -> None:
    gold = _gold(tmp_path)
    args = [
        "eval",
        str(gold),
        "--corpus",
        str(tiny_docs),
        "--model",
        "test-hash",
        "--min-score",
        "0.1",
        "--k",
        "5",
    ]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "quote@1" in out and "4 questions" in out
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    assert main(["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "right in A, wrong in B: 0" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "nope.jsonl", "--out", "x"], "no gold file at nope.jsonl"),
        (["eval", "--compare", "nope-a", "nope-b"], "no results.jsonl in nope-a"),
        (["eval", "g.jsonl"], "needs a gold set and --out"),
    ],
)
def test_cli_eval_user_errors_exit_2(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_questions_that_failed_have_no_latency_and_a_broken_run_is_refused(tmp_path) -> None:
    rows = [_row(["a"], [("a", "d.txt")], "a.", total=t) for t in (10.0, 30.0)]
    failed = _row(["a"], [], None)
    failed["response"]["timing_ms"] = {}
    m = score([*rows, failed])
    assert m["latency_ms_p50"] == 20.0  # not pulled down by a 0 ms error
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.jsonl").write_text('{"id": "1", "question": "q", "response": null}\n')
    with pytest.raises(GoldFormatError, match=r"results.jsonl:1: .*'response' object"):
        compare_runs(run, run)


def test_an_xquad_run_is_split_by_the_articles_training_saw() -> None:
    from eval.unseen import split

    def row(source: str, ok: bool) -> dict:
        text = "It was 308." if ok else "Nothing here."
        passage = {"source": source, "text": text, "rank": 1, "score": 1.0}
        return {
            "id": source, "question": "How many?", "answers": ["308"], "source": source,
            "kind": "en-de", "quote_score": 0.9,
            "response": {"answered": True, "quote": text,
                         "citation": {"source": source, "start": 0, "end": len(text)},
                         "passages": [passage], "timing_ms": {"total": 1.0}},
        }  # fmt: skip

    parts = split([row("Super_Bowl_50.txt", True), row("Warsaw.txt", False)], frozenset({"Warsaw"}))
    assert parts["unseen"]["hit@1"] == 1.0 and parts["seen"]["hit@1"] == 0.0
    assert parts["all"]["hit@1"] == 0.5
