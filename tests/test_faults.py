"""Faults: ingest killed at any point, damaged index files, a manifest of another model.

The promise under test: the previous index survives whole and answers exactly as before;
a damaged one is a clear error with the command that rebuilds it, never a wrong answer.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from ingest import ingest
from retriever import (
    Answerer,
    Index,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    durable,
)
from retriever import index as ri
from retriever.manifest import Manifest
from retriever.settings import DEFAULT_SCORING
from tests.conftest import ROOT, TINY, HashEncoder, write_tiny
from ui.cli import main

pytestmark = pytest.mark.timeout(300)

QUESTIONS = [
    "When was the siege of Leningrad broken?",
    "How many tanks clashed at Prokhorovka?",
    "Wann befreite die Rote Armee Minsk?",
    "When did Operation Bagration begin?",
    "Where is the Dnieper crossing?",
    "banana bread recipe",
]


def _encoders() -> tuple[HashEncoder, HashEncoder]:
    return HashEncoder(), HashEncoder(name="aux-hash", dim=192)


def _answers(index_dir: Path) -> list[dict[str, Any]]:
    """Every question's full answer, timings dropped: what a user would see."""
    encoder, aux = _encoders()
    answerer = Answerer(
        Index.open(index_dir),
        encoder,
        cross_lingual_encoder=aux,
        scoring=DEFAULT_SCORING.replace(min_score=0.1, reader=""),  # hashed words: no reader
    )
    out = []
    for q in QUESTIONS:
        d = answerer.ask(q, k=5).to_dict()
        d.pop("timing_ms")
        out.append(d)
    return out


def _ingest(docs: Path, index_dir: Path, **kw: Any):
    encoder, aux = _encoders()
    return ingest([docs], index_dir, encoder=encoder, cross_lingual_encoder=aux, **kw)


def _change(docs: Path) -> None:
    """An update that adds, changes and removes a document."""
    (docs / "dnieper.txt").write_text("The Dnieper crossing began in late September 1943.\n")
    (docs / "kursk.md").write_text("# Kursk\n\nNearly 6,000 tanks clashed at Kursk in all.\n")
    (docs / "notes" / "majdanek.txt").unlink()


def _leftovers(index_dir: Path) -> list[str]:
    """What an index folder holds besides CURRENT, its lock and the live generation."""
    live = (index_dir / "CURRENT").read_text().strip()
    locks = {"CURRENT", ".lock", ".compact.lock", live}
    return sorted(p.name for p in index_dir.iterdir() if p.name not in locks)


# -- killed while writing ----------------------------------------------------------------------

_KILLER = textwrap.dedent(
    """
    import json, os, shutil, signal, sys
    import faiss, numpy as np
    import retriever.lexical as lexical
    from retriever import durable
    from ingest import ingest
    from tests.conftest import HashEncoder

    docs, index_dir, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    mode = sys.argv[4] if len(sys.argv) > 4 else "full"
    events = []

    def point(name):
        events.append(name)
        if len(events) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def wrap(owner, attr):
        real = getattr(owner, attr)

        def wrapper(*args, **kwargs):
            point("before " + attr)
            result = real(*args, **kwargs)
            point("after " + attr)
            return result

        setattr(owner, attr, wrapper)

    # Every step that writes, renames, flushes or removes a file of the index.
    for owner, attr in [
        (faiss, "write_index"), (np, "save"), (lexical.LexicalIndex, "save"),
        (durable, "write_file"), (durable, "seal"), (durable, "fsync_dir"),
        (os, "rename"), (os, "replace"), (shutil, "rmtree"),
        (os, "fsync"), (os, "link"),
    ]:
        wrap(owner, attr)
    if mode == "compact":  # the background rebuild of a delta generation
        from ingest.compact import compact
        compact(index_dir)
    else:  # "delta": the tiny corpus counts as a large index
        from ingest.compact import DeltaPolicy
        policy = DeltaPolicy(min_base=1) if mode == "delta" else DeltaPolicy()
        ingest([docs], index_dir, encoder=HashEncoder(), delta=policy,
               cross_lingual_encoder=HashEncoder(name="aux-hash", dim=192))
    print(json.dumps(events))
    """
)


