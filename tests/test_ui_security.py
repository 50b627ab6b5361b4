"""The web app's defences, in process: uploads, questions, auth, origins, the viewer."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ui.library import Library
from ui.uploads import UploadError, safe_filename


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/etc/cron.d/job.md", "job.md"),
        ("C:\\Users\\ann\\notes.html", "notes.html"),
        (".hidden.txt", "hidden.txt"),
        ("..\\..\\win.TXT", "win.txt"),
        ("a\x00b\x1b[31m.txt", "ab[31m.txt"),
        ("<img src=x onerror=alert(1)>.md", "<img src=x onerror=alert(1)>.md"),
        ("Überblick 🎖️.txt", "Überblick 🎖️.txt"),
    ],
)
def test_safe_filename_keeps_names_inside_the_folder(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


@pytest.mark.parametrize("name", ["evil.exe", "noextension", "..", "../.txt", " .txt", "x.tar.gz"])
def test_safe_filename_refuses_with_a_reason(name: str) -> None:
    with pytest.raises(UploadError, match="supported type|no usable file name"):
        safe_filename(name)


def test_long_names_are_shortened_keeping_the_type() -> None:
    name = safe_filename("ä" * 300 + ".txt")
    assert name.endswith(".txt") and len(name.encode()) <= 180


@pytest.fixture
def library(tiny_answerer, tmp_path: Path) -> Library:
    return Library(tiny_answerer, tmp_path / "data", max_upload_mb=0.001)  # ~1 KB


def _upload(tmp_path: Path, text: str) -> Path:
    p = tmp_path / f"upload-{abs(hash(text))}"
    p.write_text(text, encoding="utf-8")
    return p


def test_upload_with_hostile_names_lands_only_in_the_documents_folder(
    library: Library, tmp_path: Path
) -> None:
    before = library.answerer
    result = library.add(
        [
            ("../../escape.txt", _upload(tmp_path, "The Warsaw Uprising began on August 1, 1944.")),
            ("/tmp/abs.md", _upload(tmp_path, "# Iasi\n\nThe Iasi offensive began in August.")),
        ]
    )
    assert sorted(result.report.added) == ["abs.md", "escape.txt"]
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*"))
    assert "data/documents/escape.txt" in written and "data/documents/abs.md" in written
    assert not (tmp_path / "escape.txt").exists() and not Path("/tmp/abs.md").exists()
    # The new document answers at once; the old answerer still works on its own index.
    assert library.answerer is not before
    answer = library.answerer.ask("When did the Warsaw Uprising begin?")
    assert answer.citation is not None and answer.citation.source == "escape.txt"
    assert before.ask("When did the Warsaw Uprising begin?").passages  # no crash on old gen


def test_upload_limits_say_what_is_wrong(library: Library, tmp_path: Path) -> None:
    with pytest.raises(UploadError, match="big.txt is 0.0 MB; the limit is"):
        library.add([("big.txt", _upload(tmp_path, "x" * 5000))])
    with pytest.raises(UploadError, match="is empty"):
        library.add([("empty.txt", _upload(tmp_path, ""))])
    with pytest.raises(UploadError, match="not a supported type"):
        library.add([("tool.exe", _upload(tmp_path, "MZ"))])
    with pytest.raises(UploadError, match="choose one or more files"):
        library.add([])
    # One bad file does not stop the good ones; the reason is reported.
    result = library.add(
        [("ok.txt", _upload(tmp_path, "Riga was taken in October.")), ("bad.exe", tmp_path)]
    )
    assert result.report.added == ["ok.txt"] and "not a supported type" in result.summary()
    assert result.changed and result.lines()[1] == [result.refused[0]]  # the refusal apart
    # A file that cannot be read changes nothing: the status names the problem on its own.
    broken = library.add([("broken.pdf", _upload(tmp_path, "%PDF-1.4 garbage"))])
    assert broken.report.added == [] and "could not read broken.pdf" in broken.summary()
    assert not broken.changed and "could not read broken.pdf" in broken.lines()[1][0]


def test_remove_takes_a_document_out(library: Library, tmp_path: Path) -> None:
    library.add([("riga.txt", _upload(tmp_path, "Riga was taken in October 1944."))])
    result = library.remove(["riga.txt", "kursk.md"])
    assert sorted(result.report.removed) == ["kursk.md", "riga.txt"]
    assert not (library.documents_dir / "riga.txt").exists()
    assert {d.source for d in library.documents} == {
        "bagration.html",
        "leningrad.txt",
        "minsk-de.txt",
        "notes/majdanek.txt",
    }
    with pytest.raises(UploadError, match="not in the index: nope.txt"):
        library.remove(["nope.txt"])


# -- the HTTP side ----------------------------------------------------------------------------


def _client(answerer, tmp_path: Path, **kwargs):  # type: ignore[no-untyped-def]
    from tests.conftest import app_client
    from ui.app import build_app

    return app_client(build_app(answerer, data_dir=tmp_path / "data", **kwargs))


@pytest.mark.parametrize(
    ("q", "status", "message"),
    [
        ("", 400, "the question is empty"),
        (" \t\n ", 400, "the question is empty"),
        ("\x00\x07\x1b", 400, "the question is empty"),
        ("Bagration " * 10_000, 400, "keep it under"),
        ("🎖️ When did Operation Bagration begin? 🕊️", 200, None),
        ("<script>alert(1)</script> When did Operation Bagration begin?", 200, None),
        ("When did\x00 Operation\x07 Bagration begin?", 200, None),
    ],
)
def test_api_answers_odd_questions_or_says_what_is_wrong(
    tiny_answerer, tmp_path: Path, q: str, status: int, message: str | None
) -> None:
    with _client(tiny_answerer, tmp_path) as client:
        responses = [client.post("/api/ask", json={"q": q})]
        if len(q) < 8000:  # the in-process client caps URLs; test_browser sends 100 KB ones
            responses.append(client.get("/api/ask", params={"q": q}))
        for r in responses:
            assert r.status_code == status, r.text[:200]
            assert r.headers["content-type"] == "application/json"
            assert "Traceback" not in r.text
            if message:
                assert message in r.json()["error"]
            else:
                assert r.json()["quote"] == "Operation Bagration began on June 22, 1944."


def test_api_post_refuses_bad_bodies(tiny_answerer, tmp_path: Path) -> None:
    with _client(tiny_answerer, tmp_path) as client:
        assert client.post("/api/ask", content=b"not json").status_code == 422
        r = client.post("/api/ask", json={"q": "x", "k": 0})
        assert r.status_code == 422 and "out of range" in r.json()["error"]


def test_auth_protects_pages_api_and_gradio(tiny_answerer, tmp_path: Path) -> None:
    good = "Basic " + base64.b64encode(b"ann:s3:cret").decode()
    bad = "Basic " + base64.b64encode(b"ann:wrong").decode()
    with _client(tiny_answerer, tmp_path, credentials=[("ann", "s3:cret")]) as client:
        for path in ("/", "/api/ask?q=Minsk", "/widget/", "/embed", "/config", "/doc/kursk.md"):
            r = client.get(path)
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"].startswith("Basic")
            assert client.get(path, headers={"Authorization": bad}).status_code == 401
        assert client.get("/api/ask?q=Minsk", headers={"Authorization": good}).status_code == 200
        assert client.get("/", headers={"Authorization": good}).status_code == 200


def test_only_listed_origins_may_call_from_the_browser(tiny_answerer, tmp_path: Path) -> None:
    allowed = "https://www.example.org"
    with _client(tiny_answerer, tmp_path, allow_origins=[allowed]) as client:
        ok = client.get("/api/ask?q=Minsk", headers={"Origin": allowed})
        assert ok.headers.get("access-control-allow-origin") == allowed
        other = client.get("/api/ask?q=Minsk", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        gradio = client.get("/widget/config", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in gradio.headers
        # The same list decides which sites may show the widget in an iframe.
        for path in ("/widget/", "/", "/doc/kursk.md"):
            policy = client.get(path).headers["content-security-policy"]
            assert policy == f"frame-ancestors 'self' {allowed}", path
    with _client(tiny_answerer, tmp_path) as client:  # none by default, not even localhost
        r = client.get("/api/ask?q=Minsk", headers={"Origin": "http://localhost:9999"})
        assert "access-control-allow-origin" not in r.headers
        assert client.get("/widget/").headers["content-security-policy"] == (
            "frame-ancestors 'self'"
        )


def test_viewer_escapes_the_document_and_marks_the_span(tiny_answerer, tmp_path: Path) -> None:
    with _client(tiny_answerer, tmp_path) as client:
        text = tiny_answerer.index.document_text("kursk.md")
        start = text.index("Nearly")
        end = text.index("Prokhorovka.") + len("Prokhorovka.")
        r = client.get(f"/doc/kursk.md?start={start}&end={end}")
        assert r.status_code == 200
        assert '<mark id="hl">Nearly 2,000 tanks clashed at Prokhorovka.</mark>' in r.text
        assert "scrollIntoView" in r.text
        html = client.get("/doc/bagration.html").text  # extracted text, escaped
        assert "Operation Bagration began on June 22, 1944." in html and "<mark" not in html
        assert client.get("/doc/kursk.md?start=5&end=99999").status_code == 200
        for query in ("start=abc&end=5", "start=-1&end=5", "start=1e3&end=2000", "start=3"):
            r = client.get(f"/doc/kursk.md?{query}")  # mangled: the document, no highlight
            assert r.status_code == 200 and "<pre" in r.text and "<mark" not in r.text
        assert client.get("/doc/notes/majdanek.txt").status_code == 200
        missing = client.get("/doc/..%2F..%2Fetc%2Fpasswd")
        assert missing.status_code == 404 and "root:" not in missing.text


def test_hostile_document_text_is_escaped_in_the_viewer(tmp_path: Path, encoder, aux_encoder):
    from ingest import ingest
    from retriever import Answerer, Index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "x.md").write_text("Hi <script>alert(1)</script> <img src=x onerror=alert(2)>\n")
    ingest([docs], tmp_path / "index", encoder=encoder, cross_lingual_encoder=aux_encoder)
    answerer = Answerer(Index.open(tmp_path / "index"), encoder, cross_lingual_encoder=aux_encoder)
    with _client(answerer, tmp_path) as client:
        html = client.get("/doc/x.md?start=0&end=2").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<img" not in html


def test_embed_page_and_web_component_script_are_local(tiny_answerer, tmp_path: Path) -> None:
    with _client(tiny_answerer, tmp_path) as client:
        page = client.get("/embed").text
        assert '<script type="module" src="/gradio.js">' in page
        assert '<gradio-app src="http://127.0.0.1:7860/widget/">' in page
        assert '<iframe class="box" src="http://127.0.0.1:7860/widget/"' in page
        assert 'allow="clipboard-write"' in page  # the widget's Copy button may work
        assert "http" not in page.replace("http://127.0.0.1:7860", "")
        js = client.get("/gradio.js")
        assert js.status_code == 200 and "import(" in js.text
        assert client.get("/widget", follow_redirects=False).status_code in (302, 307)


def test_feedback_export_folds_votes_into_a_gold_set(tmp_path: Path) -> None:
    from eval.gold import load_gold
    from ui.feedback import FeedbackLog, export_gold

    log = FeedbackLog(tmp_path / "feedback.jsonl")
    answered = {
        "question": "When did Operation Bagration begin?",
        "answered": True,
        "quote": "Operation Bagration began on June 22, 1944.",
        "citation": {"source": "bagration.html", "title": "t", "start": 0, "end": 43},
    }
    declined = {"question": "Banana bread?", "answered": False, "quote": None, "citation": None}
    log.vote("a1", answered, "down")
    log.vote("a1", answered, "up")  # changed their mind: the last vote counts
    log.comment("a1", answered["question"], "exact")
    log.vote("b2", declined, "up")  # right to decline: an unanswerable gold question
    log.vote("c3", {**answered, "question": "Who won?"}, "down")
    with open(log.path, "a") as f:
        f.write('{"torn line')
    report = export_gold(log.path, tmp_path / "gold.jsonl")
    assert (report.written, report.answerable, report.unanswerable) == (2, 1, 1)
    assert report.down == 1 and report.unreadable == 1
    items = {i.question: i for i in load_gold(tmp_path / "gold.jsonl").items}
    assert items["When did Operation Bagration begin?"].answers == (answered["quote"],)
    assert items["When did Operation Bagration begin?"].source == "bagration.html"
    assert items["When did Operation Bagration begin?"].extra["comment"] == "exact"
    assert items["Banana bread?"].answers == ()
    lines = [json.loads(x) for x in (tmp_path / "gold.jsonl").read_text().splitlines()]
    assert all(line["kind"] == "feedback" for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--allow-origin", "*"], "is not an origin"),
        (["--allow-origin", "https://a.example/path"], "has a path"),
        (["--auth", "nocolon"], "USER:PASSWORD"),
        (["--auth-file", "/nonexistent/file"], "cannot read --auth-file"),
        (["--max-upload-mb", "0"], "must be above 0"),
    ],
)
def test_serve_refuses_bad_security_options(capsys, args: list[str], message: str) -> None:
    from ui.cli import main

    assert main(["serve", "--index", "/nonexistent", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_feedback_export_without_a_log_is_a_clear_error(capsys, tmp_path: Path) -> None:
    from ui.cli import main

    assert main(["feedback", "export", "--data", str(tmp_path), "--out", "x.jsonl"]) == 2
    assert "no feedback log" in capsys.readouterr().err
