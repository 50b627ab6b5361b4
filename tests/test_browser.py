"""The chat page in real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from retriever.settings import DEFAULT_SCORING

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("VERBATIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def data_dir(seed_index, tmp_path_factory) -> Path:
    """A data folder of its own (uploads change its index), holding a copy of the seeds'."""
    data = tmp_path_factory.mktemp("data")
    shutil.copytree(seed_index, data / "index")
    return data


@contextlib.contextmanager
def _serving(seed_answerer, data_dir: Path, port: int | None = None) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app over ``data_dir`` (its ``index`` and what the server keeps there), served
    on ``port`` (a free one by default) until the block ends."""
    from retriever import Answerer, Index
    from tests.live import serve
    from ui.app import build_app

    answerer = Answerer(
        Index.open(data_dir / "index"),
        seed_answerer.encoder,
        cross_lingual_encoder=seed_answerer.cross_lingual_encoder,
        scoring=DEFAULT_SCORING.replace(min_score=seed_answerer.min_score),
    )
    with serve(build_app(answerer, data_dir=data_dir), port) as url:
        yield url


@pytest.fixture(scope="module")
def server(seed_answerer, data_dir: Path) -> Iterator[str]:
    with _serving(seed_answerer, data_dir) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}; .ci/run installs it")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Watch:
    """A browser page that records every request and dialog, to prove what did not happen."""

    def __init__(self, browser, server: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self.context = browser.new_context(**kwargs)
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.origin = urlparse(server).netloc
        self.page = self.new_page()

    def new_page(self):  # type: ignore[no-untyped-def]
        page = self.context.new_page()
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        return page

    def outside(self) -> list[str]:
        """Requests that left the server's origin (http, https, ws, wss)."""
        return [
            u
            for u in self.requests
            if urlparse(u).scheme in {"http", "https", "ws", "wss"}
            and urlparse(u).netloc != self.origin
        ]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watch(browser, server: str) -> Iterator[Watch]:
    w = Watch(browser, server, viewport={"width": 1200, "height": 900})
    yield w
    w.close()
    assert w.outside() == [], w.outside()  # every test: nothing left the server's origin
    assert w.dialogs == [], w.dialogs


def _ask(page, question: str, prefix: str = "vb-"):  # type: ignore[no-untyped-def]
    """Type ``question`` into the chat, press Enter and return the new answer element."""
    answers = page.locator(f"#{prefix}chat .vb-answer, #{prefix}chat .vb-error")
    before = answers.count()
    box = page.locator(f"#{prefix}question textarea")
    box.fill(question)
    box.press("Enter")
    answers.nth(before).wait_for(timeout=60_000)
    return answers.nth(before)


def _upload(page, server: str, name: str, data: bytes, mime: str = "text/markdown") -> None:  # type: ignore[no-untyped-def]
    """Open the Documents tab, choose a file of ``data`` named ``name`` and press Add."""
    page.goto(server + "/")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#vb-upload input[type=file]").set_input_files(
        {"name": name, "mimeType": mime, "buffer": data}
    )
    # Uploaded: the file's row replaces the passing "Uploading…" line (which a fast upload
    # can skip before it is seen). A busy machine takes a while.
    page.locator("#vb-upload tr.file").first.wait_for(timeout=120_000)
    page.locator("#vb-add").click()


def _remove(page, status, name: str) -> None:  # type: ignore[no-untyped-def]
    """Choose ``name`` in the Documents tab, press Remove, confirm, and wait till it is out."""
    choice = page.locator("#vb-remove-choice input")
    choice.fill(name.rsplit(".", 1)[0])
    choice.press("Enter")
    page.locator("#vb-remove").click()
    page.locator("#vb-remove-confirm").click()
    status.get_by_text(f"removed {name}").wait_for(timeout=120_000)


def test_ask_in_the_browser_shows_the_quote_citation_and_sources(
    server: str, watch: Watch, output_dir
) -> None:
    page = watch.page
    page.goto(server + "/")
    page.locator("#vb-question textarea").wait_for()
    assert page.get_by_text("When was the siege of Leningrad broken?").first.is_visible()
    page.screenshot(path=str(output_dir / "chat-empty.png"))

    answer = _ask(page, "When was the siege of Leningrad broken?")
    quote = answer.locator("blockquote.vb-quote")
    assert "January 27, 1944" in quote.inner_text()
    assert quote.locator("a.vb-ref").inner_text() == "[1]"
    cite = answer.locator(".vb-cite").inner_text()
    assert "000_c51f980ed00a777f.txt" in cite and "chars 0–100" in cite
    assert answer.locator("button.vb-copy").is_visible()
    answer.locator("details summary").first.click()
    mark = answer.locator("mark").first
    assert mark.is_visible() and "January 27, 1944" in mark.inner_text()
    page.screenshot(path=str(output_dir / "chat-answer.png"), full_page=True)

    missing = _ask(page, "What is the recipe for banana bread?")
    assert "Not found in the documents." in missing.locator(".vb-notfound").inner_text()
    assert missing.locator("details").get_attribute("open") is None  # the verdict first
    assert missing.locator("details .vb-passage").count() == 5
    assert missing.locator("blockquote").count() == 0
    page.screenshot(path=str(output_dir / "chat-not-found.png"), full_page=True)


def test_an_example_question_is_answered_when_clicked(server: str, watch: Watch) -> None:
    page = watch.page
    page.goto(server + "/")
    page.locator("#vb-chat").get_by_text("Wann befreite die Rote Armee Minsk?").first.click()
    answer = page.locator("#vb-chat .vb-answer").first
    answer.wait_for(timeout=60_000)
    assert "Minsk" in answer.locator("blockquote.vb-quote").inner_text()
    assert "Wann befreite die Rote Armee Minsk?" in page.locator("#vb-chat").inner_text()


