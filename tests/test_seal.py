"""Sealed answers: a rating names an answer the server gave, before a restart too, and
nothing else; ``POST /api/feedback`` takes a vote or a comment on one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ui.seal import KEY_FILE, AnswerSeal, load_key


def _client(answerer, data: Path, **kwargs):  # type: ignore[no-untyped-def]
    from tests.conftest import app_client
    from ui.app import build_app

    return app_client(build_app(answerer, data_dir=data, **kwargs))


def test_a_seal_opens_to_the_answer_it_carries_and_to_nothing_altered() -> None:
    from retriever.errors import VerbatimError

    seal = AnswerSeal(b"k" * 32)
    response = {"question": "Wann befreite die Rote Armee Minsk?", "answered": True,
                "quote": "Am 3. Juli befreite die Rote Armee Minsk.", "passages": []}  # fmt: skip
    token = seal.seal(response, "a1")
    opened = seal.open(token)
    assert opened.answer_id == "a1" and opened.response == response
    assert seal.open(seal.seal(response)).answer_id != seal.open(seal.seal(response)).answer_id
    body, _, signature = token.rpartition(".")
    for bad in (
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # the signature
        body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + signature,  # the body
        token[:40],
        "v1..",
        "",
        "é" * 10,
        None,
        ["v1", "x"],
        "v1." + "A" * 70_000 + "." + signature,
    ):
        with pytest.raises(VerbatimError, match="cannot be rated"):
            seal.open(bad)
    with pytest.raises(VerbatimError):
        AnswerSeal(b"x" * 32).open(token)  # another server's key


def test_the_key_is_made_once_kept_private_and_read_again(tmp_path: Path) -> None:
    key = load_key(tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE
    assert len(key) == 32 and path.read_bytes() == key
    assert os.stat(path).st_mode & 0o077 == 0  # readable by its owner only
    assert load_key(tmp_path / "data") == key  # the same after a restart


def test_feedback_api_logs_a_vote_and_a_comment_on_a_sealed_answer(
    tiny_answerer, tmp_path: Path
) -> None:
    from ui.render import answer_html, seal_of

    data = tmp_path / "data"
    answer = tiny_answerer.ask("When did Operation Bagration begin?")
    with _client(tiny_answerer, data) as client:
        token = AnswerSeal(load_key(data)).seal(answer.to_dict())
        assert seal_of(answer_html(answer, token)) == token  # the markup carries it
        r = client.post("/api/feedback", json={"answer": token, "vote": "up"})
        assert r.status_code == 200 and r.json() == {"ok": True}
        r = client.post("/api/feedback", json={"answer": token, "comment": " right place "})
        assert r.status_code == 200
        for body, status, message in (
            ({"answer": token[:-2] + "xx", "vote": "up"}, 400, "cannot be rated"),
            ({"answer": token, "vote": "sideways"}, 400, "is not one of"),
            ({"answer": token, "comment": "   "}, 400, "the comment is empty"),
            ({"answer": token, "comment": "x" * 3000}, 400, "keep it under"),
            ({"answer": token}, 422, "send a vote or a comment"),
            ([token], 422, "send a vote or a comment"),
        ):
            r = client.post("/api/feedback", json=body)
            assert r.status_code == status and message in r.json()["error"], (body, r.text)
        assert client.post("/api/feedback", content=b"{").status_code == 422
    lines = [json.loads(x) for x in (data / "feedback.jsonl").read_text().splitlines()]
    assert [(x["vote"], x["comment"]) for x in lines] == [("up", None), (None, "right place")]
    assert lines[0]["response"] == answer.to_dict()
    assert lines[1]["answer_id"] == lines[0]["answer_id"]


def test_feedback_api_is_open_to_allowed_sites_only(tiny_answerer, tmp_path: Path) -> None:
    allowed = "https://www.example.org"
    data = tmp_path / "data"
    answer = tiny_answerer.ask("When did Operation Bagration begin?")
    with _client(tiny_answerer, data, allow_origins=[allowed]) as client:
        token = AnswerSeal(load_key(data)).seal(answer.to_dict())
        body = {"answer": token, "comment": "from the widget on another site"}
        ok = client.post("/api/feedback", json=body, headers={"Origin": allowed})
        assert ok.status_code == 200
        assert ok.headers.get("access-control-allow-origin") == allowed
        other = client.post("/api/feedback", json=body, headers={"Origin": "https://evil.example"})
        assert other.status_code == 403
    assert len((data / "feedback.jsonl").read_text().splitlines()) == 1


def test_the_web_component_script_is_open_to_every_site_and_says_when_refused(
    tiny_answerer, tmp_path: Path
) -> None:
    with _client(tiny_answerer, tmp_path / "data") as client:
        js = client.get("/gradio.js", headers={"Origin": "https://evil.example"})
        assert js.status_code == 200 and js.headers["access-control-allow-origin"] == "*"
        assert 'import("./assets/' in js.text or "import('./assets/" in js.text
        assert "does not allow this site" in js.text and "import(MODULE)" not in js.text
        # What it loads next stays closed to that site.
        module = js.text.split("import(")[-1].split(")")[0].strip("'\"").lstrip(".")
        asset = client.get(module, headers={"Origin": "https://evil.example"})
        assert asset.status_code == 200 and "access-control-allow-origin" not in asset.headers
