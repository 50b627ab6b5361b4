"""What requests the server takes: hosts, origins, relays, upload space and HEAD.

Three rules keep other web sites out of a server that listens on this machine:

- **Hosts** (:func:`allowed_hosts`, enforced by Starlette's ``TrustedHostMiddleware``): a
  request must name a host the server is bound to, so that a page on a rebinding domain
  (``attacker.example`` resolving to 127.0.0.1) is refused even though the browser thinks
  it is talking to its own site.
- **Origins** (:class:`RequestGate`): a browser request that can change something (``POST``
  and the like) from another site's page is refused; pages of ``--allow-origin`` sites may
  use the widget, ``/api/ask`` and ``/api/feedback`` (the widget's comments), nothing else
  (not uploads, not the Documents tab).
  Requests without an ``Origin`` header (curl, ``gradio_client``) are not from a page.
- **No relay**: Gradio fetches ``/gradio_api/file=https://…`` and ``/gradio_api/proxy=…``
  from the network for any client; the server refuses both, so it is nobody's proxy.

It also caps what uploads that are not indexed yet may occupy in Gradio's upload folder,
and answers ``HEAD`` on every ``GET`` route (without a body).
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_MAX_PENDING_MB",
    "LOOPBACK_HOSTS",
    "RequestGate",
    "allowed_hosts",
    "check_hosts",
    "folder_bytes",
]

#: What uploads not yet indexed may occupy in all (``verbatim serve --max-pending-mb``).
DEFAULT_MAX_PENDING_MB = 200
#: Names of this machine that a server bound to it always answers to.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_WILDCARD_BINDS = {"0.0.0.0", "::", ""}
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# A path Gradio would fetch from elsewhere: file=<scheme>:… or file=//host… (and the older
# file/<scheme>:…), and proxy=.
_RELAY = re.compile(r"/(?:gradio_api/)?(?:file[=/](?:[a-z][a-z0-9+.-]*:|[/\\]{2})|proxy=)", re.I)
_UPLOAD = re.compile(r"/gradio_api/upload/?$")
#: What pages of ``--allow-origin`` sites may send besides the widget's own events.
_OPEN_TO_ALLOWED = ("/api/ask", "/api/feedback")


def _bracket(host: str) -> str:
    host = host.strip().lower()
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def check_hosts(names: Iterable[str]) -> list[str]:
    """``--allow-host`` values as host names (no scheme, port or path).

    Raises:
        ValueError: a value that is not a plain host name (``*`` included).
    """
    out = []
    for raw in names:
        name = raw.strip().lower()
        if not name or "*" in name or "/" in name or re.search(r"\s", name):
            raise ValueError(
                f"--allow-host {raw!r} is not a host name; give the name clients use, "
                "like --allow-host docs.example.org"
            )
        if not name.startswith("[") and name.count(":") == 1:
            raise ValueError(f"--allow-host {raw!r} has a port; give the name only")
        out.append(_bracket(name))
    return out


def allowed_hosts(bind: str, extra: Iterable[str] = ()) -> list[str]:
    """The ``Host`` names a server bound to ``bind`` answers to.

    The loopback names always; ``bind`` itself when it is an address or a name; for a
    wildcard bind (``0.0.0.0``) this machine's name and addresses too; and ``extra``
    (``--allow-host``, for the names a reverse proxy forwards).

    Example:
        >>> allowed_hosts("127.0.0.1")
        ['127.0.0.1', 'localhost', '[::1]']
    """
    hosts = list(LOOPBACK_HOSTS)
    if bind.strip() in _WILDCARD_BINDS:
        name = socket.gethostname()
        found = {name, socket.getfqdn()}
        try:
            found.update(socket.gethostbyname_ex(name)[2])
        except OSError:
            pass
        hosts.extend(sorted(found))
    else:
        hosts.append(bind)
    out: list[str] = []
    for host in [*hosts, *extra]:
        host = _bracket(host)
        if host and host not in out:
            out.append(host)
    return out


def folder_bytes(folder: Path | str) -> int:
    """Bytes held by the files under ``folder`` (0 when it does not exist)."""
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _origin_of(value: str) -> str | None:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None  # "null" (sandboxed frames, file: pages) and the like
    return f"{parts.scheme}://{parts.netloc}".lower()


class RequestGate:
    """ASGI middleware: refuses cross-site writes and relays, caps pending uploads, maps HEAD.

    Args:
        app: the app inside.
        allow_origins: normalised ``--allow-origin`` values (see
            :func:`ui.security.check_origins`).
        upload_folder: Gradio's upload folder; None: ``gradio.utils.get_upload_folder()``.
        max_pending_bytes: what files uploaded and not yet indexed may occupy there, in all.
        max_file_bytes: the largest file one upload may send (``--max-upload-mb``).
        widget_path: where the widget is mounted; allowed origins may use only it,
            ``/api/ask`` and ``/api/feedback``.
    """

    def __init__(  # type: ignore[no-untyped-def]
        self,
        app,
        *,
        allow_origins: Iterable[str] = (),
        upload_folder: Path | str | None = None,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_MB << 20,
        max_file_bytes: int = 20 << 20,
        widget_path: str = "/widget/",
    ) -> None:
        self.app = app
        self._allowed = set(allow_origins)
        self._upload_folder = upload_folder
        self.max_pending_bytes = max_pending_bytes
        self._max_request = max_file_bytes + (1 << 20)  # the multipart framing around it
        self._widget = widget_path

    @property
    def upload_folder(self) -> Path:
        if self._upload_folder is None:
            from gradio.utils import get_upload_folder

            return Path(get_upload_folder())
        return Path(self._upload_folder)

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if _RELAY.search(path):
            return await _refuse(scope, send, 403, "this server does not fetch other addresses")
        headers = {k.lower(): v for k, v in scope.get("headers") or []}
        method = scope.get("method", "GET")
        origin = headers.get(b"origin")
        if origin is not None and (method in _UNSAFE or scope["type"] == "websocket"):
            if not self._origin_may(origin.decode("latin-1"), headers, path):
                return await _refuse(
                    scope, send, 403, "requests from other sites' pages are refused here"
                )
        if method == "POST" and _UPLOAD.search(path):
            return await self._upload(scope, receive, send, headers)
        if method == "HEAD" and scope["type"] == "http":
            try:
                return await self.app({**scope, "method": "GET"}, receive, _without_body(send))
            except _HeadDone:
                return None
        return await self.app(scope, receive, send)

    def _origin_may(self, origin: str, headers: dict[bytes, bytes], path: str) -> bool:
        """Whether a page of ``origin`` may send this request."""
        seen = _origin_of(origin)
        if seen is None:
            return False
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if urlsplit(seen).netloc == host:
            return True  # our own pages (the scheme may differ behind a TLS proxy)
        if seen not in self._allowed:
            return False
        widget = path.startswith(self._widget) and not _UPLOAD.search(path)
        return widget or path.rstrip("/") in _OPEN_TO_ALLOWED

    async def _upload(self, scope, receive, send, headers):  # type: ignore[no-untyped-def]
        """Pass an upload on while the space of pending uploads allows it."""
        room = self.max_pending_bytes - folder_bytes(self.upload_folder)
        why = (
            f"the server already holds {self.max_pending_bytes >> 20} MB of uploads that are "
            "not indexed yet; try again in a while"
        )
        try:
            declared = int(headers.get(b"content-length", b"-1"))
        except ValueError:
            declared = -1
        if room <= 0 or declared > room:
            return await _refuse(scope, send, 413, why)
        budget = min(room, self._max_request)
        if declared > budget:
            return await _refuse(scope, send, 413, "the upload is larger than the server accepts")
        seen = 0
        over = False

        async def counted():  # type: ignore[no-untyped-def]
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > budget:
                    over = True  # the app sees the client leave; the client sees a 413
                    return {"type": "http.disconnect"}
            return message

        async def tracked(message):  # type: ignore[no-untyped-def]
            if not over:
                await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Exception:
            if not over:
                raise
        if over:
            await _refuse(scope, send, 413, why if seen > room else "the upload is too large")
        return None


class _HeadDone(Exception):
    """A HEAD answer is complete; the GET behind it need not go on (a stream, say)."""


def _without_body(send):  # type: ignore[no-untyped-def]
    """``send`` for a HEAD request: the GET's status and headers, no body."""
    done = False

    async def head_send(message):  # type: ignore[no-untyped-def]
        nonlocal done
        if message["type"] == "http.response.body":
            if done:
                raise _HeadDone
            done = True
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return head_send


async def _refuse(scope, send, status: int, message: str) -> None:  # type: ignore[no-untyped-def]
    """Answer ``status`` with ``{"error": message}`` (a WebSocket is closed instead)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
