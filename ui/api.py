"""The JSON API: ``/api/ask`` (Contract 1), ``/api/health`` and ``/api/feedback``.

Every error is ``{"error": "…"}``: 400 for a question that cannot be answered, 413 for a
body past :data:`MAX_BODY_BYTES`, 422 for bad parameters or malformed JSON.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import Request

from retriever.errors import VerbatimError
from retriever.settings import DEFAULT_K, MAX_K, check_k

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from ui.feedback import FeedbackLog
    from ui.library import Library
    from ui.seal import AnswerSeal

__all__ = ["api_routes", "feedback_route", "MAX_BODY_BYTES"]

log = logging.getLogger("verbatim.app")

#: Largest JSON body ``POST /api/ask`` reads: room for an over-long question to be told
#: so (a question is at most 2,000 characters), not for a body that fills memory.
MAX_BODY_BYTES = 1 << 20


def _query_k(value: str) -> int:
    """``k`` from a query string; raises :class:`BadArgumentError` for anything but 1..MAX_K."""
    value = value.strip()
    return check_k(int(value) if value.isascii() and value.isdigit() else value)


async def _json_body(request: Request, limit: int = MAX_BODY_BYTES) -> Any:
    """The request's JSON body, read up to ``limit`` bytes.

    Raises:
        ValueError: the body is longer than ``limit``, not JSON, or nested too deeply.
    """
    import json

    data = bytearray()
    async for block in request.stream():
        data += block
        if len(data) > limit:
            raise ValueError(f"the body is larger than {limit // 1024:,} KB")
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("the body is not JSON") from None


def api_routes(app: FastAPI, library: Library) -> None:
    """Add the JSON API to ``app``; questions go to ``library``'s live answerer."""
    from fastapi import Query
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(_request: Request, exc: RequestValidationError) -> JSONResponse:
        where = ", ".join(".".join(map(str, e.get("loc", ()))) for e in exc.errors())
        return JSONResponse({"error": f"bad parameters: {where or 'the request'}"}, 422)

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        index = library.answerer.index
        return {"ok": True, "documents": len(index.documents), "chunks": len(index)}

    def answer(q: Any, k: int) -> JSONResponse:
        try:
            return JSONResponse(library.answerer.ask(q, k=k).to_dict())
        except VerbatimError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except Exception:
            log.exception("answering failed")
            return JSONResponse({"error": "answering failed; see the server log"}, 500)

    @app.get("/api/ask")
    def api_ask(
        q: str = Query("", description="the question"),
        k: str = Query(str(DEFAULT_K), description=f"passages to return, 1..{MAX_K}"),
    ) -> JSONResponse:
        try:
            return answer(q, _query_k(k))
        except VerbatimError as exc:
            return JSONResponse({"error": str(exc)}, 422)

    @app.post("/api/ask")
    async def api_ask_post(request: Request) -> JSONResponse:
        try:
            body = await _json_body(request)
        except ValueError as exc:
            too_big = "larger than" in str(exc)
            return JSONResponse({"error": str(exc)}, 413 if too_big else 422)
        if not isinstance(body, dict):
            return JSONResponse({"error": 'send a JSON object: {"q": "…", "k": 5}'}, 422)
        try:
            k = check_k(body.get("k", DEFAULT_K))
        except VerbatimError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        return answer(body.get("q", ""), k)


def feedback_route(app: FastAPI, feedback: FeedbackLog, seal: AnswerSeal) -> None:
    """``POST /api/feedback`` with ``{"answer": SEAL, "vote": "up"|"down", "comment": "…"}``
    (either or both of vote and comment): the comment form under a rated answer sends it.

    ``SEAL`` is the answer's own seal (see :mod:`ui.seal`), so a rating names an answer
    this server gave, before a restart too; anything else gets 400.
    """
    from fastapi.responses import JSONResponse

    from ui.seal import MAX_SEAL_CHARS

    @app.post("/api/feedback")
    async def api_feedback(request: Request) -> JSONResponse:
        try:
            body = await _json_body(request, limit=MAX_SEAL_CHARS + 64 * 1024)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, 413 if "larger than" in str(exc) else 422)
        if not isinstance(body, dict) or (body.get("vote"), body.get("comment")) == (None, None):
            example = '{"answer": "…", "vote": "up", "comment": "…"}'
            return JSONResponse({"error": f"send a vote or a comment: {example}"}, 422)
        vote, comment = body.get("vote"), body.get("comment")
        try:
            sealed = seal.open(body.get("answer"))
            if vote is not None:
                feedback.vote(sealed.answer_id, sealed.response, str(vote))
            if comment is not None:
                text = comment if isinstance(comment, str) else ""
                feedback.comment(sealed.answer_id, sealed.response.get("question"), text)
        except VerbatimError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({"ok": True})
