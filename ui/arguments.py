"""The ``verbatim`` command line: its subcommands, options, their checks and defaults.

Choices and defaults come from the library (:mod:`retriever.settings`, the read limits,
the upload rules), which import nothing heavy, so that ``verbatim --help`` answers at once.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ingest.readers import DEFAULT_LIMITS
from retriever.settings import (
    BACKENDS,
    CROSS_LINGUAL_NAMES,
    DEFAULT_CROSS_LINGUAL_MODEL,
    DEFAULT_K,
    INDEX_TYPES,
    MAX_K,
)
from ui.gate import DEFAULT_MAX_PENDING_MB
from ui.uploads import DEFAULT_MAX_UPLOAD_MB

if TYPE_CHECKING:
    from ingest.readers import ReadLimits
    from retriever.settings import Scoring

__all__ = [
    "DEFAULT_INDEX",
    "UsageError",
    "build_parser",
    "limits_from",
    "location_from",
    "scoring_from",
]

#: Where the index lives unless --index or $VERBATIM_INDEX says otherwise.
DEFAULT_INDEX = os.environ.get("VERBATIM_INDEX", "data/index")
#: A Milvus store used instead of the index folder ($VERBATIM_STORE, or --store).
DEFAULT_STORE = os.environ.get("VERBATIM_STORE") or None


class UsageError(Exception):
    """A mistake in the command line, reported as one line with exit code 2."""


def _whole_number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None


def _positive_int(value: str) -> int:
    n = _whole_number(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} must be 1 or more")
    return n


def _port(value: str) -> int:
    n = _whole_number(value)
    if not 1 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"{n} is not a port; use 1..65535")
    return n


def _finite(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"{value!r} is not a finite number")
    return x


def _index(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", default=DEFAULT_INDEX, help="index folder (default: %(default)s)")
    _store(p)


def _store(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        default=DEFAULT_STORE,
        metavar="LOCATION",
        help="a Milvus store instead of the index folder: milvus://HOST:PORT/NAME, or a path "
        "ending in .db for Milvus Lite in this process (default: $VERBATIM_STORE if set)",
    )


def location_from(args: argparse.Namespace) -> str:
    """Where the command's index lives: ``--store`` (checked) or else ``--index``."""
    store = getattr(args, "store", None)
    if not store:
        return str(args.index)
    from retriever.milvus_schema import is_milvus

    if not is_milvus(store):
        raise UsageError(
            f"--store {store}: use milvus://HOST:PORT/NAME or a path ending in .db "
            "(an index folder is --index)"
        )
    return str(store)


def _scoring(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scoring",
        metavar="FILE",
        help="weights and thresholds as a JSON object of Scoring fields (retriever/settings.py; "
        "default: the measured ones; metrics.json of a run records them whole)",
    )
    p.add_argument(
        "--min-score",
        type=_finite,
        help="abstain when the best quote's score is below this (default: the measured one; "
        "`verbatim eval` prints a suggestion)",
    )


def _backend(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=default,
        help="run the model with PyTorch, ONNX Runtime float32 (the same vectors) or ONNX "
        "Runtime int8 (faster on CPU) "
        f"(default: {default or 'as at ingest, PyTorch run as ONNX float32'})",
    )


def _limits(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-chars",
        type=_positive_int,
        default=DEFAULT_LIMITS.max_chars,
        help="most characters of text per document; a longer one is skipped "
        "(default: %(default)s, about 10,000 passages)",
    )
    p.add_argument(
        "--read-timeout",
        type=_finite,
        default=DEFAULT_LIMITS.seconds,
        metavar="SECONDS",
        help="longest time reading one file may take; a slower one is skipped "
        "(default: %(default)s)",
    )


def limits_from(args: argparse.Namespace) -> ReadLimits:
    """The read limits the options ask for."""
    from dataclasses import replace

    if args.read_timeout <= 0:
        raise UsageError(f"--read-timeout of {args.read_timeout:g} must be above 0")
    return replace(DEFAULT_LIMITS, max_chars=args.max_chars, seconds=args.read_timeout)


def scoring_from(args: argparse.Namespace) -> Scoring:
    """``--scoring FILE`` (default: the measured settings), with ``--min-score`` over it."""
    from retriever.settings import DEFAULT_SCORING, Scoring

    scoring = Scoring.load(args.scoring) if args.scoring else DEFAULT_SCORING
    if args.min_score is not None:
        scoring = scoring.replace(min_score=args.min_score)
    return scoring


def _ingest(sub: Any) -> None:
    p = sub.add_parser("ingest", help="index files and folders (incremental)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to index")
    _index(p)
    p.add_argument(
        "--model",
        help="sentence-transformers model name or path "
        "(default: the index's model, else all-MiniLM-L6-v2)",
    )
    p.add_argument("--chunk-size", type=_positive_int, help="characters per chunk")
    p.add_argument("--chunk-overlap", type=int, help="characters shared by neighbouring chunks")
    p.add_argument(
        "--no-cross-lingual",
        action="store_true",
        help="skip the cross-lingual encoder (faster ingest, one language only)",
    )
    p.add_argument(
        "--cross-lingual-model",
        metavar="NAME",
        help=f"cross-lingual encoder: {' or '.join(CROSS_LINGUAL_NAMES)} (default: the "
        f"index's own; {DEFAULT_CROSS_LINGUAL_MODEL} for a new index)",
    )
    p.add_argument(
        "--index-type",
        choices=INDEX_TYPES,
        help="vector index: auto is exact up to 200k chunks, then IVF (default: what the "
        "index was built with, auto for a new one)",
    )
    _backend(p, default=BACKENDS[0])
    _limits(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="read, split and embed on a Ray cluster (ray://HOST:10001, or auto for the one "
        "this machine belongs to; alone: a local one) into the --store; an interrupted run "
        "resumes",
    )
    p.add_argument(
        "--ray-actors",
        type=_positive_int,
        metavar="N",
        help="embedding actors, each loading the models once (default: the cluster's CPUs / 2)",
    )


