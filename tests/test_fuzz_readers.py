"""A bounded fuzz pass over every reader: seeded corruptions of good files and oversized
ones, each read within measured time and memory, then a whole folder of them ingested by
the CLI with no traceback, a warning for each file skipped, and the good files indexed."""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.readers import ReadLimits, UnreadableDocument
from ingest.sandbox import read_isolated, shutdown
from tests import hostile
from tests.conftest import TINY, write_tiny

pytestmark = pytest.mark.slow

#: Corruptions per format (seeded): the pass stops by itself.
MUTATIONS = 25
#: Generous bounds a file must stay within, whatever it holds.
LIMITS = ReadLimits(seconds=20.0)
WALL_SLACK_S = 15.0
PEAK_RSS_BYTES = LIMITS.memory_bytes + (512 << 20)


def _good_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for n in range(3):
        pdf.add_page()
        pdf.multi_cell(0, 8, f"Page {n + 1}. The siege of Leningrad lasted about 900 days. " * 8)
    return bytes(pdf.output())


def _seeds() -> dict[str, bytes]:
    return {
        "good.docx": hostile.docx_bytes(
            ["Operation Bagration began on June 22, 1944.", "Minsk was freed on July 3."],
            title="Bagration",
        ),
        "good.pdf": _good_pdf(),
        "good.html": (
            b"<html><head><title>Kursk</title></head><body><h1>Kursk</h1><p>The battle began "
            b"on July 4, 1943.</p><ul><li>one</li><li>two</li></ul><table><tr><td>a</td></tr>"
            b"</table></body></html>"
        ),
        "good.txt": "Riga was taken on October 13, 1944. Grüße aus Köln.\n".encode(),
    }


def _hostile_set() -> dict[str, bytes]:
    """Every seed corrupted ``MUTATIONS`` times, plus the oversized and the bombs."""
    files: dict[str, bytes] = {}
    for name, data in _seeds().items():
        stem, ext = name.split(".")
        rng = random.Random(f"{name}-fuzz")
        for n in range(MUTATIONS):
            files[f"{stem}-m{n:02d}.{ext}"] = hostile.mutate(data, rng)
    files.update(
        {
            "bomb-1gb.docx": hostile.docx_bomb(1 << 30),
            "many-paragraphs.docx": hostile.docx_of_many_paragraphs(400_000),
            "bomb.pdf": hostile.pdf_stream_bomb(200_000_000),
            "cycle.pdf": hostile.pdf_page_cycle(),
            "deep.html": hostile.nested_html(200_000),
            "long.txt": b"The siege went on through the winter. " * 200_000,
            "binary.txt": bytes(random.Random(3).randrange(256) for _ in range(1 << 20)),
        }
    )
    return files


@pytest.fixture(scope="module")
def hostile_files() -> dict[str, bytes]:
    return _hostile_set()


def read_all() -> dict[str, object]:
    """Read every hostile file in a sandboxed child: each outcome, the slowest read, and
    the children's peak memory. Run in a fresh interpreter (see the test): a process's
    children's peak counts every child it ever forked, each from its parent's size."""
    outcomes: dict[str, str] = {}
    slowest = 0.0
    for name, data in _hostile_set().items():
        t0 = time.monotonic()
        try:
            read_isolated(Path(name), data, LIMITS)
            outcomes[name] = "read"
        except UnreadableDocument as exc:
            outcomes[name] = str(exc)
        slowest = max(slowest, time.monotonic() - t0)
        shutdown()  # so that the child's peak memory is counted below
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {"outcomes": outcomes, "slowest": slowest, "peak": peak}


def test_each_hostile_file_is_read_or_refused_within_time_and_memory(hostile_files) -> None:
    code = "import json, tests.test_fuzz_readers as t; print(json.dumps(t.read_all()))"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=1800,
        cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    outcomes, slowest, peak = result["outcomes"], result["slowest"], result["peak"]
    assert set(outcomes) == set(hostile_files)
    for name, outcome in outcomes.items():
        assert outcome and "\n" not in outcome, (name, outcome)
    assert slowest < LIMITS.seconds + WALL_SLACK_S, slowest
    assert peak < PEAK_RSS_BYTES, peak
    for name in ("bomb-1gb.docx", "many-paragraphs.docx", "cycle.pdf", "long.txt"):
        assert outcomes[name] != "read", name
    # PDFium inflates the 200 MB stream as it draws and keeps only its text ("boom"):
    # read within the time and memory asserted above (tests/test_reader_limits.py).
    assert "longer than 20 s" in outcomes["deep.html"] or outcomes["deep.html"] == "read"
    refused = sum(o != "read" for o in outcomes.values())
    print(
        f"\n{len(outcomes)} files: {refused} refused, slowest {slowest:.1f} s, peak {peak >> 20} MB"
    )


def test_a_folder_of_them_is_ingested_by_the_cli_without_a_traceback(
    hostile_files, fake_models, tmp_path: Path, capsys
) -> None:
    from ui.cli import main

    docs = write_tiny(tmp_path / "docs")
    for name, data in {**_seeds(), **hostile_files}.items():
        (docs / name).write_bytes(data)
    t0 = time.monotonic()
    code = main(
        ["ingest", str(docs), "--index", str(tmp_path / "idx"), "--quiet", "--read-timeout", "20"]
    )
    took = time.monotonic() - t0
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in out + err
    from retriever import Index

    indexed = {d.source for d in Index.open(tmp_path / "idx").documents}
    assert set(TINY) | set(_seeds()) <= indexed
    for name in hostile_files:
        # Either indexed, or skipped with a warning that names it.
        assert name in indexed or f"warning: skipped {name}: " in err, name
    assert took < len(hostile_files) * 3 + 60, took
