"""The planning stage of ingest: which documents the new generation holds, and how each
gets there — read, cleaned and split when it is new or changed, carried over with its
vectors when it is not."""

from __future__ import annotations

import hashlib
import logging
import stat
from collections.abc import Callable
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
    """A document on its way into the new generation; vectors are None until embedded."""

    record: DocumentRecord
    text: str
    spans: list[tuple[int, int]]
    vectors: np.ndarray | None = None
    cross_vectors: np.ndarray | None = None


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
            plan.append(_reuse(old, prev, chosen.cross_lingual_model))
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
            plan.append(_reuse(old, prev, chosen.cross_lingual_model))
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


def _reuse(old: Index, prev: DocumentRecord, cross_name: str | None) -> Planned:
    """An indexed document carried into the new generation as it is, vectors and all."""
    rows = old.chunks[prev.chunk_start : prev.chunk_end]
    spans = list(zip(rows["start"].tolist(), rows["end"].tolist(), strict=True))
    vectors = old.vectors(prev.chunk_start, prev.chunk_end)
    cross = (
        old.vectors(prev.chunk_start, prev.chunk_end, Space.CROSS_LINGUAL) if cross_name else None
    )
    return Planned(prev, old.document_text(prev.source), spans, vectors, cross)
