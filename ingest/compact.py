"""Updates to a large index: a delta segment now, a full rebuild when it has grown.

Below :attr:`DeltaPolicy.min_base` chunks every ingest writes the whole index again (a few
seconds at most). Above it, an update keeps the old base and writes only what changed into
a delta segment (:mod:`retriever.segments`), in seconds whatever the index's size. Once
the delta's rows and the base's dead rows pass :attr:`DeltaPolicy.max_rows`, a full write
folds them back into one base: inline for ``verbatim ingest``, or in the background for
the web app's uploads (:func:`compact`), which answers from the delta generation
meanwhile and swaps the rebuilt one in atomically.

Example:
    >>> r = ingest(["a.pdf"], "idx", keep_existing=True, background=True)  # doctest: +SKIP
    >>> if r.compact_due:                                                   # doctest: +SKIP
    ...     threading.Thread(target=compact, args=("idx",), daemon=True).start()
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ingest.plan import Planned, carry, load_reused
from retriever.delta_writer import write_delta
from retriever.errors import VerbatimError
from retriever.generations import COMPACT_LOCK, COMPACT_PREFIX, index_lock, remove_leftovers
from retriever.index import Index
from retriever.manifest import CHUNK_DTYPE, DELTA_FORMAT
from retriever.writer import Superseded, write_generation

__all__ = ["DEFAULT_DELTA", "DeltaPolicy", "columns", "compact", "write_update"]

log = logging.getLogger("verbatim.ingest")


@dataclass(frozen=True)
class DeltaPolicy:
    """When an update goes into a delta segment, and when the base is rebuilt.

    Attributes:
        min_base: chunks in the base below which every write is a full one (fast enough,
            and one segment is the simplest index).
        max_rows: delta rows plus dead base rows past which the base is rebuilt. The delta
            is searched exactly: more rows cost each question time (``verbatim bench``,
            ``upload`` part).
    """

    min_base: int = 50_000
    max_rows: int = 20_000


DEFAULT_DELTA = DeltaPolicy()


def columns(
    plan: list[Planned],
) -> tuple[list, list[str], np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The documents, texts, chunk rows and vectors of ``plan``, as the writers take them
    (vectors None when no document has any)."""
    rows = []
    for p in plan:
        part = np.zeros(len(p.spans), dtype=CHUNK_DTYPE)
        if p.spans:
            part["start"], part["end"] = zip(*p.spans, strict=True)
        rows.append(part)
    main = [p.vectors for p in plan if p.vectors is not None]
    cross = [p.cross_vectors for p in plan if p.cross_vectors is not None]
    return (
        [replace(p.record, chunk_start=0, chunk_end=len(p.spans)) for p in plan],
        [p.text for p in plan],
        np.concatenate(rows) if rows else np.zeros(0, CHUNK_DTYPE),
        np.concatenate(main) if main else None,
        np.concatenate(cross) if cross else None,
    )


def write_update(
    index_dir: Path,
    old: Index | None,
    plan: list[Planned],
    policy: DeltaPolicy,
    background: bool,
) -> tuple[int, bool] | None:
    """Write ``plan`` as a delta over ``old``'s base when the policy allows it.

    Returns ``(delta_rows, compact_due)`` when it did, None when a full write is needed
    (no old index, a small one, or, without ``background``, a delta past its limit).
    """
    if old is None or old.base_rows < policy.min_base:
        return None
    in_base = [p for p in plan if p.reused and p.record.chunk_end <= old.base_rows]
    delta = [p for p in plan if not (p.reused and p.record.chunk_end <= old.base_rows)]
    dead = old.base_rows - sum(p.record.chunk_end - p.record.chunk_start for p in in_base)
    size = dead + sum(len(p.spans) for p in delta)
    if size > policy.max_rows and not background:
        return None
    load_reused(delta, old, old.cross_lingual_model)
    documents, texts, chunks, vectors, cross = columns(delta)
    dim, cross_dim = old.manifest.dim, old.manifest.cross_lingual_dim
    write_delta(
        index_dir,
        old,
        stay=[p.record.source for p in in_base],
        documents=documents,
        texts=texts,
        chunks=chunks,
        vectors=vectors if vectors is not None else np.zeros((0, dim), np.float32),
        cross_lingual_vectors=(
            None
            if old.cross_lingual_model is None
            else cross
            if cross is not None
            else np.zeros((0, cross_dim), np.float32)
        ),
    )
    return size, size > policy.max_rows


def compact(index_dir: Path | str) -> bool:
    """Fold the live generation's delta into a new base, without embedding anything.

    The new generation is written while readers and writers go on (only one rebuild runs
    at a time); it is swapped in if no other write came first, else dropped (the next
    update that finds the delta past its limit asks for another).

    Returns:
        True when a rebuilt generation went live.
    """
    index_dir = Path(index_dir)
    try:
        with index_lock(index_dir, name=COMPACT_LOCK):
            for stale in index_dir.glob(f"{COMPACT_PREFIX}*"):  # of a rebuild killed
                shutil.rmtree(stale, ignore_errors=True)
            old = Index.open(index_dir)
            if old.manifest.format != DELTA_FORMAT:
                with index_lock(index_dir):  # what a rebuild killed after its swap left
                    remove_leftovers(index_dir)
                return False
            plan = [carry(old, d) for d in sorted(old.documents, key=lambda d: d.source)]
            load_reused(plan, old, old.cross_lingual_model)
            documents, texts, chunks, vectors, cross = columns(plan)
            m = old.manifest
            write_generation(
                index_dir,
                model=m.model,
                splitter=m.splitter,
                documents=documents,
                texts=texts,
                chunks=chunks,
                vectors=vectors if vectors is not None else np.zeros((0, m.dim), np.float32),
                cross_lingual_model=m.cross_lingual_model,
                cross_lingual_vectors=(
                    None
                    if m.cross_lingual_model is None
                    else cross
                    if cross is not None
                    else np.zeros((0, m.cross_lingual_dim), np.float32)
                ),
                index_type=m.index_type_requested,
                backend=m.backend,
                replaces=old.version,
            )
            return True
    except Superseded as exc:
        log.info("rebuild dropped: %s", exc)
    except VerbatimError as exc:  # another rebuild runs, or an ingest held on
        log.info("rebuild not run: %s", exc)
    return False
