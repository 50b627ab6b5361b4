"""The on-disk index: a folder of immutable generations and a pointer to the current one.

Layout of an index folder::

    INDEX/
      CURRENT              name of the live generation, swapped atomically (os.replace)
      gen-<time>-<rand>/   one complete, immutable generation
        manifest.json      format, model, dimension, splitter settings, versions, documents
        index.faiss        the vectors (inner product on unit vectors = cosine)
        aux.faiss          the same chunks in the cross-lingual model's space, if any
        chunks.npy         one row per chunk: document number and char/byte offsets
        texts.bin          every document's extracted text, UTF-8, back to back
        lexical/           BM25 over the chunks (bm25s), stemmed per document language

A writer builds a new generation beside the live one and only then points ``CURRENT`` at
it, so a reader (or a crash at any moment) sees either the old index or the new one, whole.
Chunk texts are never stored twice: a chunk is a slice of its document's text, read from
the memory-mapped ``texts.bin`` by byte offsets, so memory does not grow with Python objects
per chunk.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retriever.errors import IndexCorruptError, IndexNotFoundError, VerbatimError
from retriever.lexical import LexicalIndex
from retriever.records import Chunk

if TYPE_CHECKING:
    import faiss

__all__ = [
    "FORMAT_VERSION",
    "CHUNK_DTYPE",
    "DocumentRecord",
    "Manifest",
    "Index",
    "write_generation",
    "index_lock",
    "rebuild_hint",
    "remove_leftovers",
]

FORMAT_VERSION = 2

#: One row per chunk. ``doc`` indexes ``Manifest.documents``; ``start``/``end`` are character
#: offsets into the document text, ``bstart``/``bend`` byte offsets into ``texts.bin``.
CHUNK_DTYPE = np.dtype(
    [("doc", "<i4"), ("start", "<i8"), ("end", "<i8"), ("bstart", "<i8"), ("bend", "<i8")]
)

_CURRENT = "CURRENT"
_LOCK = ".lock"


def rebuild_hint(path: Path | str) -> str:
    return f"rebuild it with: verbatim ingest YOUR_DOCUMENTS --index {path}"


@dataclass(frozen=True)
class DocumentRecord:
    """What the index knows of one document.

    Attributes:
        source: path relative to the ingested folder (the citation's ``source``).
        title: a human title (HTML ``<title>``, a first heading, or the file name).
        sha256: hash of the file's bytes; an unchanged hash means nothing to redo.
        format: reader that extracted the text (``text``, ``html``, ``pdf``, ``docx``).
        lang: ISO 639-1 code of the text's main language.
        n_chars: length of the extracted text.
        byte_start, byte_end: where the text stands in ``texts.bin``.
        chunk_start, chunk_end: the document's rows in ``chunks.npy`` (half-open).
        excluded: character ranges of debris (navigation, widget labels) kept out of
            chunks and quotes; the text itself is unchanged so offsets stay true.
    """

    source: str
    title: str
    sha256: str
    format: str
    lang: str
    n_chars: int
    byte_start: int
    byte_end: int
    chunk_start: int
    chunk_end: int
    excluded: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DocumentRecord:
        d = dict(d)
        d["excluded"] = tuple(tuple(x) for x in d.get("excluded", ()))
        return cls(**d)


@dataclass(frozen=True)
class Manifest:
    """The settings an index was built with; loading checks them against the reader's."""

    model: str
    dim: int
    splitter: dict[str, Any]
    documents: tuple[DocumentRecord, ...]
    normalized: bool = True
    metric: str = "inner_product"
    index_type: str = "flat"
    #: The second, cross-lingual encoder and its dimension (None: not used).
    aux_model: str | None = None
    aux_dim: int = 0
    format: int = FORMAT_VERSION
    versions: dict[str, str] = field(default_factory=dict)
    created: str = ""
    #: Every other file of the generation: relative path → ``[bytes, sha256]``; loading
    #: checks them, so a damaged file is an error, never a wrong answer.
    files: dict[str, list[Any]] = field(default_factory=dict)

    def to_json(self) -> str:
        d = asdict(self)
        d["documents"] = [asdict(doc) for doc in self.documents]
        d["digest"] = _digest(d)
        return json.dumps(d, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse a manifest.

        Raises:
            ValueError: not JSON, or it does not match its own digest (a damaged file).
        """
        d = json.loads(text)
        digest = d.pop("digest", None)
        if digest is not None and digest != _digest(d):
            raise ValueError("manifest.json does not match its checksum")
        d["documents"] = tuple(DocumentRecord.from_dict(x) for x in d["documents"])
        return cls(**d)

    @property
    def n_chunks(self) -> int:
        return self.documents[-1].chunk_end if self.documents else 0


def _digest(d: dict[str, Any]) -> str:
    """sha256 of a manifest's fields (without ``digest``), written in one canonical way."""
    body = json.dumps(d, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _sha256_file(path: Path, sync: bool = False) -> str:
    """sha256 of a file's bytes; with ``sync``, also flush the file to disk."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
        if sync:
            os.fsync(f.fileno())
    return h.hexdigest()


def _seal(folder: Path) -> dict[str, list[Any]]:
    """Flush every file under ``folder`` to disk and return its size and sha256."""
    out: dict[str, list[Any]] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_dir():
            _fsync_dir(p)
        else:
            out[p.relative_to(folder).as_posix()] = [p.stat().st_size, _sha256_file(p, sync=True)]
    return out


def _check_files(generation: Path, manifest: Manifest) -> str | None:
    """What is wrong with the generation's files, or None when each matches the manifest."""
    for name, (size, digest) in manifest.files.items():
        p = generation / name
        try:
            actual = p.stat().st_size
            if actual != size:
                return f"{name} is {actual} bytes, not {size}"
            if _sha256_file(p) != digest:
                return f"{name} does not match its checksum"
        except OSError as exc:
            return f"{name}: {exc.strerror or exc}"
    return None


def _package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("verbatim", "faiss-cpu", "sentence-transformers", "langchain-text-splitters"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


@contextmanager
def index_lock(path: Path | str) -> Iterator[None]:
    """Hold an exclusive lock on an index folder so two writers never interleave."""
    import fcntl

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / _LOCK, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise VerbatimError(
                f"another ingest is writing to {path}; wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def write_generation(
    path: Path | str,
    *,
    model: str,
    splitter: dict[str, Any],
    documents: list[DocumentRecord],
    texts: list[str],
    chunks: np.ndarray,
    vectors: np.ndarray,
    aux_model: str | None = None,
    aux_vectors: np.ndarray | None = None,
) -> Path:
    """Write a complete new generation and make it the live one, atomically.

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
        aux_model, aux_vectors: the cross-lingual encoder's name and its unit rows for
            the same chunks, or None.

    Returns:
        The folder of the new generation.
    """
    import faiss

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    if (aux_model is None) != (aux_vectors is None) or (
        aux_vectors is not None and len(aux_vectors) != len(chunks)
    ):
        raise ValueError("aux_model and aux_vectors go together, one row per chunk")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dim = int(vectors.shape[1]) if vectors.ndim == 2 and vectors.shape[1] else 0

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

    manifest = Manifest(
        model=model,
        dim=dim,
        splitter=splitter,
        documents=tuple(records),
        aux_model=aux_model,
        aux_dim=int(aux_vectors.shape[1])
        if aux_vectors is not None and aux_vectors.ndim == 2
        else 0,
        versions=_package_versions(),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    name = f"gen-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"
    tmp = path / f".tmp-{name}"
    tmp.mkdir()
    try:
        for filename, vecs in (("index.faiss", vectors), ("aux.faiss", aux_vectors)):
            if vecs is None:
                continue
            vecs = np.ascontiguousarray(vecs, dtype=np.float32)
            index = faiss.IndexFlatIP(int(vecs.shape[1]) if vecs.ndim == 2 and vecs.shape[1] else 1)
            if len(vecs):
                index.add(vecs)
            faiss.write_index(index, str(tmp / filename))
        with open(tmp / "chunks.npy", "wb") as f:
            np.save(f, chunks)
            f.flush()
            os.fsync(f.fileno())
        _write_file(tmp / "texts.bin", b"".join(blobs))
        lexical = LexicalIndex.build(
            (text[int(r["start"]) : int(r["end"])], doc.lang)
            for doc, text in zip(records, texts, strict=True)
            for r in chunks[doc.chunk_start : doc.chunk_end]
        )
        (tmp / "lexical").mkdir()
        lexical.save(tmp / "lexical")
        manifest = replace(manifest, files=_seal(tmp))
        _write_file(tmp / "manifest.json", manifest.to_json().encode("utf-8"))
        _fsync_dir(tmp)
        final = path / name
        os.rename(tmp, final)
        _write_file(path / f".{_CURRENT}.tmp", name.encode())
        os.replace(path / f".{_CURRENT}.tmp", path / _CURRENT)
        _fsync_dir(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _remove_stale(path, keep=name)
    return final


def remove_leftovers(path: Path | str) -> None:
    """Drop what interrupted writes left behind: generations ``CURRENT`` does not name and
    half-written temporary folders. Call it holding :func:`index_lock`.

    Conservative: when ``CURRENT`` is missing only temporary folders go, and when it names
    no generation on disk nothing is touched, so that a damaged index can still be mended.
    """
    path = Path(path)
    try:
        keep = (path / _CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        keep = None
    if keep is None:
        for child in path.glob(".tmp-gen-*"):
            shutil.rmtree(child, ignore_errors=True)
    elif keep.startswith("gen-") and (path / keep).is_dir():
        _remove_stale(path, keep)
        (path / f".{_CURRENT}.tmp").unlink(missing_ok=True)


def _remove_stale(path: Path, keep: str) -> None:
    """Drop generations and leftovers other than ``keep`` (readers hold open files)."""
    for child in path.iterdir():
        if (
            child.is_dir()
            and child.name != keep
            and (child.name.startswith("gen-") or child.name.startswith(".tmp-gen-"))
        ):
            shutil.rmtree(child, ignore_errors=True)


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
        faiss_index: faiss.Index,
        chunks: np.ndarray,
        texts: mmap.mmap | bytes,
        lexical: LexicalIndex,
        aux_index: faiss.Index | None = None,
    ) -> None:
        self.path = path
        self.generation = generation
        self.manifest = manifest
        self.chunks = chunks
        self._texts = texts
        self.lexical = lexical
        self._spaces = {"main": faiss_index, "aux": aux_index}
        self._by_source = {d.source: i for i, d in enumerate(manifest.documents)}
        #: The languages of the index's documents (read on every question).
        self.langs: tuple[str, ...] = tuple(sorted({d.lang for d in manifest.documents}))

    @classmethod
    def exists(cls, path: Path | str) -> bool:
        return (Path(path) / _CURRENT).is_file()

    @classmethod
    def open(cls, path: Path | str) -> Index:
        """Open the live generation.

        Raises:
            IndexNotFoundError: no index at ``path``; the message says how to build one.
            IndexCorruptError: files missing, truncated or inconsistent.
        """
        import faiss

        path = Path(path)
        if not cls.exists(path):
            raise IndexNotFoundError(
                f"no index at {path}; build one with: verbatim ingest YOUR_DOCUMENTS --index {path}"
            )
        try:
            name = (path / _CURRENT).read_text(encoding="utf-8").strip()
            if not name.startswith("gen-") or "/" in name or "\\" in name:
                raise ValueError(f"CURRENT names {name[:80]!r}, not a generation")
            gen = path / name
            manifest = Manifest.from_json((gen / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexCorruptError(
                f"the index at {path} is unreadable ({exc}); {rebuild_hint(path)}"
            ) from exc
        if manifest.format != FORMAT_VERSION:
            raise IndexCorruptError(
                f"the index at {path} has format {manifest.format}, this version reads "
                f"{FORMAT_VERSION}; {rebuild_hint(path)}"
            )
        problem = _check_files(gen, manifest)
        if problem:
            raise IndexCorruptError(
                f"the index at {path} is damaged ({problem}); {rebuild_hint(path)}"
            )
        try:
            faiss_index = faiss.read_index(str(gen / "index.faiss"))
            chunks = np.load(gen / "chunks.npy", mmap_mode="r")
            texts_path = gen / "texts.bin"
            size = texts_path.stat().st_size
            if size:
                with open(texts_path, "rb") as f:
                    texts: mmap.mmap | bytes = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            else:
                texts = b""
            lexical = LexicalIndex.load(gen / "lexical")
            aux = faiss.read_index(str(gen / "aux.faiss")) if manifest.aux_model else None
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise IndexCorruptError(
                f"the index at {path} is damaged ({exc}); {rebuild_hint(path)}"
            ) from exc
        expected_bytes = manifest.documents[-1].byte_end if manifest.documents else 0
        if (
            chunks.dtype != CHUNK_DTYPE
            or len(chunks) != manifest.n_chunks
            or faiss_index.ntotal != len(chunks)
            or (len(chunks) and faiss_index.d != manifest.dim)
            or size != expected_bytes
            or (aux is not None and aux.ntotal != len(chunks))
        ):
            raise IndexCorruptError(
                f"the index at {path} is inconsistent ({faiss_index.ntotal} vectors, "
                f"{len(chunks)} chunks, {manifest.n_chunks} in the manifest); {rebuild_hint(path)}"
            )
        return cls(path, gen, manifest, faiss_index, chunks, texts, lexical, aux)

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
        return len(self.chunks)

    def chunk(self, i: int) -> Chunk:
        row = self.chunks[int(i)]
        doc = self.manifest.documents[int(row["doc"])]
        text = bytes(self._texts[int(row["bstart"]) : int(row["bend"])]).decode("utf-8")
        return Chunk(doc.source, int(row["start"]), int(row["end"]), text)

    def _space(self, space: str) -> faiss.Index:
        index = self._spaces.get(space)
        if index is None:
            raise KeyError(f"the index has no {space!r} vectors")
        return index

    @property
    def has_aux(self) -> bool:
        """True when the chunks are also embedded with a cross-lingual encoder."""
        return self._spaces["aux"] is not None

    def chunk_lang(self, i: int) -> str:
        """The language of the document chunk ``i`` comes from."""
        return self.manifest.documents[int(self.chunks[int(i)]["doc"])].lang

    def vectors(self, start: int, end: int, space: str = "main") -> np.ndarray:
        """Stored vectors of chunks ``start..end`` (reused by incremental ingest).

        Args:
            space: ``main`` (the index's model) or ``aux`` (the cross-lingual encoder).
        """
        index = self._space(space)
        if end <= start:
            return np.zeros((0, index.d), dtype=np.float32)
        return index.reconstruct_n(int(start), int(end - start))

    def search(
        self, queries: np.ndarray, k: int, space: str = "main"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks per query row: ``(scores, ids)``, each ``(n_queries, k')``.

        ``k' = min(k, len(self))``; scores are cosine similarities, best first.
        """
        k = min(int(k), len(self))
        if k <= 0:
            n = len(queries)
            return np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64)
        return self._space(space).search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def search_lexical(self, question: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks by BM25 for one question: ``(scores, ids)``, best first."""
        return self.lexical.search(question, k, len(self))

    def similarity(self, query: np.ndarray, ids: np.ndarray, space: str = "main") -> np.ndarray:
        """Cosine of one unit ``query`` vector with the stored vectors of chunks ``ids``."""
        if len(ids) == 0:
            return np.zeros(0, np.float32)
        index = self._space(space)
        vectors = np.stack([index.reconstruct(int(i)) for i in ids])
        return vectors @ np.asarray(query, dtype=np.float32)
