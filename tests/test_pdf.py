"""PDFs as pages: page starts, outline headings, running headers kept out, citations with
page and section, sentences across a page break, and the page viewer's highlight."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.readers import read_document
from retriever.settings import DEFAULT_SCORING
from tests.conftest import app_client

HEADER = "Manual of Things"
CROSSING = (
    "The spare parts are kept in the blue cabinet in the basement of the north building "
    "next to the boiler room, where the caretaker keeps the only key."
)


def manual_pdf(path: Path) -> Path:
    """Four pages with a running header, page-number footers and an outline; the
    sentence :data:`CROSSING` runs from page 2 onto page 3."""
    for filler in range(60, 140):
        _write_manual(path, filler)
        doc = read_document(path)
        at = " ".join(doc.text.split()).find(" ".join(CROSSING.split()[:4]))
        if len(doc.pages) == 4 and at >= 0:
            start = doc.text.find("The spare parts")
            if start >= 0 and start < doc.pages[2] < start + len(CROSSING) + 80:
                return path
    raise AssertionError("no filler length put the sentence across the page break")


def _write_manual(path: Path, filler: int) -> None:
    from fpdf import FPDF

    class Manual(FPDF):
        def header(self) -> None:
            self.set_font("helvetica", size=9)
            self.cell(0, 8, HEADER, new_x="LMARGIN", new_y="NEXT")

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("helvetica", size=9)
            self.cell(0, 8, f"Page {self.page_no()}", align="C")

    pdf = Manual()
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_font("helvetica", size=11)
    sections = {
        1: ("Installation", "Run the installer as root. The installer asks for a licence key."),
        2: ("Storage", "Spare fuses are rare and must be ordered. " * filler + CROSSING),
        4: ("Removal", "To remove the tool, delete its folder and the file named tool.conf."),
    }
    for title, body in sections.values():
        pdf.add_page()
        pdf.start_section(title)
        pdf.set_font("helvetica", "B", 16)
        pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=11)
        pdf.multi_cell(0, 6, body)
    pdf.output(str(path))


@pytest.fixture
def manual(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    return manual_pdf(docs / "manual.pdf")


def test_a_pdf_reads_as_pages_with_headings_and_furniture(manual: Path) -> None:
    doc = read_document(manual)
    assert doc.format == "pdf" and len(doc.pages) == 4 and doc.pages[0] == 0
    headings = [doc.text[a:b] for a, b, _ in doc.headings]
    assert headings == ["Installation", "Storage", "Removal"]
    debris = [doc.text[a:b] for a, b in doc.debris]
    assert debris.count(HEADER) == 4 and "Page 2" in debris
    assert doc.title == "Installation"  # no metadata title: the first heading
    pages_text = [doc.text[a:b] for a, b in zip(doc.pages, [*doc.pages[1:], len(doc.text)])]
    assert "licence key" in pages_text[0] and "tool.conf" in pages_text[3]


def test_a_citation_names_its_page_and_section_and_a_sentence_crosses_pages(
    manual: Path, tmp_path: Path, encoder, aux_encoder
) -> None:
    from ingest import ingest
    from retriever import Answerer, Index

    ingest([manual.parent], tmp_path / "idx", encoder=encoder, cross_lingual_encoder=aux_encoder)
    index = Index.open(tmp_path / "idx")
    answerer = Answerer(
        index, encoder, cross_lingual_encoder=aux_encoder,
        scoring=DEFAULT_SCORING.replace(min_score=0.1),
    )  # fmt: skip
    answer = answerer.ask("How do I remove the tool and its tool.conf file?")
    c = answer.citation
    assert c.page == 4 and c.section == "Removal" and "tool.conf" in answer.quote
    assert index.document_text(c.source)[c.start : c.end] == answer.quote
    d = answer.to_dict()["citation"]
    assert d["page"] == 4 and d["section"] == "Removal"
    crossing = answerer.ask("Where are the spare parts kept, and who keeps the key?")
    assert crossing.quote is not None and crossing.quote.startswith("The spare parts")
    assert crossing.quote.rstrip().endswith("the only key.")  # whole, across the page break
    assert crossing.citation.page == 2
    for p in answer.passages:  # running headers stay out of passages
        assert HEADER not in p.text and "Page " not in p.text.split("\n")[0]


def test_the_viewer_shows_the_page_with_the_quote_marked(
    manual: Path, tmp_path: Path, encoder, aux_encoder
) -> None:
    from ingest import ingest
    from retriever import Answerer, Index
    from ui.app import build_app

    ingest([manual.parent], tmp_path / "data" / "index", encoder=encoder,
           cross_lingual_encoder=aux_encoder)  # fmt: skip
    answerer = Answerer(
        Index.open(tmp_path / "data" / "index"), encoder, cross_lingual_encoder=aux_encoder
    )
    text = answerer.index.document_text("manual.pdf")
    start = text.index("To remove")
    end = text.index("tool.conf.") + len("tool.conf.")
    with app_client(build_app(answerer, data_dir=tmp_path / "data", examples=[])) as client:
        page = client.get(f"/pdf/manual.pdf?start={start}&end={end}")
        assert page.status_code == 200 and "page 4 of 4" in page.text
        assert page.text.count('class="hl"') >= 1 and "id=hl" in page.text
        assert '<img src="/pdf-page/manual.pdf/4.png"' in page.text
        png = client.get("/pdf-page/manual.pdf/4.png")
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert client.get("/pdf-page/manual.pdf/9.png").status_code == 404
        # A changed or vanished file: the text view instead, never other bytes.
        manual.write_bytes(manual.read_bytes() + b"\n% changed")
        moved = client.get(f"/pdf/manual.pdf?start={start}&end={end}", follow_redirects=False)
        assert moved.status_code in (302, 307) and moved.headers["location"].startswith("/doc/")
