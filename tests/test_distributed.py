"""Ingest on Ray: the same store as the plain ingest, and a run killed midway resumes
without duplicating or losing a chunk.

A local Ray cluster of 2 CPUs (no dashboard) and ``milvus-lite server`` on 127.0.0.1; the
encoders are the tests' hashed-words ones, shipped to the actors.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest import ingest
from retriever.stores import open_store
from tests.conftest import ROOT, TINY

pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def ray_local():  # type: ignore[no-untyped-def]
    pytest.importorskip("ray", reason="the Ray suite needs: pip install -e '.[scale]'")
    from tests.services import ray_cluster

    with ray_cluster():
        yield


def _corpus(folder: Path, n: int) -> Path:
    """The tiny corpus plus ``n`` documents of a few chunks each."""
    from tests.conftest import write_tiny

    write_tiny(folder)
    for i in range(n):
        lines = [f"Report {i}, part {j}: the {i}th division crossed river {j} on day {i + j}."
                 for j in range(12)]  # fmt: skip
        (folder / f"report-{i:02d}.txt").write_text("\n\n".join(lines) * 3 + "\n")
    return folder


def _snapshot(location: str) -> dict[str, object]:
    store = open_store(location)
    ids = store.ids().tolist()
    docs = {d.source: (d.sha256, d.title, d.lang, d.chunk_end, d.excluded, d.headings)
            for d in store.documents}  # fmt: skip
    texts = {s: store.document_text(s) for s in docs}
    chunks = {i: store.chunk(i) for i in ids}
    return {"n": len(store), "ids": sorted(ids), "docs": docs, "texts": texts, "chunks": chunks}


def test_a_ray_ingest_writes_the_store_a_plain_ingest_writes(
    ray_local, milvus_url: str, tmp_path: Path, encoder, aux_encoder
) -> None:
    from ingest.distributed import ingest_distributed
    from tests.services import drop_store, new_store_name

    docs = _corpus(tmp_path / "docs", 6)
    plain, ray_ = (f"{milvus_url}/{new_store_name()}" for _ in range(2))
    try:
        ingest([docs], plain, encoder=encoder, cross_lingual_encoder=aux_encoder)
        report = ingest_distributed(
            [docs], ray_, encoder=encoder, cross_lingual_encoder=aux_encoder, actors=1
        )
        assert report.wrote and sorted(report.added) == sorted([*TINY, *(
            f"report-{i:02d}.txt" for i in range(6))])  # fmt: skip
        assert report.chunks == report.embedded == len(open_store(plain))
        assert _snapshot(ray_) == _snapshot(plain)
        again = ingest_distributed([docs], ray_, encoder=encoder, cross_lingual_encoder=aux_encoder)
        assert not again.wrote and again.embedded == 0 and len(again.unchanged) == 11
    finally:
        drop_store(plain)
        drop_store(ray_)


def _kill_tree(pid: int) -> None:
    """SIGKILL the job and every process it started (its Ray head and workers)."""
    import psutil

    proc = psutil.Process(pid)
    family = [proc, *proc.children(recursive=True)]
    for p in family:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=30)


def _live_documents(location: str) -> int:
    from retriever.milvus_schema import connect, parse_location

    where = parse_location(location)
    rows = connect(where).query(
        where.documents, filter='kind == "record" and part == 0', output_fields=["count(*)"]
    )
    return int(rows[0]["count(*)"])


def test_a_ray_ingest_killed_midway_resumes_without_duplicates_or_losses(
    ray_local, milvus_url: str, tmp_path: Path, encoder, aux_encoder
) -> None:
    from ingest.distributed import ingest_distributed
    from retriever.milvus_writer import MilvusWriter
    from tests.services import drop_store, new_store_name

    docs = _corpus(tmp_path / "docs", 24)
    plain, killed = (f"{milvus_url}/{new_store_name()}" for _ in range(2))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    job = subprocess.Popen(
        [sys.executable, "-m", "tests.ray_job", str(docs), killed, "0.4"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while True:
            assert job.poll() is None, job.stdout.read().decode()[-3000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the job wrote nothing in 4 minutes"
            try:
                if _live_documents(killed) >= 3:
                    break
            except Exception:  # the store is not created yet
                pass
            time.sleep(0.3)
        _kill_tree(job.pid)
        done = _live_documents(killed)
        assert 3 <= done < 29, "the kill came after the run had finished"
        store = open_store(killed)
        pending = MilvusWriter.open(killed, store.meta).pending()
        assert pending, "nothing was left to resume"
        report = ingest_distributed(
            [docs], killed, encoder=encoder, cross_lingual_encoder=aux_encoder, actors=1
        )
        assert len(report.unchanged) >= done and len(report.added) == 29 - len(report.unchanged)
        ingest([docs], plain, encoder=encoder, cross_lingual_encoder=aux_encoder)
        assert _snapshot(killed) == _snapshot(plain)
        assert MilvusWriter.open(killed, store.meta).pending() == []
    finally:
        if job.poll() is None:
            _kill_tree(job.pid)
        drop_store(plain)
        drop_store(killed)


def test_the_cli_refuses_ray_without_a_store(tiny_docs: Path, capsys) -> None:
    from ui.cli import main

    assert main(["ingest", str(tiny_docs), "--ray", "--index", "x"]) == 2
    assert "--store" in capsys.readouterr().err


def test_a_local_cluster_that_times_out_at_startup_is_started_once_more(monkeypatch) -> None:
    ray = pytest.importorskip("ray")
    from ingest.distributed import start_ray

    calls: list[str] = []

    def init(**_: object) -> None:
        calls.append("init")
        if len(calls) == 1:
            raise Exception("The current node timed out during startup. This could happen ...")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: calls.append("shutdown"))
    start_ray("local", num_cpus=2)
    assert calls == ["init", "shutdown", "init"]
    calls.clear()
    monkeypatch.setattr(ray, "init", lambda **_: (_ for _ in ()).throw(ValueError("bad option")))
    with pytest.raises(ValueError, match="bad option"):  # other failures are not retried
        start_ray("local", num_cpus=2)
