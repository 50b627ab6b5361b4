"""The web app: a Gradio chat page mounted in FastAPI, plus a plain JSON route.

Routes:
    ``/``               the chat page
    ``/api/ask?q=&k=``  Contract 1 as JSON
    ``/api/health``     liveness and index size
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from retriever.answer import DEFAULT_K, MAX_K
from retriever.errors import VerbatimError
from ui.render import answer_html

if TYPE_CHECKING:
    from fastapi import FastAPI

    from retriever.answer import Answerer

__all__ = ["build_app", "EXAMPLES"]

EXAMPLES = [
    "When was the siege of Leningrad broken?",
    "How many tanks clashed at Prokhorovka?",
    "Wann befreite die Rote Armee Minsk?",
]
#: Questions answered at once; answering is read-only, so several may run together.
CONCURRENCY = 4

_CSS = """
.vb-quote {border-left: 4px solid #2f6feb; margin: 0 0 .4em 0; padding: .3em .8em;
  font-size: 1.05em; background: #f5f8ff}
.vb-cite {font-size: .85em; color: #555; margin-bottom: .5em}
.vb-notfound {margin: 0 0 .5em 0}
.vb-passages {padding-left: 1.2em}
.vb-passage {margin: .4em 0}
.vb-passage-head {font-size: .8em; color: #555}
.vb-passage-text {font-size: .9em}
mark {background: #ffe58a; padding: 0 .1em}
footer {display: none !important}
"""


def _offline_env() -> None:
    # Before gradio is imported: no analytics, no version check, no hub.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def _text_of(content: Any) -> str:
    """Plain text of a chat message's content (gradio 6 hands back a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c.get("text", "") for c in content if isinstance(c, dict))
    return str(content)


def build_app(answerer: Answerer) -> FastAPI:
    """The FastAPI app serving the chat page and the JSON API for ``answerer``."""
    _offline_env()
    import gradio as gr
    from fastapi import FastAPI, Query
    from fastapi.responses import JSONResponse

    app = FastAPI(title="Verbatim", docs_url=None, redoc_url=None)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        index = answerer.index
        return {"ok": True, "documents": len(index.documents), "chunks": len(index)}

    @app.get("/api/ask")
    def api_ask(
        q: str = Query("", description="the question"),
        k: int = Query(DEFAULT_K, ge=1, le=MAX_K, description="passages to return"),
    ) -> JSONResponse:
        try:
            return JSONResponse(answerer.ask(q, k=k).to_dict())
        except VerbatimError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    def respond(message: str, history: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
        history = [{"role": m["role"], "content": _text_of(m["content"])} for m in history or []]
        if not (message or "").strip():
            gr.Warning("Type a question about your documents first.")
            return history, ""
        try:
            reply = answer_html(answerer.ask(message))
        except VerbatimError as exc:
            reply = f"<p><b>Cannot answer:</b> {exc}</p>"
        history += [
            {"role": "user", "content": message},
            {"role": "assistant", "content": reply},
        ]
        return history, ""

    with gr.Blocks(title="Verbatim", analytics_enabled=False) as demo:
        gr.Markdown(
            "## Verbatim\nAsk a question about the documents. Every answer is an exact quote "
            "with a citation; when the documents do not answer, Verbatim says so."
        )
        chat = gr.Chatbot(
            label="Answers",
            height=520,
            latex_delimiters=[],
            elem_id="vb-chat",
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
        gr.Examples(EXAMPLES, inputs=box, label="Try")
        box.submit(respond, [box, chat], [chat, box], api_name="ask", concurrency_limit=CONCURRENCY)
        send.click(respond, [box, chat], [chat, box], api_name=False, concurrency_limit=CONCURRENCY)

    theme = gr.themes.Default(
        font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    return gr.mount_gradio_app(app, demo, path="/", theme=theme, css=_CSS, footer_links=[])
