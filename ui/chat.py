"""The Gradio pages: the chat with its Documents tab, and the compact widget.

Imported by :func:`ui.app.build_app` only (gradio is heavy). Every handler catches what a
user can cause and shows it as one clear line; document text, file names and questions
are rendered as text (see :mod:`ui.render`). The pages' CSS and script are the files of
``ui/static/``.
"""

from __future__ import annotations

import logging
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
from ui.render import answer_html, error_html, question_html, rated_html, seal_of
from ui.seal import AnswerSeal

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

_STATIC = Path(__file__).parent / "static"


@cache
def static(name: str) -> str:
    """A file of ``ui/static/`` (the pages' CSS and script) as text."""
    return (_STATIC / name).read_text(encoding="utf-8")


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


def _messages(history: Any) -> list[dict[str, Any]]:
    """The chat's messages as ``{"role", "content"}`` with text content; anything else a
    client sends (a history kept in its browser comes back this way) is dropped."""
    out = []
    for m in history if isinstance(history, list) else []:
        if isinstance(m, dict) and m.get("role") in ("user", "assistant"):
            out.append({"role": m["role"], "content": _text_of(m.get("content", ""))})
    return out


def _base(request: gr.Request | None) -> str:
    """The server's own address as the client reached it (for links shown elsewhere)."""
    if request is None:
        return ""
    host = request.headers.get("host", "")
    return f"{request.request.url.scheme}://{host}" if host else ""


