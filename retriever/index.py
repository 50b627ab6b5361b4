"""The on-disk index: a folder of immutable generations and a pointer to the current one.

Layout of an index folder::

    INDEX/
      CURRENT              name of the live generation, swapped atomically (os.replace)
      gen-<time>-<rand>/   one complete, immutable generation
        manifest.json      format, model, dimension, splitter settings, versions, documents
        vectors.npy        the chunks' unit vectors, float32 (inner product = cosine)
        aux_vectors.npy    the same chunks in the cross-lingual model's space, if any
        vectors.faiss      an approximate index over them, for large indexes (and
        aux_vectors.faiss  likewise); see :mod:`retriever.vectors`
        chunks.npy         one row per chunk: document number and char/byte offsets
        texts.bin          every document's extracted text, UTF-8, back to back
        lexical/           BM25 over the chunks (bm25s), stemmed per document language

A writer builds a new generation beside the live one and only then points ``CURRENT`` at
it, so a reader (or a crash at any moment) sees either the old index or the new one, whole.
Chunk texts are never stored twice: a chunk is a slice of its document's text, read from
the memory-mapped ``texts.bin`` by byte offsets, so memory does not grow with Python objects
per chunk; vectors, the ANN index and BM25 are memory-mapped too.
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
from typing import Any

import numpy as np

from retriever.errors import IndexCorruptError, IndexNotFoundError, VerbatimError
from retriever.lexical import LexicalIndex
from retriever.records import Chunk
from retriever.vectors import SpaceSpec, VectorSpace, write_space

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
    "live_generation",
]

#: 3: vectors in memory-mapped .npy files, an ANN index for large indexes (was IndexFlatIP).
FORMAT_VERSION = 3
#: File stems of the two vector spaces.
_SPACE_FILES = {"main": "vectors", "aux": "aux_vectors"}

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
    #: What the index type was chosen by: ``auto`` (by size) or the one asked for; later
    #: updates keep it unless told otherwise.
    index_type_requested: str = "auto"
    #: How the main model was run at ingest (``torch`` or ``onnx-int8``); questions
    #: are embedded the same way unless the reader chooses otherwise.
    backend: str = "torch"
    #: How each vector space is indexed: ``{"main": SpaceSpec dict, "aux": ...}``.
    spaces: dict[str, dict[str, Any]] = field(default_factory=dict)
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
        if digest is None and d.get("format", 0) >= 3:
            raise ValueError("manifest.json has no checksum")
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


def _seal(folder: Path) -> tuple[dict[str, list[Any]], dict[str, list[int]]]:
    """Flush every file under ``folder`` to disk.

    Returns each file's size and sha256, for the manifest, and the :func:`_stat_key` of
    each file that is safe to trust later without hashing it again (see :data:`_STAT_CACHE`).
    """
    files: dict[str, list[Any]] = {}
    stats: dict[str, list[int]] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_dir():
            _fsync_dir(p)
            continue
        name = p.relative_to(folder).as_posix()
        digest = _sha256_file(p, sync=True)
        st = p.stat()
        files[name] = [st.st_size, digest]
        if time.time_ns() - st.st_ctime_ns > _RACY_NS:
            stats[name] = _stat_key(st)
    return files, stats


#: A generation's files are hashed when it is written, and the size, times and inode each
#: file then had are kept in this file beside them. Opening hashes only the files whose
#: ``stat`` no longer matches (any write changes ``ctime``; a copy changes the inode), so a
#: million-chunk index opens without reading its gigabytes. The cache is a shortcut, not a
#: safeguard: when it is missing or damaged, every file is hashed.
_STAT_CACHE = ".stat-cache.json"
#: A file changed within the same clock tick as its last write keeps its ``ctime``; files
#: written less than this long before they were hashed are therefore always hashed again.
_RACY_NS = 2_000_000_000


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _check_files(generation: Path, manifest: Manifest) -> str | None:
    """What is wrong with the generation's files, or None when each matches the manifest."""
    try:
        trusted = json.loads((generation / _STAT_CACHE).read_text(encoding="utf-8"))
        if not isinstance(trusted, dict):
            trusted = {}
    except (OSError, ValueError):
        trusted = {}
    for name, (size, digest) in manifest.files.items():
        p = generation / name
        try:
            st = p.stat()
            if st.st_size != size:
                return f"{name} is {st.st_size} bytes, not {size}"
            if trusted.get(name) == _stat_key(st):
                continue
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
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock = open(path / _LOCK, "a+")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        what = "it is a file, not a folder" if path.is_file() else exc.strerror or str(exc)
        raise VerbatimError(f"cannot keep an index at {path}: {what}") from None
    with lock as f:
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
    index_type: str = "auto",
    backend: str = "torch",
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
        index_type: ``auto`` (exact up to ``FLAT_MAX_CHUNKS``, IVF above), ``flat``,
            ``ivf`` or ``hnsw``; see :mod:`retriever.vectors`.
        backend: how the main model was run, recorded for readers.

    Returns:
        The folder of the new generation.
    """
    from retriever.vectors import choose_index_type

    path = Path(path)
    choose_index_type(len(chunks), index_type)  # a bad name fails before any work
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

    base = dict(
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
        spaces: dict[str, dict[str, Any]] = {}
        for space, vecs in (("main", vectors), ("aux", aux_vectors)):
            if vecs is None:
                continue
            vecs = np.asarray(vecs, dtype=np.float32)
            if vecs.ndim != 2:
                vecs = vecs.reshape(len(chunks), -1) if len(chunks) else np.zeros((0, 0), "f4")
            spaces[space] = write_space(tmp, _SPACE_FILES[space], vecs, index_type).to_dict()
        manifest = Manifest(
            **base,  # type: ignore[arg-type]
            index_type=spaces["main"]["kind"],
            index_type_requested=index_type,
            backend=backend,
            spaces=spaces,
        )
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
        files, stats = _seal(tmp)
        manifest = replace(manifest, files=files)
        _write_file(tmp / "manifest.json", manifest.to_json().encode("utf-8"))
        _write_file(tmp / _STAT_CACHE, json.dumps(stats).encode("utf-8"))
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


#: Opening starts again when the live generation changed under it, at most this often.
_OPEN_ATTEMPTS = 3


def live_generation(path: Path | str) -> str | None:
    """The name of the generation ``CURRENT`` points at, or None when it cannot be read."""
    try:
        return (Path(path) / _CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def remove_leftovers(path: Path | str) -> None:
    """Drop what interrupted writes left behind: generations ``CURRENT`` does not name and
    half-written temporary folders. Call it holding :func:`index_lock`.

    Conservative: when ``CURRENT`` is missing only temporary folders go, and when it names
    no generation on disk nothing is touched, so that a damaged index can still be mended.
    """
    path = Path(path)
    keep = live_generation(path)
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
        main: VectorSpace,
        chunks: np.ndarray,
        texts: mmap.mmap | bytes,
        lexical: LexicalIndex,
        aux: VectorSpace | None = None,
    ) -> None:
        self.path = path
        self.generation = generation
        self.manifest = manifest
        self.chunks = chunks
        self._texts = texts
        self.lexical = lexical
        self._spaces = {"main": main, "aux": aux}
        self._by_source = {d.source: i for i, d in enumerate(manifest.documents)}
        #: The languages of the index's documents (read on every question).
        self.langs: tuple[str, ...] = tuple(sorted({d.lang for d in manifest.documents}))
        #: Each chunk's document language as a small code, so a lookup touches no records.
        codes = {lang: i for i, lang in enumerate(self.langs)}
        self._doc_lang = np.array([codes[d.lang] for d in manifest.documents], np.int16)

    @classmethod
    def exists(cls, path: Path | str) -> bool:
        return (Path(path) / _CURRENT).is_file()

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
            spaces = {
                space: VectorSpace.open(
                    gen, _SPACE_FILES[space], SpaceSpec.from_dict(manifest.spaces.get(space, {}))
                )
                for space in ("main", "aux")
                if space == "main" or manifest.aux_model
            }
            chunks = np.load(gen / "chunks.npy", mmap_mode="r")
            texts_path = gen / "texts.bin"
            size = texts_path.stat().st_size
            if size:
                with open(texts_path, "rb") as f:
                    texts: mmap.mmap | bytes = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            else:
                texts = b""
            lexical = LexicalIndex.load(gen / "lexical")
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise IndexCorruptError(
                f"the index at {path} is damaged ({exc}); {rebuild_hint(path)}"
            ) from exc
        expected_bytes = manifest.documents[-1].byte_end if manifest.documents else 0
        main, aux = spaces["main"], spaces.get("aux")
        if (
            chunks.dtype != CHUNK_DTYPE
            or len(chunks) != manifest.n_chunks
            or len(main) != len(chunks)
            or (len(chunks) and main.d != manifest.dim)
            or size != expected_bytes
            or (aux is not None and len(aux) != len(chunks))
        ):
            raise IndexCorruptError(
                f"the index at {path} is inconsistent ({len(main)} vectors, "
                f"{len(chunks)} chunks, {manifest.n_chunks} in the manifest); {rebuild_hint(path)}"
            )
        return cls(path, gen, manifest, main, chunks, texts, lexical, aux)

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

    def _space(self, space: str) -> VectorSpace:
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
        return self.langs[self._doc_lang[int(self.chunks[int(i)]["doc"])]]

    def vectors(self, start: int, end: int, space: str = "main") -> np.ndarray:
        """Stored vectors of chunks ``start..end`` (reused by incremental ingest).

        Args:
            space: ``main`` (the index's model) or ``aux`` (the cross-lingual encoder).
        """
        return self._space(space).vectors(int(start), int(end))

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
        return self._space(space).search(queries, k)

    def search_lexical(self, question: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks by BM25 for one question: ``(scores, ids)``, best first."""
        return self.lexical.search(question, k, len(self))

    def similarity(self, query: np.ndarray, ids: np.ndarray, space: str = "main") -> np.ndarray:
        """Cosine of one unit ``query`` vector with the stored vectors of chunks ``ids``."""
        return self._space(space).similarity(query, ids)
