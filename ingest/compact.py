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
from typing import Any

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


def columns(plan: list[Planned], dim: int, cross_dim: int | None) -> dict[str, Any]:
    """The documents, texts, chunk rows and vectors of ``plan``, as the writers take them
    (keyword arguments of :func:`~retriever.writer.write_generation` and
    :func:`~retriever.delta_writer.write_delta`): vectors of ``dim`` columns, and
    cross-lingual ones of ``cross_dim`` (None: the index has no such space)."""
    rows = []
    for p in plan:
        part = np.zeros(len(p.spans), dtype=CHUNK_DTYPE)
        if p.spans:
            part["start"], part["end"] = zip(*p.spans, strict=True)
        rows.append(part)

    def stacked(vectors: list[np.ndarray | None], width: int) -> np.ndarray:
        given = [v for v in vectors if v is not None]
        return np.concatenate(given) if given else np.zeros((0, width), np.float32)

    return {
        "documents": [replace(p.record, chunk_start=0, chunk_end=len(p.spans)) for p in plan],
        "texts": [p.text for p in plan],
        "chunks": np.concatenate(rows) if rows else np.zeros(0, CHUNK_DTYPE),
        "vectors": stacked([p.vectors for p in plan], dim),
        "cross_lingual_vectors": None
        if cross_dim is None
        else stacked([p.cross_vectors for p in plan], cross_dim),
    }


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
    m = old.manifest
    cross_dim = None if old.cross_lingual_model is None else m.cross_lingual_dim
    write_delta(
        index_dir,
        old,
        stay=[p.record.source for p in in_base],
        **columns(delta, m.dim, cross_dim),
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
            m = old.manifest
            cross_dim = None if m.cross_lingual_model is None else m.cross_lingual_dim
            write_generation(
                index_dir,
                model=m.model,
                splitter=m.splitter,
                cross_lingual_model=m.cross_lingual_model,
                **columns(plan, m.dim, cross_dim),
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
