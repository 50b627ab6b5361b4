"""The served app as an attacker on this machine tries it: over the wire, with fake models.

Each test names the class of fault it proves closed; on the first cut each one succeeded.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import httpx
import pytest

from retriever.settings import DEFAULT_SCORING
from tests.conftest import BASE_URL, app_client
from tests.live import event_fn, run_event, serve
from ui.app import build_app

FILE = {"meta": {"_type": "gradio.FileData"}}


@pytest.fixture
def answerer(tiny_index: Path, tmp_path: Path, encoder, aux_encoder):
    """An answerer on a data folder of its own (uploads change its index)."""
    from retriever import Answerer, Index

    shutil.copytree(tiny_index, tmp_path / "data" / "index")
    index = Index.open(tmp_path / "data" / "index")
    return Answerer(
        index,
        encoder,
        cross_lingual_encoder=aux_encoder,
        scoring=DEFAULT_SCORING.replace(min_score=0.2),
    )


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    p = tmp_path / "elsewhere" / "secret.txt"
    p.parent.mkdir()
    p.write_text("The launch code of the server is 0000-1234.\n", encoding="utf-8")
    return p


def _app(answerer, tmp_path: Path, **kwargs):  # type: ignore[no-untyped-def]
    return build_app(answerer, data_dir=tmp_path / "data", examples=[], **kwargs)


# -- 1. an event reads only files the client uploaded ----------------------------------------


@pytest.mark.parametrize("login", [False, True])
def test_an_event_cannot_read_a_file_the_client_names(
    answerer, tmp_path: Path, secret: Path, login: bool
) -> None:
    credentials = [("ann", "s3cret")] if login else None
    auth = ("ann", "s3cret") if login else None
    with (
        serve(_app(answerer, tmp_path, credentials=credentials)) as base,
        httpx.Client(base_url=base, auth=auth, timeout=60) as client,
    ):
        upload = event_fn(client, "file")
        named = [{**FILE, "path": str(secret), "orig_name": "secret.txt"}]
        result = run_event(client, upload, [named])
        assert result["msg"] == "process_completed" and not result["success"], result
        # The chat's history is a file-bearing input too.
        ask = event_fn(client, "chatbot")
        history = [{"role": "user", "content": [{"type": "file", "file": named[0]}]}]
        result = run_event(client, ask, ["Minsk?", history])
        assert not result.get("success"), result
        assert client.get("/doc/secret.txt").status_code == 404
        assert "0000-1234" not in client.get("/api/ask", params={"q": "launch code"}).text
    assert not (tmp_path / "data" / "documents" / "secret.txt").exists()
    assert [d.source for d in answerer.index.documents if "secret" in d.source] == []


def test_a_real_upload_still_goes_through(answerer, tmp_path: Path) -> None:
    with (
        serve(_app(answerer, tmp_path)) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        sent = client.post(
            "/gradio_api/upload",
            files={"files": ("riga.txt", b"Riga was taken on October 13, 1944.\n", "text/plain")},
        )
        assert sent.status_code == 200, sent.text
        path = sent.json()[0]
        result = run_event(
            client, event_fn(client, "file"), [[{**FILE, "path": path, "orig_name": "riga.txt"}]]
        )
        assert result["success"], result
        assert "Added riga.txt" in json.dumps(result["output"]["data"][0])
        assert client.get("/doc/riga.txt").status_code == 200
        # The uploaded copy does not linger in the upload folder once it is saved.
        assert not Path(path).exists()


def test_the_event_checks_its_files_itself_too(tmp_path: Path, secret: Path) -> None:
    from gradio.utils import get_upload_folder

    from ui.documents import uploaded

    inside = Path(get_upload_folder()) / "verbatim-test" / "ok.txt"
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.write_text("fine")
    link = inside.parent / "link.txt"
    link.unlink(missing_ok=True)
    link.symlink_to(secret)
    try:
        assert uploaded(str(inside))
        assert not uploaded(str(secret)) and not uploaded(str(link))
        assert not uploaded(str(inside.parent / ".." / ".." / secret.name))
    finally:
        shutil.rmtree(inside.parent)


# -- 2. hosts: no DNS rebinding -------------------------------------------------------------


def test_requests_naming_another_host_are_refused(tiny_answerer, tmp_path: Path) -> None:
    with app_client(_app(tiny_answerer, tmp_path)) as client:
        for path in ("/", "/api/ask?q=Minsk", "/doc/kursk.md", "/widget/", "/config"):
            r = client.get(path, headers={"Host": "attacker.example"})
            assert r.status_code == 400, path
            assert "Kursk" not in r.text
        r = client.post("/gradio_api/upload", headers={"Host": "attacker.example:7860"})
        assert r.status_code == 400
        for host in ("127.0.0.1:7860", "localhost:7860", "[::1]:7860", "LOCALHOST"):
            assert client.get("/api/health", headers={"Host": host}).status_code == 200, host


def test_the_hosts_a_server_answers_to() -> None:
    import socket

    from ui.gate import allowed_hosts, check_hosts

    assert allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost", "[::1]"]
    assert allowed_hosts("10.0.0.7", ["docs.example.org"])[-2:] == ["10.0.0.7", "docs.example.org"]
    assert socket.gethostname().lower() in allowed_hosts("0.0.0.0")
    assert "[fe80::1]" in allowed_hosts("fe80::1")
    assert check_hosts(["Docs.Example.org", "::1"]) == ["docs.example.org", "[::1]"]
    for bad in ("*", "*.example.org", "https://x.org", "x.org:443", "a b"):
        with pytest.raises(ValueError, match="--allow-host"):
            check_hosts([bad])


def test_serve_takes_allow_host(capsys) -> None:
    from ui.cli import main

    assert main(["serve", "--index", "/nonexistent", "--allow-host", "*"]) == 2
    assert "is not a host name" in capsys.readouterr().err


# -- 7. other sites' pages cannot write; uploads have a ceiling ------------------------------


def _files(n: int = 1, size: int = 100) -> dict[str, tuple[str, bytes, str]]:
    return {"files": (f"f{n}.txt", b"Riga was taken in October. " * (size // 27 + 1), "text/plain")}


def test_other_sites_pages_cannot_upload_or_change_anything(tiny_answerer, tmp_path: Path) -> None:
    allowed = "https://www.example.org"
    evil = {"Origin": "https://evil.example"}
    with app_client(_app(tiny_answerer, tmp_path, allow_origins=[allowed])) as client:
        # A form post is a "simple" request: no preflight stops it, the gate must.
        for path in ("/gradio_api/upload", "/gradio_api/queue/join", "/widget/gradio_api/upload"):
            r = client.post(path, files=_files(), headers=evil)
            assert r.status_code == 403 and "other sites" in r.json()["error"], path
        r = client.post(
            "/api/ask", json={"q": "Minsk"}, headers={**evil, "content-type": "text/plain"}
        )
        assert r.status_code == 403
        assert (
            client.post(
                "/gradio_api/upload", files=_files(), headers={"Origin": "null"}
            ).status_code
            == 403
        )
        # A listed site may use the widget and the API, not the Documents tab or uploads.
        ok = {"Origin": allowed}
        assert client.post("/api/ask", json={"q": "Minsk"}, headers=ok).status_code == 200
        assert client.post("/gradio_api/upload", files=_files(), headers=ok).status_code == 403
        assert (
            client.post("/widget/gradio_api/upload", files=_files(), headers=ok).status_code == 403
        )
        joined = client.post("/widget/gradio_api/queue/join", json={}, headers=ok)
        assert joined.status_code != 403
        assert client.post("/gradio_api/queue/join", json={}, headers=ok).status_code == 403
        # Our own pages (same host; the scheme may differ behind a TLS proxy) may.
        for origin in (BASE_URL, "https://127.0.0.1:7860"):
            r = client.post("/gradio_api/upload", files=_files(), headers={"Origin": origin})
            assert r.status_code == 200, origin
        # Without an Origin it is not a page: curl and gradio_client work as before.
        assert client.post("/gradio_api/upload", files=_files()).status_code == 200


def test_pending_uploads_have_a_ceiling(
    tiny_answerer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio-uploads"))
    app = _app(tiny_answerer, tmp_path, max_pending_mb=1, max_upload_mb=0.6)
    with app_client(app) as client:
        sizes = []
        for n in range(4):
            r = client.post("/gradio_api/upload", files=_files(n, 400_000))
            sizes.append(r.status_code)
        assert sizes[:2] == [200, 200] and sizes[-1] == 413, sizes
        assert "not indexed yet" in r.json()["error"]

        def chunks():  # no Content-Length: the gate counts what arrives
            yield b"--x\r\nContent-Disposition: form-data; name=files; filename=a.txt\r\n\r\n"
            for _ in range(40):
                yield b"y" * 65536
            yield b"\r\n--x--\r\n"

        r = client.post(
            "/gradio_api/upload",
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=x"},
        )
        assert r.status_code == 413
    held = sum(p.stat().st_size for p in (tmp_path / "gradio-uploads").rglob("*") if p.is_file())
    assert held <= 1 << 20


# -- 8. no relay ----------------------------------------------------------------------------


@pytest.fixture
def outside_site(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A page "on the internet": a local server, and Gradio's check of public addresses told
    that ``public.example`` is one (it resolves to this machine here)."""
    import http.server
    import threading

    import gradio.route_utils

    from tests.live import free_port

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            body = b"OUTSIDE PAGE"
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    async def public(host: str) -> str:
        return "127.0.0.1"

    monkeypatch.setattr(gradio.route_utils.safehttpx, "async_validate_url", public)
    port = free_port()
    site = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    yield f"public.example:{port}"
    site.shutdown()


