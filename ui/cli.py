"""The ``verbatim`` command: a thin face over ingest, the retriever and the app.

Each subcommand parses its arguments, calls one library function and prints. Heavy
imports happen inside the commands so that ``verbatim --help`` answers at once. A user's
mistake exits with code 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser", "DEFAULT_INDEX"]

#: Where the index lives unless --index or $VERBATIM_INDEX says otherwise.
DEFAULT_INDEX = os.environ.get("VERBATIM_INDEX", "data/index")


class UsageError(Exception):
    """A mistake in the command line, reported as one line with exit code 2."""


# Control characters (a document's ESC sequences would recolour or rewrite the terminal)
# and the bidirectional overrides that reorder what a line shows; newlines and tabs stay.
_UNSHOWABLE = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _escape(m: re.Match[str]) -> str:
    n = ord(m.group())
    return f"\\x{n:02x}" if n < 256 else f"\\u{n:04x}"


def shown(text: object) -> str:
    """``text`` as a terminal may show it: control characters become visible escapes.

    Example:
        >>> shown("red \x1b[31malert")
        'red \\x1b[31malert'
    """
    return _UNSHOWABLE.sub(_escape, str(text))


def _echo(text: object = "", *, err: bool = False) -> None:
    """Print one line of human output, safe for a terminal (see :func:`shown`)."""
    print(shown(text), file=sys.stderr if err else sys.stdout, flush=err)


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


_MIN_SCORE_HELP = (
    "abstain when the best quote's meaning score is below this (default: the measured "
    "one; `verbatim eval` prints a suggestion)"
)
_BACKEND_HELP = "run the model with PyTorch or ONNX Runtime int8 (default: as at ingest)"


def _add_limits(p: argparse.ArgumentParser) -> None:
    from ingest.readers import DEFAULT_LIMITS

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


def _limits(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from ingest.readers import DEFAULT_LIMITS

    if args.read_timeout <= 0:
        raise UsageError(f"--read-timeout of {args.read_timeout:g} must be above 0")
    return replace(DEFAULT_LIMITS, max_chars=args.max_chars, seconds=args.read_timeout)


def build_parser() -> argparse.ArgumentParser:
    from ui.gate import DEFAULT_MAX_PENDING_MB

    parser = argparse.ArgumentParser(
        prog="verbatim",
        description="Answers questions about your documents by quoting them, with citations.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("ingest", help="index files and folders (incremental)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders to index")
    p.add_argument("--index", default=DEFAULT_INDEX, help="index folder (default: %(default)s)")
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
        help="cross-lingual encoder: multilingual-e5-small-q4 or use-multilingual-v3 "
        "(default: the index's own; multilingual-e5-small-q4 for a new index)",
    )
    p.add_argument(
        "--index-type",
        choices=("auto", "flat", "ivf", "hnsw"),
        help="vector index: auto is exact up to 200k chunks, then IVF (default: what the "
        "index was built with, auto for a new one)",
    )
    p.add_argument(
        "--backend",
        choices=("torch", "onnx-int8"),
        default="torch",
        help="run the model with PyTorch or ONNX Runtime int8, faster on CPU "
        "(default: %(default)s)",
    )
    _add_limits(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("ask", help="answer one question with a cited quote")
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--index", default=DEFAULT_INDEX, help="index folder (default: %(default)s)")
    p.add_argument("--k", type=_positive_int, default=5, help="passages to show (default: 5)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--model", help="must match the index's model (default: the index's)")
    p.add_argument("--min-score", type=_finite, help=_MIN_SCORE_HELP)
    p.add_argument("--backend", choices=("torch", "onnx-int8"), help=_BACKEND_HELP)

    p = sub.add_parser("eval", help="run a gold Q&A set, or compare two runs")
    p.add_argument("gold", nargs="?", metavar="GOLD", help="JSON Lines or SQuAD JSON gold set")
    p.add_argument("--out", metavar="DIR", help="write results.jsonl, metrics.json, report.html")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--index", help=f"index to ask (default for JSON Lines: {DEFAULT_INDEX})")
    where.add_argument(
        "--corpus",
        help="folder of documents to index and ask (default for SQuAD: its own paragraphs)",
    )
    p.add_argument("--k", type=_positive_int, default=10, help="passages per question")
    p.add_argument("--model", help="embedding model when an index is built for the run")
    p.add_argument("--min-score", type=_finite, help=_MIN_SCORE_HELP)
    p.add_argument(
        "--fusion",
        choices=("rrf", "convex", "dense"),
        help="fuse dense and lexical search this way (default: convex)",
    )
    p.add_argument("--alpha", type=float, help="weight of meaning in convex fusion, 0..1")
    p.add_argument(
        "--aux-weight",
        type=float,
        help="share of the cross-lingual encoder in meaning scores, 0..1",
    )
    p.add_argument("--limit", type=_positive_int, help="ask only the first N questions")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("RUN_A", "RUN_B"),
        help="compare two runs' --out folders instead",
    )

    p = sub.add_parser("serve", help="serve the chat page and the HTTP API")
    p.add_argument("--index", default=DEFAULT_INDEX, help="index folder (default: %(default)s)")
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
        default=20,
        help="largest document accepted by upload (default: %(default)s)",
    )
    p.add_argument(
        "--max-pending-mb",
        type=_finite,
        default=DEFAULT_MAX_PENDING_MB,
        help="room for uploads not indexed yet, in all (default: %(default)s)",
    )
    _add_limits(p)
    p.add_argument("--backend", choices=("torch", "onnx-int8"), help=_BACKEND_HELP)
    p.add_argument(
        "--example",
        action="append",
        metavar="QUESTION",
        help="a question offered on the empty chat (repeat for more; default: the built-in "
        "examples that the documents answer)",
    )

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

    p = sub.add_parser("bench", help="measure speed and scale; writes bench/results.json")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    p.add_argument(
        "--soak",
        action="store_true",
        help="only the soak: 32 clients on the HTTP API for 2 minutes (figures merged)",
    )
    p.add_argument("--out", default="bench", help="output folder (default: %(default)s)")
    p.add_argument(
        "--sizes",
        type=lambda v: [_positive_int(x) for x in v.split(",")],
        help="scale-test corpus sizes in chunks, comma-separated (default: 10000,100000,1000000)",
    )
    p.add_argument(
        "--only",
        type=lambda v: tuple(v.split(",")),
        help="comma-separated parts: ingest,backends,query,http,scale,soak "
        "(default: all but soak; figures of other parts are kept)",
    )
    return parser


def _cmd_bench(args: argparse.Namespace) -> int:
    from eval.bench import format_table, run_bench
    from eval.bench.run import PARTS as known

    parts = args.only or (("soak",) if args.soak else known[:-1])
    unknown = [p for p in parts if p not in known]
    if unknown:
        raise UsageError(f"--only {','.join(unknown)}: choose from {','.join(known)}")
    results = run_bench(
        args.out,
        quick=args.quick,
        sizes=args.sizes,
        parts=parts,
        log=lambda msg: _echo(msg, err=True),
    )
    _echo(format_table(results))
    _echo(f"\n→ {args.out}/results.json")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ingest import DEFAULT_SPLITTER, ingest

    size = args.chunk_size or DEFAULT_SPLITTER.chunk_size
    overlap = DEFAULT_SPLITTER.chunk_overlap if args.chunk_overlap is None else args.chunk_overlap
    if not 0 <= overlap < size:
        raise UsageError(f"--chunk-overlap of {overlap} must be at least 0 and below {size}")
    settings = replace(DEFAULT_SPLITTER, chunk_size=size, chunk_overlap=overlap)
    report = ingest(
        args.paths,
        args.index,
        model=args.model,
        splitter=settings,
        cross_lingual=not args.no_cross_lingual,
        aux_model=args.cross_lingual_model,
        progress=not args.quiet and sys.stderr.isatty(),
        warn=lambda msg: _echo(f"warning: {msg}", err=True),
        index_type=args.index_type,
        backend=args.backend,
        limits=_limits(args),
    )
    if report.note:
        _echo(report.note, err=True)
    _echo(report.summary())
    return 0


def _print_answer(answer) -> None:  # type: ignore[no-untyped-def]
    from textwrap import indent, shorten

    if answer.answered:
        c = answer.citation
        _echo(indent(answer.quote, "> "))
        _echo(f"  — {c.title} ({c.source}, chars {c.start}–{c.end})")
    else:
        _echo("Not found in the documents. The closest passages:")
    _echo()
    for p in answer.passages:
        snippet = shorten(" ".join(p.text.split()), 160, placeholder=" …")
        _echo(f"[{p.rank}] {p.score:.2f} {p.source} {p.start}–{p.end}: {snippet}")


def _cmd_ask(args: argparse.Namespace) -> int:
    from retriever import DEFAULT_MIN_SCORE, Answerer
    from retriever.answer import check_k, check_question

    check_question(args.question)  # before the model loads: a mistake is reported at once
    check_k(args.k)
    min_score = DEFAULT_MIN_SCORE if args.min_score is None else args.min_score
    answerer = Answerer.open(args.index, args.model, min_score=min_score, backend=args.backend)
    answer = answerer.ask(args.question, k=args.k)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_answer(answer)
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    if args.compare:
        if args.gold:
            raise UsageError("give either GOLD --out DIR or --compare RUN_A RUN_B, not both")
        from eval.compare import compare_runs, format_comparison

        _echo(format_comparison(compare_runs(*args.compare)))
        return 0
    if not args.gold or not args.out:
        raise UsageError("eval needs a gold set and --out DIR: verbatim eval GOLD --out DIR")
    from eval.report import format_table, threshold_line
    from eval.runner import run_eval

    result = run_eval(
        args.gold,
        args.out,
        index=args.index,
        corpus=args.corpus,
        k=args.k,
        model=args.model,
        min_score=args.min_score,
        fusion=args.fusion,
        alpha=args.alpha,
        aux_weight=args.aux_weight,
        limit=args.limit,
        progress=not args.quiet and sys.stderr.isatty(),
        default_index=DEFAULT_INDEX,
    )
    _echo(format_table(result.metrics))
    if line := threshold_line(result.metrics["overall"]):
        _echo(f"\n{line}")
    _echo(
        f"\n{len(result.rows)} questions in {result.seconds:.1f}s → {result.out}/"
        "{results.jsonl,metrics.json,report.html}"
    )
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from ui.security import check_origins, parse_credentials, read_credentials_file

    origins = check_origins(args.allow_origin)
    credentials = None
    if args.auth:
        credentials = [parse_credentials(args.auth)]
    elif args.auth_file:
        credentials = read_credentials_file(args.auth_file)
    for name in ("max_upload_mb", "max_pending_mb"):
        if getattr(args, name) <= 0:
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"{flag} of {getattr(args, name):g} must be above 0")
    from ui.gate import allowed_hosts, check_hosts

    try:
        hosts = allowed_hosts(args.host, check_hosts(args.allow_host))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    limits = _limits(args)

    from retriever import Answerer
    from ui.app import build_app

    answerer = Answerer.open(args.index, backend=args.backend)
    app = build_app(
        answerer,
        data_dir=args.data,
        allow_origins=origins,
        credentials=credentials,
        max_upload_mb=args.max_upload_mb,
        examples=args.example or None,
        allow_hosts=hosts,
        max_pending_mb=args.max_pending_mb,
        limits=limits,
    )
    import uvicorn

    if args.host not in ("127.0.0.1", "localhost", "::1") and not credentials:
        _echo(
            f"warning: serving on {args.host} without --auth: anyone who can reach this "
            "machine can read, add and remove documents",
            err=True,
        )
    _echo(f"Verbatim is serving {args.index} at http://{args.host}:{args.port}", err=True)
    uvicorn.run(app, **server_options(args.host, args.port))
    return 0


def server_options(host: str, port: int) -> dict[str, object]:
    """uvicorn settings: quiet, and room for a long question in a URL (answered with a 400)."""
    return {
        "host": host,
        "port": port,
        "log_level": "warning",
        "h11_max_incomplete_event_size": 1 << 20,
    }


def _cmd_feedback(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ui.feedback import FEEDBACK_FILE, export_gold

    log = Path(args.log) if args.log else Path(args.data) / FEEDBACK_FILE
    _echo(export_gold(log, args.out).summary())
    return 0


_COMMANDS = {
    "ingest": _cmd_ingest,
    "ask": _cmd_ask,
    "eval": _cmd_eval,
    "serve": _cmd_serve,
    "feedback": _cmd_feedback,
    "bench": _cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 2 user error, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    from retriever.errors import VerbatimError

    for stream in (sys.stdout, sys.stderr):
        # A terminal that cannot show a document's script gets escapes, not a traceback.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")

    try:
        return _COMMANDS[args.command](args)
    except (VerbatimError, UsageError) as exc:
        _echo(f"verbatim: error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        _echo("verbatim: interrupted", err=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
