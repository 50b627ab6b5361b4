"""The web app in process: the JSON route and the named Gradio endpoint."""

from __future__ import annotations

import pytest

from retriever.settings import DEFAULT_SCORING
from ui.render import answer_html


@pytest.fixture
def client(tiny_answerer):
    from tests.conftest import app_client
    from ui.app import build_app

    with app_client(build_app(tiny_answerer)) as c:
        yield c


def test_api_ask_returns_contract_1(client) -> None:
    r = client.get("/api/ask", params={"q": "When did Operation Bagration begin?", "k": 2})
    assert r.status_code == 200
    d = r.json()
    assert d["answered"] and d["quote"] == "Operation Bagration began on June 22, 1944."
    assert d["citation"]["source"] == "bagration.html"
    assert len(d["passages"]) == 2


@pytest.mark.parametrize(("params", "status"), [({"q": "  "}, 400), ({"q": "x", "k": 0}, 422)])
def test_api_ask_refuses_bad_input_with_a_message(client, params, status) -> None:
    r = client.get("/api/ask", params=params)
    assert r.status_code == status
    assert "Traceback" not in r.text
    if status == 400:
        assert r.json()["error"].startswith("the question is empty")


def test_health(client) -> None:
    assert client.get("/api/health").json() == {"ok": True, "documents": 5, "chunks": 5}


def test_chat_page_is_served(client) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert "<title>Verbatim</title>" in r.text or "Verbatim" in r.text


def test_answer_html_escapes_document_text(tiny_answerer) -> None:
    from dataclasses import replace

    answer = tiny_answerer.ask("When did Operation Bagration begin?")
    hostile = replace(
        answer,
        quote="<script>alert(1)</script>\n\n# heading",
        passages=tuple(
            replace(p, text="<img src=x onerror=alert(1)>", highlight=None, title="<b>t</b>")
            for p in answer.passages
        ),
    )
    html = answer_html(hostile)
    assert "<script>" not in html and "<img" not in html and "<b>t</b>" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x" in html
    assert "\n" not in html  # one HTML block: Markdown never sees the document text


def test_answer_html_marks_the_quote_and_reads_differently_when_not_found(tiny_answerer) -> None:
    found = answer_html(tiny_answerer.ask("When did Operation Bagration begin?"))
    assert "<blockquote" in found and "<mark>" in found and "[1]" in found
    assert "bagration.html" in found
    missing = answer_html(tiny_answerer.ask("banana bread recipe"))
    assert "Not found in the documents." in missing and "<blockquote" not in missing
    assert "<details>" in missing and "<details open>" not in missing  # the verdict first


def test_examples_are_the_built_in_questions_the_documents_answer(
    tiny_answerer, tmp_path, encoder, aux_encoder
) -> None:
    from ingest import ingest
    from retriever import Answerer, Index
    from ui.app import answered_examples
    from ui.chat import EXAMPLES

    found = answered_examples(tiny_answerer)
    assert "When was the siege of Leningrad broken?" in found
    assert set(found) <= set(EXAMPLES)
    docs = tmp_path / "bread"
    docs.mkdir()
    (docs / "bread.txt").write_text("Banana bread needs three ripe bananas and an hour.")
    ingest([docs], tmp_path / "index", encoder=encoder, cross_lingual_encoder=aux_encoder)
    other = Answerer(Index.open(tmp_path / "index"), encoder, cross_lingual_encoder=aux_encoder,
                     scoring=DEFAULT_SCORING.replace(min_score=0.2))  # fmt: skip
    assert answered_examples(other) == []
