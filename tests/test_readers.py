from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from ingest.readers import UnreadableDocument, decode_text, read_document


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("Grüße aus Köln".encode(), "Grüße aus Köln"),
        (codecs.BOM_UTF8 + "Grüße".encode(), "Grüße"),
        ("Grüße aus Köln, schöne Straße".encode("latin-1"), "Grüße aus Köln, schöne Straße"),
        (codecs.BOM_UTF16_LE + "Здравствуйте".encode("utf-16-le"), "Здравствуйте"),
        (codecs.BOM_UTF16_BE + "Grüße".encode("utf-16-be"), "Grüße"),
    ],
)
def test_decode_text_handles_common_encodings(data: bytes, expected: str) -> None:
    assert decode_text(data) == expected


def test_plain_text_is_kept_unchanged(tmp_path: Path) -> None:
    text = "Title line\r\n\r\nBody with  two spaces.\n"
    p = tmp_path / "a.txt"
    p.write_bytes(text.encode())
    doc = read_document(p)
    assert doc.text == text
    assert doc.title == "Title line"
    assert doc.format == "text"


def test_binary_file_named_txt_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "image.txt"
    p.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(UnreadableDocument, match="binary"):
        read_document(p)


@pytest.mark.parametrize("content", [b"", b"   \n\n"])
def test_empty_file_is_refused(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "empty.txt"
    p.write_bytes(content)
    with pytest.raises(UnreadableDocument, match="empty"):
        read_document(p)


def test_unsupported_type_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "sheet.xlsx"
    p.write_bytes(b"PK\x03\x04")
    with pytest.raises(UnreadableDocument, match="unsupported file type '.xlsx'"):
        read_document(p)


def test_html_gives_visible_text_with_block_lines(tmp_path: Path) -> None:
    p = tmp_path / "page.html"
    p.write_text(
        "<html><head><title>The Page</title><style>.x{}</style><script>alert(1)</script>"
        "</head><body><h1>Heading</h1><p>First   <b>bold</b>\n paragraph.</p>"
        "<ul><li>one</li><li>two</li></ul><noscript>no js</noscript></body></html>"
    )
    doc = read_document(p)
    assert doc.title == "The Page"
    assert doc.text == "Heading\n\nFirst bold paragraph.\n\n• one\n\n• two"  # items marked
    assert "alert" not in doc.text and ".x" not in doc.text and "no js" not in doc.text


def test_deeply_nested_html_does_not_overflow(tmp_path: Path) -> None:
    p = tmp_path / "deep.html"
    p.write_text("<div>" * 5000 + "deep text" + "</div>" * 5000)
    assert read_document(p).text == "deep text"


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Report on Kursk")
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 10, "The battle of Kursk began on July 4, 1943.")
    pdf.add_page()
    pdf.multi_cell(0, 10, "Second page text.")
    p = tmp_path / "report.pdf"
    pdf.output(str(p))
    doc = read_document(p)
    assert doc.format == "pdf"
    assert doc.title == "Report on Kursk"
    assert "The battle of Kursk began on July 4, 1943." in doc.text
    assert "Second page text." in doc.text


def test_damaged_pdf_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "broken.pdf"
    p.write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    with pytest.raises(UnreadableDocument):
        read_document(p)


def test_docx_paragraphs_and_tables_are_extracted(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = "Minutes"
    d.add_heading("Minutes of the meeting", level=1)
    d.add_paragraph("The committee met on March 3, 2024.")
    table = d.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Budget"
    table.rows[0].cells[1].text = "1,200 euros"
    p = tmp_path / "minutes.docx"
    d.save(str(p))
    doc = read_document(p)
    assert doc.title == "Minutes"
    assert "The committee met on March 3, 2024." in doc.text
    assert "Budget | 1,200 euros" in doc.text


def test_damaged_docx_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "broken.docx"
    p.write_bytes(b"not a zip at all")
    with pytest.raises(UnreadableDocument, match="Word"):
        read_document(p)
