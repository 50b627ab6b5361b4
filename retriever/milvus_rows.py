"""The rows of a Milvus store and its two collections: how they are made and read back.

The layout is described in :mod:`retriever.milvus_schema`. Rows are built here, never
with the BM25 output field (Milvus makes it from ``terms``, or ``text`` for the engine's
analyzer); reads name their fields, so that the BM25 field is never read back either.

Example:
    >>> rows = chunk_rows(record, text, spans, main, cross, "verbatim")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

from retriever.lexical import stopwords, tokenize
from retriever.manifest import DocumentRecord
from retriever.milvus_schema import (
    BM25_PARAMS,
    DENSE_INDEXES,
    HNSW_PARAMS,
    MAX_SOURCE,
    MAX_VARCHAR,
    MilvusLocation,
    StoreMeta,
    chunk_id,
    fit_bytes,
    row_id,
    source_key,
    split_bytes,
)

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = [
    "DOC_FIELDS",
    "META_ID",
    "chunk_row",
    "chunk_rows",
    "create_collections",
    "iterate",
    "join_records",
    "join_text",
    "record_rows",
    "text_rows",
]

#: The documents collection's fields a read asks for.
DOC_FIELDS = ["source", "sha", "kind", "part", "parts", "body"]
#: The meta row's id.
META_ID = row_id("meta", "")
#: A placeholder vector: Milvus needs one vector field in every collection.
_NO_VECTOR = [1.0, 0.0]
#: The stopwords the engine's analyzer drops (``lexical="engine"``): English and German,
#: the languages of the gold sets it is measured on.
_ENGINE_STOPWORDS = ("en", "de")


def _analyzer(lexical: str) -> dict[str, Any]:
    if lexical == "verbatim":  # words already stemmed and filtered: split at spaces only
        return {"tokenizer": "standard"}
    words = sorted({w for lang in _ENGINE_STOPWORDS for w in stopwords(lang)})
    return {"tokenizer": "standard", "filter": ["lowercase", {"type": "stop", "stop_words": words}]}


def create_collections(client: MilvusClient, where: MilvusLocation, meta: StoreMeta) -> None:
    """Create the store's two collections (Strong consistency: a search right after a
    write sees it) and write its meta row."""
    from pymilvus import DataType, Function, FunctionType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("key", DataType.INT64)
    s.add_field("source", DataType.VARCHAR, max_length=MAX_SOURCE)
    s.add_field("sha", DataType.VARCHAR, max_length=64)
    s.add_field("start", DataType.INT64)
    s.add_field("end", DataType.INT64)
    s.add_field("lang", DataType.VARCHAR, max_length=16)
    engine = meta.lexical == "engine"
    words = {"enable_analyzer": True, "analyzer_params": _analyzer(meta.lexical)}
    s.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR, **(words if engine else {}))
    if not engine:
        s.add_field("terms", DataType.VARCHAR, max_length=MAX_VARCHAR, **words)
    s.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("main", DataType.FLOAT_VECTOR, dim=meta.dim)
    if meta.cross_lingual_model:
        s.add_field("cross_lingual", DataType.FLOAT_VECTOR, dim=meta.cross_lingual_dim)
    s.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["text" if engine else "terms"],
            output_field_names=["bm25"],
        )
    )
    index = client.prepare_index_params()
    kind = DENSE_INDEXES[meta.index_type]
    params = HNSW_PARAMS if kind == "HNSW" else {"nlist": 1024} if kind == "IVF_SQ8" else {}
    for name in ("main", "cross_lingual") if meta.cross_lingual_model else ("main",):
        index.add_index(name, index_type=kind, metric_type="IP", params=params)
    index.add_index("bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                    params=BM25_PARAMS)  # fmt: skip
    client.create_collection(where.name, schema=s, index_params=index, consistency_level="Strong")
    d = client.create_schema(auto_id=False, enable_dynamic_field=False)
    d.add_field("id", DataType.INT64, is_primary=True)
    d.add_field("key", DataType.INT64)
    d.add_field("kind", DataType.VARCHAR, max_length=16)
    d.add_field("source", DataType.VARCHAR, max_length=MAX_SOURCE)
    d.add_field("sha", DataType.VARCHAR, max_length=64)
    d.add_field("lang", DataType.VARCHAR, max_length=16)
    d.add_field("part", DataType.INT64)
    d.add_field("parts", DataType.INT64)
    d.add_field("body", DataType.VARCHAR, max_length=MAX_VARCHAR)
    d.add_field("v", DataType.FLOAT_VECTOR, dim=len(_NO_VECTOR))
    index = client.prepare_index_params()
    index.add_index("v", index_type="FLAT", metric_type="IP")
    client.create_collection(
        where.documents, schema=d, index_params=index, consistency_level="Strong"
    )
    client.upsert(where.documents, [meta_row(meta)])


def meta_row(meta: StoreMeta) -> dict[str, Any]:
    return _doc_row("meta", "", "", "", 0, 1, fit_bytes(meta.to_json()), META_ID)


def _doc_row(
    kind: str, source: str, sha: str, lang: str, part: int, parts: int, body: str, id_: int
) -> dict[str, Any]:
    return {
        "id": id_, "key": source_key(source), "kind": kind, "source": source, "sha": sha,
        "lang": lang, "part": part, "parts": parts, "body": body, "v": _NO_VECTOR,
    }  # fmt: skip


def chunk_row(
    record: DocumentRecord,
    start: int,
    end: int,
    chunk: str,
    main: np.ndarray,
    cross: np.ndarray | None,
    lexical: str,
) -> dict[str, Any]:
    """The row of one chunk (``chunk`` is ``document_text[start:end]``): offsets, text and
    words cut to Milvus's byte limit (the exact text is always the document's slice),
    vectors as given, never the BM25 field."""
    row = {
        "id": chunk_id(record.sha256, start, end), "key": source_key(record.source),
        "source": record.source, "sha": record.sha256, "start": int(start), "end": int(end),
        "lang": record.lang, "text": fit_bytes(chunk), "main": np.asarray(main, np.float32),
    }  # fmt: skip
    if cross is not None:
        row["cross_lingual"] = np.asarray(cross, np.float32)
    if lexical == "verbatim":
        row["terms"] = fit_bytes(" ".join(tokenize(chunk, record.lang)))
    return row


def chunk_rows(
    record: DocumentRecord,
    text: str,
    spans: Iterable[tuple[int, int]],
    main: np.ndarray,
    cross: np.ndarray | None,
    lexical: str,
) -> list[dict[str, Any]]:
    """The rows of a document's chunks (see :func:`chunk_row`)."""
    return [
        chunk_row(record, a, b, text[a:b], main[n], None if cross is None else cross[n], lexical)
        for n, (a, b) in enumerate(spans)
    ]


