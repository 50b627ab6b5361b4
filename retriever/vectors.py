"""Vector spaces on disk: exact vectors in a memory-mapped ``.npy``, an ANN index beside them.

Every generation keeps each space's unit vectors as float32 in ``NAME.npy``, loaded
memory-mapped: incremental ingest reuses them, candidate scores are exact cosines read
from them, and below :data:`FLAT_MAX_CHUNKS` chunks search is exact (one matrix-vector
product over the mapped rows, a few milliseconds at 100k chunks). Above it, an
approximate FAISS index (``NAME.faiss``, memory-mapped too) proposes candidates and the
exact vectors re-score them, so the scores a caller sees are true cosines whatever the
index. The kinds, measured by ``verbatim bench`` (see README, "Performance"):

- ``flat``: exact; cost grows linearly (about 25 ms per space at 1M chunks on 2 cores).
- ``ivf``: ``IVF{nlist},SQ8`` — k-means cells, 8-bit scalar-quantised codes (a quarter of
  float32), ``nprobe`` cells searched. Builds in minutes at 1M chunks.
- ``hnsw``: ``HNSW32,SQ8`` — a graph over the same codes; fast search, slow build.

Example:
    >>> space = VectorSpace.open(generation, "vectors", spec)   # doctest: +SKIP
    >>> scores, ids = space.search(query[None, :], k=10)        # doctest: +SKIP
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retriever import durable
from retriever.errors import BadArgumentError
from retriever.file_bytes import FileBytes
from retriever.settings import INDEX_TYPES

if TYPE_CHECKING:
    import faiss

__all__ = [
    "INDEX_TYPES",
    "FLAT_MAX_CHUNKS",
    "SpaceSpec",
    "VectorSpace",
    "choose_index_type",
    "write_space",
]

#: Up to this many chunks ``auto`` searches exactly; above it, an IVF index.
FLAT_MAX_CHUNKS = 200_000
#: Candidates the ANN index proposes per wanted hit, re-scored exactly (recall over speed).
REFINE_FACTOR = 4
#: k-means of an IVF index: training points per cell (faiss warns below 39) and rounds.
KMEANS_POINTS_PER_CELL = 40
KMEANS_ROUNDS = 6
#: An ANN index is tuned at build time (nprobe or efSearch) until its recall@10 against
#: exact search, on sample queries drawn from the data, reaches this.
TARGET_RECALL = 0.97
#: The tuned value is within ``1/TUNE_STEPS`` of the smallest that reaches TARGET_RECALL.
TUNE_STEPS = 16


@dataclass(frozen=True)
class SpaceSpec:
    """How one vector space of a generation is indexed (recorded in the manifest).

    Attributes:
        kind: ``flat``, ``ivf`` or ``hnsw``.
        factory: the FAISS factory string (empty for ``flat``).
        nprobe: IVF cells searched per query (higher: better recall, slower).
        ef_search: HNSW candidate list size (higher: better recall, slower).
    """

    kind: str = "flat"
    factory: str = ""
    nprobe: int = 0
    ef_search: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpaceSpec:
        return cls(**d)


def choose_index_type(n: int, requested: str = "auto") -> str:
    """The index kind for ``n`` chunks: ``requested`` unless it is ``auto``.

    Raises:
        BadArgumentError: an unknown kind.

    Example:
        >>> choose_index_type(1_000), choose_index_type(1_000_000)
        ('flat', 'ivf')
    """
    if requested not in INDEX_TYPES:
        raise BadArgumentError(f"index type {requested!r} is not one of {', '.join(INDEX_TYPES)}")
    if requested != "auto":
        return requested
    return "flat" if n <= FLAT_MAX_CHUNKS else "ivf"


def _spec_for(kind: str, n: int) -> SpaceSpec:
    if kind == "flat":
        return SpaceSpec()
    if kind == "ivf":
        # About 4·sqrt(n) cells, a power of two, each with at least ~40 training points.
        nlist = 2 ** max(4, round(math.log2(max(16.0, 4 * math.sqrt(n)))))
        nlist = max(1, min(nlist, n // 39))
        return SpaceSpec("ivf", f"IVF{nlist},SQ8", nprobe=min(nlist, 8))
    return SpaceSpec("hnsw", "HNSW32,SQ8", ef_search=16)


def _sample_queries(vectors: np.ndarray, n: int = 200, seed: int = 0) -> np.ndarray:
    """Queries like the data but not in it: midpoints of random pairs of rows."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(vectors), (2, n))
    q = np.asarray(vectors[np.sort(a)], np.float32) + np.asarray(vectors[np.sort(b)], np.float32)
    return q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)


