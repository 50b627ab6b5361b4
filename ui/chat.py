"""The Gradio pages: the chat with its Documents tab, and the compact widget.

Imported by :func:`ui.app.build_app` only (gradio is heavy). Every handler catches what a
user can cause and shows it as one clear line; document text, file names and questions
are rendered as text (see :mod:`ui.render`). The pages' CSS and script are the files of
``ui/static/``.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr

from retriever.answer import clean_question
from retriever.errors import VerbatimError
from retriever.records import Answer
from ui.documents import documents_tab
from ui.feedback import FeedbackLog
from ui.library import Library
from ui.render import answer_html, error_html, question_html

__all__ = ["build_pages", "static", "EXAMPLES", "CONCURRENCY"]

log = logging.getLogger("verbatim.app")

#: Offered on an empty chat when the index answers them (``verbatim serve --example``
#: sets others).
EXAMPLES = [
    "When was the siege of Leningrad broken?",
    "How many tanks clashed at Prokhorovka?",
    "Wann befreite die Rote Armee Minsk?",
]
#: Questions answered at once; answering is read-only, so several may run together.
CONCURRENCY = 4
#: Answers remembered for feedback (the oldest are forgotten first).
_REMEMBERED = 5000

_STATIC = Path(__file__).parent / "static"


@cache
def static(name: str) -> str:
    """A file of ``ui/static/`` (the pages' CSS and script) as text."""
    return (_STATIC / name).read_text(encoding="utf-8")


_ANSWER_ID = re.compile(r'data-answer="([0-9a-f]{8,32})"')


def _text_of(content: Any) -> str:
    """Plain text of a chat message's content (gradio 6 hands back a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            c if isinstance(c, str) else str(c.get("text", "")) if isinstance(c, dict) else ""
            for c in content
        )
    return str(content)


class _Answers:
    """The recent answers by id, so that a thumbs up or down can be logged in full."""

    def __init__(self, size: int = _REMEMBERED) -> None:
        self._items: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def add(self, answer: Answer) -> str:
        answer_id = secrets.token_hex(8)
        with self._lock:
            self._items[answer_id] = answer.to_dict()
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return answer_id

    def get(self, answer_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._items.get(answer_id)


class _Chat:
    """The chat's event handlers: questions, example picks, votes and comments."""

    def __init__(self, ask: Callable[[str], Answer], feedback: FeedbackLog) -> None:
        self.ask = ask
        self.feedback = feedback
        self.answers = _Answers()

    def respond(
        self, message: str, history: list[dict[str, Any]], base: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        history = [{"role": m["role"], "content": _text_of(m["content"])} for m in history or []]
        message = clean_question(message)
        if not message.strip():
            gr.Warning("Type a question about your documents first.")
            return history, ""
        try:
            answer = self.ask(message)
            reply = answer_html(answer, self.answers.add(answer), base)
        except VerbatimError as exc:
            reply = error_html(str(exc))
        except Exception:
            log.exception("answering failed")
            reply = error_html("something went wrong while answering; the server log says what")
        history += [
            {"role": "user", "content": question_html(message)},
            {"role": "assistant", "content": reply},
        ]
        return history, ""

    def respond_widget(
        self, message: str, history: list[dict[str, Any]], request: gr.Request
    ) -> tuple[list[dict[str, Any]], str]:
        # The widget may sit on another site: its links must name this server.
        host = request.headers.get("host", "")
        base = f"{request.request.url.scheme}://{host}" if host else ""
        return self.respond(message, history, base)

    def pick_example(self, example: gr.SelectData, history: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
        return self.respond(example.value["text"], history)

    def pick_example_widget(self, example: gr.SelectData, history, request: gr.Request):  # type: ignore[no-untyped-def]
        return self.respond_widget(example.value["text"], history, request)

    def vote(self, data: gr.LikeData) -> tuple[Any, Any, str]:
        found = _ANSWER_ID.search(_text_of(data.value) if data.value is not None else "")
        response = self.answers.get(found.group(1)) if found else None
        if response is None:
            gr.Warning("Only answers given since the server started can be rated.")
            return gr.update(), gr.update(visible=False), ""
        vote = "up" if data.liked is True or data.liked == "Like" else "down"
        self.feedback.vote(found.group(1), response, vote)
        note = "Thanks — marked as helpful." if vote == "up" else "Thanks — marked as not helpful."
        return (
            gr.update(value=f"{note} Add a comment if you like:"),
            gr.update(visible=True),
            found.group(1),
        )

    def comment(self, text: str, answer_id: str) -> tuple[Any, Any, str]:
        response = self.answers.get(answer_id) if answer_id else None
        if response is None:
            gr.Warning("Rate an answer first, then comment on it.")
            return gr.update(), gr.update(), text
        try:
            self.feedback.comment(answer_id, response.get("question"), text)
        except VerbatimError as exc:
            gr.Warning(str(exc))
            return gr.update(), gr.update(), text
        return gr.update(value="Thanks — your comment was saved."), gr.update(visible=False), ""


def _feedback_row(prefix: str) -> tuple[Any, Any, Any, Any]:
    note = gr.Markdown("", elem_id=f"{prefix}feedback-note")
    with gr.Row(visible=False, elem_id=f"{prefix}feedback") as row:
        comment = gr.Textbox(
            placeholder="What was right or wrong? (optional)",
            show_label=False,
            scale=6,
            elem_id=f"{prefix}comment",
        )
        send_comment = gr.Button("Send", scale=1, elem_id=f"{prefix}comment-send")
    return row, note, comment, send_comment


def _wire(handlers: _Chat, chat: Any, box: Any, send: Any, prefix: str, widget: bool) -> None:
    """Questions, example picks, votes and comments of one chat; the page's (not the
    widget's) question event is the named ``ask`` endpoint."""
    voted = gr.State("")
    row, note, comment, send_comment = _feedback_row(prefix)
    reply = handlers.respond_widget if widget else handlers.respond
    for i, event in enumerate((box.submit, send.click)):
        event(
            reply,
            [box, chat],
            [chat, box],
            api_name="ask" if not widget and i == 0 else False,
            concurrency_limit=CONCURRENCY,
            concurrency_id=f"{prefix}ask",
        )
    chat.example_select(
        handlers.pick_example_widget if widget else handlers.pick_example,
        [chat],
        [chat, box],
        api_name=False,
        concurrency_id=f"{prefix}ask",
    )
    chat.like(handlers.vote, None, [note, row, voted], api_name=False)
    for event in (comment.submit, send_comment.click):
        event(handlers.comment, [comment, voted], [note, row, comment], api_name=False)


def _chat_page(
    handlers: _Chat, library: Library, examples: list[dict[str, str]] | None, max_upload_mb: float
) -> gr.Blocks:
    with gr.Blocks(title="Verbatim", analytics_enabled=False) as demo:
        gr.Markdown(
            "# Verbatim\nAnswers are exact quotes from your documents, with a citation you "
            "can open; when the documents do not answer, Verbatim says so.",
            elem_id="vb-title",
        )
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                chat = gr.Chatbot(
                    show_label=False,  # a label would float over the first lines when narrow
                    height=560,
                    latex_delimiters=[],
                    elem_id="vb-chat",
                    buttons=[],
                    examples=examples,
                    placeholder="Ask about the documents — or start with an example.",
                    layout="panel",
                    autoscroll=False,  # verbatim.js brings a new answer's start into view
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="Ask a question…",
                        show_label=False,
                        scale=8,
                        elem_id="vb-question",
                    )
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="vb-ask")
                _wire(handlers, chat, box, send, "vb-", widget=False)
            with gr.Tab("Documents", id="documents"):
                documents_tab(demo, library, max_upload_mb)
    return demo


def _widget_page(handlers: _Chat, examples: list[dict[str, str]] | None) -> gr.Blocks:
    with gr.Blocks(title="Ask Verbatim", analytics_enabled=False, fill_height=True) as widget:
        chat = gr.Chatbot(
            show_label=False,
            latex_delimiters=[],
            elem_id="vb-wchat",
            buttons=[],
            examples=examples,
            placeholder="Answers quoted from the documents.",
            layout="panel",
            autoscroll=False,
            # Fills what the 400×600 box leaves, and gives way when the comment row opens.
            height=None,
            min_height=200,
            scale=1,
        )
        with gr.Row(equal_height=True):
            box = gr.Textbox(
                placeholder="Ask a question…",
                show_label=False,
                scale=5,
                elem_id="vb-wquestion",
                container=False,
            )
            send = gr.Button("Ask", variant="primary", scale=1, min_width=60, elem_id="vb-wask")
        _wire(handlers, chat, box, send, "vb-w", widget=True)
    return widget


def build_pages(
    ask: Callable[[str], Answer],
    library: Library,
    feedback: FeedbackLog,
    *,
    max_upload_mb: float,
    examples: Sequence[str] = (),
) -> tuple[gr.Blocks, gr.Blocks]:
    """The chat page (``/``) and the widget (``/widget``), wired to ``ask``.

    Args:
        ask: answers a cleaned question (raises :class:`VerbatimError` on bad input).
        library: the live index, for the Documents tab.
        feedback: where thumbs up/down and comments go.
        max_upload_mb: shown next to the upload box (the library enforces it).
        examples: questions offered on an empty chat (none: only the placeholder).
    """
    handlers = _Chat(ask, feedback)
    items = [{"text": q} for q in examples] or None
    return _chat_page(handlers, library, items, max_upload_mb), _widget_page(handlers, items)
