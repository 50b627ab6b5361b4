"""Updates to a large index: a delta segment beside the base, deletions as dead rows, and a
rebuild that folds them back (``ingest.compact``, ``retriever.segments``).

The tiny corpus stands in for a large index by lowering the policy's thresholds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.compact import DeltaPolicy, compact
from retriever import Index
from retriever.lexical import LexicalIndex, tokenize
from retriever.segments import DeltaLexical
from retriever.store import Space
from tests.conftest import HashEncoder, write_tiny
from tests.test_faults import QUESTIONS, _answers, _change, _ingest, _leftovers, _run_killer

SMALL = DeltaPolicy(min_base=1)
pytestmark = pytest.mark.timeout(600)


@pytest.fixture()
def updated(tmp_path: Path) -> dict[str, Path]:
    """The tiny corpus indexed, then changed (one added, one changed, one removed) and
    updated through a delta; and a full index of the changed corpus to compare with."""
    docs = write_tiny(tmp_path / "docs")
    _ingest(docs, tmp_path / "delta", delta=SMALL)
    before = Index.open(tmp_path / "delta")
    inodes = {n: (before.generation / n).stat().st_ino for n in ("vectors.npy", "texts.bin")}
    _change(docs)
    report = _ingest(docs, tmp_path / "delta", delta=SMALL)
    assert report.wrote and 0 < report.delta_rows <= SMALL.max_rows and not report.compact_due
    _ingest(docs, tmp_path / "full")
    return {"docs": docs, "delta": tmp_path / "delta", "full": tmp_path / "full",
            "inodes": inodes}  # type: ignore[dict-item]  # fmt: skip


def test_an_update_links_the_base_and_writes_only_what_changed(updated) -> None:
    index = Index.open(updated["delta"])
    assert index.manifest.format == 4
    for name, inode in updated["inodes"].items():  # the same file, not a copy
        assert (index.generation / name).stat().st_ino == inode
    dead = index.dead
    assert len(dead) > 0 and all(index.chunks[int(i)]["doc"] == -1 for i in dead)
    assert len(index) == len(Index.open(updated["full"])) == len(index.ids())
    assert not set(index.ids().tolist()) & set(dead.tolist())


def _by_place(index: Index, ids: np.ndarray) -> list[tuple[str, int, int]]:
    return [(c.source, c.start, c.end) for c in (index.chunk(int(i)) for i in ids if i >= 0)]


def test_a_delta_searches_like_a_full_write(updated) -> None:
    delta, full = Index.open(updated["delta"]), Index.open(updated["full"])
    enc = HashEncoder()
    for q in QUESTIONS:
        v = enc.encode([q])
        for space in (Space.MAIN,):
            ds, di = delta.search(v, 4, space)
            fs, fi = full.search(v, 4, space)
            assert _by_place(delta, di[0]) == _by_place(full, fi[0]), q
            np.testing.assert_allclose(ds, fs, rtol=1e-5)
            assert np.allclose(delta.similarity(v[0], di[0]), ds[0], atol=1e-6)
        ls, li = delta.search_lexical(q, 10)
        assert not set(li.tolist()) & set(delta.dead.tolist())
    for d in delta.documents:  # every document reads back whole, from either segment
        assert delta.document_text(d.source) == full.document_text(d.source)
    assert _answers(updated["delta"]) == _answers(updated["full"])


def test_the_delta_bm25_scores_on_the_scale_of_one_index_over_both() -> None:
    """Scored with the base's statistics plus its own, a delta chunk gets the score that
    bm25s gives it in one index over base and delta together."""
    base = ["the siege of leningrad", "tanks at kursk and prokhorovka", "minsk liberated"]
    delta = ["the dnieper crossing in late september", "kursk tanks clashed", "kursk kursk"]
    one = LexicalIndex.build((t, "en") for t in base + delta)
    part = DeltaLexical.build((t, "en") for t in delta)
    tokens = tokenize("kursk tanks dnieper", "en")
    got = part.scores(tokens, LexicalIndex.build((t, "en") for t in base))
    scores, ids = one.search_tokens(tokens, 6)
    want = dict(zip(ids.tolist(), scores.tolist(), strict=True))
    np.testing.assert_allclose(got, [want.get(3 + i, 0.0) for i in range(3)], rtol=1e-5)


def test_a_rebuild_folds_the_delta_into_a_base_like_a_full_write(updated) -> None:
    assert compact(updated["delta"])
    index = Index.open(updated["delta"])
    assert index.manifest.format == 3 and len(index.dead) == 0
    assert _answers(updated["delta"]) == _answers(updated["full"])
    assert not compact(updated["delta"])  # nothing left to fold


def test_past_its_limit_a_delta_is_rebuilt_inline_or_flagged_for_the_background(
    tmp_path: Path,
) -> None:
    docs = write_tiny(tmp_path / "docs")
    tight = DeltaPolicy(min_base=1, max_rows=0)
    _ingest(docs, tmp_path / "i", delta=tight)
    _change(docs)
    report = _ingest(docs, tmp_path / "i", delta=tight)
    assert report.delta_rows == 0 and Index.open(tmp_path / "i").manifest.format == 3
    (docs / "extra.txt").write_text("The Vistula was crossed in the summer of 1944.\n")
    report = _ingest(docs, tmp_path / "i", delta=tight, background=True)
    assert report.compact_due and Index.open(tmp_path / "i").manifest.format == 4
    # A small index never takes a delta.
    (docs / "more.txt").write_text("Riga was taken in October 1944.\n")
    report = _ingest(docs, tmp_path / "i", delta=DeltaPolicy(min_base=10_000))
    assert report.delta_rows == 0 and Index.open(tmp_path / "i").manifest.format == 3


def test_a_rebuild_overtaken_by_a_newer_write_is_dropped(updated, monkeypatch) -> None:
    """A write that lands while the rebuild builds wins; the rebuild leaves nothing."""
    import retriever.writer as writer

    real = writer.seal_generation
    docs, index_dir = updated["docs"], updated["delta"]

    def meanwhile(*args: Any, **kw: Any) -> None:
        real(*args, **kw)
        (docs / "late.txt").write_text("The Oder was reached in January 1945.\n")
        thread = threading.Thread(target=_ingest, args=(docs, index_dir), kwargs={"delta": SMALL})
        thread.start()
        thread.join()

    monkeypatch.setattr(writer, "seal_generation", meanwhile)
    assert not compact(index_dir)
    index = Index.open(index_dir)
    assert "late.txt" in {d.source for d in index.documents} and index.manifest.format == 4
    assert not [p for p in os.listdir(index_dir) if p.startswith((".compact-", ".tmp-"))]


def test_a_base_on_another_file_system_is_copied(updated, monkeypatch) -> None:
    def no_links(*_: Any) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    (updated["docs"] / "late.txt").write_text("The Oder was reached in January 1945.\n")
    _ingest(updated["docs"], updated["delta"], delta=SMALL)
    shutil.rmtree(updated["full"])
    _ingest(updated["docs"], updated["full"])
    assert _answers(updated["delta"]) == _answers(updated["full"])


# -- killed while writing a delta or rebuilding ------------------------------------------------


@pytest.fixture(scope="module")
def kill_case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A one-segment index, the same updated through a delta, and the steps of the delta
    write and of its rebuild (each a point the killer stops at)."""
    tmp = tmp_path_factory.mktemp("kill-delta")
    docs = write_tiny(tmp / "docs")
    _ingest(docs, tmp / "before")
    before = _answers(tmp / "before")
    _change(docs)
    shutil.copytree(tmp / "before", tmp / "after")
    _ingest(docs, tmp / "after", delta=SMALL)
    after = _answers(tmp / "after")
    assert before != after and Index.open(tmp / "after").manifest.format == 4
    events = {}
    for mode, start in (("delta", "before"), ("compact", "after")):
        shutil.copytree(tmp / start, tmp / f"count-{mode}")
        run = _run_killer(tmp, docs, tmp / f"count-{mode}", 0, mode)
        assert run.returncode == 0, run.stderr
        events[mode] = json.loads(run.stdout.strip().splitlines()[-1])
    return {"tmp": tmp, "docs": docs, "before": before, "after": after, "events": events}