@pytest.mark.parametrize(
    "path",
    [
        "/gradio_api/file=http://{site}/x.txt",
        "/gradio_api/file=HTTP://{site}/x.txt",
        "/gradio_api/file=//{site}/x.txt",
        "/gradio_api/proxy=http://{site}/",
        "/widget/gradio_api/file=http://{site}/x.txt",
        "/gradio_api/file/http://{site}/x.txt",
        "/file=http://{site}/x.txt",
    ],
)
def test_the_server_fetches_no_outside_address(
    tiny_answerer, tmp_path: Path, outside_site: str, path: str
) -> None:
    with app_client(_app(tiny_answerer, tmp_path)) as client:
        r = client.get(path.format(site=outside_site))
        assert "OUTSIDE PAGE" not in r.text, path
        assert r.status_code in (403, 404), (path, r.status_code)


# -- 9. the smaller ones --------------------------------------------------------------------


def test_api_ask_errors_are_json_and_bounded(tiny_answerer, tmp_path: Path) -> None:
    with app_client(_app(tiny_answerer, tmp_path)) as client:
        big = client.post(
            "/api/ask", content=b'{"q": "' + b"x" * (2 << 20) + b'"}',
            headers={"content-type": "application/json"},
        )  # fmt: skip
        assert big.status_code == 413 and "larger than" in big.json()["error"]
        deep = client.post(
            "/api/ask", content=b"[" * 100_000, headers={"content-type": "application/json"}
        )
        assert deep.status_code == 422 and "nested too deeply" in deep.json()["error"]
        for k in ("abc", "0", "101", "-1", "1.5"):
            r = client.get("/api/ask", params={"q": "Minsk", "k": k})
            assert r.status_code == 422 and "out of range" in r.json()["error"], k
        assert client.get("/api/ask", params={"q": "Minsk", "k": " 3 "}).status_code == 200