def test_copy_button_copies_the_quote_and_its_citation(server: str, browser) -> None:
    w = Watch(browser, server, permissions=["clipboard-read", "clipboard-write"])
    w.page.goto(server + "/")
    answer = _ask(w.page, "How many tanks clashed at Prokhorovka?")
    answer.locator("button.vb-copy").click()
    w.page.wait_for_function("() => document.querySelector('.vb-copy').textContent === 'Copied'")
    copied = w.page.evaluate("navigator.clipboard.readText()")
    quote = answer.locator("blockquote.vb-quote").inner_text().replace("[1]", "").strip()
    head, _, cite = copied.partition("\n— ")
    assert head == f'"{quote}"'
    # One line, as a citation is written: "title · file · chars a–b".
    assert re.fullmatch(r"[^\n]+ · [^\n]+\.txt · chars [\d,]+–[\d,]+", cite), cite
    assert w.outside() == []
    w.close()


def test_citation_opens_the_document_at_the_highlight(
    server: str, watch: Watch, output_dir
) -> None:
    page = watch.page
    page.goto(server + "/")
    answer = _ask(page, "When did Operation Bagration begin?")
    quote = answer.locator("blockquote.vb-quote").inner_text().replace("[1]", "").strip()
    with page.context.expect_page() as opened:
        answer.locator("a.vb-ref").click()
    viewer = opened.value
    viewer.wait_for_load_state()
    mark = viewer.locator("mark#hl")
    assert mark.inner_text() == quote
    # Scrolled into view: the highlight lies inside the window, below the sticky header, at
    # any width (a narrow window wraps the header over several lines).
    for width, height in ((1280, 900), (375, 740)):
        fresh = viewer.context.new_page()
        fresh.set_viewport_size({"width": width, "height": height})
        fresh.goto(viewer.url)
        fresh.wait_for_load_state()
        box = fresh.locator("mark#hl").bounding_box()
        header = fresh.locator("header").bounding_box()
        assert box is not None and header is not None
        assert header["y"] + header["height"] <= box["y"], (width, header, box)
        assert box["y"] + box["height"] <= height, (width, box)
        assert fresh.evaluate("window.scrollY") > 0
        fresh.close()
    viewer.screenshot(path=str(output_dir / "document-viewer.png"))

    # Every source passage links into its document too.
    answer.locator("details summary").first.click()
    with page.context.expect_page() as opened:
        answer.locator("a.vb-open").nth(1).click()
    other = opened.value
    other.wait_for_load_state()
    assert other.locator("pre.doc").is_visible() and "/doc/" in other.url


def test_upload_a_document_then_ask_it_and_remove_it(
    server: str, watch: Watch, output_dir, data_dir: Path
) -> None:
    page = watch.page
    _upload(
        page,
        server,
        "warsaw-uprising.md",
        b"# The Warsaw Uprising\n\nThe Warsaw Uprising began on August 1, 1944, when "
        b"the Polish Home Army rose against the German occupiers.\n\nAfter 63 days "
        b"of fighting the insurgents surrendered on October 2, 1944.\n",
    )
    status = page.locator("#vb-status")
    status.get_by_text("added warsaw-uprising.md").wait_for(timeout=120_000)
    assert page.locator("#vb-docs").get_by_text("warsaw-uprising.md").first.is_visible()
    assert (data_dir / "documents" / "warsaw-uprising.md").is_file()
    page.screenshot(path=str(output_dir / "documents.png"), full_page=True)

    page.get_by_role("tab", name="Ask").click()
    answer = _ask(page, "When did the Warsaw Uprising begin?")
    assert "August 1, 1944" in answer.locator("blockquote.vb-quote").inner_text()
    assert "warsaw-uprising.md" in answer.locator(".vb-cite").inner_text()

    page.get_by_role("tab", name="Documents").click()
    _remove(page, status, "warsaw-uprising.md")
    assert not (data_dir / "documents" / "warsaw-uprising.md").exists()
    assert page.locator("#vb-docs").get_by_text("warsaw-uprising.md").count() == 0


def test_upload_refuses_bad_files_with_a_clear_message(
    server: str, watch: Watch, data_dir: Path
) -> None:
    page = watch.page
    _upload(page, server, "program.exe", b"MZ\x90", "application/octet-stream")
    page.locator("#vb-status").get_by_text("not a supported type").wait_for(timeout=30_000)
    assert not any(p.name == "program.exe" for p in data_dir.rglob("*"))
    # The refused file leaves the file box, so that the next pick does not carry it along.
    # (The box shows a name split over elements: "program", ".exe".)
    expect(page.locator("#vb-upload")).not_to_contain_text("program", timeout=30_000)


