"""The planning stage of ingest: which documents the new generation holds, and how each
gets there — read, cleaned and split when it is new or changed, carried over with its
vectors when it is not."""

from __future__ import annotations

import hashlib
import logging
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.clean import debris_spans, quotable_segments
from ingest.readers import ReadLimits, UnreadableDocument
from ingest.sandbox import read_isolated
from ingest.split import SplitterSettings, split_spans
from retriever.index import Index
from retriever.language import detect_language
from retriever.manifest import DocumentRecord
from retriever.store import Space

__all__ = [
    "IngestReport",
    "Planned",
    "Settings",
    "carry",
    "load_reused",
    "plan_documents",
    "read_bytes",
    "read_new",
    "sha256_bytes",
]

log = logging.getLogger("verbatim.ingest")


@dataclass
class IngestReport:
    """What an ingest run did; ``wrote`` is False when the index was already current."""

    index: Path | str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    wrote: bool = False
    note: str = ""
    #: Rows the delta segment holds or leaves dead after this run (0: one segment), and
    #: whether they passed the limit, so that a full write is due (see ``ingest.compact``).
    delta_rows: int = 0
    compact_due: bool = False

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.removed)} removed",
            f"{len(self.unchanged)} unchanged",
            f"{len(self.skipped)} skipped",
        ]
        state = "index updated" if self.wrote else "index already up to date"
        return (
            f"{state}: {', '.join(parts)}; {self.chunks} chunks ({self.embedded} embedded) "
            f"in {self.seconds:.1f}s → {self.index}"
        )


def sha256_bytes(data: bytes) -> str:
    """The document hash of a file's bytes (what an unchanged file is known by)."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Settings:
    """What the new generation is built with, and whether the old one's vectors fit it."""

    model: str
    cross_lingual_model: str | None
    splitter: SplitterSettings
    backend: str
    index_type: str
    reusable: bool


@dataclass
class Planned:
    """A document on its way into the new generation; vectors are None until embedded.

    A document carried over from the old index (``reused``) has its text and vectors
    read only when the write needs them (:func:`load_reused`): an update that keeps a
    large index's base never reads them at all.
    """

    record: DocumentRecord
    text: str
    spans: list[tuple[int, int]]
    vectors: np.ndarray | None = None
    cross_vectors: np.ndarray | None = None
    reused: bool = False


def plan_documents(
    files: list[tuple[str, Path]],
    old: Index | None,
    chosen: Settings,
    keep_existing: bool,
    dropped: set[str],
    report: IngestReport,
    limits: ReadLimits,
    skip: Callable[[str, str], None],
    warn: Callable[[str], None],
) -> list[Planned]:
    """Every document of the new generation, sorted by source: read, cleaned and split if
    it changed, carried over with its vectors if not.

    Files already in the index go first, so that of two files with the same content the
    indexed one stays.
    """
    old_docs = {d.source: d for d in old.documents} if chosen.reusable and old else {}
    given = {source for source, _ in files}
    by_digest: dict[str, str] = {}
    if keep_existing and old is not None:  # documents that stay count as taken
        for prev in old.documents:
            if prev.source not in given and prev.source not in dropped:
                by_digest.setdefault(prev.sha256, prev.source)
    plan: list[Planned] = []
    for source, path in sorted(files, key=lambda f: f[0] not in old_docs):
        data = read_bytes(source, path, skip)
        if data is None:
            continue
        digest = sha256_bytes(data)
        if digest in by_digest:
            skip(source, f"same content as {by_digest[digest]}")
            continue
        prev = old_docs.get(source)
        if prev is not None and prev.sha256 == digest and old is not None:
            plan.append(carry(old, prev))
            report.unchanged.append(source)
        else:
            planned = read_new(source, path, data, digest, limits, skip, warn, chosen.splitter)
            if planned is None:
                continue
            plan.append(planned)
            (report.updated if source in old_docs else report.added).append(source)
        by_digest[digest] = source
    plan = [p for p in plan if p.record.source not in dropped]
    for done in (report.added, report.updated, report.unchanged):
        done[:] = [source for source in done if source not in dropped]
    if keep_existing and old is not None:
        for prev in old.documents:
            if prev.source in given or prev.source in dropped:
                continue
            plan.append(carry(old, prev))
            report.unchanged.append(prev.source)
    plan.sort(key=lambda p: p.record.source)
    return plan


def read_bytes(source: str, path: Path, skip: Callable[[str, str], None]) -> bytes | None:
    """The file's bytes, or None (reported) when it is not a readable regular file."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            # A pipe would block for ever, a device never end.
            skip(source, "not a regular file (a pipe, socket or device)")
            return None
        return path.read_bytes()
    except OSError as exc:
        skip(source, f"cannot read ({exc.strerror or exc})")
        return None


def read_new(
    source: str,
    path: Path,
    data: bytes,
    digest: str,
    limits: ReadLimits,
    skip: Callable[[str, str], None],
    warn: Callable[[str], None],
    splitter: SplitterSettings,
) -> Planned | None:
    """A new or changed document read, cleaned and split; None (reported) if it cannot be."""
    try:
        doc = read_isolated(path, data, limits)
    except UnreadableDocument as exc:
        skip(source, str(exc))
        return None
    for note in doc.notes:
        warn(f"{source}: {note}")
    excluded = sorted({*debris_spans(doc.text), *doc.debris})
    spans = split_spans(doc.text, quotable_segments(doc.text, excluded), splitter)
    if not spans:
        skip(source, "nothing to search: no line has words that are not page furniture")
        return None
    record = DocumentRecord(
        source=source,
        title=doc.title,
        sha256=digest,
        format=doc.format,
        lang=detect_language(doc.text),
        n_chars=len(doc.text),
        byte_start=0,
        byte_end=0,
        chunk_start=0,
        chunk_end=len(spans),
        excluded=tuple(excluded),
        pages=doc.pages,
        headings=doc.headings,
        origin=str(path.resolve()),
    )
    return Planned(record, doc.text, spans)


def carry(old: Index, prev: DocumentRecord) -> Planned:
    """An indexed document carried into the new generation as it is (its text and vectors
    are read by :func:`load_reused`)."""
    rows = old.chunks[prev.chunk_start : prev.chunk_end]
    spans = list(zip(rows["start"].tolist(), rows["end"].tolist(), strict=True))
    return Planned(prev, "", spans, reused=True)


def load_reused(plan: Iterable[Planned], old: Index | None, cross_name: str | None) -> None:
    """Read the text and vectors of the carried-over documents among ``plan``."""
    if old is None:
        return
    for p in plan:
        if not p.reused or p.vectors is not None:
            continue
        a, b = p.record.chunk_start, p.record.chunk_end
        p.text = old.document_text(p.record.source)
        p.vectors = old.vectors(a, b)
        p.cross_vectors = old.vectors(a, b, Space.CROSS_LINGUAL) if cross_name else None
