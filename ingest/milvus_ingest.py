"""Ingest into a Milvus store: the same reading, splitting and embedding as the local
index, written document by document so that a run that stops resumes where it stopped.

Documents go in groups of about :data:`GROUP_CHUNKS` chunks: read and split
(:func:`ingest.plan.read_new`), embedded (:func:`ingest.embed.embed_new`), then each
written and committed (:class:`retriever.milvus_writer.MilvusWriter`). Unchanged files
(same hash as the store's record) are not read; documents no longer given are removed; a
run ends by publishing a new version, which serving processes follow.

Example:
    >>> ingest(["docs/"], "milvus://127.0.0.1:19530/verbatim")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ingest.embed import embed_new
from ingest.files import collect_files
from ingest.milvus_plan import StorePlan, milvus_record, plan_store, settings_of
from ingest.plan import IngestReport, Planned, read_bytes, read_new, sha256_bytes
from ingest.readers import DEFAULT_LIMITS, ReadLimits
from ingest.split import DEFAULT_SPLITTER, SplitterSettings
from retriever.encoder import Encoder
from retriever.milvus_rows import chunk_rows
from retriever.milvus_writer import MilvusWriter

__all__ = [
    "GROUP_CHUNKS", "count_chunks", "finish_run", "ingest_milvus", "plan_run", "write_document",
]  # fmt: skip

log = logging.getLogger("verbatim.ingest")

#: Chunks read and embedded together before they are written (larger: fuller batches for
#: the encoder, more memory, more to redo after a crash).
GROUP_CHUNKS = 2_048


def ingest_milvus(
    paths: Iterable[Path | str],
    location: str,
    *,
    model: str | None = None,
    splitter: SplitterSettings = DEFAULT_SPLITTER,
    encoder: Encoder | None = None,
    cross_lingual: bool = True,
    cross_lingual_model: str | None = None,
    cross_lingual_encoder: Encoder | None = None,
    progress: bool = False,
    warn: Callable[[str], None] | None = None,
    keep_existing: bool = False,
    drop: Iterable[str] = (),
    index_type: str | None = None,
    backend: str = "torch",
    limits: ReadLimits = DEFAULT_LIMITS,
    status: Callable[[str], None] | None = None,
    lexical: str | None = None,
) -> IngestReport:
    """Bring the Milvus store at ``location`` in line with the documents under ``paths``.

    The arguments are :func:`ingest.ingest`'s; ``lexical`` chooses how a new store gets
    BM25's words (``verbatim``, the default, or ``engine``; see
    :data:`retriever.milvus_schema.LEXICAL_WAYS`).

    Returns:
        An :class:`IngestReport` (``index`` is the location).

    Raises:
        BadPathError: a path does not exist, or mirroring would empty the store.
        IndexMismatchError: the store was built with other settings.
        VerbatimError: the server cannot be reached, or pymilvus is missing.
    """
    t0 = time.perf_counter()
    say = status or (lambda _line: None)
    report, plan, _warn, _skip = plan_run(
        paths, location, warn, keep_existing=keep_existing, drop=drop,
        model=model, encoder=encoder, cross_lingual=cross_lingual,
        cross_lingual_model=cross_lingual_model, cross_lingual_encoder=cross_lingual_encoder,
        splitter=splitter, backend=backend, index_type=index_type, lexical=lexical,
    )  # fmt: skip
    say(f"Reading and splitting {len(plan.to_read)} file(s)…")
    encoders = (encoder, cross_lingual_encoder)
    group: list[Planned] = []
    for source, path, sha in plan.to_read:
        planned = _read(source, path, sha, plan, limits, _skip, _warn)
        if planned is None:
            for done in (report.added, report.updated):
                if source in done:
                    done.remove(source)
            continue
        group.append(planned)
        if sum(len(p.spans) for p in group) >= GROUP_CHUNKS:
            encoders = _write_group(plan, group, encoders, progress, say, report)
            group = []
    encoders = _write_group(plan, group, encoders, progress, say, report)
    for source in [s for s, _ in report.skipped if s in plan.records]:
        report.removed.append(source)  # a changed file that cannot be read is taken out
        plan.removed.append(source)
    finish_run(plan, report)
    report.chunks = count_chunks(plan)
    report.seconds = time.perf_counter() - t0
    return report


def plan_run(
    paths: Iterable[Path | str],
    location: str,
    warn: Callable[[str], None] | None,
    **settings: Any,
) -> tuple[IngestReport, StorePlan, Callable[[str], None], Callable[[str, str], None]]:
    """The start of an ingest into a Milvus store (plain or on Ray): the files under
    ``paths`` collected and planned against the store (``settings``: :func:`plan_store`'s),
    with the run's report and its warn and skip callbacks."""
    report = IngestReport(index=location)

    def _warn(msg: str) -> None:
        (warn or log.warning)(msg)

    def _skip(source: str, reason: str) -> None:
        report.skipped.append((source, reason))
        _warn(f"skipped {source}: {reason}")

    files = collect_files(list(paths), _warn, _skip)
    return report, plan_store(files, location, report, _skip, **settings), _warn, _skip


def _read(
    source: str,
    path: Path,
    sha: str,
    plan: StorePlan,
    limits: ReadLimits,
    skip: Callable[[str, str], None],
    warn: Callable[[str], None],
) -> Planned | None:
    """A planned file read and split (its bytes as they are now)."""
    data = read_bytes(source, path, skip)
    if data is None:
        return None
    splitter = settings_of(plan.meta).splitter
    return read_new(source, path, data, sha256_bytes(data), limits, skip, warn, splitter)


def _write_group(
    plan: StorePlan,
    group: list[Planned],
    encoders: tuple[Encoder | None, Encoder | None],
    progress: bool,
    say: Callable[[str], None],
    report: IngestReport,
) -> tuple[Encoder | None, Encoder | None]:
    """Embed a group of read documents and write each; returns the (loaded) encoders."""
    if not group:
        return encoders
    n, main, cross = embed_new(group, settings_of(plan.meta), *encoders, progress, say)
    report.embedded += n
    assert main is not None
    writer = plan.open_writer(main.dim, cross.dim if cross is not None else 0)
    writer.begin((p.record.source, p.record.sha256) for p in group)
    say(f"Writing {len(group)} document(s) to {plan.where}…")
    for p in group:
        write_document(writer, p)
    # Servers following the store see each group as it lands.
    writer.publish(langs={p.record.lang for p in group})
    return main, cross


def write_document(writer: MilvusWriter, planned: Planned) -> None:
    """Write one embedded document's chunks and text, then commit its record."""
    record = milvus_record(planned)
    rows = chunk_rows(
        record, planned.text, planned.spans, planned.vectors, planned.cross_vectors,
        writer.meta.lexical,
    )  # fmt: skip
    writer.upsert_chunks(rows)
    writer.put_text(record.source, record.sha256, planned.text)
    writer.commit(record)


def finish_run(plan: StorePlan, report: IngestReport) -> None:
    """Remove what goes, drop abandoned writes, and publish a new version if anything
    changed."""
    writer = plan.writer
    if writer is None:
        return
    for source, sha in plan.abandoned:
        live = plan.records.get(source)
        writer.abandon(source, sha, live.sha256 if live else None)
    for source in plan.removed:
        writer.remove(source)
    if report.added or report.updated or plan.removed or plan.abandoned:
        writer.publish()
        report.wrote = True


def count_chunks(plan: StorePlan) -> int:
    if plan.writer is None:
        return 0
    rows = plan.writer.client.query(plan.where.name, filter="", output_fields=["count(*)"])
    return int(rows[0]["count(*)"])
