"""The plan of an ingest into a Milvus store, shared by the plain and the Ray runs.

It settles the store's models and settings (those asked for, else the store's own, else
the defaults) and, comparing each file's hash with the store's records, which documents
are read and embedded, which stay as they are, which go, and which writes an interrupted
run left that no run will finish (see :mod:`retriever.milvus_writer`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ingest.files import BadPathError
from ingest.plan import IngestReport, Planned, Settings
from ingest.split import SplitterSettings
from retriever.cross_lingual import DEFAULT_CROSS_LINGUAL_MODEL, check_cross_lingual_model
from retriever.encoder import Encoder, resolve_model
from retriever.errors import BadArgumentError, IndexMismatchError
from retriever.manifest import DocumentRecord
from retriever.milvus_schema import (
    LEXICAL_WAYS,
    MilvusLocation,
    StoreMeta,
    connect,
    parse_location,
)
from retriever.milvus_writer import MilvusWriter, read_meta
from retriever.settings import INDEX_TYPES

__all__ = ["StorePlan", "milvus_record", "plan_store", "settings_of"]


@dataclass
class StorePlan:
    """What a run does to a store; ``writer`` is None for a store not created yet."""

    where: MilvusLocation
    meta: StoreMeta
    writer: MilvusWriter | None
    records: dict[str, DocumentRecord]
    to_read: list[tuple[str, Path, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    abandoned: list[tuple[str, str]] = field(default_factory=list)

    def open_writer(self, dim: int, cross_dim: int) -> MilvusWriter:
        """The writer, creating the store with these dimensions if it is new."""
        if self.writer is None:
            meta = replace(self.meta, dim=dim, cross_lingual_dim=cross_dim)
            self.writer = MilvusWriter.open(self.where, meta)
            self.meta = self.writer.meta
        return self.writer


def settings_of(meta: StoreMeta) -> Settings:
    """The ingest :class:`~ingest.plan.Settings` of a store (what :func:`embed_new` reads)."""
    splitter = SplitterSettings.from_dict(meta.splitter)
    return Settings(
        meta.model, meta.cross_lingual_model, splitter, meta.backend, meta.index_type, True
    )


def _choose(
    old: StoreMeta | None,
    model: str | None,
    encoder: Encoder | None,
    cross_lingual: bool,
    cross_lingual_model: str | None,
    cross_lingual_encoder: Encoder | None,
    splitter: SplitterSettings,
    backend: str,
    index_type: str | None,
    lexical: str | None,
) -> StoreMeta:
    """The store's settings: asked for, else the store's own, else the defaults."""
    if encoder is not None:
        name = encoder.name
    else:
        name = resolve_model(model)[0] if model else old.model if old else resolve_model(None)[0]
    if cross_lingual_encoder is not None:
        cross: str | None = cross_lingual_encoder.name
    elif cross_lingual:
        cross = cross_lingual_model or (old.cross_lingual_model if old else None)
        cross = check_cross_lingual_model(cross or DEFAULT_CROSS_LINGUAL_MODEL)
    else:
        cross = None
    return StoreMeta(
        model=name,
        dim=old.dim if old else 0,
        splitter=splitter.to_dict(),
        backend=backend,
        cross_lingual_model=cross,
        cross_lingual_dim=old.cross_lingual_dim if old else 0,
        lexical=lexical or (old.lexical if old else LEXICAL_WAYS[0]),
        index_type=index_type or (old.index_type if old else "auto"),
    )


def plan_store(
    files: list[tuple[str, Path]],
    location: str | MilvusLocation,
    report: IngestReport,
    skip: Callable[[str, str], None],
    *,
    keep_existing: bool = False,
    drop: Iterable[str] = (),
    **choices: object,
) -> StorePlan:
    """What a run over ``files`` does to the store at ``location``.

    ``choices`` are :func:`_choose`'s: ``model``, ``encoder``, ``cross_lingual``,
    ``cross_lingual_model``, ``cross_lingual_encoder``, ``splitter``, ``backend``,
    ``index_type`` and ``lexical``.

    Raises:
        IndexMismatchError: the store was built with other settings.
        BadPathError: mirroring would empty a store that holds documents.
    """
    where = parse_location(location)
    for name, allowed in (("index_type", INDEX_TYPES), ("lexical", LEXICAL_WAYS)):
        if choices.get(name) not in (None, *allowed):
            raise BadArgumentError(f"{name} {choices[name]!r} is not one of {', '.join(allowed)}")
    old = read_meta(connect(where), where)
    meta = _choose(old, **choices)  # type: ignore[arg-type]
    if old is not None and (not old.same_build(meta) or old.index_type != meta.index_type):
        raise IndexMismatchError(
            f"the store {where} was built with model {old.model!r}, cross-lingual "
            f"{old.cross_lingual_model!r}, backend {old.backend}, index {old.index_type}, BM25 "
            f"words by {old.lexical} and its own splitter settings; ingest into a new store "
            "(another NAME) to change them"
        )
    writer = MilvusWriter.open(where, old) if old is not None else None
    records = writer.records() if writer else {}
    plan = StorePlan(where, old or meta, writer, records)
    _sort_files(plan, files, report, skip, keep_existing, set(drop))
    if writer is not None:
        redo = {(s, sha) for s, _, sha in plan.to_read}
        plan.abandoned = [p for p in writer.pending() if p not in redo]
    return plan


def _sort_files(
    plan: StorePlan,
    files: list[tuple[str, Path]],
    report: IngestReport,
    skip: Callable[[str, str], None],
    keep_existing: bool,
    dropped: set[str],
) -> None:
    """Each file into new, changed or unchanged, and the store's other documents into kept
    or removed; a file with the same bytes as another document is skipped."""
    from ingest.plan import read_bytes

    given = {source for source, _ in files}
    records = plan.records
    stays = {s for s in records if s not in dropped and (s in given or keep_existing)}
    by_digest = {records[s].sha256: s for s in stays if s not in given}
    for source, path in sorted(files, key=lambda f: (f[0] not in records, f[0])):
        if source in dropped:
            continue
        data = read_bytes(source, path, skip)
        if data is None:
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest in by_digest:
            skip(source, f"same content as {by_digest[digest]}")
            continue
        by_digest[digest] = source
        old = records.get(source)
        if old is not None and old.sha256 == digest:
            report.unchanged.append(source)
            continue
        plan.to_read.append((source, path, digest))
        (report.updated if old is not None else report.added).append(source)
    if keep_existing:
        report.unchanged += sorted(s for s in stays if s not in given)
    if not keep_existing and records and not plan.to_read and not report.unchanged:
        raise BadPathError(
            f"nothing to index ({len(report.skipped)} skipped); the store {plan.where} keeps "
            f"its {len(records)} documents"
        )
    kept = set(report.unchanged) | {s for s, _, _ in plan.to_read}
    plan.removed = sorted(s for s in records if s not in kept)
    report.removed = list(plan.removed)


def milvus_record(planned: Planned) -> DocumentRecord:
    """A read document's record as a store keeps it: its chunk count and text size."""
    return replace(
        planned.record,
        byte_start=0,
        byte_end=len(planned.text.encode("utf-8")),
        chunk_start=0,
        chunk_end=len(planned.spans),
    )
