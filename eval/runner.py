"""The batch runner: ask every gold question, keep every response, score and report.

``verbatim eval GOLD --out DIR`` writes (Contract 3):

- ``DIR/results.jsonl``: each gold line plus ``"response"``, the full answer object;
- ``DIR/metrics.json``: overall figures, figures by ``kind``/``lang``, and the run's settings;
- ``DIR/report.html``: a self-contained report (see :mod:`eval.report`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.gold import GoldItem, GoldSet, load_gold, write_squad_corpus
from eval.metrics import score, score_by
from retriever.durable import write_atomic
from retriever.errors import IndexNotFoundError, VerbatimError
from retriever.milvus_schema import is_milvus
from retriever.records import Answer
from retriever.settings import DEFAULT_SCORING, Scoring

if TYPE_CHECKING:
    from retriever.answer import Answerer

__all__ = ["RunResult", "run_eval", "prepare_index", "DEFAULT_CACHE"]

#: Where indexes built for a gold set's own corpus are kept between runs.
DEFAULT_CACHE = Path(os.environ.get("VERBATIM_CACHE", "data/cache"))


@dataclass(frozen=True)
class RunResult:
    out: Path
    metrics: dict[str, Any]
    rows: list[dict[str, Any]]
    seconds: float


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def prepare_index(
    gold: GoldSet,
    *,
    index: Path | str | None = None,
    corpus: Path | None = None,
    default_index: Path = Path("data/index"),
    cache: Path = DEFAULT_CACHE,
    model: str | None = None,
    progress: bool = False,
) -> Path | str:
    """The index to ask ``gold``'s questions of, built (incrementally) when needed.

    Args:
        index: an existing index folder: used as it is. A Milvus store
            (``milvus://HOST:PORT/NAME``, ``PATH.db``): the corpus (``corpus``, or a SQuAD
            file's paragraphs) is ingested into it, or without one it is asked as it is.
        corpus: a folder of documents: indexed into ``cache`` (reused while unchanged).
        default_index: used for a JSON Lines gold set when neither is given.
        cache: folder for indexes built here.
        model: embedding model for indexes built here.

    Raises:
        IndexNotFoundError: a JSON Lines gold set and no index or corpus to ask.
    """
    from ingest import ingest

    store = index if index is not None and is_milvus(index) else None
    if index is not None and store is None:
        return index
    if corpus is not None:
        target = cache / f"corpus-{corpus.name}-{_digest(str(corpus.resolve()))}"
        ingest([corpus], store or target / "index", model=model, progress=progress)
        return store or target / "index"
    if gold.corpus:
        key = _digest(*(f"{s}\0{t}" for s, t in gold.corpus))
        target = cache / f"{gold.path.stem}-{key}"
        docs = write_squad_corpus(gold, target / "docs")
        ingest([docs], store or target / "index", model=model, progress=progress)
        return store or target / "index"
    if store is not None:
        return store
    if not (default_index / "CURRENT").exists():
        raise IndexNotFoundError(
            f"no index to ask: give --index DIR or --corpus DIR (the default {default_index} "
            "does not exist; build it with: verbatim ingest YOUR_DOCUMENTS)"
        )
    return default_index


def _output_folder(out: Path) -> Path:
    """``out``, created if need be; raises :class:`VerbatimError` when a run cannot be
    written there."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        what = "it is a file, not a folder" if out.is_file() else exc.strerror or str(exc)
        raise VerbatimError(f"cannot write the run to {out}: {what}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise VerbatimError(f"cannot write the run to {out}: permission denied")
    return out


def run_eval(
    gold_path: Path | str,
    out: Path | str,
    *,
    index: Path | str | None = None,
    corpus: Path | str | None = None,
    k: int = 10,
    model: str | None = None,
    scoring: Scoring = DEFAULT_SCORING,
    limit: int | None = None,
    progress: bool = False,
    cache: Path = DEFAULT_CACHE,
    default_index: Path | str = "data/index",
) -> RunResult:
    """Run a gold set and write results, metrics and the report under ``out``.

    Args:
        gold_path: JSON Lines (Contract 2) or SQuAD v1.1/v2.0 JSON.
        out: output folder (created; files in it are replaced).
        index / corpus: what to ask (see :func:`prepare_index`).
        k: passages per question (hit@k is measured up to this; 10 for all metrics).
        model: embedding model when an index is built here.
        scoring: every weight and threshold of the answer path (recorded in
            ``metrics.json``; default: the measured ones).
        limit: ask only the first ``limit`` questions (quick runs).
        progress: show a progress bar.
        default_index: asked for a JSON Lines gold set when no index or corpus is given.

    Raises:
        GoldFormatError, IndexNotFoundError, ...: user mistakes, with a fix in the message.
    """
    from retriever.settings import check_k
    from retriever.stores import open_answerer

    t0 = time.perf_counter()
    check_k(k)
    gold = load_gold(gold_path)
    out = _output_folder(Path(out))  # before the questions: an hour's run must be written
    items = gold.items[:limit] if limit else gold.items
    index_path = prepare_index(
        gold,
        index=(index if is_milvus(index) else Path(index)) if index else None,
        corpus=Path(corpus) if corpus else None,
        default_index=Path(default_index),
        cache=cache,
        model=model,
        progress=progress,
    )
    answerer = open_answerer(index_path, scoring=scoring)
    rows = _ask_all(answerer, items, k, progress)
    seconds = time.perf_counter() - t0
    metrics = {
        "overall": score(rows),
        "by_kind": score_by(rows, "kind"),
        "by_lang": score_by(rows, "lang"),
        "run": _run_record(gold_path, gold, index_path, answerer, k, len(rows), seconds),
    }
    write_atomic(
        out / "results.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    )
    write_atomic(out / "metrics.json", json.dumps(metrics, indent=2, ensure_ascii=False))
    from eval.report import render_report

    write_atomic(out / "report.html", render_report(rows, metrics))
    return RunResult(out, metrics, rows, seconds)


def _ask_all(
    answerer: Answerer, items: Sequence[GoldItem], k: int, progress: bool
) -> list[dict[str, Any]]:
    """Each gold line with the full response and its quote score; a question that fails
    gets an error response and does not sink the run."""
    rows: list[dict[str, Any]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), unit="q", desc="asking")
    for item in items:
        quote_score = None
        try:
            answer = answerer.ask(item.question, k=k)
            response, quote_score = answer.to_dict(), answer.quote_score
        except VerbatimError as exc:
            declined = Answer(item.question, False, None, None, ())
            response = {**declined.to_dict(), "error": str(exc)}
        rows.append({**item.to_dict(), "response": response, "quote_score": quote_score})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return rows


def _run_record(
    gold_path: Path | str,
    gold: GoldSet,
    index_path: Path | str,
    answerer: Answerer,
    k: int,
    questions: int,
    seconds: float,
) -> dict[str, Any]:
    """What ``metrics.json`` records of the run: enough to make it again."""
    store = answerer.index
    return {
        "gold": str(gold_path),
        "gold_format": gold.format,
        "index": str(index_path),
        "model": store.model,
        "splitter": store.splitter,
        "cross_lingual_model": store.cross_lingual_model,
        "k": k,
        "scoring": answerer.scoring.to_dict(),
        "questions": questions,
        "seconds": round(seconds, 2),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
    }
