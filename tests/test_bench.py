"""``verbatim bench``: the load machinery on a live local server, the table, the smoke run."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from eval.bench.common import free_port
from eval.bench.http_load import load

QUESTIONS = ["When did Operation Bagration begin?", "How many tanks clashed at Prokhorovka?"]


def slowed(answerer, delay: float):  # type: ignore[no-untyped-def]
    """``answerer`` with each answer taking ``delay`` seconds longer, as a real model does."""
    ask = answerer.ask

    def slow_ask(question, k=5):  # type: ignore[no-untyped-def]
        time.sleep(delay)
        return ask(question, k=k)

    answerer.ask = slow_ask
    return answerer


@pytest.fixture
def live(tiny_answerer):
    """The app of the tiny index on a free 127.0.0.1 port, stopped afterwards."""
    import uvicorn

    from ui.app import build_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(slowed(tiny_answerer, 0.2)), host="127.0.0.1", port=port, log_level="warning"
        )  # fmt: skip
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("endpoint", ["api", "gradio"])
def test_concurrent_questions_are_answered_together_without_errors(live, endpoint) -> None:
    one = load(live, QUESTIONS, 1, endpoint=endpoint, max_requests=4, max_seconds=60)
    four = load(live, QUESTIONS, 4, endpoint=endpoint, max_requests=8, max_seconds=60)
    assert one["errors"] == four["errors"] == 0, four["error_examples"]
    assert one["requests"] == 4 and four["requests"] == 8  # bounded by count
    # Read-only questions run side by side: four clients answer well over twice as many
    # per second as one (one event at a time would make it 1×).
    assert four["answers_per_s"] > 2 * one["answers_per_s"]


def test_load_stops_at_its_time_bound(live) -> None:
    result = load(live, QUESTIONS, 2, max_requests=10**6, max_seconds=1.0)
    assert result["errors"] == 0 and 0 < result["requests"] < 100
    assert result["seconds"] < 10


def test_cli_refuses_an_unknown_part(capsys) -> None:
    from ui.cli import main

    assert main(["bench", "--only", "ingest,warp"]) == 2
    assert "--only warp" in capsys.readouterr().err


def test_plot_and_table_from_results(tmp_path: Path) -> None:
    from eval.bench.run import format_table, plot_scale

    rows = [
        {"chunks": n, "index_type": t, "build_s": b, "disk_mb": {"total": d}, "rss_mb": m,
         "cold_start_s": 4.0, "ask_ms": {"p50": p, "p95": 2 * p},
         "vector_search_ms": {"p50": v}, "recall@10": {"main": 1.0, "aux": 0.99}}
        for n, t, b, d, m, p, v in [(10_000, "flat", 1, 40, 800, 90, 1),
                                    (1_000_000, "ivf", 600, 5000, 2000, 120, 9)]
    ]  # fmt: skip
    plot_scale(rows, tmp_path / "scale.png")
    assert (tmp_path / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = format_table({"machine": {"date": "d", "cpu": "c", "cores": 2, "memory_gib": 24,
                                      "python": "3.11"}, "scale": rows})  # fmt: skip
    assert "| 1,000,000 chunks (ivf): build, disk, RSS | 600 s, 5000 MiB, 2000 MiB |" in table


@pytest.mark.slow
@pytest.mark.service
@pytest.mark.timeout(2400)  # real models on a shared 2-core machine: minutes, not seconds
def test_quick_bench_runs_every_part(tmp_path: Path, monkeypatch, capsys) -> None:
    import retriever.onnx_encoder
    from ui.cli import main

    monkeypatch.setattr(retriever.onnx_encoder, "ONNX_CACHE", tmp_path / "onnx")
    assert main(["bench", "--quick", "--out", str(tmp_path / "bench")]) == 0
    results = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert {"ingest", "backends", "query", "http", "scale", "index_kinds"} <= results.keys()
    assert results["ingest"]["main_only"]["chunks"] > 0
    engines = results["ingest"]["cross_lingual_engines"]
    assert engines["cosine_min"] > 0.999 and engines["onnx_chunks_per_s"] > 0
    assert 0 < results["ingest"]["cross_lingual_cost"] < 1.5
    assert set(results["backends"]["hit@1"]["seeds"]) == {"torch", "onnx-int8", "delta"}
    assert set(results["query"]["share"]) == {
        "encode",
        "vector_search",
        "lexical_search",
        "fusion",
        "quote",
    }
    cold = results["query"]["cold_start"]
    assert cold["default_s"] > 0 and cold["torch_s"] > 0
    assert all(h["errors"] == 0 for h in results["http"])
    assert {(h["endpoint"], h["clients"]) for h in results["http"]} == {
        ("api", 1),
        ("api", 8),
        ("gradio", 1),
        ("gradio", 8),
    }
    scale = results["scale"][0]
    assert scale["index_type"] == "flat" and scale["recall@10"]["main"] == 1.0
    assert scale["open_ms"]["stat_cache"] > 0 and scale["open_ms"]["hash_all"] > 0
    parts = scale["rss_parts_mb"]  # sampled just after the whole figure
    assert parts["anonymous"] > 0
    assert abs(sum(parts.values()) - scale["rss_mb"]) < 0.1 * scale["rss_mb"]
    assert {k["kind"] for k in results["index_kinds"]} == {"flat", "ivf", "hnsw"}
    upload = results["upload"]
    assert upload["delta"]["format"] == 4 and upload["full"]["format"] == 3
    assert upload["delta"]["written_mb"] < upload["full"]["written_mb"] / 5
    assert upload["rebuild"]["swapped"] and upload["rebuild"]["failed"] == 0
    milvus = results["milvus"][0]
    assert milvus["chunks"] == 2_000 and milvus["local"]["recall@10"]["main"] == 1.0
    assert milvus["milvus"]["recall@10"]["main"] >= 0.9 and milvus["milvus"]["ask_ms"]["p50"] > 0
    assert results["ray"]["chunks"] > 0 and results["ray"]["overhead"] > 0
    assert (tmp_path / "bench" / "scale.png").exists()
    assert "| measurement | figure | against |" in capsys.readouterr().out


def test_resident_memory_is_told_by_file_and_anonymous(tmp_path: Path) -> None:
    import mmap
    import os

    from eval.bench.common import resident_parts

    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "f.bin"
    path.write_bytes(os.urandom(4 << 20))
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        assert sum(m[i] for i in range(0, len(m), 4096)) >= 0  # touch every page
        parts = resident_parts(os.getpid(), tmp_path)
    assert parts["sub/f.bin"] == pytest.approx(4.0, abs=0.1)
    assert parts["anonymous"] > 10 and parts["other files"] > 1  # Python, its libraries


def test_scale_out_figures_in_the_table() -> None:
    from eval.bench.run import format_table

    side = {"chunks_per_s": 900, "ask_ms": {"p50": 80, "p95": 200}, "search_ms": {"p50": 9},
            "recall@10": {"main": 1.0, "cross_lingual": 0.99}, "index": "auto"}  # fmt: skip
    table = format_table({
        "machine": {"date": "d", "cpu": "c", "cores": 2, "memory_gib": 24, "python": "3.11"},
        "milvus": [{"chunks": 10_000, "local": side, "milvus": side}],
        "ray": {"chunks": 240, "actors": 1, "plain_s": 30.0, "ray_s": 36.0, "ray_init_s": 9.0,
                "overhead": 1.2},
    })  # fmt: skip
    assert "| 10,000 chunks, Milvus (auto): ingest (vectors given), ask p50 / p95 |" in table
    assert "| ingest 240 chunks into Milvus: plain / Ray (1 actor) | 30.0 / 36.0 s" in table
    assert "Ray overhead ×1.2" in table


@pytest.mark.slow
def test_short_soak_has_no_errors_and_flat_memory(tmp_path: Path) -> None:
    from eval.bench import run_bench

    soak = run_bench(tmp_path, quick=True, parts=("soak",), log=lambda _: None)["soak"]
    assert soak["requests"] > 0 and soak["errors"] == 0, soak["error_examples"]
    assert soak["latency_ms"]["p95"] > 0
    # Memory after warm-up stays within a bound (the sentence cache may still fill).
    assert soak["growth_mb"] <= 64, soak["rss_mb"]
