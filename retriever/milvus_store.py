"""A store in Milvus: the same :class:`~retriever.store.Store` as the local index, served
by a Milvus server (a cluster, or Milvus Lite), so that any number of stateless processes
answer from one corpus.

Chunk ids are the store's own stable ids (:func:`retriever.milvus_schema.chunk_id`), not
row numbers. A chunk counts only when its document's record carries the chunk's hash:
rows of a document being written, or of bytes it no longer has, are never returned (see
:mod:`retriever.milvus_writer`). Searches read back the chunks' fields with their scores
and keep them, so that :meth:`MilvusStore.chunk` and :meth:`MilvusStore.chunk_lang` on a
hit cost no round trip; records and texts are cached too (bounded). A store object sees
the store as of :attr:`MilvusStore.version`; :func:`retriever.stores.current_version`
tells when to open a newer one.

Example:
    >>> store = MilvusStore.open("milvus://127.0.0.1:19530/verbatim")  # doctest: +SKIP
    >>> scores, ids = store.search(query[None, :], 10)                 # doctest: +SKIP
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from retriever.errors import IndexCorruptError, IndexNotFoundError
from retriever.lexical import tokenize
from retriever.manifest import DocumentRecord
from retriever.milvus_rows import DOC_FIELDS, iterate, join_records, join_text
from retriever.milvus_schema import (
    CHUNK_FIELDS,
    FORMAT,
    HNSW_EF,
    MilvusLocation,
    StoreMeta,
    connect,
    parse_location,
    source_key,
)
from retriever.milvus_writer import read_meta
from retriever.records import Chunk
from retriever.store import Space

__all__ = ["MilvusStore"]

#: Milvus's largest ``limit`` of one search.
MAX_TOPK = 16_384
#: Cached chunk rows and records (each entry is about a kilobyte), and document text
#: characters (larger: fewer round trips for popular documents, more memory).
ROW_CACHE = 50_000
RECORD_CACHE = 20_000
TEXT_CACHE_CHARS = 32_000_000
_FIELDS = {Space.MAIN: "main", Space.CROSS_LINGUAL: "cross_lingual"}


class _Lru(OrderedDict):
    """A dict that forgets its least recently used entries past ``size`` (by ``cost``)."""

    def __init__(self, size: int, cost: Any = lambda _v: 1) -> None:
        super().__init__()
        self.size, self.cost, self.total = size, cost, 0

    def get_(self, key: Any) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        return None

    def put(self, key: Any, value: Any) -> None:
        if key in self:
            self.total -= self.cost(self[key])
        self[key] = value
        self.total += self.cost(value)
        while self.total > self.size and len(self) > 1:
            _, old = self.popitem(last=False)
            self.total -= self.cost(old)


class MilvusStore:
    """A read-only view of a Milvus store, as of its version when opened."""

    def __init__(self, location: MilvusLocation, client: Any, meta: StoreMeta) -> None:
        self.where = location
        self.client = client
        self.meta = meta
        #: Store fields (see :class:`retriever.store.Store`).
        self.location = str(location)
        self.model = meta.model
        self.dim = meta.dim
        self.cross_lingual_model = meta.cross_lingual_model
        self.splitter = meta.splitter
        self.backend = meta.backend
        self.version = meta.version
        self._rows = _Lru(ROW_CACHE)
        self._records = _Lru(RECORD_CACHE)
        self._texts = _Lru(TEXT_CACHE_CHARS, len)
        self._documents: tuple[DocumentRecord, ...] | None = None
        rows = client.query(location.name, filter="", output_fields=["count(*)"])
        self._len = int(rows[0]["count(*)"])
        self.langs: tuple[str, ...] = meta.langs or tuple(sorted({d.lang for d in self.documents}))

    @classmethod
    def open(cls, location: str | MilvusLocation) -> MilvusStore:
        """Open the store at ``location`` (``milvus://HOST:PORT/NAME`` or ``PATH.db``).

        Raises:
            IndexNotFoundError: no store there; the message says how to build one.
            IndexCorruptError: a store of another layout.
        """
        where = parse_location(location)
        client = connect(where)
        meta = read_meta(client, where)
        if meta is None:
            raise IndexNotFoundError(
                f"no Verbatim store at {where}; build one with: "
                f"verbatim ingest YOUR_DOCUMENTS --store {where}"
            )
        if meta.format != FORMAT:
            raise IndexCorruptError(
                f"the store at {where} has layout {meta.format}, this version reads {FORMAT}; "
                f"ingest into a new store: verbatim ingest YOUR_DOCUMENTS --store NEW_NAME"
            )
        return cls(where, client, meta)

    # -- documents --------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._len

    @property
    def documents(self) -> tuple[DocumentRecord, ...]:
        if self._documents is None:
            rows = iterate(self.client, self.where.documents, 'kind == "record"', DOC_FIELDS)
            records = join_records(rows)
            self._documents = tuple(records[s] for s in sorted(records))
        return self._documents

    def _load_records(self, sources: set[str]) -> None:
        """Fetch the records of ``sources`` not cached yet, in one query."""
        todo = [s for s in sources if s not in self._records]
        if not todo:
            return
        keys = ", ".join(str(source_key(s)) for s in todo)
        rows = self.client.query(
            self.where.documents,
            filter=f'kind == "record" and key in [{keys}]',
            output_fields=DOC_FIELDS,
        )
        found = join_records(rows)
        for s in todo:
            self._records.put(s, found.get(s))

    def document(self, source: str) -> DocumentRecord:
        """The record of ``source``; ``KeyError`` if the store does not hold it."""
        self._load_records({source})
        record = self._records.get_(source)
        if record is None:
            raise KeyError(source)
        return record

    def document_text(self, source: str) -> str:
        """The full extracted text of ``source``, the text all offsets refer to."""
        record = self.document(source)
        text = self._texts.get_(source)
        if text is None:
            rows = self.client.query(
                self.where.documents,
                filter=f'kind == "text" and key == {source_key(source)}',
                output_fields=DOC_FIELDS,
            )
            text = join_text(rows, record.sha256)
            if text is None:
                raise KeyError(f"{source}: its text is being rewritten")
            self._texts.put(source, text)
        return text

    # -- chunks -----------------------------------------------------------------------------

    def ids(self) -> np.ndarray:
        """Every chunk id, ascending (the store's stable ids)."""
        ids = [r["id"] for r in iterate(self.client, self.where.name, "", ["id"])]
        return np.array(sorted(ids), dtype=np.int64)

    def _row(self, i: int) -> dict[str, Any]:
        row = self._rows.get_(int(i))
        if row is None:
            found = self.client.get(self.where.name, ids=[int(i)], output_fields=CHUNK_FIELDS)
            if not found:
                raise KeyError(f"no chunk {i} in the store {self.where}")
            row = found[0]
            self._rows.put(int(i), row)
        return row

    def chunk(self, i: int) -> Chunk:
        """Chunk ``i``: its document, offsets and text (a slice of the document's text)."""
        row = self._row(i)
        start, end = int(row["start"]), int(row["end"])
        text = row["text"]
        if len(text) != end - start:  # cut to Milvus's byte limit: slice the document
            text = self.document_text(row["source"])[start:end]
        return Chunk(row["source"], start, end, text)

    def chunk_lang(self, i: int) -> str:
        """The language of the document chunk ``i`` comes from."""
        return str(self._row(i)["lang"])

    def has(self, space: Space | str) -> bool:
        """True when the chunks are embedded in ``space``."""
        return Space(space) is Space.MAIN or self.cross_lingual_model is not None

    def _field(self, space: Space | str) -> str:
        if not self.has(space):
            raise KeyError(f"the store has no {Space(space).name.lower()} vectors")
        return _FIELDS[Space(space)]

    def _visible(self, hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The hits whose document's record is live with their bytes; caches their rows."""
        self._load_records({h["entity"]["source"] for h in hits})
        out = []
        for h in hits:
            row = h["entity"]
            record = self._records.get_(row["source"])
            if record is not None and record.sha256 == row["sha"]:
                self._rows.put(int(h["id"]), row)
                out.append(h)
        return out

    def search(
        self, queries: np.ndarray, k: int, space: Space | str = Space.MAIN
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks per query row: ``(scores, ids)``, each ``(n_queries, k')``,
        ``k' = min(k, len(self))``; an id of -1 pads a row with fewer hits."""
        field = self._field(space)
        n, k = len(queries), min(int(k), len(self), MAX_TOPK)
        scores, ids = np.zeros((n, max(k, 0)), np.float32), np.full((n, max(k, 0)), -1, np.int64)
        if k <= 0:
            return scores, ids
        params: dict[str, Any] = {"metric_type": "IP"}
        if self.meta.index_type in ("auto", "hnsw"):
            params["params"] = {"ef": max(HNSW_EF, k)}
        elif self.meta.index_type == "ivf":
            params["params"] = {"nprobe": 64}
        found = self.client.search(
            self.where.name,
            data=[np.asarray(q, np.float32) for q in queries],
            anns_field=field,
            limit=k,
            output_fields=CHUNK_FIELDS,
            search_params=params,
        )
        for row, hits in enumerate(found):
            hits = self._visible(list(hits))
            for col, h in enumerate(hits):
                scores[row, col], ids[row, col] = h["distance"], h["id"]
        return scores, ids

    def _lexical_query(self, question: str) -> str:
        if self.meta.lexical == "engine":
            return question
        words: dict[str, None] = {}
        for lang in self.langs or ("en",):
            words.update(dict.fromkeys(tokenize(question, lang)))
        return " ".join(words)

    def search_lexical(self, question: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks by BM25 for one question: ``(scores, ids)``, best first; only
        chunks sharing a word with the question."""
        query, k = self._lexical_query(question), min(int(k), len(self), MAX_TOPK)
        if not query.strip() or k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        hits = self.client.search(
            self.where.name,
            data=[query],
            anns_field="bm25",
            limit=k,
            output_fields=CHUNK_FIELDS,
            search_params={"metric_type": "BM25"},
        )[0]
        # Milvus Lite reports BM25 negated (a distance); a cluster reports the score.
        hits = [h for h in self._visible(list(hits)) if abs(h["distance"]) > 0]
        hits.sort(key=lambda h: -abs(h["distance"]))
        return (
            np.array([abs(h["distance"]) for h in hits], np.float32),
            np.array([h["id"] for h in hits], np.int64),
        )

    def similarity(
        self, query: np.ndarray, ids: np.ndarray, space: Space | str = Space.MAIN
    ) -> np.ndarray:
        """Cosine of one unit ``query`` vector with the stored vectors of chunks ``ids``."""
        field = self._field(space)
        ids = [int(i) for i in np.asarray(ids).ravel()]
        if not ids:
            return np.zeros(0, np.float32)
        rows = self.client.get(self.where.name, ids=ids, output_fields=[field])
        vectors = {int(r["id"]): np.asarray(r[field], np.float32) for r in rows}
        q = np.asarray(query, np.float32)
        return np.array([float(vectors[i] @ q) if i in vectors else 0.0 for i in ids], np.float32)

    def engine_hybrid(
        self,
        question: str,
        vector: np.ndarray,
        cross_vector: np.ndarray | None,
        k: int,
        ranker: Callable[[int], Any],
        depth: int = 50,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks fused by Milvus itself (one round trip): its ranker
        (``RRFRanker``, ``WeightedRanker``; ``ranker(n)`` makes it for ``n`` rankings)
        over the top ``depth`` of each vector space and of BM25. The alternative to
        Verbatim's fusion (:mod:`retriever.search`), measured in
        ``python -m eval.milvus_choices``.
        """
        from pymilvus import AnnSearchRequest

        params = {"metric_type": "IP", "params": {"ef": max(HNSW_EF, depth)}}
        reqs = [AnnSearchRequest([np.asarray(vector, np.float32)], "main", params, depth)]
        if cross_vector is not None and self.has(Space.CROSS_LINGUAL):
            vec = np.asarray(cross_vector, np.float32)
            reqs.append(AnnSearchRequest([vec], "cross_lingual", params, depth))
        query = self._lexical_query(question)
        if query.strip():
            reqs.append(AnnSearchRequest([query], "bm25", {"metric_type": "BM25"}, depth))
        hits = self.client.hybrid_search(
            self.where.name, reqs, ranker(len(reqs)), limit=k, output_fields=CHUNK_FIELDS
        )[0]
        hits = self._visible(list(hits))
        return (
            np.array([h["distance"] for h in hits], np.float32),
            np.array([h["id"] for h in hits], np.int64),
        )