def _ask(sub: Any) -> None:
    p = sub.add_parser("ask", help="answer one question with a cited quote")
    p.add_argument("question", help="the question, in quotes")
    _index(p)
    p.add_argument(
        "--k",
        type=_positive_int,
        default=DEFAULT_K,
        help=f"passages to show, 1..{MAX_K} (default: %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--model", help="must match the index's model (default: the index's)")
    _scoring(p)
    _backend(p)


def _eval(sub: Any) -> None:
    p = sub.add_parser("eval", help="run a gold Q&A set, or compare two runs")
    p.add_argument("gold", nargs="?", metavar="GOLD", help="JSON Lines or SQuAD JSON gold set")
    p.add_argument("--out", metavar="DIR", help="write results.jsonl, metrics.json, report.html")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--index", help=f"index to ask (default for JSON Lines: {DEFAULT_INDEX})")
    where.add_argument(
        "--corpus",
        help="folder of documents to index and ask (default for SQuAD: its own paragraphs)",
    )
    _store(p)
    p.add_argument(
        "--k", type=_positive_int, default=10, help="passages per question (default: %(default)s)"
    )
    p.add_argument("--model", help="embedding model when an index is built for the run")
    _scoring(p)
    p.add_argument("--limit", type=_positive_int, help="ask only the first N questions")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("RUN_A", "RUN_B"),
        help="compare two runs' --out folders instead",
    )


def _serve(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve the chat page and the HTTP API")
    _index(p)
    p.add_argument(
        "--data",
        help="folder for uploads (DATA/documents) and feedback.jsonl "
        "(default: the index folder's parent)",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: %(default)s, this machine only; "
        "0.0.0.0 exposes the server: add --auth)",
    )
    p.add_argument("--port", type=_port, default=7860, help="port (default: %(default)s)")
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a site allowed to embed the widget and call the API from its pages, "
        "e.g. https://www.example.org (repeat for more; none by default)",
    )
    auth = p.add_mutually_exclusive_group()
    auth.add_argument("--auth", metavar="USER:PASSWORD", help="require this login (HTTP Basic)")
    auth.add_argument(
        "--auth-file", metavar="FILE", help="require a login from FILE's USER:PASSWORD lines"
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name clients may use besides this machine's own, e.g. the name a "
        "reverse proxy forwards (repeat for more; any other Host is refused)",
    )
    p.add_argument(
        "--max-upload-mb",
        type=_finite,
        default=DEFAULT_MAX_UPLOAD_MB,
        help="largest document accepted by upload (default: %(default)s)",
    )
    p.add_argument(
        "--max-pending-mb",
        type=_finite,
        default=DEFAULT_MAX_PENDING_MB,
        help="room for uploads not indexed yet, in all (default: %(default)s)",
    )
    _limits(p)
    _scoring(p)
    _backend(p)
    p.add_argument(
        "--example",
        action="append",
        metavar="QUESTION",
        help="a question offered on the empty chat (repeat for more; default: the built-in "
        "examples that the documents answer)",
    )


def _feedback(sub: Any) -> None:
    p = sub.add_parser("feedback", help="work with the chat's thumbs up/down log")
    fsub = p.add_subparsers(dest="feedback_command", metavar="ACTION", required=True)
    e = fsub.add_parser("export", help="turn rated answers into a gold set for verbatim eval")
    e.add_argument("--out", required=True, metavar="FILE", help="gold set to write (JSON Lines)")
    e.add_argument(
        "--data",
        default=os.path.dirname(DEFAULT_INDEX) or ".",
        help="data folder holding feedback.jsonl (default: %(default)s)",
    )
    e.add_argument("--log", help="the feedback log itself (default: DATA/feedback.jsonl)")


def _bench(sub: Any) -> None:
    p = sub.add_parser("bench", help="measure speed and scale; writes bench/results.json")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    p.add_argument(
        "--soak",
        action="store_true",
        help="only the soak: 32 clients on the HTTP API for 2 minutes (figures merged)",
    )
    p.add_argument(
        "--out",
        help="output folder (default: bench, or bench/work/quick with --quick, so that a "
        "smoke test leaves the committed figures alone)",
    )
    p.add_argument(
        "--sizes",
        type=lambda v: [_positive_int(x) for x in v.split(",")],
        help="scale-test corpus sizes in chunks, comma-separated (default: 10000,100000,1000000)",
    )
    p.add_argument(
        "--only",
        type=lambda v: tuple(v.split(",")),
        help="comma-separated parts: ingest,backends,query,http,scale,upload,milvus,ray,soak "
        "(default: all but soak; figures of other parts are kept)",
    )


_SUBCOMMANDS: tuple[Callable[[Any], None], ...] = (
    _ingest,
    _ask,
    _eval,
    _serve,
    _feedback,
    _bench,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verbatim",
        description="Answers questions about your documents by quoting them, with citations.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _SUBCOMMANDS:
        add(sub)
    return parser