class _Chat:
    """The chat's event handlers: questions, example picks and votes (comments go to
    ``/api/feedback`` from the form a vote puts under the answer)."""

    def __init__(self, ask: Callable[[str], Answer], feedback: FeedbackLog, seal: AnswerSeal):
        self.ask = ask
        self.feedback = feedback
        self.seal = seal

    def respond(
        self, message: str, history: list[dict[str, Any]], base: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        history = _messages(history)
        message = clean_question(message)
        if not message.strip():
            gr.Warning("Type a question about your documents first.")
            return history, ""
        try:
            answer = self.ask(message)
            reply = answer_html(answer, self.seal.seal(answer.to_dict()), base)
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
        return self.respond(message, history, _base(request))

    def pick_example(self, example: gr.SelectData, history: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
        return self.respond(example.value["text"], history)

    def pick_example_widget(self, example: gr.SelectData, history, request: gr.Request):  # type: ignore[no-untyped-def]
        return self.respond_widget(example.value["text"], history, request)

    def vote(self, history: Any, data: gr.LikeData, base: str = "") -> Any:
        """Log a thumbs up or down on the answer at ``data.index`` (the answer it carries,
        see :mod:`ui.seal`) and put the thanks and a comment form under it."""
        history = _messages(history)
        index = data.index if isinstance(data.index, int) else -1
        token = seal_of(history[index]["content"]) if 0 <= index < len(history) else None
        if token is None:
            gr.Warning("Only answers can be rated.")
            return gr.update()
        try:
            sealed = self.seal.open(token)
        except VerbatimError as exc:
            gr.Warning(str(exc))
            return gr.update()
        vote = "up" if data.liked is True or data.liked == "Like" else "down"
        self.feedback.vote(sealed.answer_id, sealed.response, vote)
        history[index]["content"] = rated_html(history[index]["content"], vote, base)
        return history

    def vote_widget(self, history: Any, data: gr.LikeData, request: gr.Request) -> Any:
        return self.vote(history, data, _base(request))


#: The conversation is kept in the browser (``localStorage``): saved after each event that
#: changes it (at most the last 100 messages) and put back when the page opens, with no
#: server round trip. (A script's list is read as one value per output.)
_SAVE_JS = "(history) => [(history || []).slice(-100)]"
_RESTORE_JS = "(saved) => [Array.isArray(saved) ? saved : []]"
_CLEAR_JS = "() => [[], []]"


def _wire(
    handlers: _Chat, page: gr.Blocks, chat: Any, box: Any, send: Any, clear: Any, widget: bool
) -> None:
    """Questions, example picks, votes, the kept history and its Clear button of one chat;
    the page's (not the widget's) question event is the named ``ask`` endpoint."""
    name = "verbatim-widget-history" if widget else "verbatim-chat-history"
    # BrowserState encrypts with a secret that the page's config carries (it hides nothing
    # from the user); a stable one keeps the history readable across server restarts.
    saved = gr.BrowserState([], storage_key=name, secret=handlers.seal.derive(name))
    save = {"fn": None, "inputs": [chat], "outputs": [saved], "js": _SAVE_JS, "queue": False}
    reply = handlers.respond_widget if widget else handlers.respond
    prefix = "vb-w" if widget else "vb-"
    for i, event in enumerate((box.submit, send.click)):
        event(
            reply,
            [box, chat],
            [chat, box],
            api_name="ask" if not widget and i == 0 else False,
            concurrency_limit=CONCURRENCY,
            concurrency_id=f"{prefix}ask",
        ).then(**save)
    chat.example_select(
        handlers.pick_example_widget if widget else handlers.pick_example,
        [chat],
        [chat, box],
        api_name=False,
        concurrency_id=f"{prefix}ask",
    ).then(**save)
    vote = handlers.vote_widget if widget else handlers.vote
    chat.like(vote, [chat], [chat], api_name=False).then(**save)
    clear.click(None, None, [chat, saved], js=_CLEAR_JS, api_name=False, queue=False)
    chat.clear(None, None, [saved], js="() => [[]]", api_name=False, queue=False)
    page.load(None, [saved], [chat], js=_RESTORE_JS, api_name=False, queue=False)


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
                # In the chat's corner, shown once there is a conversation to clear.
                clear = gr.Button("Clear conversation", size="sm", elem_id="vb-clear")
                chat = gr.Chatbot(
                    show_label=False,  # a label would float over the first lines when narrow
                    height=560,
                    latex_delimiters=[],
                    elem_id="vb-chat",
                    buttons=[clear],
                    examples=examples,
                    placeholder="Ask about the documents — or start with an example.",
                    layout="panel",
                    autoscroll=False,  # verbatim.js brings a new answer's start into view
                )
                with gr.Row(equal_height=True):
                    box = gr.Textbox(
                        placeholder="Ask a question…",
                        show_label=False,
                        scale=8,
                        elem_id="vb-question",
                        container=False,
                    )
                    # Narrow enough to stay beside the question box on a phone.
                    send = gr.Button(
                        "Send", variant="primary", scale=1, min_width=80, elem_id="vb-ask"
                    )
                _wire(handlers, demo, chat, box, send, clear, widget=False)
            with gr.Tab("Documents", id="documents"):
                documents_tab(demo, library, max_upload_mb)
    return demo


def _widget_page(handlers: _Chat, examples: list[dict[str, str]] | None) -> gr.Blocks:
    with gr.Blocks(title="Ask Verbatim", analytics_enabled=False, fill_height=True) as widget:
        clear = gr.Button("Clear conversation", size="sm", elem_id="vb-wclear")
        chat = gr.Chatbot(
            show_label=False,
            latex_delimiters=[],
            elem_id="vb-wchat",
            buttons=[clear],
            examples=examples,
            placeholder="Answers quoted from the documents.",
            layout="panel",
            autoscroll=False,
            # Fills what the 400×600 box leaves.
            height=None,
            min_height=200,
            scale=1,
        )
        with gr.Row(equal_height=True, elem_id="vb-wrow"):
            box = gr.Textbox(
                placeholder="Ask a question…",
                show_label=False,
                scale=5,
                elem_id="vb-wquestion",
                container=False,
            )
            send = gr.Button("Ask", variant="primary", scale=1, min_width=60, elem_id="vb-wask")
        _wire(handlers, widget, chat, box, send, clear, widget=True)
    return widget


def build_pages(
    ask: Callable[[str], Answer],
    library: Library,
    feedback: FeedbackLog,
    seal: AnswerSeal,
    *,
    max_upload_mb: float,
    examples: Sequence[str] = (),
) -> tuple[gr.Blocks, gr.Blocks]:
    """The chat page (``/``) and the widget (``/widget``), wired to ``ask``.

    Args:
        ask: answers a cleaned question (raises :class:`VerbatimError` on bad input).
        library: the live index, for the Documents tab.
        feedback: where thumbs up/down go.
        seal: signs each answer shown, so that a rating names the answer it rates.
        max_upload_mb: shown next to the upload box (the library enforces it).
        examples: questions offered on an empty chat (none: only the placeholder).
    """
    handlers = _Chat(ask, feedback, seal)
    items = [{"text": q} for q in examples] or None
    return _chat_page(handlers, library, items, max_upload_mb), _widget_page(handlers, items)
