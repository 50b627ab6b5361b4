"""What an index generation records of itself: its documents, settings and files.

``manifest.json`` holds the format, the models and their dimensions, the splitter
settings, package versions, every document's record and the size and sha256 of every
other file of the generation, and a digest of itself; loading checks all of them.

The names on disk are those of format 3 (``aux_model``, ``aux_dim``, the space ``aux``),
so that every index written since opens unchanged; in code the second space is the
cross-lingual one (:class:`retriever.store.Space`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "CHUNK_DTYPE",
    "DELTA_FORMAT",
    "FORMAT_VERSION",
    "READABLE_FORMATS",
    "SPACE_FILES",
    "DocumentRecord",
    "Manifest",
    "package_versions",
]

#: 3: vectors in memory-mapped .npy files, an ANN index for large indexes (was IndexFlatIP).
FORMAT_VERSION = 3
#: 4: format 3 plus a delta segment beside the base (see :mod:`retriever.segments`).
DELTA_FORMAT = 4
READABLE_FORMATS = (FORMAT_VERSION, DELTA_FORMAT)

#: One row per chunk. ``doc`` indexes ``Manifest.documents``; ``start``/``end`` are character
#: offsets into the document text, ``bstart``/``bend`` byte offsets into ``texts.bin``.
CHUNK_DTYPE = np.dtype(
    [("doc", "<i4"), ("start", "<i8"), ("end", "<i8"), ("bstart", "<i8"), ("bend", "<i8")]
)

#: File stems of the vector spaces in a generation (``vectors.npy``, ``aux_vectors.faiss``),
#: keyed by the spaces' names (:class:`retriever.store.Space` values).
SPACE_FILES = {"main": "vectors", "aux": "aux_vectors"}
#: Field names in code → their names in manifest.json (format 3).
_ON_DISK = {"cross_lingual_model": "aux_model", "cross_lingual_dim": "aux_dim"}


@dataclass(frozen=True)
class DocumentRecord:
    """What the index knows of one document.

    Attributes:
        source: path relative to the ingested folder (the citation's ``source``).
        title: a human title (HTML ``<title>``, a first heading, or the file name).
        sha256: hash of the file's bytes; an unchanged hash means nothing to redo.
        format: reader that extracted the text (``text``, ``html``, ``pdf``, ``docx``).
        lang: ISO 639-1 code of the text's main language.
        n_chars: length of the extracted text.
        byte_start, byte_end: where the text stands in ``texts.bin``.
        chunk_start, chunk_end: the document's rows in ``chunks.npy`` (half-open).
        excluded: character ranges of debris (navigation, widget labels, a PDF's running
            headers) kept out of chunks and quotes; the text itself is unchanged so
            offsets stay true.
        pages: where each page starts in the text (PDF; empty without pages).
        headings: ``(start, end, level)`` of the text's headings, in order.
        origin: the file's absolute path when it was indexed (the viewer shows a PDF's
            pages from it while its bytes still match ``sha256``).
    """

    source: str
    title: str
    sha256: str
    format: str
    lang: str
    n_chars: int
    byte_start: int
    byte_end: int
    chunk_start: int
    chunk_end: int
    excluded: tuple[tuple[int, int], ...] = ()
    pages: tuple[int, ...] = ()
    headings: tuple[tuple[int, int, int], ...] = ()
    origin: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DocumentRecord:
        d = dict(d)
        d["excluded"] = tuple(tuple(x) for x in d.get("excluded", ()))
        d["pages"] = tuple(d.get("pages", ()))
        d["headings"] = tuple(tuple(x) for x in d.get("headings", ()))
        return cls(**d)

    def page_of(self, offset: int) -> int | None:
        """The 1-based page ``offset`` stands on, or None for a document without pages."""
        if not self.pages:
            return None
        from bisect import bisect_right

        return max(1, bisect_right(self.pages, offset))

    def heading_of(self, offset: int) -> tuple[int, int] | None:
        """Where the heading ``offset`` stands under is in the text; None before the
        first heading (or without headings)."""
        from bisect import bisect_right

        n = bisect_right([h[0] for h in self.headings], offset)
        return None if n == 0 else (self.headings[n - 1][0], self.headings[n - 1][1])


@dataclass(frozen=True)
class Manifest:
    """The settings an index was built with; loading checks them against the reader's."""

    model: str
    dim: int
    splitter: dict[str, Any]
    documents: tuple[DocumentRecord, ...]
    normalized: bool = True
    metric: str = "inner_product"
    index_type: str = "flat"
    #: What the index type was chosen by: ``auto`` (by size) or the one asked for; later
    #: updates keep it unless told otherwise.
    index_type_requested: str = "auto"
    #: How the main model was run at ingest (``torch`` or ``onnx-int8``); questions
    #: are embedded the same way unless the reader chooses otherwise.
    backend: str = "torch"
    #: How each vector space is indexed: ``{space name: SpaceSpec dict}``.
    spaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The cross-lingual encoder and its dimension (None: not used).
    cross_lingual_model: str | None = None
    cross_lingual_dim: int = 0
    format: int = FORMAT_VERSION
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    #: Every other file of the generation: relative path → ``[bytes, sha256]``; loading
    #: checks them, so a damaged file is an error, never a wrong answer.
    files: dict[str, list[Any]] = field(default_factory=dict)
    #: Format 4: the rows of ``chunks.npy`` the base files hold (the rest are the delta's),
    #: and all its rows, dead ones included (see :mod:`retriever.segments`).
    base_rows: int = 0
    rows: int = 0

    def to_json(self) -> str:
        d = asdict(self)
        d["documents"] = [asdict(doc) for doc in self.documents]
        if self.format != DELTA_FORMAT:  # a format-3 manifest reads as it always did
            del d["base_rows"], d["rows"]
        d = {_ON_DISK.get(k, k): v for k, v in d.items()}
        d["digest"] = _digest(d)
        return json.dumps(d, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a manifest.

        Raises:
            ValueError: not JSON, or it does not match its own digest (a damaged file).
        """
        d = json.loads(text)
        digest = d.pop("digest", None)
        if digest is None and d.get("format", 0) >= 3:
            raise ValueError("manifest.json has no checksum")
        if digest is not None and digest != _digest(d):
            raise ValueError("manifest.json does not match its checksum")
        in_code = {disk: name for name, disk in _ON_DISK.items()}
        d = {in_code.get(k, k): v for k, v in d.items()}
        d["documents"] = tuple(DocumentRecord.from_dict(x) for x in d["documents"])
        return cls(**d)

    @property
    def n_chunks(self) -> int:
        """Rows of ``chunks.npy`` (with a delta, dead rows included)."""
        if self.format == DELTA_FORMAT:
            return self.rows
        return self.documents[-1].chunk_end if self.documents else 0


def _digest(d: dict[str, Any]) -> str:
    """sha256 of a manifest's fields (without ``digest``), written in one canonical way."""
    body = json.dumps(d, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the packages whose output an index depends on, for its manifest."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("verbatim", "faiss-cpu", "sentence-transformers", "langchain-text-splitters"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out
