"""Access control for the server: HTTP Basic auth over every route, and allowed origins.

``verbatim serve --auth user:pass`` (or ``--auth-file FILE`` with ``user:pass`` lines)
puts every page, the Gradio endpoints and the JSON API behind HTTP Basic auth, which
browsers, ``curl -u`` and ``gradio_client`` (an ``Authorization`` header) all speak.
Use it with HTTPS (a reverse proxy) when the server is reachable from other machines.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from retriever.errors import VerbatimError

__all__ = [
    "BasicAuth",
    "parse_credentials",
    "read_credentials_file",
    "check_origins",
    "FrameAncestors",
]


def parse_credentials(value: str) -> tuple[str, str]:
    """``"user:pass"`` → ``("user", "pass")``; the password may contain colons.

    Raises:
        VerbatimError: no colon, or an empty user or password.
    """
    user, colon, password = value.strip().partition(":")
    if not colon or not user or not password:
        raise VerbatimError("--auth takes USER:PASSWORD, both non-empty (e.g. --auth ann:s3cret)")
    return user, password


def read_credentials_file(path: Path | str) -> list[tuple[str, str]]:
    """``user:pass`` lines of a file (blank lines and ``#`` comments skipped).

    Raises:
        VerbatimError: the file is missing, empty or has a malformed line.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise VerbatimError(f"cannot read --auth-file {path}: {exc.strerror or exc}") from None
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            out.append(parse_credentials(line))
        except VerbatimError:
            raise VerbatimError(f"{path}:{n}: expected USER:PASSWORD") from None
    if not out:
        raise VerbatimError(f"{path} holds no USER:PASSWORD line")
    return out


def check_origins(origins: Iterable[str]) -> list[str]:
    """Normalise ``--allow-origin`` values to ``scheme://host[:port]``; refuse wildcards.

    Raises:
        VerbatimError: ``*`` or a value that is not an http(s) origin.
    """
    out = []
    for raw in origins:
        value = raw.strip().rstrip("/")
        parts = urlsplit(value)
        if value == "*" or parts.scheme not in ("http", "https") or not parts.netloc:
            raise VerbatimError(
                f"--allow-origin {raw!r} is not an origin; give each site explicitly, "
                "like --allow-origin https://www.example.org"
            )
        if parts.path or parts.query or parts.fragment:
            raise VerbatimError(
                f"--allow-origin {raw!r} has a path; an origin is scheme://host[:port] only"
            )
        out.append(f"{parts.scheme}://{parts.netloc}".lower())
    return out


class BasicAuth:
    """ASGI middleware: every HTTP and WebSocket request needs one of ``credentials``.

    CORS preflight requests (``OPTIONS`` without credentials, by the browser's rules) pass
    through to the CORS layer outside this one.
    """

    def __init__(self, app, credentials: list[tuple[str, str]], realm: str = "Verbatim"):  # type: ignore[no-untyped-def]
        self.app = app
        self._credentials = [(u.encode(), p.encode()) for u, p in credentials]
        self._realm = realm

    def _allowed(self, header: bytes | None) -> bool:
        if not header or not header[:6].lower() == b"basic ":
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        ok = False
        for u, p in self._credentials:  # compare every pair: no early exit to time
            ok |= secrets.compare_digest(user, u) & secrets.compare_digest(password, p)
        return ok

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            return await self.app(scope, receive, send)
        if self._allowed(headers.get(b"authorization")):
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = b'{"error": "sign in: this Verbatim server needs a user name and password"}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", f'Basic realm="{self._realm}"'.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class FrameAncestors:
    """ASGI middleware: only this server's own pages and ``origins`` may frame its pages.

    The same list as CORS, so that ``--allow-origin`` governs both ways of embedding the
    widget (a web component and an iframe); without it, no other site can frame a page.
    """

    def __init__(self, app, origins: Iterable[str]):  # type: ignore[no-untyped-def]
        self.app = app
        self._policy = " ".join(["frame-ancestors 'self'", *origins]).encode()

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_policy(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((b"content-security-policy", self._policy))
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, send_with_policy)
