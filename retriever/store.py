"""What the answerer needs of an index: the :class:`Store` interface and its vector spaces.

A store holds chunks of documents, each embedded in one or two vector spaces and indexed
for BM25, and the documents' texts that quotes and the viewer slice. The local index
(:class:`retriever.index.Index`: FAISS and bm25s in a folder) is the first store; the
Milvus store (:class:`retriever.milvus_store.MilvusStore`) the second. Each implements the
same methods and passes the same contract tests (``tests/test_store_contract.py``).

Example:
    >>> scores, ids = store.search(vectors[None, :], 10, Space.MAIN)  # doctest: +SKIP
    >>> store.chunk(int(ids[0, 0])).text                              # doctest: +SKIP
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from retriever.manifest import DocumentRecord
    from retriever.records import Chunk

__all__ = ["Space", "Store"]


class Space(StrEnum):
    """A vector space of a store.

    ``MAIN`` is the index's own model (all-MiniLM-L6-v2 by default); ``CROSS_LINGUAL`` the
    multilingual model beside it, which maps a question and its answer near each other
    whatever their languages. The values are the spaces' names in index manifests.
    """

    MAIN = "main"
    CROSS_LINGUAL = "aux"


@runtime_checkable
class Store(Protocol):
    """A searchable collection of chunks and the texts of their documents.

    Chunk ids are whole numbers the store hands out, listed by :meth:`ids`: the local index
    numbers its chunks ``0 .. len(store) - 1``, a Milvus store gives each chunk a stable id
    from its document's hash and offsets. Scores are cosine similarities of unit vectors
    (BM25 scores for :meth:`search_lexical`), best first.
    """

    #: Where the store lives, for messages (a folder, a URI).
    location: str
    #: The main model's name and dimension, and the cross-lingual model's (None: no such
    #: space), as the store was built with them.
    model: str
    dim: int
    cross_lingual_model: str | None
    #: The languages of the store's documents.
    langs: tuple[str, ...]
    #: The splitter settings and the main model's backend at ingest (a store's additions
    #: are made the same way).
    splitter: dict[str, Any]
    backend: str
    #: Changes whenever the store's content does (a generation's name, a version row);
    #: servers compare it with :func:`retriever.stores.current_version` to follow.
    version: str

    def __len__(self) -> int: ...

    @property
    def documents(self) -> tuple[DocumentRecord, ...]: ...

    def ids(self) -> np.ndarray:
        """Every chunk id, ascending."""
        ...

    def has(self, space: Space) -> bool:
        """True when the chunks are embedded in ``space``."""
        ...

    def search(
        self, queries: np.ndarray, k: int, space: Space = Space.MAIN
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks per query row: ``(scores, ids)``, each ``(n_queries, k')``,
        ``k' = min(k, len(self))``; an id of -1 pads a row with fewer hits."""
        ...

    def search_lexical(self, question: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks by BM25 for one question: ``(scores, ids)``, best first; only
        chunks sharing a word with the question."""
        ...

    def similarity(
        self, query: np.ndarray, ids: np.ndarray, space: Space = Space.MAIN
    ) -> np.ndarray:
        """Cosine of one unit ``query`` vector with the stored vectors of chunks ``ids``."""
        ...

    def chunk(self, i: int) -> Chunk:
        """Chunk ``i``: its document, offsets and text (a slice of the document's text)."""
        ...

    def chunk_lang(self, i: int) -> str:
        """The language of the document chunk ``i`` comes from."""
        ...

    def document(self, source: str) -> DocumentRecord:
        """The record of ``source``; ``KeyError`` if the store does not hold it."""
        ...

    def document_text(self, source: str) -> str:
        """The full extracted text of ``source``, the text all offsets refer to."""
        ...