def recall_at(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each row of ``exact`` ids found in the same row of ``found``."""
    k = exact.shape[1]
    return float(np.mean([len(set(f) & set(e)) / k for f, e in zip(found, exact, strict=True)]))


def _tune(vectors: np.ndarray, spec: SpaceSpec, ann: faiss.Index) -> SpaceSpec:
    """The smallest nprobe / efSearch whose recall@10 on sample queries reaches
    TARGET_RECALL, to within a sixteenth: doubled until it does, then halved back
    between the last value that fell short and the first that reached it."""
    queries = _sample_queries(vectors)
    exact = VectorSpace(vectors, SpaceSpec(), None).exact(queries, 10)[1]
    field_name, limit = ("nprobe", faiss_nlist(ann)) if spec.kind == "ivf" else ("ef_search", 4096)

    def at(value: int) -> SpaceSpec:
        return SpaceSpec(**{**spec.to_dict(), field_name: value})

    def reaches(value: int) -> bool:
        found = VectorSpace(vectors, at(value), ann).search(queries, 10)[1]
        return recall_at(found, exact) >= TARGET_RECALL

    short, enough = 0, getattr(spec, field_name)
    while not reaches(enough):
        if enough >= limit:
            return at(enough)
        short, enough = enough, min(limit, enough * 2)
    while enough - short > max(1, enough // TUNE_STEPS):
        middle = (short + enough) // 2
        short, enough = (short, middle) if reaches(middle) else (middle, enough)
    return at(enough)


def faiss_nlist(ann: faiss.Index) -> int:
    import faiss

    return int(faiss.extract_index_ivf(ann).nlist)


def write_space(folder: Path, name: str, vectors: np.ndarray, index_type: str) -> SpaceSpec:
    """Write ``NAME.npy`` (and ``NAME.faiss`` for an ANN kind) into ``folder``.

    Args:
        folder: the generation being written.
        name: file stem, e.g. ``vectors`` or ``aux_vectors``.
        vectors: ``(n, dim)`` unit rows.
        index_type: ``auto``, ``flat``, ``ivf`` or ``hnsw`` (see :func:`choose_index_type`).

    Returns:
        The spec to record in the manifest.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    with durable.flushed(folder / f"{name}.npy") as f:
        np.save(f, vectors)
    n = len(vectors)
    kind = choose_index_type(n, index_type)
    if kind != "flat" and n < 2:
        kind = "flat"  # nothing to cluster or link
    spec = _spec_for(kind, n)
    if kind == "flat":
        return spec
    import faiss

    index = faiss.index_factory(int(vectors.shape[1]), spec.factory, faiss.METRIC_INNER_PRODUCT)
    if kind == "ivf":
        ivf = faiss.extract_index_ivf(index)
        nlist = ivf.nlist
        # k-means needs ~40 points per cell and is near settled after 6 rounds: more of
        # either costs build time (10 rounds: 1.6x the training at 1M chunks), and the
        # nprobe the build tunes to makes up the rest (96 -> 112 in the main space at 1M,
        # 320 in the cross-lingual one either way).
        ivf.cp.niter = KMEANS_ROUNDS
        sample = min(n, KMEANS_POINTS_PER_CELL * nlist)
        rng = np.random.default_rng(0)
        train = vectors if sample == n else vectors[np.sort(rng.choice(n, sample, replace=False))]
        index.train(train)
    else:
        index.train(vectors)
    for i in range(0, n, 65536):
        index.add(vectors[i : i + 65536])
    faiss.write_index(index, str(folder / f"{name}.faiss"))
    return _tune(vectors, spec, index)


class VectorSpace:
    """One memory-mapped vector space of an index generation, searched as its spec says."""

    def __init__(
        self,
        vectors: np.ndarray,
        spec: SpaceSpec,
        ann: faiss.Index | None,
        path: Path | None = None,
    ) -> None:
        self._vectors = vectors
        self.spec = spec
        self._ann = ann
        if ann is not None:
            self._tune(ann)
        # With an ANN index, single rows are read by offset rather than through the map:
        # a page fault maps its neighbours too (fault-around), so a million-row map read
        # at random would fill the process's resident memory with rows nobody asked for.
        self._file: FileBytes | None = None
        if ann is not None and path is not None and isinstance(vectors, np.memmap):
            self._file = FileBytes(path)
            self._offset = int(vectors.offset)
            self._row_bytes = int(vectors.shape[1]) * 4

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """Rows ``ids`` (sorted) as a new array."""
        if self._file is None:
            return np.asarray(self._vectors[ids], dtype=np.float32)
        size, base = self._row_bytes, self._offset
        data = b"".join(self._file[base + i * size : base + (i + 1) * size] for i in ids.tolist())
        return np.frombuffer(data, dtype=np.float32).reshape(len(ids), -1)

    def _tune(self, ann: faiss.Index) -> None:
        import faiss

        if self.spec.kind == "ivf":
            faiss.extract_index_ivf(ann).nprobe = self.spec.nprobe
        elif self.spec.kind == "hnsw":
            faiss.downcast_index(ann).hnsw.efSearch = self.spec.ef_search

    @classmethod
    def open(cls, folder: Path, name: str, spec: SpaceSpec) -> VectorSpace:
        """Map ``NAME.npy`` and, for an ANN kind, ``NAME.faiss`` (read-only, mmapped).

        Raises:
            OSError, ValueError, RuntimeError: missing or damaged files (the caller turns
                them into :class:`~retriever.errors.IndexCorruptError`).
        """
        vectors = np.load(folder / f"{name}.npy", mmap_mode="r")
        if vectors.dtype != np.float32 or vectors.ndim != 2:
            raise ValueError(f"{name}.npy holds {vectors.dtype} {vectors.shape}, not float32 rows")
        ann = None
        if spec.kind != "flat":
            import faiss

            # Mapped in place, read-only (the file never changes: a write is a new
            # generation). MMAP_IFC maps the codes as plain arrays, which faiss scans
            # faster than IO_FLAG_MMAP's on-disk lists (README, "Performance", Scale).
            ann = faiss.read_index(str(folder / f"{name}.faiss"), faiss.IO_FLAG_MMAP_IFC)
            if ann.ntotal != len(vectors):
                raise ValueError(f"{name}.faiss holds {ann.ntotal} vectors, not {len(vectors)}")
        return cls(vectors, spec, ann, folder / f"{name}.npy")

    @property
    def d(self) -> int:
        return int(self._vectors.shape[1])

    def __len__(self) -> int:
        return len(self._vectors)

    def vectors(self, start: int, end: int) -> np.ndarray:
        """Rows ``start..end`` as a new float32 array."""
        return np.array(self._vectors[start:end], dtype=np.float32)

    def similarity(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact cosine of a unit ``query`` with the rows ``ids``."""
        if len(ids) == 0:
            return np.zeros(0, np.float32)
        ids = np.asarray(ids, dtype=np.int64)
        order = np.argsort(ids)  # sorted reads are kinder to a mapped file
        out = np.empty(len(ids), np.float32)
        out[order] = self.rows(ids[order]) @ np.asarray(query, dtype=np.float32)
        return out

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows per query by exact cosine: ``(scores, ids)``, best first.

        With an ANN index, ``REFINE_FACTOR · k`` candidates come from it and are re-scored
        exactly; a query may then get fewer than ``k`` ids, padded with -1.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        n = len(self._vectors)
        k = min(int(k), n)
        if self._ann is None:
            return self.exact(queries, k)
        _, cand = self._ann.search(queries, min(n, max(k, REFINE_FACTOR * k)))
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        for row, (q, c) in enumerate(zip(queries, cand, strict=True)):
            c = c[c >= 0]
            s = self.similarity(q, c)
            top = np.argsort(-s, kind="stable")[:k]
            scores[row, : len(top)], ids[row, : len(top)] = s[top], c[top]
        return scores, ids

    def exact(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows per query by brute force over every stored vector (what an ANN
        index is measured against). Equal scores rank by row number."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(int(k), len(self._vectors))
        nq = len(queries)
        best_s = [np.empty(0, np.float32)] * nq
        best_i = [np.empty(0, np.int64)] * nq
        # Blocks of rows keep the temporary small and the mapped pages streaming; each
        # block is read once for all the queries (a build's recall check asks hundreds).
        block = 262_144 if nq == 1 else max(4096, (64 << 20) // (4 * nq))
        for lo in range(0, len(self._vectors), block):
            rows = self._vectors[lo : lo + block]
            for row, s in enumerate(_block_scores(rows, queries)):
                take = min(k, len(s))
                part = np.argpartition(-s, take - 1)[:take]
                best_s[row] = np.concatenate([best_s[row], s[part]])
                best_i[row] = np.concatenate([best_i[row], part + lo])
        scores = np.empty((nq, k), np.float32)
        ids = np.empty((nq, k), np.int64)
        for row in range(nq):
            order = np.lexsort((best_i[row], -best_s[row]))[:k]
            scores[row], ids[row] = best_s[row][order], best_i[row][order]
        return scores, ids


def _block_scores(rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``(n_queries, len(rows))`` cosines; one query is a matrix-vector product."""
    if len(queries) == 1:
        return (rows @ queries[0])[None, :]
    return np.ascontiguousarray((rows @ queries.T).T)
