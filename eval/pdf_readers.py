"""Which PDF library reads PDFs best: ``python -m eval.pdf_readers``.

Reads the PDFs of ``eval/gold/docs/`` (and any given) with pypdf, pdfplumber (pdfminer.six)
and pypdfium2, and prints, for each: seconds per page (median of three reads), how many of
the gold answers of ``eval/gold/docs.jsonl`` occur in the text (case and whitespace folded),
words hyphenated at line ends, and whether the library gives each character's box on
its page (what the viewer needs to highlight a quote on the rendered page).

pdfplumber is measured, not used, so it is no dependency: ``pip install pdfplumber`` first.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from eval.gold import fold, load_gold

ROOT = Path(__file__).resolve().parent.parent


def _pypdf(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(path).pages]


def _pdfplumber(path: Path) -> list[str]:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return [p.extract_text() or "" for p in pdf.pages]


def _pdfium(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(path)
    try:
        return [page.get_textpage().get_text_range() for page in doc]
    finally:
        doc.close()


READERS: dict[str, tuple[Callable[[Path], list[str]], bool]] = {
    "pypdf": (_pypdf, False),
    "pdfplumber": (_pdfplumber, True),
    "pypdfium2": (_pdfium, True),
}
_HYPHEN = re.compile(r"[^\W\d_]-\s*\n\s*[a-z]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pdfs", nargs="*", type=Path)
    args = parser.parse_args()
    docs = ROOT / "eval" / "gold" / "docs"
    pdfs = args.pdfs or sorted(docs.glob("*.pdf"))
    gold = load_gold(ROOT / "eval" / "gold" / "docs.jsonl")
    print(f"{'library':11} {'pdf':28} {'pages':>5} {'ms/page':>8} {'answers':>8} "
          f"{'hyphens':>7} {'char boxes':>10}")  # fmt: skip
    for name, (read, boxes) in READERS.items():
        for pdf in pdfs:
            times, pages = [], []
            for _ in range(3):
                t0 = time.perf_counter()
                pages = read(pdf)
                times.append(time.perf_counter() - t0)
            text = fold("\n\n".join(pages))
            answers = [a for i in gold.items if i.source == pdf.name for a in i.answers[:1]]
            found = sum(fold(a) in text for a in answers)
            hyphens = len(_HYPHEN.findall("\n\n".join(pages)))
            ms = statistics.median(times) / max(1, len(pages)) * 1000
            print(f"{name:11} {pdf.name:28} {len(pages):5d} {ms:8.1f} "
                  f"{f'{found}/{len(answers)}':>8} {hyphens:7d} {'yes' if boxes else 'no':>10}",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
