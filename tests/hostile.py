"""Hostile and malformed documents, made on the fly: broken Word files, zip bombs, PDFs that
trip their parser's limits, deeply nested HTML, and seeded mutations of good files."""

from __future__ import annotations

import io
import random
import zipfile
import zlib

__all__ = [
    "docx_bytes",
    "broken_docx",
    "docx_bomb",
    "docx_of_many_paragraphs",
    "pdf_bytes",
    "pdf_text",
    "pdf_page_cycle",
    "pdf_stream_bomb",
    "nested_html",
    "mutate",
]


def docx_bytes(paragraphs: list[str], title: str = "") -> bytes:
    """A real Word document (python-docx) holding ``paragraphs``."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    for text in paragraphs:
        document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _replace_member(data: bytes, name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, content if item.filename == name else src.read(item.filename))
    return out.getvalue()


def broken_docx() -> bytes:
    """A Word file whose document.xml is not well-formed XML (lxml's XMLSyntaxError)."""
    good = docx_bytes(["A paragraph that will not be read."])
    return _replace_member(good, "word/document.xml", b"<w:document><w:body><w:p>unclosed")


def docx_bomb(member_bytes: int) -> bytes:
    """A small Word file whose document.xml unpacks to ``member_bytes`` of XML."""
    good = docx_bytes(["x"])
    out = io.BytesIO()
    paragraph = b"<w:p><w:r><w:t>aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</w:t></w:r></w:p>"
    block = paragraph * (65536 // len(paragraph))
    with (
        zipfile.ZipFile(io.BytesIO(good)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst,
    ):
        for item in src.infolist():
            if item.filename != "word/document.xml":
                dst.writestr(item.filename, src.read(item.filename))
        with dst.open("word/document.xml", "w", force_zip64=True) as f:
            head = (
                b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                b'wordprocessingml/2006/main"><w:body>'
            )
            f.write(head)
            written = len(head)
            while written < member_bytes:
                f.write(block)
                written += len(block)
            f.write(b"</w:body></w:document>")
    return out.getvalue()


def docx_of_many_paragraphs(n: int) -> bytes:
    """A Word file of ``n`` short paragraphs: small on disk, much text once read."""
    xml = (
        b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
        b'wordprocessingml/2006/main"><w:body>'
        + b"<w:p><w:r><w:t>The siege went on through the winter.</w:t></w:r></w:p>" * n
        + b"</w:body></w:document>"
    )
    return _replace_member(docx_bytes(["x"]), "word/document.xml", xml)


def pdf_bytes(objects: list[bytes]) -> bytes:
    """A PDF of numbered ``objects`` (object 1 the catalogue), with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _stream(data: bytes, compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data, 1)
        return (
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + (b"\nendstream")
        )
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def pdf_text(lines: list[str]) -> bytes:
    """A one-page PDF showing ``lines`` (ASCII) in Helvetica."""
    ops = (
        b"BT /F1 12 Tf 72 720 Td 14 TL "
        + b" ".join(
            b"(" + line.encode("latin-1").replace(b"(", b"\\(").replace(b")", b"\\)") + b") '"
            for line in lines
        )
        + b" ET"
    )
    return pdf_bytes(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            _stream(ops),
            _FONT,
        ]
    )


def pdf_page_cycle() -> bytes:
    """A PDF whose page tree holds itself: pypdf stops with ``LimitReachedError``."""
    return pdf_bytes(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
        ]
    )


def pdf_stream_bomb(unpacked: int) -> bytes:
    """A one-page PDF whose content stream inflates to ``unpacked`` bytes."""
    content = b"BT /F1 12 Tf 72 720 Td (boom) Tj ET\n" + b" " * unpacked
    return pdf_bytes(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            _stream(content, compress=True),
            _FONT,
        ]
    )


def nested_html(depth: int, tag: str = "div") -> bytes:
    """A page nested ``depth`` elements deep around one sentence."""
    return (
        f"<html><body>{f'<{tag}>' * depth}The deepest sentence of the page."
        f"{f'</{tag}>' * depth}</body></html>"
    ).encode()


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One seeded corruption of ``data``: bit flips, a cut, a repeated or a dropped block."""
    kind = rng.randrange(5)
    b = bytearray(data)
    if kind == 0:  # flip a few bits
        for _ in range(rng.randint(1, 12)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncate
        del b[rng.randrange(1, max(2, len(b))) :]
    elif kind == 2:  # repeat a block many times
        i = rng.randrange(len(b))
        j = min(len(b), i + rng.randint(1, 64))
        b[i:i] = bytes(b[i:j]) * rng.randint(2, 2000)
    elif kind == 3:  # drop a block
        i = rng.randrange(len(b))
        del b[i : i + rng.randint(1, 256)]
    else:  # overwrite a block with noise
        i = rng.randrange(len(b))
        n = min(len(b) - i, rng.randint(1, 128))
        b[i : i + n] = bytes(rng.randrange(256) for _ in range(n))
    return bytes(b)
