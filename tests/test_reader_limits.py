"""Hostile and malformed documents: each one is skipped with its reason, in bounded time and
memory, and the rest of the folder is indexed (the CLI, the library and uploads alike)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest import ingest
from ingest.readers import ReadLimits, UnreadableDocument, read_document
from ingest.sandbox import read_isolated, shutdown
from tests import hostile
from tests.conftest import TINY


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("broken.docx", hostile.broken_docx, "not a readable Word file (XMLSyntaxError"),
        ("cycle.pdf", hostile.pdf_page_cycle, "not a readable PDF file"),
        ("bomb.docx", lambda: hostile.docx_bomb(300 << 20), "more than a Word document may"),
    ],
)
def test_a_parser_error_is_an_unreadable_document(name, make, reason) -> None:
    with pytest.raises(UnreadableDocument, match=reason.replace("(", r"\(")):
        read_document(Path(name), make())


def test_a_pdf_stream_that_inflates_a_hundredfold_costs_no_more_than_its_text() -> None:
    t0 = time.monotonic()
    doc = read_isolated(Path("bomb.pdf"), hostile.pdf_stream_bomb(200_000_000))
    assert doc.text.strip() == "boom" and time.monotonic() - t0 < 30


def test_text_past_the_limit_is_refused_and_says_which_setting(tmp_path: Path) -> None:
    small = ReadLimits(max_chars=10_000)
    for name, data in [
        ("long.txt", b"The siege went on. " * 1000),
        ("long.html", b"<p>The siege went on.</p>" * 1000),
        ("long.docx", hostile.docx_of_many_paragraphs(1000)),
        ("long.pdf", hostile.pdf_text(["The siege went on through the long winter."] * 400)),
    ]:
        with pytest.raises(UnreadableDocument, match="past 10,000 characters.*--max-chars"):
            read_document(Path(name), data, small)
        assert read_document(Path(name), data, ReadLimits(max_chars=100_000)).text


def test_a_reader_that_runs_over_time_is_stopped_and_the_next_file_is_read() -> None:
    quick = ReadLimits(seconds=1.0)
    t0 = time.monotonic()
    with pytest.raises(UnreadableDocument, match="longer than 1 s.*--read-timeout"):
        read_isolated(Path("deep.html"), hostile.nested_html(150_000), quick)
    assert time.monotonic() - t0 < 15  # read in-process it takes a minute or more
    doc = read_isolated(Path("ok.html"), b"<p>Minsk was freed on July 3.</p>", quick)
    assert doc.text == "Minsk was freed on July 3."


def test_a_reader_that_needs_too_much_memory_is_stopped() -> None:
    tight = ReadLimits(memory_bytes=48 << 20, max_chars=1 << 30)
    small_file = hostile.docx_of_many_paragraphs(200_000)  # 84 KB: 15 MB of XML
    huge_file = b"The siege went on. " * 1_000_000  # 19 MB: does not even fit
    with pytest.raises(UnreadableDocument, match="needs more memory than a document may use"):
        read_isolated(Path("many.docx"), small_file, tight)
    with pytest.raises(UnreadableDocument, match="memory"):
        read_isolated(Path("huge.txt"), huge_file, tight)
    assert read_isolated(Path("ok.txt"), b"Riga was taken in October.", tight).title
    shutdown()


def test_many_empty_blocks_read_in_linear_time() -> None:
    t0 = time.monotonic()
    doc = read_document(Path("blocks.html"), b"<div></div>" * 200_000 + b"<p>Last words.</p>")
    assert doc.text == "Last words." and time.monotonic() - t0 < 10


def test_ingest_skips_each_hostile_file_and_indexes_the_rest(
    tiny_docs: Path, tmp_path: Path, encoder, aux_encoder
) -> None:
    bad = {
        "broken.docx": hostile.broken_docx(),
        "cycle.pdf": hostile.pdf_page_cycle(),
        "bomb.docx": hostile.docx_bomb(3 << 20),
        "deep.html": hostile.nested_html(150_000),
        "long.txt": b"The siege went on. " * 2000,
    }
    for name, data in bad.items():
        (tiny_docs / name).write_bytes(data)
    warnings: list[str] = []
    limits = ReadLimits(max_chars=20_000, max_member_bytes=1 << 20, seconds=1.0)
    report = ingest(
        [tiny_docs], tmp_path / "idx", encoder=encoder, cross_lingual_encoder=aux_encoder,
        warn=warnings.append, limits=limits,
    )  # fmt: skip
    assert sorted(report.added) == sorted(TINY)
    assert sorted(s for s, _ in report.skipped) == sorted(bad)
    for name in bad:
        assert any(w.startswith(f"skipped {name}: ") for w in warnings), name


def test_the_cli_reports_a_broken_word_file_and_indexes_the_rest(
    fake_models, tiny_docs: Path, tmp_path: Path, capsys
) -> None:
    """On the first cut, lxml's XMLSyntaxError escaped: a traceback, nothing indexed."""
    from ui.cli import main

    (tiny_docs / "broken.docx").write_bytes(hostile.broken_docx())
    (tiny_docs / "cycle.pdf").write_bytes(hostile.pdf_page_cycle())
    assert main(["ingest", str(tiny_docs), "--index", str(tmp_path / "idx"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "warning: skipped broken.docx: not a readable Word file" in captured.err
    assert "warning: skipped cycle.pdf: not a readable PDF file" in captured.err
    assert f"{len(TINY)} added" in captured.out and "2 skipped" in captured.out


def test_the_cli_takes_the_limits_as_settings(
    fake_models, tiny_docs: Path, tmp_path: Path, capsys
) -> None:
    from ui.cli import main

    (tiny_docs / "long.txt").write_bytes(b"The siege went on. " * 2000)
    args = ["ingest", str(tiny_docs), "--index", str(tmp_path / "idx"), "--quiet"]
    assert main([*args, "--max-chars", "1000"]) == 0
    assert "skipped long.txt: its text runs past 1,000 characters" in capsys.readouterr().err
    assert main([*args, "--max-chars", "100000"]) == 0
    assert "1 added" in capsys.readouterr().out
    assert main([*args, "--read-timeout", "0"]) == 2
    assert "--read-timeout of 0 must be above 0" in capsys.readouterr().err
