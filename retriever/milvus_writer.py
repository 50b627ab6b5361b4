"""Writing a Milvus store: one document at a time, so that an interrupted run resumes.

A document is written in an order that never shows half of it, and never leaves rows
that no later run would find:

1. :meth:`MilvusWriter.begin` journals ``(source, sha256)`` as pending;
2. its chunks (:meth:`upsert_chunks`) and text (:meth:`put_text`) are upserted: their ids
   come from the document's hash, so writing them again replaces them, never adds;
3. :meth:`commit` deletes the rows of the document's older bytes, writes its record (from
   now on searches return its chunks: a chunk counts only when its document's record has
   its hash) and clears the journal entry.

A run that is killed leaves pending entries; the next run redoes those documents (step 2
replaces what was written) or, for a file that is gone, :meth:`abandon` drops their rows.
:meth:`publish` ends a run: it records the store's languages and a new version, which
serving processes poll to follow the store.

Example:
    >>> w = MilvusWriter.open("milvus://127.0.0.1:19530/docs", meta)  # doctest: +SKIP
    >>> w.begin([(rec.source, rec.sha256)]); w.upsert_chunks(rows); w.put_text(...)
    >>> w.commit(rec); w.publish()                                   # doctest: +SKIP
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from retriever.errors import IndexMismatchError
from retriever.manifest import DocumentRecord, package_versions
from retriever.milvus_rows import (
    DOC_FIELDS,
    META_ID,
    create_collections,
    iterate,
    join_records,
    meta_row,
    record_rows,
    text_rows,
)
from retriever.milvus_schema import (
    FORMAT,
    MilvusLocation,
    StoreMeta,
    check_source,
    connect,
    parse_location,
    row_id,
    source_key,
)

__all__ = ["MilvusWriter", "read_meta"]

#: Rows per upsert: chunks (two vectors and up to 128 KiB of text each) and text parts
#: (64 KiB each), to keep a message of a few MB.
CHUNK_BATCH = 256
PART_BATCH = 16


def read_meta(client: Any, where: MilvusLocation) -> StoreMeta | None:
    """The store's meta row, or None when the store does not exist. Loads the store's
    collections into memory if the server has released them (after a restart)."""
    from pymilvus.client.types import LoadState

    for name in (where.documents, where.name):
        if not client.has_collection(name):
            return None
        if client.get_load_state(name)["state"] != LoadState.Loaded:
            client.load_collection(name)
    rows = client.get(where.documents, ids=[META_ID], output_fields=["body"])
    return StoreMeta.from_json(rows[0]["body"]) if rows else None


class MilvusWriter:
    """Writes documents into the store at ``location``, creating it with ``meta`` if it
    does not exist.

    Raises:
        IndexMismatchError: the store was built with other models, splitter settings or
            BM25 words than ``meta``.
    """

    def __init__(self, location: MilvusLocation, client: Any, meta: StoreMeta) -> None:
        self.location = location
        self.client = client
        self.meta = meta
        #: Sources with rows in the store, or that may have some (records and journal
        #: entries when the first run began, and documents committed since); read once.
        self._known: set[str] | None = None
        #: Sources begun in this run that had no row at all: nothing older to delete.
        self._fresh: set[str] = set()

    @classmethod
    def open(cls, location: str | MilvusLocation, meta: StoreMeta) -> MilvusWriter:
        where = parse_location(location)
        client = connect(where)
        old = read_meta(client, where)
        if old is None:
            meta = replace(meta, format=FORMAT, versions=package_versions())
            create_collections(client, where, meta)
        elif old.format != FORMAT or not old.same_build(meta):
            raise IndexMismatchError(
                f"the store {where} was built with model {old.model!r}, cross-lingual "
                f"{old.cross_lingual_model!r}, backend {old.backend}, BM25 words by "
                f"{old.lexical} and other settings than asked; ingest into a new store "
                "(another NAME) or ask with its own settings"
            )
        else:
            meta = old
        return cls(where, client, meta)

    # -- what is there ----------------------------------------------------------------------

    def records(self) -> dict[str, DocumentRecord]:
        """Every complete document's record, by source."""
        rows = iterate(self.client, self.location.documents, 'kind == "record"', DOC_FIELDS)
        return join_records(rows)

    def pending(self) -> list[tuple[str, str]]:
        """``(source, sha256)`` of documents whose writing began and did not finish."""
        rows = iterate(self.client, self.location.documents, 'kind == "pending"', ["source", "sha"])
        return [(r["source"], r["sha"]) for r in rows]

    # -- writing ----------------------------------------------------------------------------

    def begin(self, documents: Iterable[tuple[str, str]]) -> None:
        """Journal ``(source, sha256)`` pairs as being written."""
        if self._known is None:
            known = '(kind == "record" and part == 0) or kind == "pending"'
            rows = iterate(self.client, self.location.documents, known, ["source"])
            self._known = {r["source"] for r in rows}
        rows = []
        for source, sha in documents:
            check_source(source)
            if source not in self._known:
                self._fresh.add(source)
            rows.append(
                {"id": row_id("pending", source, sha), "key": source_key(source),
                 "kind": "pending", "source": source, "sha": sha, "lang": "", "part": 0,
                 "parts": 1, "body": "", "v": [1.0, 0.0]}
            )  # fmt: skip
        self._upsert(self.location.documents, rows, PART_BATCH * 64)

    def upsert_chunks(self, rows: list[dict[str, Any]]) -> None:
        """Upsert chunk rows (:func:`retriever.milvus_rows.chunk_rows`)."""
        self._upsert(self.location.name, rows, CHUNK_BATCH)

    def put_text(self, source: str, sha: str, text: str) -> None:
        """Upsert a document's text, in parts."""
        self._upsert(self.location.documents, text_rows(source, sha, text), PART_BATCH)

    def commit(self, record: DocumentRecord) -> None:
        """Make a document whose chunks and text are written live (see the module).

        A document that had no row before this run (no record, no journal entry: a row is
        only ever written after its journal entry, and the entry goes only after its
        record is written) has nothing older to delete, so its commit is one upsert and a
        delete by id rather than four deletes by filter, each a scan of the collection."""
        key, sha = source_key(record.source), record.sha256
        assert self._known is not None, "begin() journals a document before its commit"
        if record.source in self._fresh:
            self._upsert(self.location.documents, record_rows(record), PART_BATCH)
            self.client.delete(self.location.documents, ids=[row_id("pending", record.source, sha)])
            self._fresh.discard(record.source)
            self._known.add(record.source)
            return
        stale = f'key == {key} and sha != "{sha}"'
        self.client.delete(self.location.name, filter=stale)
        self.client.delete(self.location.documents, filter=f'{stale} and kind == "text"')
        rows = record_rows(record)
        self.client.delete(
            self.location.documents,
            filter=f'key == {key} and kind == "record" and part >= {len(rows)}',
        )
        self._upsert(self.location.documents, rows, PART_BATCH)
        self.client.delete(self.location.documents, filter=f'key == {key} and kind == "pending"')

    def remove(self, source: str) -> None:
        """Take a document out: chunks and text first, its record last (so that a run killed
        midway finds it and removes it again)."""
        key = source_key(source)
        self.client.delete(self.location.name, filter=f"key == {key}")
        self.client.delete(self.location.documents, filter=f'key == {key} and kind == "text"')
        self.client.delete(self.location.documents, filter=f"key == {key}")

    def abandon(self, source: str, sha: str, live_sha: str | None) -> None:
        """Drop the rows of a pending write of ``(source, sha)`` that no run will finish;
        the rows of ``live_sha`` (the document's live bytes, if any) stay."""
        key = source_key(source)
        if sha != live_sha:
            self.client.delete(self.location.name, filter=f'key == {key} and sha == "{sha}"')
            self.client.delete(
                self.location.documents,
                filter=f'key == {key} and sha == "{sha}" and kind == "text"',
            )
        self.client.delete(self.location.documents, filter=f'key == {key} and kind == "pending"')

    def publish(self, langs: Iterable[str] | None = None) -> StoreMeta:
        """Record the documents' languages and a new version: servers following the store
        switch to it within their polling interval.

        Args:
            langs: languages just added to the store's (cheap); None reads them all from
                the records (after removals).
        """
        if langs is not None:
            langs = {*self.meta.langs, *langs}
        else:
            rows = iterate(
                self.client, self.location.documents, 'kind == "record" and part == 0', ["lang"]
            )
            langs = {r["lang"] for r in rows}
        version = f"{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"
        self.meta = replace(self.meta, langs=tuple(sorted(langs)), version=version)
        self.client.upsert(self.location.documents, [meta_row(self.meta)])
        return self.meta

    def _upsert(self, collection: str, rows: list[dict[str, Any]], batch: int) -> None:
        for i in range(0, len(rows), batch):
            self.client.upsert(collection, rows[i : i + batch])