def _kill(case: dict[str, Any], mode: str, n: int) -> str:
    tmp, docs, events = case["tmp"], case["docs"], case["events"][mode]
    index_dir = tmp / f"{mode}{n}"
    shutil.copytree(tmp / ("before" if mode == "delta" else "after"), index_dir)
    run = _run_killer(tmp, docs, index_dir, n, mode)
    assert run.returncode == -signal.SIGKILL, (n, run.stderr[-2000:])
    live = "after" if mode == "compact" or "after replace" in events[:n] else "before"
    assert _answers(index_dir) == case[live], (mode, n, events[n - 1])
    # The next run finishes the job and clears what the killed one left.
    if mode == "delta":
        _ingest(docs, index_dir, delta=SMALL)
    else:
        compact(index_dir)
    assert Index.open(index_dir).manifest.format == (4 if mode == "delta" else 3)
    assert _answers(index_dir) == case["after"]
    assert _leftovers(index_dir) == [], (mode, n, events[n - 1])
    shutil.rmtree(index_dir)
    return live


def test_the_kill_points_cover_the_delta_and_the_rebuild(kill_case) -> None:
    delta, rebuild = kill_case["events"]["delta"], kill_case["events"]["compact"]
    for step in ("link", "save", "write_file", "seal", "rename", "replace", "rmtree"):
        assert f"before {step}" in delta, step
    for step in ("save", "seal", "rename", "replace", "rmtree"):
        assert f"before {step}" in rebuild, step


@pytest.mark.parametrize(
    ("mode", "step"),
    [("delta", "after link"), *[(mode, step) for mode in ("delta", "compact")
                                for step in ("after seal", "after rename", "after replace")]],
)  # fmt: skip
def test_killed_at_a_key_step_a_delta_or_rebuild_keeps_the_index(kill_case, mode, step) -> None:
    _kill(kill_case, mode, kill_case["events"][mode].index(step) + 1)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["delta", "compact"])
def test_killed_at_every_step_a_delta_or_rebuild_keeps_the_index(kill_case, mode) -> None:
    outcomes = [_kill(kill_case, mode, n) for n in range(1, len(kill_case["events"][mode]) + 1)]
    assert outcomes.count("after") > 0