def test_widget_answers_inside_the_embed_page_both_ways(
    server: str, watch: Watch, output_dir
) -> None:
    widget = watch.new_page()
    widget.set_viewport_size({"width": 400, "height": 600})
    widget.goto(server + "/widget/")
    answer = _ask(widget, "How many tanks clashed at Prokhorovka?", prefix="vb-w")
    assert answer.locator("blockquote.vb-quote").is_visible()
    assert widget.evaluate("document.documentElement.scrollWidth") <= 400  # no sideways scroll
    widget.screenshot(path=str(output_dir / "widget.png"))

    page = watch.page
    page.goto(server + "/embed")
    component = page.locator("#demo-wc gradio-app")
    component.locator("#vb-wquestion textarea").wait_for(timeout=60_000)
    answer = _ask(component, "When was the siege of Leningrad broken?", prefix="vb-w")
    assert "January 27, 1944" in answer.locator("blockquote.vb-quote").inner_text()
    href = answer.locator("a.vb-ref").get_attribute("href")
    assert href.startswith(server + "/doc/")  # links name the server, wherever embedded

    frame = page.frame_locator("#demo-iframe iframe")
    answer = _ask(frame, "Wann befreite die Rote Armee Minsk?", prefix="vb-w")
    assert answer.locator("blockquote.vb-quote").is_visible()
    assert "002_3a10bfff42129373.txt" in answer.locator(".vb-cite").inner_text()
    # Rating an answer opens a comment box inside that answer, within the 400×600 frame.
    frame.locator('#vb-wchat button[aria-label="Like"]').last.click()
    rated = answer.locator("form.vb-rate")
    rated.get_by_text("marked as helpful").wait_for()
    inner = page.locator("#demo-iframe iframe").element_handle().content_frame()
    assert inner.evaluate("document.documentElement.scrollHeight <= innerHeight + 1")
    field = rated.locator("input[name=comment]")
    inner.wait_for_function("document.activeElement?.name === 'comment'")  # focus moved there
    box, outer = field.bounding_box(), page.locator("#demo-iframe iframe").bounding_box()
    assert box is not None and outer is not None
    assert outer["y"] <= box["y"] and box["y"] + box["height"] <= outer["y"] + outer["height"]
    field.fill("from the widget")
    field.press("Enter")
    answer.get_by_text("your comment was saved").wait_for()
    page.screenshot(path=str(output_dir / "embed.png"), full_page=True)


