"""The ``verbatim`` command: a thin face over ingest, the retriever and the app.

Each subcommand parses its arguments, calls one library function and prints. Heavy
imports happen inside the commands so that ``verbatim --help`` answers at once. A user's
mistake exits with code 2 and one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence

from ui.arguments import (
    DEFAULT_INDEX,
    UsageError,
    build_parser,
    limits_from,
    location_from,
    scoring_from,
)

__all__ = ["main", "build_parser", "shown", "server_options", "DEFAULT_INDEX"]


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


def _cmd_bench(args: argparse.Namespace) -> int:
    from eval.bench import format_table, run_bench
    from eval.bench.run import PARTS as known

    parts = args.only or (("soak",) if args.soak else known[:-1])
    unknown = [p for p in parts if p not in known]
    if unknown:
        raise UsageError(f"--only {','.join(unknown)}: choose from {','.join(known)}")
    out = args.out or ("bench/work/quick" if args.quick else "bench")
    results = run_bench(
        out,
        quick=args.quick,
        sizes=args.sizes,
        parts=parts,
        log=lambda msg: _echo(msg, err=True),
    )
    _echo(format_table(results))
    _echo(f"\n→ {out}/results.json")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from functools import partial

    from ingest import DEFAULT_SPLITTER, ingest

    size = args.chunk_size or DEFAULT_SPLITTER.chunk_size
    overlap = DEFAULT_SPLITTER.chunk_overlap if args.chunk_overlap is None else args.chunk_overlap
    if not 0 <= overlap < size:
        raise UsageError(f"--chunk-overlap of {overlap} must be at least 0 and below {size}")
    settings = replace(DEFAULT_SPLITTER, chunk_size=size, chunk_overlap=overlap)
    where = location_from(args)
    if args.ray is not None:
        if not args.store:
            raise UsageError("--ray writes to a Milvus store: add --store milvus://HOST:PORT/NAME")
        from ingest.distributed import ingest_distributed

        ingest = partial(ingest_distributed, address=args.ray, actors=args.ray_actors)
    report = ingest(
        args.paths,
        where,
        model=args.model,
        splitter=settings,
        cross_lingual=not args.no_cross_lingual,
        cross_lingual_model=args.cross_lingual_model,
        progress=not args.quiet and sys.stderr.isatty(),
        warn=lambda msg: _echo(f"warning: {msg}", err=True),
        index_type=args.index_type,
        backend=args.backend,
        limits=limits_from(args),
    )
    if report.note:
        _echo(report.note, err=True)
    _echo(report.summary())
    return 0


def _print_answer(answer) -> None:  # type: ignore[no-untyped-def]
    from textwrap import indent, shorten

    from retriever.records import NOT_FOUND, location

    if answer.answered:
        c = answer.citation
        _echo(indent(answer.quote, "> "))
        _echo(f"  — {c.title} ({c.source}, {location(c.start, c.end)})")
    else:
        _echo(f"{NOT_FOUND} The closest passages:")
    _echo()
    for p in answer.passages:
        snippet = shorten(" ".join(p.text.split()), 160, placeholder=" …")
        _echo(f"[{p.rank}] {p.score:.2f} {p.source} {p.start}–{p.end}: {snippet}")


def _cmd_ask(args: argparse.Namespace) -> int:
    from retriever.answer import check_question
    from retriever.settings import check_k
    from retriever.stores import open_answerer

    check_question(args.question)  # before the model loads: a mistake is reported at once
    check_k(args.k)
    scoring = scoring_from(args)
    where = location_from(args)
    answerer = open_answerer(where, args.model, scoring=scoring, backend=args.backend)
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

    if args.index and args.store:
        raise UsageError("give either --index DIR or --store LOCATION, not both")
    result = run_eval(
        args.gold,
        args.out,
        index=location_from(args) if args.store else args.index,
        corpus=args.corpus,
        k=args.k,
        model=args.model,
        scoring=scoring_from(args),
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
    limits = limits_from(args)
    scoring = scoring_from(args)

    from retriever.stores import open_answerer
    from ui.app import build_app

    where = location_from(args)
    answerer = open_answerer(where, scoring=scoring, backend=args.backend)
    if answerer.reader is not None:  # its memory at its most before the first client
        from retriever.beside import beside
        from retriever.reader import warm

        beside(warm, answerer.reader, scoring.quote_passages)
    # A Milvus store has no folder whose parent holds the uploads: DATA is ./data then.
    data = args.data or (None if args.store is None else os.path.dirname(DEFAULT_INDEX) or ".")
    app = build_app(
        answerer,
        data_dir=data,
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
    _echo(f"Verbatim is serving {where} at http://{args.host}:{args.port}", err=True)
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
