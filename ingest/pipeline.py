"""Ingest: files in, an up-to-date index out, doing only the work that changed.

A run mirrors the given paths into the index: new files are added, changed ones
(different bytes) replaced, vanished ones dropped, unchanged ones reused without reading
or embedding them again. When nothing changed, nothing is written and the model is not
even loaded. Every write is a new generation swapped in atomically (see
:mod:`retriever.index`), so an interrupted run leaves the previous index intact.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ingest.clean import debris_spans, quotable_segments
from ingest.readers import DEFAULT_LIMITS, SUPPORTED, ReadLimits, UnreadableDocument
from ingest.sandbox import read_isolated
from ingest.split import DEFAULT_SPLITTER, SplitterSettings, split_spans
from retriever.encoder import Encoder, load_encoder, resolve_model
from retriever.errors import IndexCorruptError, IndexMismatchError, VerbatimError
from retriever.index import (
    CHUNK_DTYPE,
    DocumentRecord,
    Index,
    index_lock,
    rebuild_hint,
    remove_leftovers,
    write_generation,
)
from retriever.language import detect_language
from retriever.multilingual import DEFAULT_AUX_MODEL, check_aux_model, load_aux_encoder
from retriever.vectors import choose_index_type

__all__ = ["IngestReport", "BadPathError", "ingest", "collect_files", "detect_language"]

log = logging.getLogger("verbatim.ingest")

#: Texts embedded per batch (larger: faster, more memory).
BATCH_SIZE = 64


class BadPathError(VerbatimError, FileNotFoundError):
    """A path given to ingest does not exist."""


@dataclass
class IngestReport:
    """What an ingest run did; ``wrote`` is False when the index was already current."""

    index: Path
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    wrote: bool = False
    note: str = ""

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.removed)} removed",
            f"{len(self.unchanged)} unchanged",
            f"{len(self.skipped)} skipped",
        ]
        state = "index updated" if self.wrote else "index already up to date"
        return (
            f"{state}: {', '.join(parts)}; {self.chunks} chunks ({self.embedded} embedded) "
            f"in {self.seconds:.1f}s → {self.index}"
        )


def collect_files(
    paths: Iterable[Path | str],
    warn: Callable[[str], None],
    skip: Callable[[str, str], None] | None = None,
) -> list[tuple[str, Path]]:
    """Expand files and folders into ``(source, path)`` pairs, sorted by source.

    A folder's files are named relative to it; a file given directly by its name. Hidden
    files and folders are passed over, symbolic links to folders are not followed (no
    loops), and a link inside a folder to a file outside it is skipped: indexing a folder
    never publishes a file from elsewhere (a file given by name is read wherever its link
    points). Files of unsupported types, clashing names, such links and unreadable folders
    are passed to ``skip(source, reason)``, or else reported through ``warn``.

    Raises:
        BadPathError: a path does not exist.
    """

    def _skip(source: str, reason: str) -> None:
        if skip is not None:
            skip(source, reason)
        else:
            warn(f"skipped {source}: {reason}")

    found: dict[str, Path] = {}
    for raw in paths:
        root = Path(raw).expanduser()
        if not root.exists():
            what = "a broken or looping symbolic link" if root.is_symlink() else "no such file"
            raise BadPathError(f"no such file or folder: {raw} ({what})")
        if not root.is_dir():
            entries = [(root.name, root)]
        else:
            entries = []

            def _unreadable(exc: OSError, root: Path = root) -> None:
                name = Path(exc.filename or root)
                source = name.relative_to(root).as_posix() if name != root else str(root)
                _skip(source + "/", f"cannot read the folder ({exc.strerror or exc})")

            for dirpath, dirnames, filenames in os.walk(
                root, followlinks=False, onerror=_unreadable
            ):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    p = Path(dirpath) / name
                    entries.append((p.relative_to(root).as_posix(), p))
        inside = root.resolve() if root.is_dir() else None
        for source, p in entries:
            try:
                source.encode("utf-8")
            except UnicodeEncodeError:  # undecodable bytes in the name, kept as surrogates
                shown = os.fsencode(source).decode("utf-8", "backslashreplace")
                _skip(shown, "its name is not valid UTF-8; rename the file")
                continue
            if p.suffix.lower() not in SUPPORTED:
                _skip(source, f"unsupported file type {p.suffix or '(none)'!r}")
                continue
            if inside is not None and p.is_symlink() and not _within(p, inside):
                _skip(source, "a symbolic link to a file outside the folder")
                continue
            if source in found and found[source].resolve() != p.resolve():
                _skip(str(p), f"another file is already named {source}")
                continue
            found[source] = p
    return sorted(found.items())


def _within(link: Path, folder: Path) -> bool:
    """True when the symbolic link ``link`` ends at a path inside ``folder`` (a link loop
    or a dangling link that stays inside counts as inside: reading it then fails)."""
    return folder in Path(os.path.realpath(link)).parents


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ingest(
    paths: Iterable[Path | str],
    index_dir: Path | str,
    *,
    model: str | None = None,
    splitter: SplitterSettings = DEFAULT_SPLITTER,
    encoder: Encoder | None = None,
    cross_lingual: bool = True,
    aux_model: str | None = None,
    aux_encoder: Encoder | None = None,
    progress: bool = False,
    warn: Callable[[str], None] | None = None,
    keep_existing: bool = False,
    drop: Iterable[str] = (),
    index_type: str | None = None,
    backend: str = "torch",
    limits: ReadLimits = DEFAULT_LIMITS,
) -> IngestReport:
    """Bring the index at ``index_dir`` in line with the documents under ``paths``.

    Args:
        paths: files and folders to index (the index will hold exactly these).
        index_dir: the index folder; created when missing.
        model: embedding model name or path; default: the index's model, or
            all-MiniLM-L6-v2 for a new index. A different model re-embeds everything.
        splitter: chunking settings; different settings re-embed everything.
        encoder: an already loaded encoder (tests pass a small fake one).
        cross_lingual: also embed with the cross-lingual encoder, so that questions find
            answers in other languages (costs a second embedding of every chunk).
        aux_model: the cross-lingual encoder (``retriever.multilingual.AUX_MODELS``);
            default: the index's own, or ``DEFAULT_AUX_MODEL`` for a new index. A different
            one than the index's re-embeds everything.
        aux_encoder: an already loaded cross-lingual encoder (tests pass a fake one).
        progress: show a progress bar while embedding.
        warn: called with one line per skipped file (default: logging).
        keep_existing: add to the index instead of mirroring ``paths``: documents already
            indexed that ``paths`` do not hold stay as they are (the web app's uploads).
            Needs the index's own model and splitter settings.
        drop: sources to take out of the index (with ``keep_existing``: the app's remove).
        index_type: ``auto`` (exact search up to 200k chunks, IVF above), ``flat``,
            ``ivf`` or ``hnsw``; a different one than the index was built with rewrites
            the index (without embedding again). None keeps the index's own setting
            (``auto`` for a new index).
        backend: run the main model with ``torch`` or ``onnx-int8`` (faster on CPU); a
            different backend than the index's re-embeds everything.
        limits: text, time and memory one document may take (each file is read in a
            child process, see :mod:`ingest.sandbox`); a file past them is skipped.

    Returns:
        An :class:`IngestReport`.

    Raises:
        BadPathError: a path does not exist, or (when mirroring) the paths hold no document
            to index while the index holds some: the index is left as it was.
        VerbatimError: another ingest holds the index.
    """
    t0 = time.perf_counter()
    paths = list(paths)
    index_dir = Path(index_dir)
    report = IngestReport(index=index_dir)
    if index_type is not None:
        choose_index_type(0, index_type)  # a bad name fails before any work
    if aux_model is not None:
        check_aux_model(aux_model)

    def _warn(msg: str) -> None:
        (warn or log.warning)(msg)

    def _skip(source: str, reason: str) -> None:
        report.skipped.append((source, reason))
        _warn(f"skipped {source}: {reason}")

    files = collect_files(paths, _warn, _skip)
    model_name = encoder.name if encoder is not None else None

    with index_lock(index_dir):
        old: Index | None = None
        if Index.exists(index_dir):
            try:
                old = Index.open(index_dir)
            except (IndexCorruptError, IndexMismatchError) as exc:
                _warn(f"the existing index cannot be reused and will be rebuilt: {exc}")
        if index_type is None:
            index_type = old.manifest.index_type_requested if old else "auto"
        if model_name is None:
            model_name = (
                resolve_model(model)[0]
                if model
                else (old.manifest.model if old else resolve_model(None)[0])
            )
        if aux_encoder is not None:
            aux_name: str | None = aux_encoder.name
        else:
            aux_name = (
                aux_model or (old and old.manifest.aux_model) or DEFAULT_AUX_MODEL
                if cross_lingual
                else None
            )
        reusable = (
            old is not None
            and old.manifest.model == model_name
            and old.manifest.aux_model == aux_name
            and old.manifest.splitter == splitter.to_dict()
            and old.manifest.backend == backend
        )
        if keep_existing and old is not None and not reusable:
            raise VerbatimError(
                f"cannot add to the index at {index_dir}: it was built with other model or "
                f"splitter settings; {rebuild_hint(index_dir)}"
            )
        if old is not None and not reusable:
            report.note = (
                "model, backend or splitter settings changed: every document is re-embedded"
            )
        old_docs = {d.source: d for d in old.documents} if reusable and old else {}

        # Read, clean and split what changed; reuse the rest. Files already in the index
        # go first, so that of two files with the same content the indexed one stays.
        plan: list[_Planned] = []
        dropped = set(drop)
        by_digest: dict[str, str] = {}
        if keep_existing and old is not None:  # documents that stay count as taken
            given = {source for source, _ in files}
            for prev in old.documents:
                if prev.source not in given and prev.source not in dropped:
                    by_digest.setdefault(prev.sha256, prev.source)
        for source, path in sorted(files, key=lambda f: f[0] not in old_docs):
            try:
                if not stat.S_ISREG(path.stat().st_mode):
                    # A pipe would block for ever, a device never end.
                    _skip(source, "not a regular file (a pipe, socket or device)")
                    continue
                data = path.read_bytes()
            except OSError as exc:
                _skip(source, f"cannot read ({exc.strerror or exc})")
                continue
            digest = _sha256(data)
            if digest in by_digest:
                _skip(source, f"same content as {by_digest[digest]}")
                continue
            prev = old_docs.get(source)
            if prev is not None and prev.sha256 == digest and old is not None:
                plan.append(_reuse(old, prev, aux_name))
                by_digest[digest] = source
                report.unchanged.append(source)
                continue
            try:
                doc = read_isolated(path, data, limits)
            except UnreadableDocument as exc:
                _skip(source, str(exc))
                continue
            for note in doc.notes:
                _warn(f"{source}: {note}")
            excluded = debris_spans(doc.text)
            spans = split_spans(doc.text, quotable_segments(doc.text, excluded), splitter)
            if not spans:
                _skip(source, "nothing to search: no line has words that are not page furniture")
                continue
            record = DocumentRecord(
                source=source,
                title=doc.title,
                sha256=digest,
                format=doc.format,
                lang=detect_language(doc.text),
                n_chars=len(doc.text),
                byte_start=0,
                byte_end=0,
                chunk_start=0,
                chunk_end=len(spans),
                excluded=tuple(excluded),
            )
            plan.append(_Planned(record, doc.text, spans))
            by_digest[digest] = source
            (report.updated if source in old_docs else report.added).append(source)
        plan = [p for p in plan if p.record.source not in dropped]
        for done in (report.added, report.updated, report.unchanged):
            done[:] = [source for source in done if source not in dropped]
        if keep_existing and old is not None:
            given = {source for source, _ in files}
            for prev in old.documents:
                if prev.source in given or prev.source in dropped:
                    continue
                plan.append(_reuse(old, prev, aux_name))
                report.unchanged.append(prev.source)
        plan.sort(key=lambda p: p.record.source)
        if not plan and not keep_existing and old is not None and len(old.documents):
            # Mirroring nothing would empty the index: more likely a wrong or unmounted path.
            raise BadPathError(
                f"{', '.join(map(str, paths))}: nothing to index"
                f"{f' ({len(report.skipped)} skipped)' if report.skipped else ''}; the index "
                f"at {index_dir} keeps its {len(old.documents)} documents (to empty it, "
                "delete its folder)"
            )
        kept = {p.record.source for p in plan}
        report.removed = sorted(
            d.source for d in (old.documents if old else ()) if d.source not in kept
        )
        report.chunks = sum(len(p.spans) for p in plan)

        retype = old is not None and index_type != old.manifest.index_type_requested
        changed = report.added or report.updated or report.removed or not reusable or retype
        if not changed:
            remove_leftovers(index_dir)  # of a run that was killed after its swap
            report.seconds = time.perf_counter() - t0
            return report

        # Embed every new chunk in large batches, across documents.
        todo = [p.text[a:b] for p in plan if p.vectors is None for a, b in p.spans]
        report.embedded = len(todo)
        if todo and encoder is None:
            encoder = load_encoder(model_name, backend=backend)
        new_vectors = _embed(encoder, todo, progress) if todo else None
        new_aux = None
        if todo and aux_name:
            aux_encoder = aux_encoder or load_aux_encoder(aux_name)
            new_aux = _embed(aux_encoder, todo, progress)

        records, texts, vector_parts, aux_parts, rows = [], [], [], [], []
        cursor = 0
        for p in plan:
            vecs, aux = p.vectors, p.aux_vectors
            if vecs is None:
                assert new_vectors is not None
                vecs = new_vectors[cursor : cursor + len(p.spans)]
                aux = None if new_aux is None else new_aux[cursor : cursor + len(p.spans)]
                cursor += len(p.spans)
            part = np.zeros(len(p.spans), dtype=CHUNK_DTYPE)
            if p.spans:
                part["start"], part["end"] = zip(*p.spans, strict=True)
            records.append(replace(p.record, chunk_start=0, chunk_end=len(p.spans)))
            texts.append(p.text)
            rows.append(part)
            vector_parts.append(vecs)
            aux_parts.append(aux)
        dim = encoder.dim if encoder is not None else (old.manifest.dim if old else 0)
        aux_dim = (
            aux_encoder.dim if aux_encoder is not None else (old.manifest.aux_dim if old else 0)
        )
        write_generation(
            index_dir,
            model=model_name,
            splitter=splitter.to_dict(),
            documents=records,
            texts=texts,
            chunks=np.concatenate(rows) if rows else np.zeros(0, CHUNK_DTYPE),
            vectors=(
                np.concatenate(vector_parts)
                if vector_parts
                else np.zeros((0, dim), dtype=np.float32)
            ),
            aux_model=aux_name,
            aux_vectors=(
                None
                if not aux_name
                else np.concatenate(aux_parts)
                if aux_parts
                else np.zeros((0, aux_dim), dtype=np.float32)
            ),
            index_type=index_type,
            backend=backend,
        )
        report.wrote = True
    report.seconds = time.perf_counter() - t0
    return report


@dataclass
class _Planned:
    """A document on its way into the new generation; vectors are None until embedded."""

    record: DocumentRecord
    text: str
    spans: list[tuple[int, int]]
    vectors: np.ndarray | None = None
    aux_vectors: np.ndarray | None = None


def _reuse(old: Index, prev: DocumentRecord, aux_name: str | None) -> _Planned:
    """An indexed document carried into the new generation as it is, vectors and all."""
    rows = old.chunks[prev.chunk_start : prev.chunk_end]
    spans = list(zip(rows["start"].tolist(), rows["end"].tolist(), strict=True))
    vectors = old.vectors(prev.chunk_start, prev.chunk_end)
    aux = old.vectors(prev.chunk_start, prev.chunk_end, "aux") if aux_name else None
    return _Planned(prev, old.document_text(prev.source), spans, vectors, aux)


def _embed(encoder: Encoder, texts: list[str], progress: bool) -> np.ndarray:
    if not progress or len(texts) <= BATCH_SIZE:
        return encoder.encode(texts, batch_size=BATCH_SIZE)
    from tqdm import tqdm

    parts = []
    with tqdm(total=len(texts), unit="chunk", desc="embedding") as bar:
        for i in range(0, len(texts), BATCH_SIZE * 4):
            batch = texts[i : i + BATCH_SIZE * 4]
            parts.append(encoder.encode(batch, batch_size=BATCH_SIZE))
            bar.update(len(batch))
    return np.concatenate(parts)