def test_head_answers_like_get_without_a_body(tiny_answerer, tmp_path: Path) -> None:
    with app_client(_app(tiny_answerer, tmp_path)) as client:
        for path in ("/", "/api/health", "/doc/kursk.md", "/embed", "/gradio.js", "/widget/"):
            get, head = client.get(path), client.head(path)
            assert head.status_code == get.status_code == 200, path
            assert (
                head.content == b"" and head.headers["content-type"] == get.headers["content-type"]
            )


def test_a_lone_surrogate_does_not_break_the_reply_stream(answerer, tmp_path: Path) -> None:
    with (
        serve(_app(answerer, tmp_path)) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        ask = event_fn(client, "chatbot")
        raw = '["When did Operation Bagration begin? \\ud800", []]'
        result = run_event(client, ask, raw)
        assert result["success"], result
        reply = json.dumps(result["output"]["data"][0])
        assert "June 22, 1944" in reply and "\\ufffd" in reply


def test_the_cli_shows_terminal_escapes_from_documents_as_text(
    fake_models, tmp_path: Path, capsys
) -> None:
    from ui.cli import main

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "evil\x1b[31m.txt").write_text(
        "\x1b]0;owned\x07\x1b[2JThe siege of Leningrad ended in January 1944.\u202e\n"
    )
    index = str(tmp_path / "idx")
    assert main(["ingest", str(docs), "--index", index, "--quiet"]) == 0
    assert main(["ask", "When did the siege of Leningrad end?", "--index", index]) == 0
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "\u202e" not in out and "\x07" not in out
    assert "\\x1b[2JThe siege of Leningrad ended" in out and "evil\\x1b[31m.txt" in out
    assert main(["ask", "--json", "When did the siege of Leningrad end?", "--index", index]) == 0
    assert "\x1b" not in capsys.readouterr().out  # JSON escapes it as \u001b


def test_a_link_in_the_documents_folder_publishes_nothing_from_elsewhere(
    answerer, tmp_path: Path, secret: Path, capsys
) -> None:
    from ui.library import Library

    docs = tmp_path / "data" / "documents"
    docs.mkdir(parents=True)
    (docs / "notes.txt").symlink_to(secret)
    library = Library(answerer, tmp_path / "data")
    if library.catching_up:
        library.catching_up.join(30)
    upload = tmp_path / "riga.txt"
    upload.write_text("Riga was taken on October 13, 1944.")
    result = library.add([("riga.txt", upload)])
    assert "riga.txt" in result.report.added
    assert "notes.txt" not in {d.source for d in library.documents}
    with app_client(build_app(library.answerer, data_dir=tmp_path / "data")) as client:
        assert client.get("/doc/notes.txt").status_code == 404


