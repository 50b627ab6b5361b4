"""Writing a new index generation and making it the live one, atomically.

A generation folder holds::

    manifest.json      format, models, dimensions, splitter settings, versions, documents
    vectors.npy        the chunks' unit vectors, float32 (inner product = cosine)
    aux_vectors.npy    the same chunks in the cross-lingual model's space, if any
    vectors.faiss      an approximate index over them, for large indexes (and
    aux_vectors.faiss  likewise); see :mod:`retriever.vectors`
    chunks.npy         one row per chunk: document number and char/byte offsets
    texts.bin          every document's extracted text, UTF-8, back to back
    lexical/           BM25 over the chunks (bm25s), stemmed per document language

Chunk texts are never stored twice: a chunk is a slice of its document's text, read from
``texts.bin`` by byte offsets. Every file is flushed and hashed into the manifest before
``CURRENT`` is swapped (:func:`retriever.generations.publish`).
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from retriever import durable
from retriever.generations import (
    COMPACT_PREFIX,
    index_lock,
    live_generation,
    new_generation_name,
    publish,
    remove_stale,
)
from retriever.lexical import LexicalIndex
from retriever.manifest import SPACE_FILES, DocumentRecord, Manifest, package_versions
from retriever.store import Space
from retriever.vectors import choose_index_type, write_space

__all__ = ["LOCK_WAIT", "Superseded", "lay_out", "seal_generation", "write_generation"]

#: Seconds a background rebuild waits for a running ingest before it gives up its swap.
LOCK_WAIT = 120.0


def write_generation(
    path: Path | str,
    *,
    model: str,
    splitter: dict[str, Any],
    documents: list[DocumentRecord],
    texts: list[str],
    chunks: np.ndarray,
    vectors: np.ndarray,
    cross_lingual_model: str | None = None,
    cross_lingual_vectors: np.ndarray | None = None,
    index_type: str = "auto",
    backend: str = "torch",
    replaces: str | None = None,
) -> Path:
    """Write a complete new generation and make it the live one, atomically.

    The caller holds the index lock (:func:`retriever.generations.index_lock`), unless
    ``replaces`` names the generation this one was built from: then the generation is
    written without the lock (a background rebuild, while others may write) and swapped
    in under it only if that generation is still the live one.

    Args:
        path: the index folder (created if missing).
        model: the model name to record.
        splitter: splitter settings to record.
        documents: records in the order their texts and chunks are laid out; their
            ``byte_*`` and ``chunk_*`` fields are recomputed here.
        texts: each document's extracted text, same order.
        chunks: ``CHUNK_DTYPE`` rows, grouped by document in the same order; ``doc``,
            ``bstart`` and ``bend`` are recomputed here.
        vectors: ``(len(chunks), dim)`` float32 unit rows.
        cross_lingual_model, cross_lingual_vectors: the cross-lingual encoder's name and
            its unit rows for the same chunks, or None.
        index_type: ``auto`` (exact up to ``FLAT_MAX_CHUNKS``, IVF above), ``flat``,
            ``ivf`` or ``hnsw``; see :mod:`retriever.vectors`.
        backend: how the main model was run, recorded for readers.
        replaces: see above.

    Returns:
        The folder of the new generation.

    Raises:
        Superseded: ``replaces`` is no longer the live generation; nothing was swapped.
    """
    path = Path(path)
    choose_index_type(len(chunks), index_type)  # a bad name fails before any work
    path.mkdir(parents=True, exist_ok=True)
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    if (cross_lingual_model is None) != (cross_lingual_vectors is None) or (
        cross_lingual_vectors is not None and len(cross_lingual_vectors) != len(chunks)
    ):
        raise ValueError("cross_lingual_model and its vectors go together, one row per chunk")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    records, blobs, chunks = lay_out(documents, texts, chunks)
    cross = cross_lingual_vectors
    manifest = Manifest(
        model=model,
        dim=int(vectors.shape[1]) if vectors.ndim == 2 and vectors.shape[1] else 0,
        splitter=splitter,
        documents=tuple(records),
        cross_lingual_model=cross_lingual_model,
        cross_lingual_dim=int(cross.shape[1]) if cross is not None and cross.ndim == 2 else 0,
        versions=package_versions(),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        index_type_requested=index_type,
        backend=backend,
    )
    name = new_generation_name()
    tmp = path / f"{COMPACT_PREFIX if replaces else '.tmp-'}{name}"
    tmp.mkdir()
    try:
        # BM25 is Python work under the GIL, the vectors are faiss and BLAS work outside
        # it: side by side, they share the two cores instead of taking turns.
        with ThreadPoolExecutor(1, thread_name_prefix="bm25") as pool:
            lexical = pool.submit(_write_lexical, tmp, records, texts, chunks)
            spaces = _write_spaces(tmp, len(chunks), vectors, cross, index_type)
            manifest = replace(manifest, index_type=spaces[Space.MAIN.value]["kind"], spaces=spaces)
            with durable.flushed(tmp / "chunks.npy") as f:
                np.save(f, chunks)
            durable.write_file(tmp / "texts.bin", b"".join(blobs))
            lexical.result()
        seal_generation(tmp, manifest)
        if replaces is None:
            final = publish(path, tmp, name)
            remove_stale(path, keep=name)
        else:
            with index_lock(path, wait=LOCK_WAIT):  # clean-up needs the lock too
                if live_generation(path) != replaces:
                    raise Superseded(f"{replaces} was replaced while a rebuild of it ran")
                final = publish(path, tmp, name)
                remove_stale(path, keep=name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


class Superseded(Exception):
    """A background rebuild's source was replaced by a newer write before it finished."""


