"""The local store: an index folder of immutable generations, read through FAISS and bm25s.

:class:`Index` opens the live generation of a folder (see :mod:`retriever.generations`
and :mod:`retriever.writer` for how one is written) and implements
:class:`retriever.store.Store`. Vectors, the ANN index, BM25 and the texts are
memory-mapped, so memory does not grow with Python objects per chunk. Opening checks every
file against the manifest: a damaged or foreign index is an error naming the command that
rebuilds it, never a wrong answer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from retriever.durable import check_files
from retriever.errors import IndexCorruptError, IndexNotFoundError, rebuild_hint
from retriever.file_bytes import FileBytes
from retriever.generations import CURRENT, live_generation
from retriever.lexical import LexicalIndex
from retriever.manifest import (
    CHUNK_DTYPE,
    DELTA_FORMAT,
    FORMAT_VERSION,
    READABLE_FORMATS,
    SPACE_FILES,
    DocumentRecord,
    Manifest,
)
from retriever.records import Chunk
from retriever.segments import DeltaLexical, JoinedTexts, SegmentedLexical, SegmentedSpace
from retriever.store import Space
from retriever.vectors import SpaceSpec, VectorSpace

__all__ = ["Index"]

#: Opening starts again when the live generation changed under it, at most this often.
_OPEN_ATTEMPTS = 3


class Index:
    """A read-only view of the live generation of an index folder.

    Example:
        >>> idx = Index.open("data/index")          # doctest: +SKIP
        >>> scores, ids = idx.search(query_vectors, k=5)  # doctest: +SKIP
    """

    def __init__(
        self,
        path: Path,
        generation: Path,
        manifest: Manifest,
        main: VectorSpace | SegmentedSpace,
        chunks: np.ndarray,
        texts: FileBytes | JoinedTexts,
        lexical: LexicalIndex | SegmentedLexical,
        cross_lingual: VectorSpace | SegmentedSpace | None = None,
        dead: np.ndarray | None = None,
    ) -> None:
        self.path = path
        self.generation = generation
        self.manifest = manifest
        self.chunks = chunks
        self._texts = texts
        self.lexical = lexical
        #: Rows whose document is gone (format 4, see :mod:`retriever.segments`), sorted.
        self.dead = dead if dead is not None else np.zeros(0, np.int64)
        self._spaces = {Space.MAIN: main, Space.CROSS_LINGUAL: cross_lingual}
        #: Store fields (see :class:`retriever.store.Store`).
        self.location = str(path)
        self.model = manifest.model
        self.dim = manifest.dim
        self.cross_lingual_model = manifest.cross_lingual_model
        self.splitter = manifest.splitter
        self.backend = manifest.backend
        self.version = generation.name
        self._by_source = {d.source: i for i, d in enumerate(manifest.documents)}
        #: The languages of the index's documents (read on every question).
        self.langs: tuple[str, ...] = tuple(sorted({d.lang for d in manifest.documents}))
        #: Each chunk's document language as a small code, so a lookup touches no records.
        codes = {lang: i for i, lang in enumerate(self.langs)}
        self._doc_lang = np.array([codes[d.lang] for d in manifest.documents], np.int16)

    @classmethod
    def exists(cls, path: Path | str) -> bool:
        return (Path(path) / CURRENT).is_file()

    @classmethod
    def open(cls, path: Path | str) -> Index:
        """Open the live generation.

        A generation that another process replaces and removes while it is being opened
        is not an error: the new live one is opened instead.

        Raises:
            IndexNotFoundError: no index at ``path``; the message says how to build one.
            IndexCorruptError: files missing, truncated or inconsistent.
        """
        path = Path(path)
        for _ in range(_OPEN_ATTEMPTS - 1):
            before = live_generation(path)
            try:
                return cls._open(path)
            except IndexCorruptError:
                if live_generation(path) == before:
                    raise
        return cls._open(path)

    @classmethod
    def _open(cls, path: Path) -> Index:
        if not cls.exists(path):
            raise IndexNotFoundError(
                f"no index at {path}; build one with: verbatim ingest YOUR_DOCUMENTS --index {path}"
            )
        try:
            name = (path / CURRENT).read_text(encoding="utf-8").strip()
            if not name.startswith("gen-") or "/" in name or "\\" in name:
                raise ValueError(f"CURRENT names {name[:80]!r}, not a generation")
            gen = path / name
            manifest = Manifest.from_json((gen / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(
                f"the index at {path} is unreadable ({exc}); {rebuild_hint(path)}"
            ) from exc
        if manifest.format not in READABLE_FORMATS:
            raise IndexCorruptError(
                f"the index at {path} has format {manifest.format}, this version reads "
                f"{FORMAT_VERSION}; {rebuild_hint(path)}"
            )
        problem = check_files(gen, manifest.files)
        if problem:
            raise IndexCorruptError(
                f"the index at {path} is damaged ({problem}); {rebuild_hint(path)}"
            )
        try:
            spaces, chunks, texts, size, lexical, dead = _open_files(gen, manifest)
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise IndexCorruptError(
                f"the index at {path} is damaged ({exc}); {rebuild_hint(path)}"
            ) from exc
        ends = [d.byte_end for d in manifest.documents] or [0]
        # With a delta, removed documents may leave bytes after the last live one.
        bytes_ok = max(ends) <= size if manifest.format == DELTA_FORMAT else ends[-1] == size
        main, cross = spaces[Space.MAIN], spaces.get(Space.CROSS_LINGUAL)
        if (
            chunks.dtype != CHUNK_DTYPE
            or len(chunks) != manifest.n_chunks
            or len(main) != len(chunks)
            or (len(chunks) and main.d != manifest.dim)
            or not bytes_ok
            or (cross is not None and len(cross) != len(chunks))
        ):
            raise IndexCorruptError(
                f"the index at {path} is inconsistent ({len(main)} vectors, "
                f"{len(chunks)} chunks, {manifest.n_chunks} in the manifest); {rebuild_hint(path)}"
            )
        return cls(path, gen, manifest, main, chunks, texts, lexical, cross, dead)

    # -- documents --------------------------------------------------------------------------

    @property
    def documents(self) -> tuple[DocumentRecord, ...]:
        return self.manifest.documents

    def document(self, source: str) -> DocumentRecord:
        """The record of ``source``; ``KeyError`` if it is not in the index."""
        return self.manifest.documents[self._by_source[source]]

    def document_text(self, source: str) -> str:
        """The full extracted text of ``source``, the text all offsets refer to."""
        d = self.document(source)
        return bytes(self._texts[d.byte_start : d.byte_end]).decode("utf-8")

    # -- chunks -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.chunks) - len(self.dead)

    def ids(self) -> np.ndarray:
        """Every chunk id: ``0 .. len(self) - 1`` (with a delta, the rows that are not dead)."""
        rows = np.arange(len(self.chunks), dtype=np.int64)
        return np.setdiff1d(rows, self.dead, assume_unique=True) if len(self.dead) else rows

    @property
    def base_rows(self) -> int:
        """Rows of the base segment: all of them unless the generation has a delta."""
        return self.manifest.base_rows if self.manifest.format == DELTA_FORMAT else len(self.chunks)

    def chunk(self, i: int) -> Chunk:
        row = self.chunks[int(i)]
        doc = self.manifest.documents[int(row["doc"])]
        text = bytes(self._texts[int(row["bstart"]) : int(row["bend"])]).decode("utf-8")
        return Chunk(doc.source, int(row["start"]), int(row["end"]), text)

    def _space(self, space: Space | str) -> VectorSpace | SegmentedSpace:
        index = self._spaces.get(Space(space))
        if index is None:
            raise KeyError(f"the index has no {Space(space).name.lower()} vectors")
        return index

    def has(self, space: Space | str) -> bool:
        """True when the chunks are embedded in ``space``."""
        return self._spaces.get(Space(space)) is not None

    def chunk_lang(self, i: int) -> str:
        """The language of the document chunk ``i`` comes from."""
        return self.langs[self._doc_lang[int(self.chunks[int(i)]["doc"])]]

    def vectors(self, start: int, end: int, space: Space | str = Space.MAIN) -> np.ndarray:
        """Stored vectors of chunks ``start..end`` (reused by incremental ingest)."""
        return self._space(space).vectors(int(start), int(end))

    def search(
        self, queries: np.ndarray, k: int, space: Space | str = Space.MAIN
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks per query row: ``(scores, ids)``, each ``(n_queries, k')``.

        ``k' = min(k, len(self))``; scores are cosine similarities, best first.
        """
        k = min(int(k), len(self))
        if k <= 0:
            n = len(queries)
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        return self._space(space).search(queries, k)

    def search_exact(
        self, queries: np.ndarray, k: int, space: Space | str = Space.MAIN
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`search` by brute force, whatever the ANN index: the truth it is measured
        against (recall@10 in ``verbatim bench``)."""
        k = min(int(k), len(self))
        if k <= 0:
            n = len(queries)
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        return self._space(space).exact(queries, k)

    def search_lexical(self, question: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks by BM25 for one question: ``(scores, ids)``, best first."""
        return self.lexical.search(question, k, len(self))

    def similarity(
        self, query: np.ndarray, ids: np.ndarray, space: Space | str = Space.MAIN
    ) -> np.ndarray:
        """Cosine of one unit ``query`` vector with the stored vectors of chunks ``ids``."""
        return self._space(space).similarity(query, ids)


def _open_files(
    gen: Path, manifest: Manifest
) -> tuple[
    dict[Space, VectorSpace | SegmentedSpace],
    np.ndarray,
    FileBytes | JoinedTexts,
    int,
    LexicalIndex | SegmentedLexical,
    np.ndarray | None,
]:
    """Map a generation's files: its spaces, chunk rows, texts (and their size in bytes),
    BM25 and, with a delta, its dead rows."""
    spaces: dict[Space, VectorSpace | SegmentedSpace] = {
        space: VectorSpace.open(
            gen, SPACE_FILES[space.value], SpaceSpec.from_dict(manifest.spaces.get(space.value, {}))
        )
        for space in Space
        if space is Space.MAIN or manifest.cross_lingual_model
    }
    chunks = np.load(gen / "chunks.npy", mmap_mode="r")
    texts = FileBytes(gen / "texts.bin")
    lexical: LexicalIndex | SegmentedLexical = LexicalIndex.load(gen / "lexical")
    if manifest.format != DELTA_FORMAT:
        return spaces, chunks, texts, len(texts), lexical, None
    base_rows = manifest.base_rows
    docs = np.asarray(chunks["doc"][:base_rows])
    dead = np.flatnonzero(docs < 0).astype(np.int64)
    delta = gen / "delta"
    for space, base in list(spaces.items()):
        part = VectorSpace.open(delta, SPACE_FILES[space.value], SpaceSpec())
        if len(base) != base_rows:
            raise ValueError(f"the base holds {len(base)} vectors, not {base_rows}")
        spaces[space] = SegmentedSpace(base, part, dead)  # type: ignore[arg-type]
    delta_texts = FileBytes(delta / "texts.bin")
    joined = JoinedTexts(texts, delta_texts)
    lexical = SegmentedLexical(lexical, DeltaLexical.load(delta / "lexical"), base_rows, dead)  # type: ignore[arg-type]
    return spaces, chunks, joined, len(texts) + len(delta_texts), lexical, dead