def _run_killer(tmp: Path, docs: Path, index_dir: Path, kill_at: int, mode: str = "full") -> Any:
    script = tmp / "killer.py"
    if not script.exists():
        script.write_text(_KILLER)
    return subprocess.run(
        [sys.executable, str(script), str(docs), str(index_dir), str(kill_at), mode],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def update_case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An index of the tiny corpus, the changed corpus, and the answers before and after."""
    tmp = tmp_path_factory.mktemp("kill")
    docs = write_tiny(tmp / "docs")
    _ingest(docs, tmp / "before")
    before = _answers(tmp / "before")
    _change(docs)
    _ingest(docs, tmp / "after")
    after = _answers(tmp / "after")
    assert before != after
    shutil.copytree(tmp / "before", tmp / "count")
    run = _run_killer(tmp, docs, tmp / "count", 0)
    assert run.returncode == 0, run.stderr
    events = json.loads(run.stdout.strip().splitlines()[-1])
    return {"tmp": tmp, "docs": docs, "before": before, "after": after, "events": events}


def _swapped(events: list[str]) -> bool:
    """True once CURRENT has been replaced, the moment the new generation goes live."""
    return "after replace" in events


def test_the_kill_points_cover_every_step_of_a_write(update_case) -> None:
    events = update_case["events"]
    for step in ("save", "write_file", "seal", "rename", "replace", "rmtree"):
        assert f"before {step}" in events and f"after {step}" in events, step
    assert len(events) >= 40  # reported: how many points the next test kills at


def _kill_and_check(case: dict[str, Any], n: int) -> str:
    """Kill an update at its ``n``th step; the index must answer as before or as after.

    Returns which of the two it answered as.
    """
    tmp, docs, events = case["tmp"], case["docs"], case["events"]
    index_dir = tmp / f"k{n}"
    shutil.copytree(tmp / "before", index_dir)
    run = _run_killer(tmp, docs, index_dir, n)
    assert run.returncode == -signal.SIGKILL, (n, run.stderr[-2000:])
    live = "after" if _swapped(events[:n]) else "before"
    assert _answers(index_dir) == case[live], (n, events[n - 1])
    # The next run finishes the job and clears what the killed one left.
    report = _ingest(docs, index_dir)
    assert report.wrote == (live == "before")
    assert _answers(index_dir) == case["after"]
    assert _leftovers(index_dir) == [], (n, events[n - 1])
    shutil.rmtree(index_dir)
    return live


@pytest.mark.parametrize("step", ["after save", "after seal", "after rename", "after replace"])
def test_killed_at_a_key_step_the_index_answers_as_before_or_as_after(update_case, step) -> None:
    """The moments that matter: files half written, sealed, renamed into place, swapped."""
    n = update_case["events"].index(step) + 1
    assert _kill_and_check(update_case, n) == ("after" if step == "after replace" else "before")


@pytest.mark.slow
def test_killed_at_every_step_the_index_answers_as_before_or_as_after(update_case) -> None:
    """SIGKILL at each of the update's steps in turn (76 at the time of writing)."""
    outcomes = [_kill_and_check(update_case, n) for n in range(1, len(update_case["events"]) + 1)]
    assert outcomes.count("before") > 10 and outcomes.count("after") > 0


@pytest.mark.slow
def test_a_first_ingest_killed_leaves_no_index_or_a_whole_one(update_case) -> None:
    tmp, docs, events = update_case["tmp"], update_case["docs"], update_case["events"]
    for n in range(1, len(events) + 1, 3):
        index_dir = tmp / f"first{n}"
        run = _run_killer(tmp, docs, index_dir, n)
        if run.returncode == 0:  # a first write has fewer steps than an update
            continue
        assert run.returncode == -signal.SIGKILL
        if Index.exists(index_dir):
            assert _answers(index_dir) == update_case["after"]
        else:
            with pytest.raises(IndexNotFoundError, match="verbatim ingest"):
                Index.open(index_dir)
        _ingest(docs, index_dir)
        assert _answers(index_dir) == update_case["after"]
        assert _leftovers(index_dir) == []
        shutil.rmtree(index_dir)


def _real_answers(index_dir: Path) -> list[dict[str, Any]]:
    answerer = Answerer.open(index_dir)  # the real models, loaded once per process
    out = []
    for q in QUESTIONS:
        d = answerer.ask(q).to_dict()
        d.pop("timing_ms")
        out.append(d)
    return out


@pytest.mark.slow
def test_verbatim_ingest_killed_at_moments_of_a_real_run_keeps_the_index(tmp_path: Path) -> None:
    """The real command and models, killed at fractions of the time a whole update takes."""
    import time

    exe = Path(sys.executable).parent / "verbatim"

    def run(docs: Path, index_dir: Path) -> subprocess.Popen:
        cmd = [str(exe), "ingest", str(docs), "--index", str(index_dir), "--quiet"]
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    docs = write_tiny(tmp_path / "docs")
    assert run(docs, tmp_path / "before").wait(timeout=300) == 0
    before = _real_answers(tmp_path / "before")
    _change(docs)
    shutil.copytree(tmp_path / "before", tmp_path / "after")
    t0 = time.perf_counter()
    assert run(docs, tmp_path / "after").wait(timeout=300) == 0
    whole = time.perf_counter() - t0
    after = _real_answers(tmp_path / "after")
    assert before != after
    for fraction in (0.5, 0.85, 0.95, 0.99):
        index_dir = tmp_path / f"k{fraction}"
        shutil.copytree(tmp_path / "before", index_dir)
        proc = run(docs, index_dir)
        time.sleep(whole * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _real_answers(index_dir) in (before, after), fraction
        assert run(docs, index_dir).wait(timeout=300) == 0
        assert _real_answers(index_dir) == after
        assert _leftovers(index_dir) == []


# -- damaged files -----------------------------------------------------------------------------


def _truncate_half(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _empty(p: Path) -> None:
    p.write_bytes(b"")


def _flip_byte(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))


def _append(p: Path) -> None:
    with open(p, "ab") as f:
        f.write(b"\x00garbage")


def _delete(p: Path) -> None:
    p.unlink()


DAMAGES = {
    "truncated": _truncate_half,
    "emptied": _empty,
    "one-bit-flipped": _flip_byte,
    "appended": _append,
    "deleted": _delete,
}


@pytest.fixture(scope="module")
def sound_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("sound")
    _ingest(write_tiny(tmp / "docs"), tmp / "index")
    return tmp / "index"


def _generation_files(index_dir: Path) -> list[str]:
    gen = index_dir / (index_dir / "CURRENT").read_text().strip()
    return sorted(
        p.relative_to(gen).as_posix()
        for p in gen.rglob("*")
        if p.is_file() and p.name != durable.STAT_CACHE
    )


def _age(index_dir: Path, seconds: int = 3600) -> Path:
    """Rewrite the index so that its files look old to the stat cache; returns the generation.

    Files hashed within two seconds of their last write are never trusted from the cache,
    so a test index written just now would be hashed on every open regardless.
    """
    gen = index_dir / (index_dir / "CURRENT").read_text().strip()
    manifest = Manifest.from_json((gen / "manifest.json").read_text(encoding="utf-8"))
    past = time.time_ns() - seconds * 1_000_000_000
    for name in manifest.files:
        os.utime(gen / name, ns=(past, past))
    # ctime cannot be set; record the stat as it is now, as the writer would have.
    stats = {name: durable.stat_key((gen / name).stat()) for name in manifest.files}
    (gen / durable.STAT_CACHE).write_text(json.dumps(stats), encoding="utf-8")
    return gen


def test_the_stat_cache_spares_hashing_but_not_the_check(
    sound_index: Path, tmp_path: Path, monkeypatch
) -> None:
    """Opening trusts a file whose size, times and inode are as sealed; a write in place
    changes ctime, so a damaged file is hashed and refused even with the cache present."""
    index_dir = tmp_path / "index"
    shutil.copytree(sound_index, index_dir)
    gen = _age(index_dir)
    expected = _answers(sound_index)
    hashed: list[str] = []
    real = durable.sha256_file
    monkeypatch.setattr(
        durable, "sha256_file", lambda p, sync=False: hashed.append(p.name) or real(p)
    )
    assert _answers(index_dir) == expected and hashed == []
    time.sleep(0.05)  # past the clock tick of the recorded ctime (Linux ticks are ≤ 10 ms)
    _flip_byte(gen / "vectors.npy")
    with pytest.raises(IndexCorruptError, match="vectors.npy does not match its checksum"):
        Index.open(index_dir)
    assert hashed == ["vectors.npy"]


def test_a_damaged_or_missing_stat_cache_only_costs_a_full_check(
    sound_index: Path, tmp_path: Path
) -> None:
    expected = _answers(sound_index)
    for damage in DAMAGES.values():
        index_dir = tmp_path / f"idx-{damage.__name__}"
        shutil.copytree(sound_index, index_dir)
        damage(_age(index_dir) / durable.STAT_CACHE)
        assert _answers(index_dir) == expected


def test_every_file_of_a_generation_is_covered(sound_index: Path) -> None:
    names = _generation_files(sound_index)
    for name in ("manifest.json", "vectors.npy", "aux_vectors.npy", "chunks.npy", "texts.bin"):
        assert name in names
    assert any(n.startswith("lexical/") for n in names)


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_file_is_a_clear_error_with_the_command_that_rebuilds(
    sound_index: Path, tmp_path: Path, damage: str, capsys, fake_models
) -> None:
    """Each file of a generation, and CURRENT, damaged each way: never a wrong answer."""
    docs = write_tiny(tmp_path / "docs")
    expected = _answers(sound_index)
    names = ["CURRENT", *_generation_files(sound_index)]
    for name in names:
        index_dir = tmp_path / f"idx-{name.replace('/', '_')}"
        shutil.copytree(sound_index, index_dir)
        gen = index_dir / (index_dir / "CURRENT").read_text().strip()
        DAMAGES[damage](index_dir / name if name == "CURRENT" else gen / name)
        if name == "CURRENT" and damage == "deleted":
            error: type[Exception] = IndexNotFoundError
            message = f"build one with: verbatim ingest YOUR_DOCUMENTS --index {index_dir}"
        else:
            error = IndexCorruptError
            message = f"rebuild it with: verbatim ingest YOUR_DOCUMENTS --index {index_dir}"
        with pytest.raises(error) as info:
            Index.open(index_dir)
        assert message in str(info.value), (name, str(info.value))
        # The CLI: one line, exit 2.
        assert main(["ask", "When?", "--index", str(index_dir)]) == 2, name
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, (name, err)
        # Ingest rebuilds it, warning why, and it answers as the sound one did.
        warnings: list[str] = []
        report = _ingest(docs, index_dir, warn=warnings.append)
        assert report.wrote, name
        if error is IndexCorruptError:
            assert any("cannot be reused" in w for w in warnings), name
        assert _answers(index_dir) == expected, name
        assert _leftovers(index_dir) == [], name


def test_current_naming_something_outside_the_index_is_refused(sound_index, tmp_path) -> None:
    index_dir = tmp_path / "idx"
    shutil.copytree(sound_index, index_dir)
    for bad in ("..", "../../etc", "gen-../../x", "", "\x00\x01"):
        (index_dir / "CURRENT").write_text(bad)
        with pytest.raises(IndexCorruptError, match="rebuild it with"):
            Index.open(index_dir)


# -- a manifest of another model or dimension --------------------------------------------------


def test_a_manifest_from_another_index_is_refused(sound_index, tmp_path) -> None:
    other = tmp_path / "other"
    ingest([write_tiny(tmp_path / "docs")], other, encoder=HashEncoder(name="other", dim=64),
           cross_lingual=False)  # fmt: skip
    index_dir = tmp_path / "idx"
    shutil.copytree(sound_index, index_dir)
    gen = index_dir / (index_dir / "CURRENT").read_text().strip()
    other_gen = other / (other / "CURRENT").read_text().strip()
    shutil.copy(other_gen / "manifest.json", gen / "manifest.json")
    with pytest.raises(IndexCorruptError, match="rebuild it with: verbatim ingest"):
        Index.open(index_dir)


def test_an_edited_manifest_is_refused(sound_index, tmp_path) -> None:
    index_dir = tmp_path / "idx"
    shutil.copytree(sound_index, index_dir)
    gen = index_dir / (index_dir / "CURRENT").read_text().strip()
    d = json.loads((gen / "manifest.json").read_text())
    d["dim"], d["model"] = 384, "all-MiniLM-L6-v2"
    (gen / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(IndexCorruptError, match="manifest.json does not match its checksum"):
        Index.open(index_dir)


def test_a_manifest_stripped_of_its_checksums_is_refused(sound_index, tmp_path) -> None:
    """Every index of the current format was written with checksums; one without them has
    been altered, so it is not read on trust."""
    index_dir = tmp_path / "idx"
    shutil.copytree(sound_index, index_dir)
    gen = index_dir / (index_dir / "CURRENT").read_text().strip()
    d = json.loads((gen / "manifest.json").read_text())
    del d["digest"], d["files"]
    (gen / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(IndexCorruptError, match="has no checksum.*rebuild it with"):
        Index.open(index_dir)


def test_asking_with_another_model_names_the_fix(sound_index, capsys, fake_models) -> None:
    assert main(["ask", "When?", "--index", str(sound_index), "--model", "other-model"]) == 2
    err = capsys.readouterr().err
    assert "built with model 'test-hash', not 'other-model'" in err
    assert f"verbatim ingest YOUR_DOCUMENTS --index {sound_index} --model other-model" in err
    index = Index.open(sound_index)
    with pytest.raises(IndexMismatchError, match="256-dimensional"):
        Answerer(index, HashEncoder(dim=384), cross_lingual_encoder=HashEncoder("aux-hash", 192))
    assert len(TINY) == len(index.documents)


def test_a_generation_replaced_while_it_is_opened_gives_way_to_the_new_one(
    tmp_path: Path, monkeypatch
) -> None:
    """A reader that reads CURRENT just before another process swaps it and removes the
    old generation opens the new one instead of failing."""
    docs = write_tiny(tmp_path / "docs")
    index_dir = tmp_path / "index"
    _ingest(docs, index_dir)
    _change(docs)
    real_open = ri.VectorSpace.open
    raced: list[str] = []

    def open_after_a_swap(*args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        if not raced:
            raced.append((index_dir / "CURRENT").read_text())
            _ingest(docs, index_dir)  # swaps CURRENT and removes the generation being opened
        return real_open(*args, **kwargs)

    monkeypatch.setattr(ri.VectorSpace, "open", open_after_a_swap)
    index = Index.open(index_dir)
    assert index.generation.name == (index_dir / "CURRENT").read_text().strip() != raced[0]
    assert "dnieper.txt" in {d.source for d in index.documents}