def test_a_bad_word_file_does_not_poison_later_uploads(answerer, tmp_path: Path) -> None:
    from tests import hostile
    from ui.library import Library

    library = Library(answerer, tmp_path / "data")
    bad = tmp_path / "upload-bad"
    bad.write_bytes(hostile.broken_docx())
    result = library.add([("report.docx", bad)])
    assert "could not read report.docx: not a readable Word file" in result.summary()
    assert not (library.documents_dir / "report.docx").exists()
    good = tmp_path / "upload-good"
    good.write_text("Riga was taken on October 13, 1944.")
    assert library.add([("riga.txt", good)]).report.added == ["riga.txt"]
    assert library.answerer.ask("When was Riga taken?").citation.source == "riga.txt"


def test_an_upload_never_replaces_another_document_of_the_same_name(
    answerer, tmp_path: Path
) -> None:
    from ui.library import Library

    library = Library(answerer, tmp_path / "data")
    seed_text = answerer.index.document_text("leningrad.txt")
    other = tmp_path / "upload-1"
    other.write_text("An entirely different text about Riga, taken on October 13, 1944.")
    result = library.add([("leningrad.txt", other)])
    assert "a different document is already named leningrad.txt; saved as leningrad (2).txt" in (
        result.summary()
    )
    assert library.answerer.index.document_text("leningrad.txt") == seed_text
    assert "Riga" in library.answerer.index.document_text("leningrad (2).txt")
    again = library.add([("leningrad (2).txt", other)])  # the same bytes again: no clash
    assert again.renamed == [] and "leningrad (3).txt" not in {d.source for d in library.documents}
    twice = library.add([("x.txt", other), ("x.txt", tmp_path / "upload-1")])
    assert twice.saved == ["x.txt"] or "same content" in twice.summary()


def test_a_file_saved_before_a_crash_is_indexed_when_the_server_starts(
    answerer, tmp_path: Path
) -> None:
    """Killed after the upload was saved and before the index was written: the next start
    indexes it, and the tab lists it."""
    from ui.library import Library

    docs = tmp_path / "data" / "documents"
    docs.mkdir(parents=True)
    (docs / "riga.txt").write_text("Riga was taken on October 13, 1944.")
    library = Library(answerer, tmp_path / "data")
    assert library.catching_up is not None
    library.catching_up.join(60)
    assert "riga.txt" in {d.source for d in library.documents}
    assert library.unindexed() == []
    assert Library(library.answerer, tmp_path / "data").catching_up is None


def test_feedback_with_line_separators_exports_a_readable_gold_set(tmp_path: Path) -> None:
    from eval.gold import load_gold
    from ui.feedback import FeedbackLog, export_gold

    log = FeedbackLog(tmp_path / "feedback.jsonl")
    q = "When did\u2028 Operation\u2029 Bagration begin?\x85"
    answered = {
        "question": q, "answered": True, "quote": "It began on June 22,\u2028 1944.",
        "citation": {"source": "bagration.html", "title": "t", "start": 0, "end": 30},
    }  # fmt: skip
    log.vote("a1", answered, "up")
    log.comment("a1", q, "right\u2028on")
    export_gold(log.path, tmp_path / "gold.jsonl")
    (item,) = load_gold(tmp_path / "gold.jsonl").items
    assert item.question == q and item.answers == (answered["quote"],)


def test_a_later_down_vote_keeps_other_up_voted_answers(tmp_path: Path) -> None:
    from eval.gold import load_gold
    from ui.feedback import FeedbackLog, export_gold

    log = FeedbackLog(tmp_path / "feedback.jsonl")
    q = "When did Operation Bagration begin?"
    good = {"question": q, "answered": True, "quote": "It began on June 22, 1944.",
            "citation": {"source": "b.html", "title": "t", "start": 0, "end": 26}}  # fmt: skip
    worse = {**good, "quote": "Minsk fell on July 3.", "citation": {**good["citation"]}}
    log.vote("a1", good, "up")
    log.vote("a2", worse, "down")  # another answer to the same question, voted down later
    export_gold(log.path, tmp_path / "gold.jsonl")
    assert [i.answers for i in load_gold(tmp_path / "gold.jsonl").items] == [(good["quote"],)]
    log.vote("a3", good, "down")  # the same answer again, now voted down: taken back
    report = export_gold(log.path, tmp_path / "gold.jsonl")
    assert report.written == 0 and report.down == 2


def test_auth_header_is_needed_for_the_upload_route_too(tiny_answerer, tmp_path: Path) -> None:
    good = "Basic " + base64.b64encode(b"ann:s3cret").decode()
    with app_client(_app(tiny_answerer, tmp_path, credentials=[("ann", "s3cret")])) as client:
        assert client.post("/gradio_api/upload", files=_files()).status_code == 401
        r = client.post("/gradio_api/upload", files=_files(), headers={"Authorization": good})
        assert r.status_code == 200