def record_rows(record: DocumentRecord) -> list[dict[str, Any]]:
    """A document's record as JSON, in parts under the byte limit."""
    body = json.dumps(asdict(record), ensure_ascii=False)
    parts = split_bytes(body)
    src, sha = record.source, record.sha256
    return [
        _doc_row("record", src, sha, record.lang, n, len(parts), p, row_id("record", src, "", n))
        for n, p in enumerate(parts)
    ]


def text_rows(source: str, sha: str, text: str) -> list[dict[str, Any]]:
    """A document's text in parts under the byte limit (ids by its hash: a rewrite of the
    same bytes replaces them)."""
    parts = split_bytes(text)
    return [
        _doc_row("text", source, sha, "", n, len(parts), p, row_id("text", source, sha, n))
        for n, p in enumerate(parts)
    ]


def join_records(rows: Iterable[dict[str, Any]]) -> dict[str, DocumentRecord]:
    """Records by source from their parts; a record missing a part is left out."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_source.setdefault(row["source"], []).append(row)
    out = {}
    for source, parts in by_source.items():
        parts.sort(key=lambda r: r["part"])
        if len(parts) != parts[0]["parts"] or [r["part"] for r in parts] != list(range(len(parts))):
            continue  # being rewritten: its other parts come with the next read
        out[source] = DocumentRecord.from_dict(json.loads("".join(r["body"] for r in parts)))
    return out


def join_text(rows: Iterable[dict[str, Any]], sha: str) -> str | None:
    """A document's text from its parts of hash ``sha``; None when one is missing."""
    parts = sorted((r for r in rows if r["sha"] == sha), key=lambda r: r["part"])
    if not parts or [r["part"] for r in parts] != list(range(parts[0]["parts"])):
        return None
    return "".join(r["body"] for r in parts)


def iterate(
    client: MilvusClient, collection: str, filter: str, fields: list[str], batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every row matching ``filter``, read in batches (no 16,384-row limit of a query)."""
    # Milvus Lite has no MVCC timestamp to pin the iterator to; pymilvus warns and falls back
    # to the client's clock, which is right for a single-process server.
    logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
    it = client.query_iterator(collection, batch_size=batch, filter=filter, output_fields=fields)
    try:
        while rows := it.next():
            yield from rows
    finally:
        it.close()
