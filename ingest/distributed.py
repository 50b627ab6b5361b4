"""Ingest at scale: Ray Data reads, splits and embeds on a cluster, writing into Milvus.

``verbatim ingest PATH --ray [ADDRESS] --store milvus://…`` plans on the driver as the
plain run does (:func:`ingest.milvus_plan.plan_store`: which files changed, by hash), then
streams the documents through two stages:

1. **read** (Ray tasks): each file read in its bounded child process, cleaned and split
   (:func:`ingest.plan.read_new`); its text is written to the store (invisible until its
   record is), and its chunks go on as rows;
2. **embed and write** (a pool of actors, each loading the models once): chunks embedded
   in batches in both spaces and upserted (:func:`retriever.milvus_rows.chunk_row`).

The driver counts each document's written chunks and commits its record when all are in
(:meth:`retriever.milvus_writer.MilvusWriter.commit`), so a document is searchable whole
or not at all. A run that is killed leaves its unfinished documents journaled as pending;
the next run redoes exactly those (their rows have ids from the document's hash, so
nothing is duplicated) and finds the finished ones unchanged.

Example:
    >>> ingest_distributed(["docs/"], "milvus://10.0.0.5:19530/wiki", address="auto")
    ... # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ingest.milvus_ingest import count_chunks, finish_run, plan_run
from ingest.milvus_plan import milvus_record, settings_of
from ingest.plan import IngestReport
from ingest.readers import DEFAULT_LIMITS, ReadLimits
from ingest.split import DEFAULT_SPLITTER, SplitterSettings
from retriever.encoder import Encoder
from retriever.errors import BadArgumentError
from retriever.manifest import DocumentRecord
from retriever.milvus_schema import StoreMeta

__all__ = ["EMBED_BATCH", "ingest_distributed", "start_ray"]

log = logging.getLogger("verbatim.ingest")

#: Chunks per batch an embedding actor encodes and writes (larger: faster, more memory).
EMBED_BATCH = 128
#: How often the driver publishes a new version while documents land (seconds).
PUBLISH_EVERY_S = 5.0


@lru_cache(maxsize=4)
def _writer(location: str, meta_json: str) -> Any:
    """The store's writer in this worker process, opened once."""
    from retriever.milvus_writer import MilvusWriter

    return MilvusWriter.open(location, StoreMeta.from_json(meta_json))


def _read_stage(item: dict[str, Any], location: str, meta_json: str, limits: ReadLimits
                ) -> list[dict[str, Any]]:  # fmt: skip
    """A file in, its chunk rows out (one row naming why, if it is skipped); writes its
    text to the store."""
    from ingest.plan import read_bytes, read_new, sha256_bytes

    source, path = item["source"], Path(item["path"])
    skipped: list[str] = []
    notes: list[str] = []

    def skip(_source: str, reason: str) -> None:
        skipped.append(reason)

    data = read_bytes(source, path, skip)
    splitter = settings_of(StoreMeta.from_json(meta_json)).splitter
    planned = None
    if data is not None:
        digest = sha256_bytes(data)
        planned = read_new(source, path, data, digest, limits, skip, notes.append, splitter)
    if planned is None:
        return [{"source": source, "sha": item["sha"], "lang": "", "start": 0, "end": 0,
                 "text": "", "n_chunks": 0, "record": "", "notes": "; ".join(notes),
                 "skipped": "; ".join(skipped) or "cannot be read"}]  # fmt: skip
    record = milvus_record(planned)
    _writer(location, meta_json).put_text(source, record.sha256, planned.text)
    rows = []
    for n, (a, b) in enumerate(planned.spans):
        rows.append({
            "source": source, "sha": record.sha256, "lang": record.lang, "start": a, "end": b,
            "text": planned.text[a:b], "n_chunks": len(planned.spans),
            "record": json.dumps(asdict(record), ensure_ascii=False) if n == 0 else "",
            "notes": "; ".join(notes) if n == 0 else "", "skipped": "",
        })  # fmt: skip
    return rows


