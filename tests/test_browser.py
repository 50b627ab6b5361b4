"""The chat page in real headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

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
def server(seed_answerer) -> Iterator[str]:
    import uvicorn

    from ui.app import build_app

    port = _free_port()
    srv = uvicorn.Server(
        uvicorn.Config(build_app(seed_answerer), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


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


def test_ask_in_the_browser_shows_the_quote_citation_and_sources(
    server: str, browser, output_dir
) -> None:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server + "/", wait_until="networkidle")
    box = page.locator("#vb-question textarea")
    box.fill("When was the siege of Leningrad broken?")
    box.press("Enter")
    quote = page.locator("#vb-chat blockquote.vb-quote")
    quote.wait_for(timeout=60_000)
    assert "January 27, 1944" in quote.inner_text()
    cite = page.locator("#vb-chat .vb-cite").first.inner_text()
    assert "000_c51f980ed00a777f.txt" in cite and "chars 0–100" in cite
    page.locator("#vb-chat details summary").first.click()
    mark = page.locator("#vb-chat mark").first
    assert "January 27, 1944" in mark.inner_text()
    page.screenshot(path=str(output_dir / "chat-answer.png"), full_page=True)

    box.fill("What is the recipe for banana bread?")
    box.press("Enter")
    page.locator("#vb-chat .vb-notfound").wait_for(timeout=60_000)
    assert "Not found in the documents." in page.locator("#vb-chat .vb-notfound").inner_text()
    page.screenshot(path=str(output_dir / "chat-not-found.png"), full_page=True)

    origin = urlparse(server).netloc
    outside = [
        u
        for u in requests
        if urlparse(u).scheme in {"http", "https", "ws", "wss"} and urlparse(u).netloc != origin
    ]
    assert outside == [], outside
    page.close()


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
