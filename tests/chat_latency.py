"""Time from pressing Enter to the answer appearing on the chat page, in real Chromium.

Run against a server (``make run`` in another terminal)::

    python -m tests.chat_latency --url http://127.0.0.1:7860 --n 20

prints each question's time and the median. ``tests/test_browser.py`` runs the same
measurement on the seed documents and writes ``tests/output/chat-latency.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

__all__ = ["QUESTIONS", "measure", "main"]

#: Answerable and unanswerable questions on the seed documents, English and German.
QUESTIONS = [
    "When was the siege of Leningrad broken?",
    "How many tanks clashed at Prokhorovka?",
    "When did Operation Bagration begin?",
    "Wann befreite die Rote Armee Minsk?",
    "How long did the siege of Leningrad last?",
    "What was the Road of Life?",
    "When did the Battle of Kursk begin?",
    "Who won the Battle of Stalingrad?",
    "When did Germany invade the Soviet Union?",
    "Wie viele deutsche Soldaten fielen bei der Operation Bagration?",
    "What happened at Majdanek?",
    "When did the Red Army reach Berlin?",
    "How many people died in the siege of Leningrad?",
    "What was Operation Barbarossa?",
    "When did the Warsaw Uprising start?",
    "Which city was liberated on July 3, 1944?",
    "What is the recipe for banana bread?",
    "Who painted the Mona Lisa?",
    "When did the war in Europe end?",
    "Was geschah im Sommer 1944 an der Ostfront?",
]


def measure(page: Any, url: str, questions: list[str], timeout_ms: int = 120_000) -> list[float]:
    """Seconds from Enter to the new answer's markup in the chat, one per question.

    ``page`` is a Playwright page; the chat at ``url`` is loaded once, and each question
    waits until one more answer (a quote or a "Not found") is on the page.
    """
    page.goto(url)
    box = page.locator("#vb-question textarea")
    box.wait_for(timeout=timeout_ms)
    answers = page.locator("#vb-chat .vb-answer, #vb-chat .vb-error")
    times = []
    for i, question in enumerate(questions):
        box.fill(question)
        t0 = time.perf_counter()
        box.press("Enter")
        page.wait_for_function(
            "n => document.querySelectorAll('#vb-chat .vb-answer, #vb-chat .vb-error').length > n",
            arg=i,
            timeout=timeout_ms,
            polling="raf",
        )
        times.append(time.perf_counter() - t0)
    assert answers.count() == len(questions)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860", help="the chat page")
    parser.add_argument("--n", type=int, default=20, help="questions to ask (at most 20)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        times = measure(page, args.url.rstrip("/") + "/", QUESTIONS[: args.n])
        browser.close()
    for q, t in zip(QUESTIONS, times, strict=False):
        print(f"{t * 1000:7.0f} ms  {q}")
    print(json.dumps({"n": len(times), "median_ms": round(statistics.median(times) * 1000)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
