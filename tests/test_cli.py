"""The CLI, in process: exit codes, one-line errors, and the JSON of Contract 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from ui.cli import main


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("verbatim: error: ")
    return err


def test_ingest_of_a_missing_path_exits_2_with_one_line(tmp_path, capsys) -> None:
    assert main(["ingest", str(tmp_path / "nope"), "--index", str(tmp_path / "idx")]) == 2
    assert "no such file or folder" in _one_line_error(capsys)


@pytest.mark.parametrize("question", ["", "   "])
def test_an_empty_question_exits_2_before_loading_anything(tmp_path, capsys, question) -> None:
    assert main(["ask", question, "--index", str(tmp_path / "idx")]) == 2
    assert "the question is empty" in _one_line_error(capsys)


def test_asking_without_an_index_says_how_to_build_one(tmp_path, capsys) -> None:
    assert main(["ask", "When?", "--index", str(tmp_path / "idx")]) == 2
    assert "verbatim ingest" in _one_line_error(capsys)


def test_bad_chunk_overlap_exits_2(tiny_docs, tmp_path, capsys) -> None:
    code = main(
        [
            "ingest",
            str(tiny_docs),
            "--index",
            str(tmp_path / "i"),
            "--chunk-size",
            "100",
            "--chunk-overlap",
            "100",
        ]
    )
    assert code == 2
    assert "--chunk-overlap" in _one_line_error(capsys)


def test_bad_k_is_an_argument_error(tiny_index, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["ask", "When?", "--index", str(tiny_index), "--k", "0"])
    assert exc.value.code == 2
    assert "must be 1 or more" in capsys.readouterr().err


def test_ask_json_is_contract_1(tiny_index, capsys, fake_models) -> None:
    code = main(
        [
            "ask",
            "--json",
            "--k",
            "3",
            "When did Operation Bagration begin?",
            "--index",
            str(tiny_index),
            "--min-score",
            "0.1",
        ]
    )
    assert code == 0
    d = json.loads(capsys.readouterr().out)
    assert d["answered"] is True
    assert d["quote"] == "Operation Bagration began on June 22, 1944."
    assert d["citation"]["source"] == "bagration.html"
    assert len(d["passages"]) == 3


def test_ask_prints_quote_and_citation(tiny_index, capsys, fake_models) -> None:
    assert (
        main(
            [
                "ask",
                "When did Operation Bagration begin?",
                "--index",
                str(tiny_index),
                "--min-score",
                "0.1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("> Operation Bagration began on June 22, 1944.")
    assert "bagration.html" in out


def test_ask_abstains_in_words(tiny_index, capsys, fake_models) -> None:
    assert main(["ask", "banana bread recipe", "--index", str(tiny_index)]) == 0
    assert capsys.readouterr().out.startswith("Not found in the documents.")


def test_ingest_reports_and_is_incremental(tiny_docs, tmp_path, capsys, fake_models) -> None:
    (tiny_docs / "junk.txt").write_bytes(b"\x00\x01\x02" * 100)
    args = ["ingest", str(tiny_docs), "--index", str(tmp_path / "idx"), "--model", "test-hash"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "index updated: 5 added" in captured.out and "1 skipped" in captured.out
    assert "warning: skipped junk.txt: binary" in captured.err
    assert main(args) == 0
    assert "index already up to date: 0 added, 0 updated, 0 removed, 5 unchanged" in (
        capsys.readouterr().out
    )


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from ui.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        "heavy = [m for m in ('torch', 'faiss', 'gradio', 'sentence_transformers', 'numpy')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "verbatim"
    assert exe.exists()
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True).stdout
    assert "ingest" in out and "ask" in out and "serve" in out


def test_a_path_that_yields_no_document_leaves_the_index_as_it_was(
    tiny_docs, tmp_path, capsys, fake_models
) -> None:
    index = tmp_path / "idx"
    assert main(["ingest", str(tiny_docs), "--index", str(index), "--model", "test-hash"]) == 0
    before = {p.relative_to(index): p.read_bytes() for p in index.rglob("*") if p.is_file()}
    capsys.readouterr()
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.txt").write_bytes(b"\x00\x01" * 50)
    for folder in ("empty", "junk"):
        assert main(["ingest", str(tmp_path / folder), "--index", str(index)]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "nothing to index" in err and "keeps its 5 documents" in err
    after = {p.relative_to(index): p.read_bytes() for p in index.rglob("*") if p.is_file()}
    assert after == before


def test_an_index_or_run_folder_that_cannot_be_made_exits_2(tiny_docs, tmp_path, capsys) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    for index in (afile, afile / "sub"):
        assert main(["ingest", str(tiny_docs), "--index", str(index)]) == 2
        assert "cannot keep an index at" in _one_line_error(capsys)
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "1", "question": "When?", "answers": ["x"]}\n')
    # Refused before any question is asked (no index is needed to find out).
    assert main(["eval", str(gold), "--out", str(afile), "--index", str(tmp_path / "no")]) == 2
    assert "cannot write the run to" in _one_line_error(capsys)
    assert afile.read_text() == "not a folder"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", "When?", "--min-score", "nan"], "is not a finite number"),
        (["eval", "g.jsonl", "--out", "x", "--min-score", "inf"], "is not a finite number"),
        (["serve", "--port", "99999"], "is not a port"),
    ],
)
def test_out_of_range_numbers_are_argument_errors(argv, message, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