def lay_out(
    documents: list[DocumentRecord], texts: list[str], chunks: np.ndarray
) -> tuple[list[DocumentRecord], list[bytes], np.ndarray]:
    """Documents' records, texts as UTF-8 and chunk rows with their final positions."""
    chunks = chunks.copy()
    blobs: list[bytes] = []
    records: list[DocumentRecord] = []
    byte_pos = 0
    row = 0
    for doc_no, (doc, text) in enumerate(zip(documents, texts, strict=True)):
        blob = text.encode("utf-8")
        n = doc.chunk_end - doc.chunk_start
        rows = chunks[row : row + n]
        rows["doc"] = doc_no
        rows["bstart"] = byte_pos + _byte_offsets(text, rows["start"])
        rows["bend"] = byte_pos + _byte_offsets(text, rows["end"])
        records.append(
            replace(
                doc,
                n_chars=len(text),
                byte_start=byte_pos,
                byte_end=byte_pos + len(blob),
                chunk_start=row,
                chunk_end=row + n,
                excluded=tuple(tuple(x) for x in doc.excluded),
            )
        )
        blobs.append(blob)
        byte_pos += len(blob)
        row += n
    if row != len(chunks):
        raise ValueError(f"documents cover {row} chunks but {len(chunks)} were given")
    return records, blobs, chunks


def _byte_offsets(text: str, offsets: np.ndarray) -> np.ndarray:
    """UTF-8 byte offsets of character ``offsets`` in ``text``, in one pass over the text."""
    out = np.empty(len(offsets), dtype=np.int64)
    order = np.argsort(offsets, kind="stable")
    char_pos = byte_pos = 0
    for i in order:
        c = int(offsets[i])
        byte_pos += len(text[char_pos:c].encode("utf-8"))
        char_pos = c
        out[i] = byte_pos
    return out


def _write_spaces(
    tmp: Path,
    n_chunks: int,
    vectors: np.ndarray,
    cross: np.ndarray | None,
    index_type: str,
) -> dict[str, dict[str, Any]]:
    """Each vector space's files; returns the specs to record, by space name."""
    spaces: dict[str, dict[str, Any]] = {}
    for space, vecs in ((Space.MAIN, vectors), (Space.CROSS_LINGUAL, cross)):
        if vecs is None:
            continue
        vecs = np.asarray(vecs, dtype=np.float32)
        if vecs.ndim != 2:
            vecs = vecs.reshape(n_chunks, -1) if n_chunks else np.zeros((0, 0), "f4")
        spec = write_space(tmp, SPACE_FILES[space.value], vecs, index_type)
        spaces[space.value] = spec.to_dict()
    return spaces


def _write_lexical(
    tmp: Path, records: list[DocumentRecord], texts: list[str], chunks: np.ndarray
) -> None:
    lexical = LexicalIndex.build(
        (text[int(r["start"]) : int(r["end"])], doc.lang)
        for doc, text in zip(records, texts, strict=True)
        for r in chunks[doc.chunk_start : doc.chunk_end]
    )
    (tmp / "lexical").mkdir()
    lexical.save(tmp / "lexical")


def seal_generation(
    tmp: Path, manifest: Manifest, known: dict[str, list[Any]] | None = None
) -> None:
    """Hash and flush every file into the manifest, then write it and the stat cache
    (``known``: files linked from a sealed generation, see :func:`durable.seal`)."""
    files, stats = durable.seal(tmp, known)
    manifest = replace(manifest, files=files)
    durable.write_file(tmp / "manifest.json", manifest.to_json().encode("utf-8"))
    durable.write_file(tmp / durable.STAT_CACHE, json.dumps(stats).encode("utf-8"))
    durable.fsync_dir(tmp)
