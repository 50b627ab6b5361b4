"""Ingest speed of a long PDF, in pages per second.

Writes a PDF of ``--pages`` pages (default 300) of running text — the seed documents'
sentences over and over, with a running header, page numbers and a heading every ten
pages — then times, in one run: reading it (the sandboxed reader, as ``verbatim ingest``
reads every file) and ingesting it whole into a new index with the default models
(read, split, embed with both encoders, write).

``python -m eval.pdf_ingest [--pages 300] [--out runs/pdf-ingest]`` prints and writes
``pdf-ingest.json``. Needs ``fpdf2`` (a dev dependency).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _sentences() -> list[str]:
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt")))
    text = text.encode("latin-1", "ignore").decode("latin-1")  # the core PDF fonts' range
    return [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split())) if len(s) > 30]


def write_pdf(path: Path, pages: int) -> Path:
    """A PDF of ``pages`` pages of text with furniture, as a manual has."""
    from fpdf import FPDF

    class Book(FPDF):
        def header(self) -> None:
            self.set_font("helvetica", size=8)
            self.cell(0, 6, "A Long Manual", new_x="LMARGIN", new_y="NEXT")

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("helvetica", size=8)
            self.cell(0, 6, f"Page {self.page_no()}", align="C")

    sentences = _sentences()
    pdf = Book()
    pdf.set_auto_page_break(True, margin=18)
    n = 0
    while pdf.page_no() < pages:
        if pdf.page_no() == 0 or pdf.page_no() % 10 == 0:
            pdf.add_page()
            pdf.start_section(f"Chapter {pdf.page_no() // 10 + 1}")
            pdf.set_font("helvetica", "B", 14)
            pdf.cell(0, 9, f"Chapter {pdf.page_no() // 10 + 1}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=10)
        body = " ".join(sentences[(n + i) % len(sentences)] for i in range(6))
        n += 6
        pdf.multi_cell(0, 5, body)
        pdf.ln(2)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def measure(pages: int, out: Path) -> dict[str, float]:
    from ingest import ingest
    from ingest.sandbox import read_isolated

    docs = out / "docs"
    shutil.rmtree(out, ignore_errors=True)
    pdf = write_pdf(docs / "long-manual.pdf", pages)
    t0 = time.perf_counter()
    doc = read_isolated(pdf, pdf.read_bytes())
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ingest([docs], out / "index")
    ingest_s = time.perf_counter() - t0
    record = {
        "pages": len(doc.pages),
        "chars": len(doc.text),
        "megabytes": round(pdf.stat().st_size / 1e6, 2),
        "read_seconds": round(read_s, 2),
        "read_pages_per_second": round(len(doc.pages) / read_s, 1),
        "ingest_seconds": round(ingest_s, 1),
        "ingest_pages_per_second": round(len(doc.pages) / ingest_s, 2),
    }
    (out / "pdf-ingest.json").write_text(json.dumps(record, indent=1))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("runs/pdf-ingest"))
    args = parser.parse_args()
    print(json.dumps(measure(args.pages, args.out), indent=1))


if __name__ == "__main__":
    main()
