"""Shared fixtures: a tiny in-repo corpus, a fake encoder, and the real model (slow)."""

from __future__ import annotations

import os
import re
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from retriever.settings import DEFAULT_SCORING

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
OUTPUT = ROOT / "tests" / "output"

TINY = {
    "leningrad.txt": (
        "On January 27, 1944, the siege of Leningrad was broken after about 900 days. "
        "More than 600,000 people died from starvation during the siege.\n\n"
        "Popular pages: History\n"
    ),
    "kursk.md": (
        "# The Battle of Kursk\n\n"
        "The battle began on July 4, 1943. Nearly 2,000 tanks clashed at Prokhorovka.\n\n"
        "By July 14, Germany was in retreat.\n"
    ),
    "bagration.html": (
        "<html><head><title>Operation Bagration</title><style>p{color:red}</style></head>"
        "<body><nav>Close Search Dialog</nav><h1>Operation Bagration</h1>"
        "<p>Operation Bagration began on June 22, 1944.</p>"
        "<p>Soviet forces took Minsk on July 3.</p><script>var x = 'hidden';</script>"
        "</body></html>"
    ),
    "minsk-de.txt": (
        "Am 3. Juli befreite die Rote Armee Minsk, zehn Tage später Wilna. "
        "Rund 350.000 deutsche Soldaten waren gefallen.\n"
    ),
    "notes/majdanek.txt": (
        "On July 24, 1944, Soviet soldiers captured the Majdanek camp near Lublin.\n"
    ),
}


class HashEncoder:
    """A deterministic bag-of-words encoder: fast, no model, good enough to rank words."""

    def __init__(self, name: str = "test-hash", dim: int = 256) -> None:
        self.name = name
        self.dim = dim

    def encode(self, texts: list[str], *, batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i, zlib.crc32(f"{self.name}:{word}".encode()) % self.dim] += 1.0
            out[i, 0] += 1e-3  # never a zero vector
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


def write_tiny(folder: Path) -> Path:
    for name, text in TINY.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return folder


#: What in-process clients of the app call it: a host the server is bound to.
BASE_URL = "http://127.0.0.1:7860"


def app_client(app):  # type: ignore[no-untyped-def]
    """An in-process client of ``app``, addressing it as a browser on this machine would."""
    from fastapi.testclient import TestClient

    return TestClient(app, base_url=BASE_URL)


@pytest.fixture
def encoder() -> HashEncoder:
    return HashEncoder()


@pytest.fixture
def aux_encoder() -> HashEncoder:
    """Stands in for the cross-lingual encoder: another space, another dimension."""
    return HashEncoder(name="aux-hash", dim=192)


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any model name the CLI or runner loads becomes a fake encoder of that name (a fake
    has no calibration: its cosines are its own)."""
    import ingest.embed
    import retriever.models

    def cross(name: str, **_: object) -> HashEncoder:
        return HashEncoder(name=name, dim=192)

    def main(name: str, **_: object) -> HashEncoder:
        return HashEncoder(name=name)

    for module in (retriever.models, ingest.embed):
        monkeypatch.setattr(module, "load_encoder", main)
        monkeypatch.setattr(module, "load_cross_lingual", cross)


@pytest.fixture(autouse=True)
def _hand_set_scores_in_fast_tests(request: pytest.FixtureRequest, monkeypatch) -> None:
    """Fast tests run on hashed-word encoders, which the trained reader was not made to
    follow: there the hand-set scores alone choose the quote (as with ``Scoring(reader="")``).
    Slow tests, on the real models, use the real reader."""
    if request.node.get_closest_marker("slow") is None:
        import retriever.reader

        monkeypatch.setattr(retriever.reader, "LoadingReader", lambda *_a, **_k: None)


@pytest.fixture
def tiny_docs(tmp_path: Path) -> Path:
    return write_tiny(tmp_path / "docs")


@pytest.fixture
def tiny_index(
    tmp_path: Path, tiny_docs: Path, encoder: HashEncoder, aux_encoder: HashEncoder
) -> Path:
    from ingest import ingest

    index = tmp_path / "index"
    ingest([tiny_docs], index, encoder=encoder, cross_lingual_encoder=aux_encoder)
    return index


@pytest.fixture
def tiny_answerer(tiny_index: Path, encoder: HashEncoder, aux_encoder: HashEncoder):
    from retriever import Answerer, Index

    # Hashed words: an unrelated sentence scores about 0, one in another language 0.15.
    return Answerer(
        Index.open(tiny_index),
        encoder,
        cross_lingual_encoder=aux_encoder,
        scoring=DEFAULT_SCORING.replace(min_score=0.2),
    )


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed documents indexed with the real default model (slow: loads the model)."""
    from ingest import ingest

    docs = tmp_path_factory.mktemp("seeds")
    for p in SEEDS.iterdir():
        shutil.copy(p, docs / p.name)
    index = tmp_path_factory.mktemp("seed-index") / "index"
    ingest([docs], index)
    return index


@pytest.fixture(scope="session")
def seed_answerer(seed_index: Path):
    from retriever import Answerer

    return Answerer.open(seed_index)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def milvus_url(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A Milvus server for the session: ``milvus-lite server`` on 127.0.0.1, or the real one
    named by ``VERBATIM_TEST_MILVUS`` (see ``tests/services.py``)."""
    pytest.importorskip("pymilvus", reason="the Milvus suites need: pip install -e '.[scale]'")
    from tests.services import REAL_MILVUS, lite_server

    if REAL_MILVUS:
        yield REAL_MILVUS
        return
    pytest.importorskip("milvus_lite", reason="the Milvus suites need: pip install -e '.[scale]'")
    with lite_server(tmp_path_factory.mktemp("milvus") / "data") as (url, _pid):
        yield url


@pytest.fixture
def milvus_store(milvus_url: str):  # type: ignore[no-untyped-def]
    """The location of a new, empty store of this test (dropped after)."""
    from tests.services import drop_store, new_store_name

    location = f"{milvus_url}/{new_store_name()}"
    yield location
    drop_store(location)
