"""The web app: Gradio pages mounted in FastAPI, plus plain HTML and JSON routes.

Routes:
    ``/``                      the chat page (tabs: Ask, Documents)
    ``/widget``                a compact chat made for embedding (fits 400×600)
    ``/embed``                 a demo host page embedding the widget two ways
    ``/doc/{source}?start=&end=``  a whole document with the quoted span highlighted
    ``/api/ask?q=&k=``         Contract 1 as JSON (``POST`` with a JSON body works too)
    ``/api/health``            liveness and index size
    ``/gradio.js``             the web component script shipped by the gradio package
Gradio endpoint ``/ask`` (``api_name="ask"``) answers ``gradio_client`` calls.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request

from retriever.answer import DEFAULT_K, MAX_K
from retriever.errors import VerbatimError
from ui.feedback import FEEDBACK_FILE, FeedbackLog
from ui.library import DEFAULT_MAX_UPLOAD_MB, Library
from ui.pages import document_page, embed_page, error_page
from ui.security import FrameAncestors, clean_question

if TYPE_CHECKING:
    from fastapi import FastAPI

    from retriever.answer import Answerer
    from retriever.records import Answer

__all__ = ["build_app"]

log = logging.getLogger("verbatim.app")


def _offline_env() -> None:
    # Before gradio is imported: no analytics, no version check, no hub.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def answered_examples(answerer: Answerer) -> list[str]:
    """The built-in example questions that ``answerer``'s documents answer."""
    from ui.chat import EXAMPLES

    return [q for q in EXAMPLES if answerer.ask(q).answered]


def _offset(value: str | None) -> int | None:
    """A character offset from a link's query, or None when it is not a whole number."""
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


def build_app(
    answerer: Answerer,
    *,
    data_dir: Path | str | None = None,
    allow_origins: Sequence[str] = (),
    credentials: list[tuple[str, str]] | None = None,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
    examples: Sequence[str] | None = None,
) -> FastAPI:
    """The FastAPI app serving the pages and the API for ``answerer``'s index.

    Args:
        answerer: answers questions; replaced by a new one when uploads change the index.
        data_dir: where uploads (``documents/``) and ``feedback.jsonl`` go; default: the
            index folder's parent (``data/`` for ``data/index``).
        allow_origins: sites (``https://example.org``) whose pages may embed the widget
            and call the API from the browser; none by default.
        credentials: ``(user, password)`` pairs; when given, every route needs one.
        max_upload_mb: largest file the Documents tab accepts.
        examples: questions offered on an empty chat; by default those of
            :data:`ui.chat.EXAMPLES` that the index answers (none for an unrelated corpus).
    """
    _offline_env()
    import gradio as gr
    from fastapi import FastAPI, Query
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse

    data_dir = Path(data_dir) if data_dir is not None else Path(answerer.index.path).parent
    library = Library(answerer, data_dir, max_upload_mb=max_upload_mb)
    feedback = FeedbackLog(data_dir / FEEDBACK_FILE)

    app = FastAPI(title="Verbatim", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.library = library
    app.state.feedback = feedback
    if credentials:
        from ui.security import BasicAuth

        app.add_middleware(BasicAuth, credentials=credentials)
    app.add_middleware(FrameAncestors, origins=list(allow_origins))
    # Always our own CORS layer, so that gradio adds none: an explicit list or nobody.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(allow_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
        allow_credentials=bool(credentials),
    )

    def ask(question: Any, k: int = DEFAULT_K) -> Answer:
        return library.answerer.ask(clean_question(question), k=k)

    # -- JSON API ---------------------------------------------------------------------------

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        index = library.answerer.index
        return {"ok": True, "documents": len(index.documents), "chunks": len(index)}

    def _api_answer(q: Any, k: Any) -> JSONResponse:
        try:
            return JSONResponse(ask(q, k=k).to_dict())
        except VerbatimError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except Exception:
            log.exception("answering failed")
            return JSONResponse({"error": "answering failed; see the server log"}, 500)

    @app.get("/api/ask")
    def api_ask(
        q: str = Query("", description="the question"),
        k: int = Query(DEFAULT_K, ge=1, le=MAX_K, description="passages to return"),
    ) -> JSONResponse:
        return _api_answer(q, k)

    @app.post("/api/ask")
    async def api_ask_post(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"error": 'send a JSON object: {"q": "…", "k": 5}'}, 422)
        k = body.get("k", DEFAULT_K)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            return JSONResponse({"error": f"k of {k!r} is out of range; use 1..{MAX_K}"}, 422)
        return _api_answer(body.get("q", ""), k)

    # -- plain pages ------------------------------------------------------------------------

    @app.get("/doc/{source:path}", response_class=HTMLResponse)
    def view_document(source: str, start: str | None = None, end: str | None = None):
        index = library.answerer.index
        try:
            record = index.document(source)
        except KeyError:
            return HTMLResponse(
                error_page("Not in the index", f"No document named {source} is indexed."), 404
            )
        text = index.document_text(source)
        # A stale, mangled or hand-made link still shows the document, without a highlight.
        lo, hi = _offset(start), _offset(end)
        if lo is None or hi is None or not 0 <= lo < hi <= len(text):
            lo = hi = None
        return HTMLResponse(document_page(record.title, source, text, lo, hi))

    @app.get("/embed", response_class=HTMLResponse)
    def embed(request: Request) -> HTMLResponse:
        return HTMLResponse(embed_page(str(request.base_url).rstrip("/") + "/widget/"))

    @app.get("/widget", include_in_schema=False)
    def widget_slash() -> RedirectResponse:
        return RedirectResponse("/widget/")

    gradio_js = Path(gr.__file__).parent / "templates" / "frontend" / "gradio.js"

    @app.get("/gradio.js")
    def web_component() -> FileResponse:
        return FileResponse(gradio_js, media_type="text/javascript")

    # -- pages ----------------------------------------------------------------------------

    from ui.chat import CSS, JS, WIDGET_CSS, build_pages

    if examples is None:
        examples = answered_examples(library.answerer)
    demo, widget = build_pages(
        ask, library, feedback, max_upload_mb=max_upload_mb, examples=examples
    )
    theme = gr.themes.Default(
        font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )
    common = {
        "theme": theme,
        "footer_links": [],
        "run_history": False,
        "max_file_size": f"{int(max_upload_mb * 1024)}kb",
        "js": JS,
    }
    gr.mount_gradio_app(app, widget, path="/widget", css=WIDGET_CSS, **common)
    return gr.mount_gradio_app(app, demo, path="/", css=CSS, **common)
