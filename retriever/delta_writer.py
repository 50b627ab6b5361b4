"""Writing a generation that keeps its predecessor's base and adds a delta segment.

The new generation links the old one's base files (``os.link``: no byte is copied or
rewritten), writes the documents that changed into ``delta/``, marks the base rows of
documents gone as dead in a rewritten ``chunks.npy``, and is sealed and swapped in like
any other (:func:`retriever.generations.publish`). See :mod:`retriever.segments` for the
layout and how it is searched.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from retriever import durable
from retriever.generations import new_generation_name, publish, remove_stale
from retriever.index import Index
from retriever.manifest import DELTA_FORMAT, SPACE_FILES, DocumentRecord, package_versions
from retriever.segments import DeltaLexical
from retriever.store import Space
from retriever.writer import lay_out, seal_generation

__all__ = ["BASE_FILES", "write_delta"]

#: What a generation's base is made of: files, and folders whose files all belong to it.
BASE_FILES = ("texts.bin", "lexical/")


def write_delta(
    path: Path | str,
    old: Index,
    *,
    stay: list[str],
    documents: list[DocumentRecord],
    texts: list[str],
    chunks: np.ndarray,
    vectors: np.ndarray,
    cross_lingual_vectors: np.ndarray | None = None,
) -> Path:
    """Write a generation of ``old``'s base documents named in ``stay`` plus a delta of
    ``documents``, and make it the live one, atomically. Hold the index lock.

    Args:
        path: the index folder (``old``'s).
        old: the live generation.
        stay: sources of ``old``'s base documents that stay as they are; every other base
            document's rows become dead.
        documents, texts, chunks, vectors, cross_lingual_vectors: the delta's documents,
            as :func:`retriever.writer.write_generation` takes them (the documents of
            ``old``'s own delta that stay come again here).

    Returns:
        The folder of the new generation.
    """
    path = Path(path)
    base_rows = old.base_rows
    kept = sorted((old.document(s) for s in stay), key=lambda d: d.chunk_start)
    if any(d.chunk_end > base_rows for d in kept):
        raise ValueError("only documents of the base can stay in it")
    if (cross_lingual_vectors is None) != (old.cross_lingual_model is None):
        raise ValueError("the delta has the cross-lingual vectors exactly when the base has")
    records, blobs, rows = lay_out(documents, texts, chunks)
    base_bytes = _base_bytes(old)
    records = [
        replace(
            r,
            byte_start=r.byte_start + base_bytes,
            byte_end=r.byte_end + base_bytes,
            chunk_start=r.chunk_start + base_rows,
            chunk_end=r.chunk_end + base_rows,
        )
        for r in records
    ]
    rows["doc"] += len(kept)
    rows["bstart"] += base_bytes
    rows["bend"] += base_bytes
    all_rows = np.concatenate([_base_rows(old, kept), rows])
    manifest = replace(
        old.manifest,
        documents=(*kept, *records),
        format=DELTA_FORMAT,
        base_rows=base_rows,
        rows=len(all_rows),
        versions=package_versions(),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        files={},
    )
    name = new_generation_name()
    tmp = path / f".tmp-{name}"
    tmp.mkdir()
    try:
        linked = _link_base(old, tmp)
        delta = tmp / "delta"
        delta.mkdir()
        spaces = [(Space.MAIN, vectors), (Space.CROSS_LINGUAL, cross_lingual_vectors)]
        for space, vecs in spaces:
            if vecs is not None:
                with durable.flushed(delta / f"{SPACE_FILES[space.value]}.npy") as f:
                    np.save(f, np.ascontiguousarray(vecs, dtype=np.float32))
        durable.write_file(delta / "texts.bin", b"".join(blobs))
        DeltaLexical.build(
            (text[int(r["start"]) : int(r["end"])], doc.lang)
            for doc, text in zip(documents, texts, strict=True)
            for r in chunks[doc.chunk_start : doc.chunk_end]
        ).save(delta / "lexical")
        with durable.flushed(tmp / "chunks.npy") as f:
            np.save(f, all_rows)
        seal_generation(tmp, manifest, {n: old.manifest.files[n] for n in linked})
        final = publish(path, tmp, name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    remove_stale(path, keep=name)
    durable.trust(final, linked)  # removing the old generation changed their ctime
    return final


def base_files(manifest_files: dict[str, Any]) -> list[str]:
    """The names among a generation's files that make up its base."""
    stems = tuple(SPACE_FILES.values())
    return sorted(
        n
        for n in manifest_files
        if n.split(".")[0] in stems or n in BASE_FILES or n.startswith(BASE_FILES[1])
    )


def _link_base(old: Index, tmp: Path) -> list[str]:
    """Hard-link ``old``'s base files into ``tmp`` (copied where links cannot be made)."""
    names = base_files(old.manifest.files)
    for name in names:
        src, dst = old.generation / name, tmp / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:  # another file system, or one without hard links
            shutil.copy2(src, dst)
    return names


def _base_bytes(old: Index) -> int:
    """Size of the base's ``texts.bin``."""
    return int(old.manifest.files.get("texts.bin", [0])[0])


def _base_rows(old: Index, kept: list[DocumentRecord]) -> np.ndarray:
    """``old``'s base rows, ``doc`` renumbered for ``kept`` and −1 for every other."""
    rows = np.array(old.chunks[: old.base_rows])
    number = {d.source: i for i, d in enumerate(old.manifest.documents)}
    renumber = np.full(len(number) + 1, -1, np.int32)
    for new_no, d in enumerate(kept):
        renumber[number[d.source]] = new_no
    rows["doc"] = renumber[rows["doc"]]  # a dead row (-1) reads the last entry: -1
    return rows