def _comment_with(answer, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type ``text`` into the comment form of a rated ``answer`` and send it."""
    form = answer.locator("form.vb-rate")
    form.locator("input[name=comment]").fill(text)
    form.get_by_role("button", name="Send").click()
    answer.get_by_text("your comment was saved").wait_for()


def test_feedback_is_logged_and_exported_as_a_gold_set(
    server: str, watch: Watch, data_dir: Path, tmp_path: Path, output_dir
) -> None:
    from eval.gold import load_gold
    from ui.cli import main

    page = watch.page
    page.goto(server + "/")
    answer = _ask(page, "When did Operation Bagration begin?")
    quote = answer.locator("blockquote.vb-quote").inner_text().replace("[1]", "").strip()
    page.locator('#vb-chat button[aria-label="Like"]').last.click()
    # The thanks and the comment box come with the answer rated, not under the question box.
    rated = answer.locator("form.vb-rate")
    rated.get_by_text("Thanks — marked as helpful.").wait_for()
    question_box = page.locator("#vb-question").bounding_box()
    form_box = rated.bounding_box()
    assert question_box is not None and form_box is not None
    assert form_box["y"] + form_box["height"] <= question_box["y"]
    _comment_with(answer, "right quote, right place")
    page.screenshot(path=str(output_dir / "chat-feedback.png"))

    missing = _ask(page, "Who painted the Mona Lisa?")
    assert missing.locator(".vb-notfound").is_visible()
    page.locator('#vb-chat button[aria-label="Dislike"]').last.click()
    missing.locator("form.vb-rate").get_by_text("marked as not helpful").wait_for()
    assert answer.locator("form.vb-rate").count() == 1  # each answer keeps its own
    # After a reload the kept answers come back rated: the comment reads as saved (on this
    # device), the other answer's box waits for one.
    page.reload()
    page.wait_for_load_state("load")
    answer = page.locator("#vb-chat .vb-answer").first
    answer.get_by_text("your comment was saved").wait_for(timeout=30_000)
    assert answer.get_by_text("marked as helpful").is_visible()
    assert answer.locator("input[name=comment]").count() == 0
    assert page.locator("#vb-chat .vb-answer").nth(1).locator("input[name=comment]").count() == 1

    out = tmp_path / "gold.jsonl"
    assert main(["feedback", "export", "--data", str(data_dir), "--out", str(out)]) == 0
    gold = {item.question: item for item in load_gold(out).items}
    item = gold["When did Operation Bagration begin?"]
    assert item.answers == (quote,) and item.source == "000_c51f980ed00a777f.txt"
    assert item.extra.get("comment") == "right quote, right place"
    assert "Who painted the Mona Lisa?" not in gold  # a down vote names no right answer

    run = tmp_path / "run"
    args = ["eval", str(out), "--index", str(data_dir / "index"), "--out", str(run), "--quiet"]
    assert main(args) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["overall"]["quote@1"] == 1.0, metrics


def test_hostile_document_and_question_are_shown_as_text(
    server: str, watch: Watch, output_dir
) -> None:
    payload = (
        "# Harbour festival <script>window.__pwned = 1; alert('title')</script>\n\n"
        "The harbour festival starts at dawn on Midsummer Day <script>window.__pwned = 2; "
        "alert(2)</script> with a parade of boats.\n\n"
        '<img src="http://198.51.100.7/pixel.png" onerror="window.__pwned = 3; alert(3)"> '
        "[click me](javascript:window.__pwned=4) ![tracker](http://198.51.100.7/track.gif) "
        '<a href="javascript:alert(5)">harbour link</a> <iframe src="http://198.51.100.7/">'
        '</iframe> <svg onload="window.__pwned = 6"></svg> '
        "<style>body{background:url(http://198.51.100.7/bg.png)}</style>\n"
    )
    page = watch.page
    _upload(page, server, "../../<img src=x onerror=alert(7)>harbour.md", payload.encode())
    page.locator("#vb-status").get_by_text("added").wait_for(timeout=120_000)
    page.get_by_role("tab", name="Ask").click()
    answer = _ask(
        page, '<img src=x onerror="alert(8)"> When does the harbour festival start? \u26f5'
    )
    answer.locator("details summary").first.click()
    assert page.locator("#vb-chat").get_by_text("<img src=x onerror", exact=False).count() >= 1
    text = answer.inner_text()
    assert "<script>window.__pwned = 2;" in text  # the markup is shown as text, not run
    for selector in ("img", "iframe", "svg", "script", "a[href^=javascript]", "style"):
        assert page.locator(f"#vb-chat .vb-answer {selector}").count() == 0, selector
        assert page.locator(f"#vb-chat .vb-question {selector}").count() == 0, selector
    page.screenshot(path=str(output_dir / "chat-hostile.png"), full_page=True)

    with page.context.expect_page() as opened:
        answer.locator("a.vb-open").first.click()
    viewer = opened.value
    viewer.wait_for_load_state()
    assert "<script>window.__pwned = 2;" in viewer.locator("pre.doc").inner_text()
    assert viewer.locator("pre.doc img, pre.doc script, pre.doc svg").count() == 0

    widget = watch.new_page()
    widget.goto(server + "/widget/")
    _ask(widget, "When does the harbour festival start?", prefix="vb-w")
    for p in (page, viewer, widget):
        assert p.evaluate("window.__pwned") is None
    # The outside address in the payload was never fetched (the fixture checks all requests).
    assert not any("198.51.100.7" in u for u in watch.requests)


def test_odd_questions_get_an_answer_or_a_clear_message(server: str, watch: Watch) -> None:
    page = watch.page
    page.goto(server + "/")
    long = _ask(page, "siege " * 20_000)
    assert "keep it under" in long.inner_text()
    emoji = _ask(page, "🎖️ When was the siege of Leningrad broken? 🕊️")
    assert "January 27, 1944" in emoji.inner_text()
    controls = _ask(page, "When was\x00 the siege\x07 of Leningrad broken?")
    assert controls.locator("blockquote.vb-quote").count() == 1


def test_api_refuses_a_100_kb_question_with_json(server: str) -> None:
    import urllib.error
    import urllib.parse
    import urllib.request

    url = f"{server}/api/ask?" + urllib.parse.urlencode({"q": "siege " * 17_000})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=60)
    assert caught.value.code == 400
    assert "keep it under" in json.loads(caught.value.read())["error"]


def test_chat_latency_median_of_20_questions(server: str, browser, seed_answerer) -> None:
    import json
    import statistics

    from tests.chat_latency import QUESTIONS, measure
    from tests.conftest import OUTPUT

    w = Watch(browser, server, viewport={"width": 1200, "height": 900})
    times = measure(w.page, server + "/", QUESTIONS)
    w.close()
    in_process = []
    for q in QUESTIONS:
        t0 = time.perf_counter()
        seed_answerer.ask(q)
        in_process.append(time.perf_counter() - t0)
    result = {
        "n": len(times),
        "page_median_ms": round(statistics.median(times) * 1000),
        "ask_median_ms": round(statistics.median(in_process) * 1000),
        "page_ms": [round(t * 1000) for t in times],
    }
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "chat-latency.json").write_text(json.dumps(result, indent=1))
    print(
        f"\nEnter → answer on the page, median of {len(times)}: {result['page_median_ms']} ms "
        f"(the answerer alone: {result['ask_median_ms']} ms)"
    )
    assert len(times) == 20 and all(t > 0 for t in times)


def test_named_gradio_endpoint_answers_through_gradio_client(server: str) -> None:
    from gradio_client import Client

    history, cleared = Client(server + "/", verbose=False).predict(
        "When was the siege of Leningrad broken?", [], api_name="/ask"
    )
    assert cleared == ""
    reply = history[-1]
    text = (
        reply["content"]
        if isinstance(reply["content"], str)
        else "".join(part.get("text", "") for part in reply["content"])
    )
    assert reply["role"] == "assistant"
    assert "January 27, 1944" in text and "000_c51f980ed00a777f.txt" in text


def test_eval_report_renders_with_its_plots(browser, seed_index, tmp_path, output_dir) -> None:
    from eval.runner import run_eval
    from tests.conftest import ROOT

    out = tmp_path / "run"
    run_eval(ROOT / "eval" / "gold" / "seeds.jsonl", out, index=seed_index, limit=40)
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto((out / "report.html").as_uri())
    assert page.locator("svg").count() == 2
    assert page.locator("svg polyline").count() >= 2  # hit@k lines: all + each kind
    assert page.locator("svg rect[fill-opacity]").count() > 3  # the two score histograms
    box = page.locator("svg").first.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150
    assert "Failures" in page.locator("h2").nth(1).inner_text()
    page.screenshot(path=str(output_dir / "eval-report.png"), full_page=False)
    assert all(u.startswith("file://") for u in requests), requests
    page.close()


_ATTACK_PAGE = """<!doctype html><html><body><h1>Another site</h1><script>
window.attack = async (target, secret, fn) => {
  const out = {};
  const form = new FormData();
  form.append('files', new Blob(['Injected by another site.'], {type: 'text/plain'}),
              'injected-by-another-site.txt');
  try {
    await fetch(target + '/gradio_api/upload', {method: 'POST', body: form, mode: 'no-cors'});
    out.upload = 'sent';
  } catch (e) { out.upload = 'failed'; }
  const body = JSON.stringify({data: [[{path: secret, orig_name: 'secret.txt',
                               meta: {_type: 'gradio.FileData'}}]],
                               fn_index: fn, session_hash: 'another-site'});
  try {
    await fetch(target + '/gradio_api/queue/join',
                {method: 'POST', body, mode: 'no-cors', headers: {'Content-Type': 'text/plain'}});
    out.join = 'sent';
  } catch (e) { out.join = 'failed'; }
  try { out.read = await (await fetch(target + '/api/health')).text(); }
  catch (e) { out.read = 'blocked'; }
  return out;
};
</script></body></html>"""


def test_another_sites_page_is_refused_in_a_real_browser(
    server: str, browser, data_dir: Path, tmp_path: Path, output_dir
) -> None:
    """Items 1, 2 and 7 of the security round, from pages a real Chromium loads: another
    origin's page uploads and names a server file in an event; a rebinding host name
    reaches the server."""
    import http.server

    import httpx
    from gradio.utils import get_upload_folder

    from tests.live import event_fn, free_port

    secret = tmp_path / "secret.txt"
    secret.write_text("The launch code of the server is 0000-1234.\n")
    with httpx.Client(base_url=server) as client:
        fn = event_fn(client, "file")

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            body = _ATTACK_PAGE.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    other_port = free_port()
    site = http.server.ThreadingHTTPServer(("127.0.0.1", other_port), Page)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    port = urlparse(server).port
    # A browser of its own, which resolves the rebinding name to this machine.
    b = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebind.test 127.0.0.1"],
    )
    try:
        page = b.new_page()
        page.goto(f"http://localhost:{other_port}/")  # another origin than the server's
        out = page.evaluate("([t, s, f]) => attack(t, s, f)", [server, str(secret), fn])
        assert out["read"] == "blocked", out  # no CORS grant for another site
        time.sleep(1.0)  # what was sent has arrived
        # DNS rebinding: the server under a name that resolves to 127.0.0.1.
        for path in ("/", "/api/health", "/doc/000_c51f980ed00a777f.txt"):
            r = page.goto(f"http://rebind.test:{port}{path}")
            assert r is not None and r.status == 400, path
            assert "Leningrad" not in page.content()
        page.screenshot(path=str(output_dir / "rebinding-refused.png"))
    finally:
        b.close()
        site.shutdown()
    landed = [p for p in Path(get_upload_folder()).rglob("injected-by-another-site.txt")]
    assert landed == [], landed
    assert not (data_dir / "documents" / "secret.txt").exists()
    with httpx.Client(base_url=server) as client:
        assert client.get("/doc/secret.txt").status_code == 404
        assert "0000-1234" not in client.get("/api/ask", params={"q": "launch code"}).text


def test_a_pdf_citation_opens_the_rendered_page_with_the_quote_marked(
    server: str, watch: Watch, output_dir, tmp_path: Path, data_dir: Path
) -> None:
    from tests.test_pdf import manual_pdf

    page = watch.page
    pdf = manual_pdf(tmp_path / "manual.pdf").read_bytes()
    _upload(page, server, "manual.pdf", pdf, "application/pdf")
    status = page.locator("#vb-status")
    status.get_by_text("added manual.pdf").wait_for(timeout=120_000)
    try:
        page.get_by_role("tab", name="Ask").click()
        answer = _ask(page, "How do I remove the tool and its tool.conf file?")
        assert "tool.conf" in answer.locator("blockquote.vb-quote").inner_text()
        cite = answer.locator(".vb-cite").inner_text()
        assert "manual.pdf" in cite and "p. 4 · § Removal" in cite, cite
        page.screenshot(path=str(output_dir / "chat-pdf-answer.png"), full_page=True)
        with page.context.expect_page() as opened:
            answer.locator("a.vb-ref").click()
        viewer = opened.value
        viewer.wait_for_load_state()
        assert "/pdf/manual.pdf" in viewer.url
        for width, height in ((1280, 900), (390, 844)):
            fresh = viewer.context.new_page()
            fresh.set_viewport_size({"width": width, "height": height})
            fresh.goto(viewer.url)
            fresh.wait_for_load_state("load")
            image = fresh.locator("main.sheet img")
            image.wait_for()
            assert fresh.evaluate("document.querySelector('main.sheet img').naturalWidth") > 0
            mark = fresh.locator("#hl").bounding_box()
            sheet = image.bounding_box()
            assert mark is not None and sheet is not None
            # The mark lies on the rendered page and in the window.
            right = sheet["x"] + sheet["width"]
            assert sheet["x"] <= mark["x"] and mark["x"] + mark["width"] <= right
            assert sheet["y"] <= mark["y"] <= sheet["y"] + sheet["height"]
            assert 0 <= mark["y"] and mark["y"] + mark["height"] <= height, (width, mark)
            assert "page 4 of 4" in fresh.locator("nav.pages").inner_text()
            fresh.screenshot(path=str(output_dir / f"pdf-viewer-{width}.png"))
            fresh.close()
        # The text view is a click away, at the same span.
        viewer.get_by_role("link", name="Text view").click()
        viewer.locator("mark#hl").wait_for()
        assert "tool.conf" in viewer.locator("mark#hl").inner_text()
    finally:
        page.get_by_role("tab", name="Documents").click()
        _remove(page, status, "manual.pdf")
    assert not (data_dir / "documents" / "manual.pdf").exists()


_CONTRAST_JS = """(el) => {
  const rgb = (s) => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const fg = rgb(getComputedStyle(el).color);
  let bg = [255, 255, 255];
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length < 4 || c[3] > 0.5) { bg = c; break; }
  }
  const [a, b] = [lum(fg), lum(bg)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""
#: WCAG AA for body text.
AA = 4.5


def _contrast(locator) -> float:  # type: ignore[no-untyped-def]
    return float(locator.evaluate(_CONTRAST_JS))


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_answers_are_readable_in_light_and_dark_themes(
    server: str, browser, output_dir, scheme: str
) -> None:
    for width, height in ((1280, 900), (390, 844)):
        w = Watch(browser, server, viewport={"width": width, "height": height},
                  color_scheme=scheme)  # fmt: skip
        page = w.page
        page.goto(server + "/")
        page.locator("#vb-question textarea").wait_for()
        page.screenshot(path=str(output_dir / f"home-{scheme}-{width}.png"))
        answer = _ask(page, "When was the siege of Leningrad broken?")
        answer.locator("details summary").first.click()
        for name, part in (
            ("quote", answer.locator("blockquote.vb-quote")),
            ("citation", answer.locator(".vb-cite")),
            ("highlight", answer.locator(".vb-passage-text mark").first),
            ("passage", answer.locator(".vb-passage-text").first),
        ):
            assert _contrast(part) >= AA, (scheme, width, name, _contrast(part))
        page.screenshot(path=str(output_dir / f"answer-{scheme}-{width}.png"), full_page=True)
        missing = _ask(page, "Which zebras collect quartz crystals in Antarctica?")
        verdict = missing.locator(".vb-notfound")
        assert _contrast(verdict) >= AA, (scheme, width, "not found")
        page.screenshot(path=str(output_dir / f"not-found-{scheme}-{width}.png"), full_page=True)

        with page.context.expect_page() as opened:
            answer.locator("a.vb-ref").click()
        viewer = opened.value
        viewer.wait_for_load_state()
        mark = viewer.locator("mark#hl")
        mark.wait_for()
        assert _contrast(mark) >= AA and _contrast(viewer.locator("pre.doc")) >= AA, scheme
        viewer.screenshot(path=str(output_dir / f"viewer-{scheme}-{width}.png"))

        widget = w.new_page()
        widget.goto(server + "/widget/")
        widget.locator("#vb-wquestion textarea").wait_for()
        reply = _ask(widget, "When did Operation Bagration begin?", prefix="vb-w")
        assert _contrast(reply.locator("blockquote.vb-quote")) >= AA, (scheme, "widget")
        widget.screenshot(path=str(output_dir / f"widget-{scheme}-{width}.png"))
        w.close()
        assert w.outside() == [] and w.dialogs == []


def test_the_verdict_of_a_new_answer_is_in_view_and_the_page_opens_at_its_top(
    server: str, browser, output_dir
) -> None:
    w = Watch(browser, server, viewport={"width": 375, "height": 740})
    page = w.page
    page.goto(server + "/")
    box = page.locator("#vb-question textarea")
    box.wait_for()
    page.wait_for_function("document.activeElement?.tagName === 'TEXTAREA'")
    assert page.evaluate("window.scrollY") == 0  # focused without scrolling the page
    field, send = box.bounding_box(), page.locator("#vb-ask").bounding_box()
    assert field is not None and send is not None  # Send stays beside the box on a phone
    assert send["x"] >= field["x"] + field["width"] and send["y"] < field["y"] + field["height"]
    for question in (
        "When was the siege of Leningrad broken?",
        "When did Operation Bagration begin?",
        "Wann befreite die Rote Armee Minsk?",
    ):
        _ask(page, question)
    missing = _ask(page, "Which zebras collect quartz crystals in Antarctica?")
    verdict = missing.locator(".vb-notfound")
    assert missing.locator("details").get_attribute("open") is None  # passages collapsed
    page.wait_for_timeout(300)  # the scroll runs on the next frame
    chat = page.locator("#vb-chat").bounding_box()
    seen = verdict.bounding_box()
    assert chat is not None and seen is not None
    assert chat["y"] <= seen["y"] and seen["y"] + seen["height"] <= chat["y"] + chat["height"]
    page.screenshot(path=str(output_dir / "not-found-in-view-375.png"))
    w.close()
    assert w.outside() == [] and w.dialogs == []


def test_documents_tab_lists_links_confirms_removal_and_undoes_it(
    server: str, browser, output_dir, data_dir: Path
) -> None:
    w = Watch(browser, server, viewport={"width": 1280, "height": 900})
    page = w.page
    _upload(page, server, "riga-notes.md", b"# Riga\n\nRiga was taken on October 13, 1944.\n")
    status = page.locator("#vb-status")
    status.get_by_text("added riga-notes.md").wait_for(timeout=120_000)
    table = page.locator("#vb-docs table.vb-docs-table")
    link = table.get_by_role("link", name="Riga")
    assert link.get_attribute("href") == "/doc/riga-notes.md"
    tab_text = page.locator("#vb-docs").inner_text() + page.get_by_role("tabpanel").inner_text()
    assert str(data_dir) not in tab_text  # the server's folders stay on the server
    assert "⏳" not in status.inner_text() and "✅" not in status.inner_text()
    header = table.locator("th").nth(3).bounding_box()
    assert header is not None and header["height"] < 40  # "Language" on one line
    page.screenshot(path=str(output_dir / "documents-1280.png"), full_page=True)

    choice = page.locator("#vb-remove-choice input")
    choice.fill("riga-notes")
    choice.press("Enter")
    page.locator("#vb-remove").click()
    status.get_by_text("Remove riga-notes.md from the index?").wait_for()
    page.locator("#vb-remove-cancel").click()
    status.get_by_text("Nothing was removed").wait_for()
    assert (data_dir / "documents" / "riga-notes.md").is_file()

    page.locator("#vb-remove").click()
    page.locator("#vb-remove-confirm").click()
    status.get_by_text("removed riga-notes.md").wait_for(timeout=120_000)
    assert not (data_dir / "documents" / "riga-notes.md").exists()
    gone = w.new_page()
    gone.goto(server + "/doc/riga-notes.md")
    assert "was removed from the documents" in gone.locator("main").inner_text()
    gone.close()
    page.locator("#vb-undo").click()
    status.get_by_text("Restored riga-notes.md").wait_for(timeout=120_000)
    assert (data_dir / "documents" / "riga-notes.md").is_file()
    assert table.get_by_role("link", name="Riga").count() == 1

    narrow = w.new_page()
    narrow.set_viewport_size({"width": 390, "height": 844})
    narrow.goto(server + "/")
    narrow.get_by_role("tab", name="Documents").click()
    row = narrow.locator("#vb-docs tbody tr", has_text="riga-notes.md")
    row.wait_for()
    for cell in range(6):  # every column of a document shows, labelled, inside the screen
        box = row.locator("td").nth(cell).bounding_box()
        assert box is not None and box["width"] > 0 and box["x"] + box["width"] <= 390, cell
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 390
    narrow.screenshot(path=str(output_dir / "documents-390.png"), full_page=True)
    narrow.close()

    _remove(page, status, "riga-notes.md")
    w.close()
    assert w.outside() == [] and w.dialogs == []


def test_the_chat_has_no_serious_accessibility_violations_and_works_by_keyboard(
    server: str, watch: Watch, output_dir
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    page = watch.page
    page.goto(server + "/")
    box = page.locator("#vb-question textarea")
    box.wait_for()
    # Keyboard only: type, Enter, then Tab to the citation and open it with Enter.
    box.focus()
    page.keyboard.type("When did Operation Bagration begin?")
    page.keyboard.press("Enter")
    answer = page.locator("#vb-chat .vb-answer").first
    answer.wait_for(timeout=60_000)
    page.wait_for_timeout(300)  # names are set on the next frame
    labels = page.locator("#vb-chat [aria-label]").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    )
    assert labels and not [x for x in labels if "<" in x], labels  # text, not markup
    assert page.get_by_role("button", name="Send").count() == 1  # not a second "Ask"
    first_source = answer.locator("ol.vb-passages li").first
    style = first_source.evaluate("li => getComputedStyle(li).listStyleType")
    assert style == "none"  # numbered once, by its [n]
    ref = answer.locator("a.vb-ref")
    ref.focus()
    assert page.evaluate("document.activeElement.classList.contains('vb-ref')")
    with page.context.expect_page() as opened:
        page.keyboard.press("Enter")
    opened.value.locator("mark#hl").wait_for()
    opened.value.close()
    summary = answer.locator("details summary").first
    summary.focus()
    page.keyboard.press("Enter")
    assert answer.locator("details").first.get_attribute("open") is not None
    # Rate by keyboard: Tab on (past the sources' links) to the thumbs up, Enter; the focus
    # moves to the comment box under the answer; type, Enter.
    focused = "document.activeElement.getAttribute('aria-label')"
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate(focused) == "Like":
            break
    assert page.evaluate(focused) == "Like"
    page.keyboard.press("Enter")
    answer.locator("form.vb-rate").get_by_text("marked as helpful").wait_for()
    page.wait_for_function("document.activeElement?.name === 'comment'")
    page.keyboard.type("typed without a mouse")
    page.keyboard.press("Enter")
    answer.get_by_text("your comment was saved").wait_for()
    assert page.evaluate("document.activeElement.textContent").startswith("Thanks")
    page.wait_for_timeout(1000)  # the messages' fade-in is over
    results = Axe().run(page)
    serious = [
        (v["id"], v["impact"], len(v["nodes"]))
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    (output_dir / "axe-chat.txt").write_text(results.generate_report())
    assert serious == [], serious


def test_the_conversation_is_kept_in_the_browser_until_cleared(
    server: str, watch: Watch, output_dir
) -> None:
    page = watch.page
    page.goto(server + "/")
    first = _ask(page, "When was the siege of Leningrad broken?")
    quote = first.locator("blockquote.vb-quote").inner_text()
    _ask(page, "Which zebras collect quartz crystals in Antarctica?")
    page.reload()
    page.wait_for_load_state("load")
    chat = page.locator("#vb-chat")
    chat.locator(".vb-answer").nth(1).wait_for(timeout=30_000)
    assert chat.locator(".vb-question").all_inner_texts() == [
        "When was the siege of Leningrad broken?",
        "Which zebras collect quartz crystals in Antarctica?",
    ]
    assert chat.locator("blockquote.vb-quote").first.inner_text() == quote
    assert chat.locator(".vb-notfound").count() == 1
    page.screenshot(path=str(output_dir / "chat-after-reload.png"))
    # Per device: another browser (a new context) starts with an empty chat.
    other = watch.context.browser.new_context()
    fresh = other.new_page()
    fresh.goto(server + "/")
    fresh.locator("#vb-question textarea").wait_for()
    fresh.wait_for_timeout(500)
    assert fresh.locator("#vb-chat .vb-answer").count() == 0
    other.close()

    clear = page.get_by_role("button", name="Clear conversation")
    assert clear.is_visible()
    # It holds its own corner: no message scrolls under it.
    for text in chat.locator(".vb-question, .vb-quote, .vb-notfound").all():
        text.scroll_into_view_if_needed()
        a, b = clear.bounding_box(), text.bounding_box()
        assert a is not None and b is not None
        apart = a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"]
        assert apart or a["x"] >= b["x"] + b["width"], (a, b)
    clear.click()
    expect(chat.locator(".vb-answer")).to_have_count(0)
    page.reload()
    page.wait_for_load_state("load")
    chat.get_by_text("How many tanks clashed at Prokhorovka?").wait_for()  # the examples again
    page.wait_for_timeout(500)
    assert chat.locator(".vb-answer, .vb-question").count() == 0


def test_answers_given_before_a_server_restart_can_be_rated(
    seed_answerer, seed_index: Path, browser, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(seed_index, data / "index")
    port = _free_port()
    w = Watch(browser, f"http://127.0.0.1:{port}", viewport={"width": 1280, "height": 900})
    page = w.page
    with _serving(seed_answerer, data, port) as url:
        page.goto(url + "/")
        quote = _ask(page, "When did Operation Bagration begin?").locator("blockquote").inner_text()
    # The server is gone: nothing of its answers remains but what the browser kept.
    with _serving(seed_answerer, data, port) as url:
        page.reload()
        page.wait_for_load_state("load")
        answer = page.locator("#vb-chat .vb-answer").first
        answer.wait_for(timeout=30_000)
        page.locator('#vb-chat button[aria-label="Like"]').first.click()
        answer.locator("form.vb-rate").get_by_text("marked as helpful").wait_for()
        _comment_with(answer, "still right after a restart")
        lines = [json.loads(x) for x in (data / "feedback.jsonl").read_text().splitlines()]
        vote, comment = lines
        assert vote["vote"] == "up" and vote["response"]["quote"] in quote
        assert vote["response"]["citation"]["source"] == "000_c51f980ed00a777f.txt"
        assert comment["answer_id"] == vote["answer_id"]
        assert comment["comment"] == "still right after a restart"
        # A seal the server did not make (here: one altered character) rates nothing.
        import httpx

        seal = answer.locator("input.vb-seal").get_attribute("value")
        forged = seal[:-3] + ("A" if seal[-3] != "A" else "B") + seal[-2:]
        r = httpx.post(url + "/api/feedback", json={"answer": forged, "vote": "up"})
        assert r.status_code == 400 and "cannot be rated" in r.json()["error"]
        assert len((data / "feedback.jsonl").read_text().splitlines()) == 2
    w.close()
    assert w.outside() == [] and w.dialogs == []


_HOST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Another site</title><script type="module" src="{server}/gradio.js"></script></head>
<body style="margin:2em;font-family:sans-serif"><h1>Another site</h1>
<div id="box" style="width:400px;height:600px;border:1px solid #999">
<gradio-app src="{server}/widget/"></gradio-app></div></body></html>"""


def test_a_web_component_refused_for_its_site_says_so(
    server: str, browser, output_dir, data_dir: Path
) -> None:
    """A page of a site not in --allow-origin embeds the widget: the box says why it stays
    empty, and the page gets nothing of the server but that."""
    import http.server

    from tests.live import free_port

    body = _HOST_PAGE.format(server=server).encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    host = f"http://localhost:{site.server_address[1]}"  # another origin than the server's
    context = browser.new_context(viewport={"width": 800, "height": 800})
    try:
        page = context.new_page()
        page.goto(host + "/")
        page.wait_for_load_state("load")
        note = page.locator("#box gradio-app .vb-refused")
        note.wait_for(timeout=30_000)
        text = note.inner_text()
        assert "does not allow this site" in text and host in text and "--allow-origin" in text
        # It names nothing of the server's settings, folders or documents.
        for secret in (str(data_dir), "Leningrad", "000_c51f980ed00a777f", "feedback"):
            assert secret not in text
        assert page.locator("#vb-wchat, #vb-wquestion").count() == 0  # no widget, no config
        box, shown = page.locator("#box").bounding_box(), note.bounding_box()
        assert box is not None and shown is not None
        assert box["y"] <= shown["y"] and shown["y"] + shown["height"] <= box["y"] + box["height"]
        assert _contrast(note) >= AA
        page.screenshot(path=str(output_dir / "embed-refused.png"))
    finally:
        context.close()
        site.shutdown()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_documents_tab_and_embed_page_fit_the_screen_in_both_themes(
    server: str, browser, output_dir, scheme: str
) -> None:
    """The documents tab and /embed at 1280 and 390 px: nothing scrolls sideways, headings
    show whole, text is readable; the web component's question box sits at the foot of its
    box as the iframe's does. Screenshots of both go to the test output."""
    for width, height in ((1280, 900), (390, 844)):
        w = Watch(browser, server, viewport={"width": width, "height": height},
                  color_scheme=scheme)  # fmt: skip
        page = w.page
        page.goto(server + "/")
        page.get_by_role("tab", name="Documents").click()
        page.locator("#vb-docs tbody tr").first.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert _contrast(page.locator("#vb-docs tbody td").first) >= AA, (scheme, width)
        page.screenshot(path=str(output_dir / f"documents-{scheme}-{width}.png"), full_page=True)

        page.goto(server + "/embed")
        page.wait_for_load_state("load")
        component = page.locator("#demo-wc gradio-app")
        component.locator("#vb-wquestion textarea").wait_for(timeout=60_000)
        frame = page.frame_locator("#demo-iframe iframe")
        frame.locator("#vb-wquestion textarea").wait_for(timeout=60_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (scheme, width)
        for heading in page.locator("h1, h2").all():
            box = heading.bounding_box()
            assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= width
            assert _contrast(heading) >= AA, (scheme, width, heading.inner_text())
        for demo, ask in (
            ("#demo-wc .box", component.locator("#vb-wask")),
            ("#demo-iframe .box", frame.locator("#vb-wask")),
        ):
            outer, button = page.locator(demo).bounding_box(), ask.bounding_box()
            assert outer is not None and button is not None
            below = outer["y"] + outer["height"] - (button["y"] + button["height"])
            assert 0 <= below <= 16, (scheme, width, demo, below)  # at the foot, not mid-box
        page.screenshot(path=str(output_dir / f"embed-{scheme}-{width}.png"), full_page=True)
        w.close()
        assert w.outside() == [] and w.dialogs == []
