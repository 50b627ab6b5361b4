"""The Gradio pages: the chat with its Documents tab, and the compact widget.

Imported by :func:`ui.app.build_app` only (gradio is heavy). Every handler catches what a
user can cause and shows it as one clear line; document text, file names and questions
are rendered as text (see :mod:`ui.render`).
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from ingest import SUPPORTED
from retriever.answer import clean_question
from retriever.errors import VerbatimError
from retriever.records import Answer
from ui.feedback import FeedbackLog
from ui.library import Library, UploadError
from ui.render import answer_html, error_html, question_html

__all__ = ["build_pages", "EXAMPLES", "CONCURRENCY", "CSS", "WIDGET_CSS", "JS"]

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

CSS = """
.vb-quote {border-left: 4px solid #2f6feb; margin: 0 0 .4em 0; padding: .4em .9em;
  font-size: 1.05em; background: #f5f8ff; border-radius: 0 6px 6px 0}
.vb-quote sup a, .vb-cite a, .vb-open {color: #2f6feb; text-decoration: none}
.vb-cite {font-size: .85em; color: #59636e; margin-bottom: .5em; display: flex;
  flex-wrap: wrap; gap: .25em; align-items: center}
.vb-copy {margin-left: auto; font-size: .85em; padding: .1em .7em; border: 1px solid #d1d9e0;
  border-radius: 6px; background: #fff; cursor: pointer; color: #1f2328}
.vb-copy:hover {background: #f3f4f6}
.vb-notfound {margin: 0 0 .5em 0}
.vb-error {margin: 0; color: #9a6700}
.vb-question {margin: 0}
.vb-answer details summary {cursor: pointer; color: #59636e; font-size: .9em}
.vb-passages {padding-left: 1.2em; margin: .3em 0}
.vb-passage {margin: .5em 0}
.vb-passage-head {font-size: .8em; color: #59636e}
.vb-passage-text {font-size: .9em}
mark {background: #ffe58a; padding: 0 .1em}
footer {display: none !important}
#vb-title h2 {margin-bottom: 0}
#vb-feedback {font-size: .9em}
"""

WIDGET_CSS = (
    CSS
    + """
body, gradio-app {background: #fff}
.gradio-container {padding: 0 !important; margin: 0 !important; min-width: 0 !important;
  max-width: none !important}
.gradio-container .main, .gradio-container .wrap, .gradio-container .contain,
.gradio-container .app {padding: 0 !important; margin: 0 !important}
.gradio-container .column, .gradio-container .form {gap: 6px !important}
#vb-wchat {border-radius: 0 !important}
#vb-wchat .vb-quote {font-size: 1em}
"""
)

# Copies a quote and its citation line; delegated, so it works for every answer, also
# inside the web component.
JS = """
() => {
  if (window.__vbCopy) return;
  window.__vbCopy = true;
  document.addEventListener('click', async (e) => {
    const btn = e.composedPath().find((n) => n.classList && n.classList.contains('vb-copy'));
    if (!btn) return;
    const box = btn.closest('.vb-answer');
    const quote = box.querySelector('.vb-quote').innerText.replace(/\\s*\\[1\\]\\s*$/, '');
    // textContent, not innerText: the citation is a flex row, which innerText splits.
    const cite = box.querySelector('.vb-cite').textContent.replace(/\\s+/g, ' ')
      .replace(/\\s*Cop(y|ied)\\s*$/, '');
    const text = `"${quote.trim()}"\\n— ${cite.replace(/^\\[1\\]\\s*/, '').trim()}`;
    try { await navigator.clipboard.writeText(text); }
    catch (err) {
      const t = document.createElement('textarea'); t.value = text;
      document.body.appendChild(t); t.select(); document.execCommand('copy'); t.remove();
    }
    btn.textContent = 'Copied'; setTimeout(() => { btn.textContent = 'Copy'; }, 1500);
  });
}
"""

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


def _uploaded(path: str) -> bool:
    """True when ``path`` is a regular file inside Gradio's upload folder."""
    from gradio.utils import get_upload_folder

    folder = Path(get_upload_folder()).resolve()
    p = Path(path)
    return not p.is_symlink() and p.is_file() and folder in p.resolve().parents


def _discard_after(worker: threading.Thread, files: Sequence[str]) -> None:
    """Delete uploaded copies once ``worker`` has saved (or refused) them."""
    worker.join()
    for f in files:
        if _uploaded(f):
            Path(f).unlink(missing_ok=True)


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
    answers = _Answers()

    # -- chat -------------------------------------------------------------------------------

    def respond(
        message: str, history: list[dict[str, Any]], base: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        history = [{"role": m["role"], "content": _text_of(m["content"])} for m in history or []]
        message = clean_question(message)
        if not message.strip():
            gr.Warning("Type a question about your documents first.")
            return history, ""
        try:
            answer = ask(message)
            reply = answer_html(answer, answers.add(answer), base)
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
        message: str, history: list[dict[str, Any]], request: gr.Request
    ) -> tuple[list[dict[str, Any]], str]:
        # The widget may sit on another site: its links must name this server.
        host = request.headers.get("host", "")
        base = f"{request.request.url.scheme}://{host}" if host else ""
        return respond(message, history, base)

    def pick_example(example: gr.SelectData, history: list[dict[str, Any]]):
        return respond(example.value["text"], history)

    def on_vote(data: gr.LikeData) -> tuple[Any, Any, str]:
        found = _ANSWER_ID.search(_text_of(data.value) if data.value is not None else "")
        response = answers.get(found.group(1)) if found else None
        if response is None:
            gr.Warning("Only answers given since the server started can be rated.")
            return gr.update(), gr.update(visible=False), ""
        vote = "up" if data.liked is True or data.liked == "Like" else "down"
        feedback.vote(found.group(1), response, vote)
        note = "Thanks — marked as helpful." if vote == "up" else "Thanks — marked as not helpful."
        return (
            gr.update(value=f"{note} Add a comment if you like:"),
            gr.update(visible=True),
            found.group(1),
        )

    def on_comment(text: str, answer_id: str) -> tuple[Any, Any, str]:
        response = answers.get(answer_id) if answer_id else None
        if response is None:
            gr.Warning("Rate an answer first, then comment on it.")
            return gr.update(), gr.update(), text
        try:
            feedback.comment(answer_id, response.get("question"), text)
        except VerbatimError as exc:
            gr.Warning(str(exc))
            return gr.update(), gr.update(), text
        return gr.update(value="Thanks — your comment was saved."), gr.update(visible=False), ""

    def feedback_row(prefix: str) -> tuple[Any, Any, Any, Any]:
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

    def wire_chat(chat, box, send, reply_fn, prefix: str, api: bool) -> None:
        voted = gr.State("")
        row, note, comment, send_comment = feedback_row(prefix)
        events = [box.submit, send.click]
        for i, event in enumerate(events):
            event(
                reply_fn,
                [box, chat],
                [chat, box],
                api_name="ask" if api and i == 0 else False,
                concurrency_limit=CONCURRENCY,
                concurrency_id=f"{prefix}ask",
            )
        chat.example_select(
            pick_example if prefix == "vb-" else _widget_example,
            [chat],
            [chat, box],
            api_name=False,
            concurrency_id=f"{prefix}ask",
        )
        chat.like(on_vote, None, [note, row, voted], api_name=False)
        for event in (comment.submit, send_comment.click):
            event(on_comment, [comment, voted], [note, row, comment], api_name=False)

    def _widget_example(example: gr.SelectData, history, request: gr.Request):  # type: ignore[no-untyped-def]
        return respond_widget(example.value["text"], history, request)

    example_items = [{"text": q} for q in examples] or None

    # -- documents --------------------------------------------------------------------------

    def doc_rows() -> list[list[Any]]:
        return [
            [d.title, d.source, d.format, d.lang, d.n_chars, d.chunk_end - d.chunk_start]
            for d in library.documents
        ]

    def doc_choices() -> Any:
        return gr.update(choices=[d.source for d in library.documents], value=[])

    def upload(files: list[str] | None, progress=gr.Progress()) -> Iterator[tuple[Any, ...]]:  # noqa: B008
        if not files:
            yield "Choose one or more files first.", gr.update(), gr.update(), gr.update()
            return
        if not all(_uploaded(f) for f in files):
            # Gradio checks this too; an event must never read a file the client named.
            log.warning("refused an upload event naming files outside the upload folder")
            yield "⚠️ Upload the files again.", gr.update(), gr.update(), None
            return
        names = ", ".join(Path(f).name for f in files)
        status = {"line": f"Saving {names}…"}
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                result["ok"] = library.add(
                    [(Path(f).name, f) for f in files], status=lambda s: status.update(line=s)
                )
            except UploadError as exc:  # the files themselves: choosing them again won't help
                result["error"], result["clear"] = str(exc), True
            except VerbatimError as exc:
                result["error"] = str(exc)
            except Exception:
                log.exception("upload failed")
                result["error"] = "indexing failed; the server log says why. Nothing was lost."

        t0 = time.monotonic()
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        # The uploaded copies are saved in the documents folder (or refused): either way
        # they need not wait in the upload folder, whose space is capped.
        worker_done = threading.Thread(target=_discard_after, args=(worker, files), daemon=True)
        worker_done.start()
        while worker.is_alive():
            progress(None, desc=status["line"])
            yield (
                f"⏳ {status['line']} ({time.monotonic() - t0:.0f} s) — answers keep coming "
                "from the current index meanwhile.",
                gr.update(),
                gr.update(),
                gr.update(),
            )
            worker.join(0.3)
        if "error" in result:
            files_box = None if result.get("clear") else gr.update()
            yield f"⚠️ {result['error']}", gr.update(), gr.update(), files_box
            return
        done = result["ok"]
        yield f"{done.mark} {done.summary()}", doc_rows(), doc_choices(), None

    def remove(sources: list[str] | None) -> tuple[Any, ...]:
        try:
            result = library.remove(sources or [])
        except VerbatimError as exc:
            return f"⚠️ {exc}", gr.update(), gr.update()
        return f"{result.mark} {result.summary()}", doc_rows(), doc_choices()

    # -- pages ------------------------------------------------------------------------------

    with gr.Blocks(title="Verbatim", analytics_enabled=False) as demo:
        gr.Markdown(
            "## Verbatim\nAnswers are exact quotes from your documents, with a citation you "
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
                    examples=example_items,
                    placeholder="Ask about the documents — or start with an example.",
                    layout="panel",
                )
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="Ask a question…",
                        show_label=False,
                        scale=8,
                        autofocus=True,
                        elem_id="vb-question",
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="vb-ask")
                wire_chat(chat, box, send, respond, "vb-", api=True)
            with gr.Tab("Documents", id="documents"):
                gr.Markdown(
                    f"Add documents ({', '.join(SUPPORTED)}; up to "
                    f"{max_upload_mb:g} MB each). They are saved in `{library.documents_dir}` "
                    "and indexed at once; questions are answered from the previous index "
                    "until the new one is ready."
                )
                files = gr.File(
                    label="Documents to add",
                    file_count="multiple",
                    # No file_types: the browser would drop other files without a word;
                    # the library refuses them with a message that says why.
                    type="filepath",
                    elem_id="vb-upload",
                )
                add = gr.Button("Add to the index", variant="primary", elem_id="vb-add")
                status = gr.Markdown("", elem_id="vb-status")
                table = gr.Dataframe(
                    value=doc_rows,
                    headers=["title", "file", "format", "language", "characters", "passages"],
                    interactive=False,
                    label="Indexed documents",
                    elem_id="vb-docs",
                    wrap=True,
                )
                with gr.Row():
                    chosen = gr.Dropdown(
                        choices=[d.source for d in library.documents],
                        multiselect=True,
                        label="Remove from the index",
                        scale=6,
                        elem_id="vb-remove-choice",
                    )
                    drop = gr.Button("Remove", variant="stop", scale=1, elem_id="vb-remove")
                add.click(
                    upload,
                    [files],
                    [status, table, chosen, files],
                    api_name=False,
                    concurrency_limit=1,
                    concurrency_id="update",
                )
                drop.click(
                    remove,
                    [chosen],
                    [status, table, chosen],
                    api_name=False,
                    concurrency_limit=1,
                    concurrency_id="update",
                )
                demo.load(
                    lambda: (doc_rows(), doc_choices()), None, [table, chosen], api_name=False
                )

    with gr.Blocks(title="Ask Verbatim", analytics_enabled=False, fill_height=True) as widget:
        wchat = gr.Chatbot(
            show_label=False,
            latex_delimiters=[],
            elem_id="vb-wchat",
            buttons=[],
            examples=example_items,
            placeholder="Answers quoted from the documents.",
            layout="panel",
            # Fills what the 400×600 box leaves, and gives way when the comment row opens.
            height=None,
            min_height=200,
            scale=1,
        )
        with gr.Row(equal_height=True):
            wbox = gr.Textbox(
                placeholder="Ask a question…",
                show_label=False,
                scale=5,
                elem_id="vb-wquestion",
                container=False,
            )
            wsend = gr.Button("Ask", variant="primary", scale=1, min_width=60, elem_id="vb-wask")
        wire_chat(wchat, wbox, wsend, respond_widget, "vb-w", api=False)

    return demo, widget
