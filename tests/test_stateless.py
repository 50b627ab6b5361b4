"""Stateless serving: several servers on one Milvus store answer alike, and a document
uploaded through one is answered by the others (each follows the store's version row).

Each server has its own data folder and its own answerer; all they share is the store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import ui.library
from ingest import ingest
from retriever import Answerer
from retriever.settings import DEFAULT_SCORING
from retriever.stores import open_store
from tests.conftest import app_client

pytestmark = pytest.mark.service

QUESTION = "When was Riga taken?"
RIGA = "Riga was taken by the Red Army on 13 October 1944 after a month of fighting.\n"


def _server(location: str, data: Path, encoder, aux_encoder):  # type: ignore[no-untyped-def]
    from ui.app import build_app

    answerer = Answerer(
        open_store(location),
        encoder,
        cross_lingual_encoder=aux_encoder,
        scoring=DEFAULT_SCORING.replace(min_score=0.2),
    )
    return build_app(answerer, data_dir=data, examples=[])


def _ask(client, q: str) -> dict:  # type: ignore[no-untyped-def]
    response = client.get("/api/ask", params={"q": q, "k": 3})
    assert response.status_code == 200, response.text
    answer = response.json()
    answer.pop("timing_ms")
    return answer


def test_servers_on_one_store_answer_alike_and_follow_each_others_uploads(
    milvus_store: str, tiny_docs: Path, tmp_path: Path, encoder, aux_encoder, monkeypatch
) -> None:
    monkeypatch.setattr(ui.library, "FOLLOW_INTERVAL_S", 0.0)
    ingest([tiny_docs], milvus_store, encoder=encoder, cross_lingual_encoder=aux_encoder)
    apps = [_server(milvus_store, tmp_path / f"data{n}", encoder, aux_encoder) for n in range(3)]
    clients = [app_client(app) for app in apps]
    questions = ["When did Operation Bagration begin?", "Wann befreite die Rote Armee Minsk?"]
    for q in questions:
        answers = [_ask(c, q) for c in clients]
        assert answers[0]["answered"] and answers[1:] == answers[:-1]
    assert all(not _ask(c, QUESTION)["answered"] for c in clients)
    upload = tmp_path / "riga.txt"
    upload.write_text(RIGA, encoding="utf-8")
    result = apps[0].state.library.add([("riga.txt", upload)])
    assert result.report.added == ["riga.txt"]
    assert (tmp_path / "data0" / "documents" / "riga.txt").is_file()
    assert not (tmp_path / "data1" / "documents").exists()  # nothing local on the others
    answers = [_ask(c, QUESTION) for c in clients]
    assert all("13 October 1944" in (a["quote"] or "") for a in answers)
    assert answers[1:] == answers[:-1]
    health = [c.get("/api/health").json() for c in clients]
    assert health[1:] == health[:-1] and health[0]["documents"] == 6
    doc = clients[2].get("/doc/riga.txt", params={"start": 0, "end": 10})
    assert doc.status_code == 200 and "by the Red Army on 13 October 1944" in doc.text
    # A removal through another server is followed the same way.
    apps[1].state.library.remove(["riga.txt"])
    assert all(not _ask(c, QUESTION)["answered"] for c in clients)