class _EmbedAndWrite:
    """An actor of the embedding pool: loads the models once, then embeds and upserts
    batches of chunk rows; returns each row's bookkeeping (vectors stay in the actor)."""

    def __init__(self, location: str, meta_json: str, encoders: tuple[Any, Any]) -> None:
        from retriever.models import load_cross_lingual, load_encoder

        meta = StoreMeta.from_json(meta_json)
        self.location, self.meta_json, self.lexical = location, meta_json, meta.lexical
        main, cross = encoders
        self.main = main or load_encoder(meta.model, backend=meta.backend)
        self.cross = cross or (
            load_cross_lingual(meta.cross_lingual_model, batches=True)
            if meta.cross_lingual_model
            else None
        )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        from retriever.milvus_rows import chunk_row

        todo = [i for i, s in enumerate(batch["skipped"]) if not s]
        texts = [str(batch["text"][i]) for i in todo]
        if texts:
            main = self.main.encode(texts)
            cross = self.cross.encode(texts) if self.cross is not None else None
            rows = []
            for n, i in enumerate(todo):
                record = DocumentRecord(str(batch["source"][i]), "", str(batch["sha"][i]), "",
                                        str(batch["lang"][i]), 0, 0, 0, 0, 0)  # fmt: skip
                a, b = int(batch["start"][i]), int(batch["end"][i])
                c = None if cross is None else cross[n]
                rows.append(chunk_row(record, a, b, texts[n], main[n], c, self.lexical))
            _writer(self.location, self.meta_json).upsert_chunks(rows)
        keep = ("source", "sha", "lang", "n_chunks", "record", "notes", "skipped")
        return {k: batch[k] for k in keep}


def start_ray(address: str | None = "local", num_cpus: int | None = None, **options: Any) -> None:
    """Join the Ray cluster at ``address``, or start one on this machine (``local``,
    without the dashboard); nothing when this process has joined one already."""
    import os

    import ray

    if ray.is_initialized():
        return
    # A busy machine can take more than Ray's 30 s to start the cluster's control store.
    os.environ.setdefault("RAY_gcs_server_port_wait_time_s", "120")
    quiet = {"log_to_driver": False, "configure_logging": False}
    if address in (None, "", "local"):
        for attempt in (1, 2):
            try:
                ray.init(num_cpus=num_cpus, include_dashboard=False, **quiet, **options)
                return
            except Exception as exc:
                # Ray gives a new node's raylet 30 s to register, a fixed wait that a
                # loaded machine can miss (ray-project/ray#62883); a second start goes through.
                if attempt == 2 or "timed out during startup" not in str(exc):
                    raise
                log.warning("the local Ray cluster did not start (%s); starting it again", exc)
                ray.shutdown()
    else:
        ray.init(address=address, **quiet, **options)


def _rows(
    plan: Any, location: str, limits: ReadLimits, actors: int | None,
    encoders: tuple[Encoder | None, Encoder | None], progress: bool,
) -> Iterator[dict[str, Any]]:  # fmt: skip
    """The pipeline's output rows, streamed as the cluster produces them."""
    import ray
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = progress
    if not progress:
        logging.getLogger("ray.data").setLevel(logging.WARNING)
    cpus = int(ray.cluster_resources().get("CPU", 2))
    size = actors or max(1, cpus - 1)
    meta_json = plan.meta.to_json()
    items = [{"source": s, "path": str(p), "sha": sha} for s, p, sha in plan.to_read]
    ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 4 * cpus)))
    ds = ds.flat_map(_read_stage, fn_kwargs={"location": location, "meta_json": meta_json,
                                             "limits": limits}, num_cpus=0.5)  # fmt: skip
    ds = ds.map_batches(
        _EmbedAndWrite,
        fn_constructor_kwargs={
            "location": location,
            "meta_json": meta_json,
            "encoders": encoders,
        },  # fmt: skip
        compute=ray.data.ActorPoolStrategy(size=size),
        batch_size=EMBED_BATCH,
        num_cpus=1,
    )
    yield from ds.iter_rows()


