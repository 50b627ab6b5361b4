"""The web app: Gradio pages mounted in FastAPI, plus plain HTML and JSON routes.

Routes:
    ``/``                      the chat page (tabs: Ask, Documents)
    ``/widget``                a compact chat made for embedding (fits 400×600)
    ``/embed``                 a demo host page embedding the widget two ways
    ``/doc/{source}?start=&end=``  a whole document with the quoted span highlighted
    ``/api/ask?q=&k=``         Contract 1 as JSON (``POST`` with a JSON body works too)
    ``/api/health``            liveness and index size
    ``/api/feedback``          a vote or comment on an answer the chat gave (sealed)
    ``/gradio.js``             the web component script shipped by the gradio package, which
                               says so on a page whose site the server refuses
Gradio endpoint ``/ask`` (``api_name="ask"``) answers ``gradio_client`` calls.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request

from ingest.readers import DEFAULT_LIMITS, ReadLimits
from retriever.settings import DEFAULT_K
from ui.api import api_routes, feedback_route
from ui.feedback import FEEDBACK_FILE, FeedbackLog
from ui.gate import DEFAULT_MAX_PENDING_MB, LOOPBACK_HOSTS, RequestGate
from ui.library import Library
from ui.pages import document_page, embed_page, error_page
from ui.pdf_viewer import pdf_routes
from ui.seal import AnswerSeal, load_key
from ui.security import FrameAncestors
from ui.uploads import DEFAULT_MAX_UPLOAD_MB

if TYPE_CHECKING:
    from fastapi import FastAPI

    from retriever.answer import Answerer
    from retriever.records import Answer

__all__ = ["build_app", "answered_examples"]

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
    allow_hosts: Sequence[str] = LOOPBACK_HOSTS,
    max_pending_mb: float = DEFAULT_MAX_PENDING_MB,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> FastAPI:
    """The FastAPI app serving the pages and the API for ``answerer``'s index.

    Args:
        answerer: answers questions; replaced by a new one when uploads change the index.
        data_dir: where uploads (``documents/``), ``feedback.jsonl`` and the key that signs
            answers (``feedback.key``) go; default: the index folder's parent (``data/``
            for ``data/index``).
        allow_origins: sites (``https://example.org``) whose pages may embed the widget
            and call the API from the browser; none by default.
        credentials: ``(user, password)`` pairs; when given, every route needs one.
        max_upload_mb: largest file the Documents tab accepts.
        examples: questions offered on an empty chat; by default those of
            :data:`ui.chat.EXAMPLES` that the index answers (none for an unrelated corpus).
        allow_hosts: the ``Host`` names requests may carry (see :func:`ui.gate.allowed_hosts`):
            any other is refused, so that a rebinding domain cannot reach the server.
        max_pending_mb: what uploads that are not indexed yet may occupy in all.
        limits: what reading one uploaded document may cost (see :class:`ingest.ReadLimits`).
    """
    _offline_env()
    data_dir = Path(data_dir) if data_dir is not None else Path(answerer.index.path).parent
    library = Library(answerer, data_dir, max_upload_mb=max_upload_mb, limits=limits)
    feedback = FeedbackLog(data_dir / FEEDBACK_FILE)
    seal = AnswerSeal(load_key(data_dir))

    from fastapi import FastAPI

    app = FastAPI(title="Verbatim", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.library = library
    app.state.feedback = feedback
    _guard(app, allow_origins, credentials, allow_hosts, max_pending_mb, library.max_upload_bytes)
    api_routes(app, library)
    feedback_route(app, feedback, seal)
    _page_routes(app, library)
    pdf_routes(app, library)
    _mount_pages(app, library, feedback, seal, examples, max_upload_mb)
    return app


def _guard(
    app: FastAPI,
    allow_origins: Sequence[str],
    credentials: list[tuple[str, str]] | None,
    allow_hosts: Sequence[str],
    max_pending_mb: float,
    max_file_bytes: int,
) -> None:
    """The middleware every request passes, outermost last: hosts, CORS, the gate
    (origins, relays, upload space), framing and the login."""
    from fastapi.middleware.cors import CORSMiddleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    if credentials:
        from ui.security import BasicAuth

        app.add_middleware(BasicAuth, credentials=credentials)
    app.add_middleware(FrameAncestors, origins=list(allow_origins))
    app.add_middleware(
        RequestGate,
        allow_origins=list(allow_origins),
        max_pending_bytes=int(max_pending_mb * 1024 * 1024),
        max_file_bytes=max_file_bytes,
    )
    # Always our own CORS layer, so that gradio adds none: an explicit list or nobody.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(allow_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
        allow_credentials=bool(credentials),
    )
    # Outermost: a request naming another host (DNS rebinding) goes no further.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allow_hosts), www_redirect=False)


def _page_routes(app: FastAPI, library: Library) -> None:
    """The plain pages: the document viewer, the embedding demo, the web component."""
    import gradio as gr
    from fastapi.responses import HTMLResponse, RedirectResponse, Response

    def not_indexed(source: str) -> str:
        when = library.removal_of(source)
        if when is not None:
            return error_page(
                "Removed", f"{source} was removed from the documents on {when}; the "
                "citations to it no longer open. The Documents tab can add it again."
            )  # fmt: skip
        return error_page("Not in the index", f"No document named {source} is indexed.")

    @app.get("/doc/{source:path}", response_class=HTMLResponse)
    def view_document(source: str, start: str | None = None, end: str | None = None):
        index = library.answerer.index
        try:
            record = index.document(source)
        except KeyError:
            return HTMLResponse(not_indexed(source), 404)
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

    script = _web_component_script(Path(gr.__file__).parent / "templates" / "frontend")

    @app.get("/gradio.js")
    def web_component() -> Response:
        # Open to every site, so that a page the server refuses says so (the script is
        # gradio's public code; what it loads next is under the origin rules).
        headers = {"Access-Control-Allow-Origin": "*"}
        return Response(script, media_type="text/javascript", headers=headers)


def _web_component_script(frontend: Path) -> str:
    """``gradio.js`` of the gradio package, wrapped so that a refused page shows why
    (``ui/static/gradio-loader.js``); gradio's own when its layout is not the known one."""
    from ui.chat import static

    source = (frontend / "gradio.js").read_text(encoding="utf-8")
    found = re.fullmatch(r"""\s*import\((["'])(\./assets/[\w.-]+\.js)\1\);?\s*""", source)
    if found is None:
        log.warning("gradio.js is not the expected loader; a refused page will show no message")
        return source
    return static("gradio-loader.js").replace("import(MODULE)", f"import({found.group(2)!r})")


def _mount_pages(
    app: FastAPI,
    library: Library,
    feedback: FeedbackLog,
    seal: AnswerSeal,
    examples: Sequence[str] | None,
    max_upload_mb: float,
) -> None:
    """The Gradio chat at ``/`` and the widget at ``/widget``."""
    import gradio as gr

    from ui.chat import build_pages, static

    if examples is None:
        examples = answered_examples(library.answerer)

    def ask(question: Any, k: int = DEFAULT_K) -> Answer:
        return library.answerer.ask(question, k=k)

    demo, widget = build_pages(
        ask, library, feedback, seal, max_upload_mb=max_upload_mb, examples=examples
    )
    theme = gr.themes.Default(
        font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    ).set(
        # White on Gradio's orange-500 and red-500 is 2.8:1 and 3.8:1; these meet WCAG AA.
        button_primary_background_fill="#c2410c",
        button_primary_background_fill_hover="#9a3412",
        button_primary_background_fill_dark="#c2410c",
        button_primary_background_fill_hover_dark="#9a3412",
        button_cancel_background_fill="#b91c1c",
        button_cancel_background_fill_hover="#991b1b",
        button_cancel_background_fill_dark="#b91c1c",
        button_cancel_background_fill_hover_dark="#991b1b",
    )
    common = {
        "theme": theme,
        "footer_links": [],
        "run_history": False,
        "max_file_size": f"{int(max_upload_mb * 1024)}kb",
        "js": static("verbatim.js"),
    }
    page_css = static("verbatim.css")
    gr.mount_gradio_app(app, widget, path="/widget", css=page_css + static("widget.css"), **common)
    gr.mount_gradio_app(app, demo, path="/", css=page_css, **common)
    for blocks in (demo, widget):
        # Gradio checks that an event's files were uploaded by a user (not a path a client
        # names) only once it counts the app as launched, which a mounted app never is.
        blocks.has_launched = True
