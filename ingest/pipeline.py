"""Ingest: files in, an up-to-date index out, doing only the work that changed.

A run mirrors the given paths into the index: new files are added, changed ones
(different bytes) replaced, vanished ones dropped, unchanged ones reused without reading
or embedding them again. When nothing changed, nothing is written and the model is not
even loaded. Every write is a new generation swapped in atomically (see
:mod:`retriever.writer`), so an interrupted run leaves the previous index intact.

The run's stages: :func:`_settings` (which models and settings the new generation has,
and whether the old one's vectors can be reused), :func:`ingest.plan.plan_documents` (read,
clean and split what changed; carry over the rest), :func:`embed_new` and :func:`_write`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from ingest.compact import DEFAULT_DELTA, DeltaPolicy, columns, write_update
from ingest.embed import embed_new
from ingest.files import BadPathError, collect_files
from ingest.plan import IngestReport, Planned, Settings, load_reused, plan_documents
from ingest.readers import DEFAULT_LIMITS, ReadLimits
from ingest.split import DEFAULT_SPLITTER, SplitterSettings
from retriever.cross_lingual import DEFAULT_CROSS_LINGUAL_MODEL, check_cross_lingual_model
from retriever.encoder import Encoder, resolve_model
from retriever.errors import IndexCorruptError, IndexMismatchError, VerbatimError, rebuild_hint
from retriever.generations import index_lock, remove_leftovers
from retriever.index import Index
from retriever.milvus_schema import is_milvus
from retriever.vectors import choose_index_type
from retriever.writer import write_generation

__all__ = ["ingest"]

log = logging.getLogger("verbatim.ingest")


def ingest(
    paths: Iterable[Path | str],
    index_dir: Path | str,
    *,
    model: str | None = None,
    splitter: SplitterSettings = DEFAULT_SPLITTER,
    encoder: Encoder | None = None,
    cross_lingual: bool = True,
    cross_lingual_model: str | None = None,
    cross_lingual_encoder: Encoder | None = None,
    progress: bool = False,
    warn: Callable[[str], None] | None = None,
    keep_existing: bool = False,
    drop: Iterable[str] = (),
    index_type: str | None = None,
    backend: str = "torch",
    limits: ReadLimits = DEFAULT_LIMITS,
    status: Callable[[str], None] | None = None,
    delta: DeltaPolicy = DEFAULT_DELTA,
    background: bool = False,
) -> IngestReport:
    """Bring the index at ``index_dir`` in line with the documents under ``paths``.

    Args:
        paths: files and folders to index (the index will hold exactly these).
        index_dir: the index folder; created when missing. A Milvus store
            (``milvus://HOST:PORT/NAME`` or a ``.db`` path) is written by
            :func:`ingest.milvus_ingest.ingest_milvus` with the same arguments.
        model: embedding model name or path; default: the index's model, or
            all-MiniLM-L6-v2 for a new index. A different model re-embeds everything.
        splitter: chunking settings; different settings re-embed everything.
        encoder: an already loaded encoder (tests pass a small fake one).
        cross_lingual: also embed with the cross-lingual encoder, so that questions find
            answers in other languages (costs a second embedding of every chunk).
        cross_lingual_model: the cross-lingual encoder
            (``retriever.cross_lingual.CROSS_LINGUAL_MODELS``); default: the index's own,
            or ``DEFAULT_CROSS_LINGUAL_MODEL`` for a new index. A different one than the
            index's re-embeds everything.
        cross_lingual_encoder: an already loaded cross-lingual encoder (tests pass a fake).
        progress: show a progress bar while embedding.
        status: called with a short line at each stage and as embedding goes ("Embedding
            passages: 120 of 480 (25 %)"), for a progress display.
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
        delta: when an update of a large index only adds a delta segment beside its base,
            and when the base is rebuilt (:mod:`ingest.compact`).
        background: the caller rebuilds the base itself, later (:func:`ingest.compact.compact`,
            the web app's uploads): a delta past its limit is still written, and
            ``report.compact_due`` says that a rebuild is due.

    Returns:
        An :class:`IngestReport`.

    Raises:
        BadPathError: a path does not exist, or (when mirroring) the paths hold no document
            to index while the index holds some: the index is left as it was.
        VerbatimError: another ingest holds the index.
    """
    if is_milvus(index_dir):
        from ingest.milvus_ingest import ingest_milvus

        return ingest_milvus(
            paths, str(index_dir), model=model, splitter=splitter, encoder=encoder,
            cross_lingual=cross_lingual, cross_lingual_model=cross_lingual_model,
            cross_lingual_encoder=cross_lingual_encoder, progress=progress, warn=warn,
            keep_existing=keep_existing, drop=drop, index_type=index_type, backend=backend,
            limits=limits, status=status,
        )  # fmt: skip
    t0 = time.perf_counter()
    paths = list(paths)
    index_dir = Path(index_dir)
    report = IngestReport(index=index_dir)
    if index_type is not None:
        choose_index_type(0, index_type)  # a bad name fails before any work
    if cross_lingual_model is not None:
        check_cross_lingual_model(cross_lingual_model)

    def _warn(msg: str) -> None:
        (warn or log.warning)(msg)

    def _skip(source: str, reason: str) -> None:
        report.skipped.append((source, reason))
        _warn(f"skipped {source}: {reason}")

    say = status or (lambda _line: None)
    files = collect_files(paths, _warn, _skip)
    with index_lock(index_dir):
        old = _open_old(index_dir, _warn)
        chosen = _settings(
            old, model, encoder, cross_lingual, cross_lingual_model, cross_lingual_encoder,
            splitter, backend, index_type,
        )  # fmt: skip
        _check_reuse(old, chosen, keep_existing, index_dir, report)
        say(f"Reading and splitting {len(files)} file(s)…")
        plan = plan_documents(
            files, old, chosen, keep_existing, set(drop), report, limits, _skip, _warn
        )
        _account(plan, old, keep_existing, paths, index_dir, report)
        retype = old is not None and chosen.index_type != old.manifest.index_type_requested
        changed = report.added or report.updated or report.removed or not chosen.reusable
        if changed or retype:
            report.embedded, encoder, cross_lingual_encoder = embed_new(
                plan, chosen, encoder, cross_lingual_encoder, progress, say
            )
            say("Writing the index…")
            full = retype or not chosen.reusable  # a delta needs the base's own settings
            kept = None if full else write_update(index_dir, old, plan, delta, background)
            if kept is None:
                load_reused(plan, old, chosen.cross_lingual_model)
                _write(index_dir, plan, chosen, _dims(encoder, cross_lingual_encoder, old))
            else:
                report.delta_rows, report.compact_due = kept
            report.wrote = True
        else:
            remove_leftovers(index_dir)  # of a run that was killed after its swap
    report.seconds = time.perf_counter() - t0
    return report


def _check_reuse(
    old: Index | None, chosen: Settings, keep_existing: bool, index_dir: Path, report: IngestReport
) -> None:
    """Refuse to add to an index of other settings; note when everything is re-embedded."""
    if old is None or chosen.reusable:
        return
    if keep_existing:
        raise VerbatimError(
            f"cannot add to the index at {index_dir}: it was built with other model or "
            f"splitter settings; {rebuild_hint(index_dir)}"
        )
    report.note = "model, backend or splitter settings changed: every document is re-embedded"


def _account(
    plan: list[Planned],
    old: Index | None,
    keep_existing: bool,
    paths: list[Path | str],
    index_dir: Path,
    report: IngestReport,
) -> None:
    """What the plan removes and holds, into ``report``; refuses to mirror nothing.

    Raises:
        BadPathError: mirroring would empty an index that holds documents (more likely a
            wrong or unmounted path than a wish).
    """
    if not plan and not keep_existing and old is not None and len(old.documents):
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


def _dims(encoder: Encoder | None, cross: Encoder | None, old: Index | None) -> tuple[int, int]:
    """The two spaces' dimensions, from the encoders or else the old index (for an index of
    no chunks, where no vector tells)."""
    return (
        encoder.dim if encoder is not None else (old.manifest.dim if old else 0),
        cross.dim if cross is not None else (old.manifest.cross_lingual_dim if old else 0),
    )


def _open_old(index_dir: Path, warn: Callable[[str], None]) -> Index | None:
    """The index as it is, or None (none yet, or one that cannot be reused)."""
    if not Index.exists(index_dir):
        return None
    try:
        return Index.open(index_dir)
    except (IndexCorruptError, IndexMismatchError) as exc:
        warn(f"the existing index cannot be reused and will be rebuilt: {exc}")
        return None


def _settings(
    old: Index | None,
    model: str | None,
    encoder: Encoder | None,
    cross_lingual: bool,
    cross_lingual_model: str | None,
    cross_lingual_encoder: Encoder | None,
    splitter: SplitterSettings,
    backend: str,
    index_type: str | None,
) -> Settings:
    """The new generation's models and settings: asked for, else the old index's, else the
    defaults; and whether the old vectors were made by the same."""
    if index_type is None:
        index_type = old.manifest.index_type_requested if old else "auto"
    if encoder is not None:
        model_name = encoder.name
    elif model:
        model_name = resolve_model(model)[0]
    else:
        model_name = old.manifest.model if old else resolve_model(None)[0]
    if cross_lingual_encoder is not None:
        cross_name: str | None = cross_lingual_encoder.name
    elif cross_lingual:
        cross_name = (
            cross_lingual_model
            or (old and old.manifest.cross_lingual_model)
            or DEFAULT_CROSS_LINGUAL_MODEL
        )
    else:
        cross_name = None
    reusable = (
        old is not None
        and old.manifest.model == model_name
        and old.manifest.cross_lingual_model == cross_name
        and old.manifest.splitter == splitter.to_dict()
        and old.manifest.backend == backend
    )
    return Settings(model_name, cross_name, splitter, backend, index_type, reusable)


def _write(index_dir: Path, plan: list[Planned], chosen: Settings, dims: tuple[int, int]) -> None:
    """The new generation of ``plan``, swapped in (:func:`retriever.writer.write_generation`);
    ``dims`` are the two spaces' dimensions, for an index of no chunks."""
    dim, cross_dim = dims
    write_generation(
        index_dir,
        model=chosen.model,
        splitter=chosen.splitter.to_dict(),
        cross_lingual_model=chosen.cross_lingual_model,
        **columns(plan, dim, cross_dim if chosen.cross_lingual_model else None),
        index_type=chosen.index_type,
        backend=chosen.backend,
    )