def ingest_distributed(
    paths: Iterable[Path | str],
    location: str,
    *,
    address: str | None = "local",
    actors: int | None = None,
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
    lexical: str | None = None,
) -> IngestReport:
    """Bring the Milvus store at ``location`` in line with ``paths``, on a Ray cluster.

    Args:
        address: the cluster: ``local`` (start one on this machine, or use the one
            ``ray.init`` already joined), ``auto`` or ``ray://HOST:10001``.
        actors: embedding actors (each holds both models; default: the cluster's CPUs
            minus one). ``encoder``/``cross_lingual_encoder`` are shipped to them when
            given (tests); otherwise each loads the store's models by name.

    The other arguments are :func:`ingest.milvus_ingest.ingest_milvus`'s.

    Raises:
        VerbatimError: ray is not installed; and as :func:`ingest_milvus`.
    """
    try:
        import ray  # noqa: F401
    except ImportError:
        from retriever.errors import VerbatimError

        raise VerbatimError("--ray needs Ray: pip install 'verbatim[scale]'") from None
    if not str(location).startswith("milvus://"):
        raise BadArgumentError(
            f"--ray writes to the store from many processes: {location} is Milvus Lite inside "
            "one process; serve it (milvus-lite server --data-dir DIR --host 127.0.0.1) and "
            "give --store milvus://127.0.0.1:19530/NAME"
        )
    t0 = time.perf_counter()
    say = status or (lambda _line: None)
    report, plan, _warn, _skip = plan_run(
        paths, location, warn, keep_existing=keep_existing, drop=drop,
        model=model, encoder=encoder, cross_lingual=cross_lingual,
        cross_lingual_model=cross_lingual_model, cross_lingual_encoder=cross_lingual_encoder,
        splitter=splitter, backend=backend, index_type=index_type, lexical=lexical,
    )  # fmt: skip
    if plan.to_read:
        start_ray(address)
        writer = plan.open_writer(*_dims(plan.meta, encoder, cross_lingual_encoder))
        writer.begin((s, sha) for s, _, sha in plan.to_read)
        say(f"Reading, splitting and embedding {len(plan.to_read)} file(s) on Ray…")
        encoders = (encoder, cross_lingual_encoder)
        _commit_as_done(plan, _rows(plan, location, limits, actors, encoders, progress),
                        report, _skip, _warn)  # fmt: skip
    finish_run(plan, report)
    report.chunks = count_chunks(plan)
    report.seconds = time.perf_counter() - t0
    return report


def _dims(meta: StoreMeta, encoder: Encoder | None, cross: Encoder | None) -> tuple[int, int]:
    """The two spaces' dimensions: the store's, the given encoders', or the models' (loaded
    here once, for a new store)."""
    if meta.dim:
        return meta.dim, meta.cross_lingual_dim
    from retriever.models import load_cross_lingual, load_encoder

    main = encoder or load_encoder(meta.model, backend=meta.backend)
    name = meta.cross_lingual_model
    aux = cross or (load_cross_lingual(name) if name else None)
    return main.dim, aux.dim if aux is not None else 0


def _commit_as_done(
    plan: Any,
    rows: Iterator[dict[str, Any]],
    report: IngestReport,
    skip: Callable[[str, str], None],
    warn: Callable[[str], None],
) -> None:
    """Count each document's written chunks; commit its record once all are in, and
    publish a new version every few seconds as documents land."""
    writer = plan.writer
    written: dict[tuple[str, str], int] = {}
    records: dict[tuple[str, str], DocumentRecord] = {}
    langs: set[str] = set()
    last = time.monotonic()
    for row in rows:
        key = (str(row["source"]), str(row["sha"]))
        if row["skipped"]:
            skip(key[0], str(row["skipped"]))
            for done in (report.added, report.updated):
                if key[0] in done:
                    done.remove(key[0])
            if key[0] in plan.records:  # a changed file that cannot be read is taken out
                plan.removed.append(key[0])
                report.removed.append(key[0])
            continue
        if row["notes"]:
            warn(f"{key[0]}: {row['notes']}")
        if row["record"]:
            records[key] = DocumentRecord.from_dict(json.loads(str(row["record"])))
        written[key] = written.get(key, 0) + 1
        report.embedded += 1
        if key in records and written[key] == int(row["n_chunks"]):
            writer.commit(records.pop(key))
            langs.add(str(row["lang"]))
            report.wrote = True
        if time.monotonic() - last > PUBLISH_EVERY_S:
            writer.publish(langs={lang for lang in langs if lang})
            last = time.monotonic()
    for key, record in records.items():  # a document some of whose chunks never came
        warn(f"{key[0]}: {written.get(key, 0)} of {record.chunk_end} chunks written; not live")
