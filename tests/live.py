"""A real server for tests: the app under uvicorn on 127.0.0.1, and Gradio events sent raw.

In-process clients cannot hold Gradio's event stream open; these tests need what a real
client (or an attacker) sends over the wire, so the app listens on a free local port.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

__all__ = ["free_port", "serve", "event_fn", "run_event"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a thread; yields its base URL, stops it after."""
    import uvicorn

    from ui.cli import server_options

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, **server_options("127.0.0.1", port)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def event_fn(client: httpx.Client, input_type: str, prefix: str = "") -> int:
    """The index of the first Gradio event whose inputs include a ``input_type`` component."""
    config = client.get(f"{prefix}/config").json()
    components = {c["id"]: c for c in config["components"]}
    for n, dep in enumerate(config["dependencies"]):
        if input_type in [components[i]["type"] for i in dep["inputs"]]:
            return int(dep.get("id", n))
    raise LookupError(f"no event takes a {input_type}")


def run_event(
    client: httpx.Client,
    fn_index: int,
    data: list[Any] | str,
    prefix: str = "",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Join the queue for event ``fn_index`` with ``data`` and wait for its end.

    ``data`` is the event's inputs, or raw JSON text for them (to send what a JSON encoder
    would not, such as a lone surrogate escape).

    Returns:
        The last message: ``process_completed`` (with ``success`` and ``output``), or the
        join's own refusal as ``{"msg": "refused", "status": …, "body": …}``.
    """
    session = f"t{time.monotonic_ns()}"
    raw = data if isinstance(data, str) else json.dumps(data)
    body = f'{{"data": {raw}, "fn_index": {fn_index}, "session_hash": "{session}"}}'
    joined = client.post(
        f"{prefix}/gradio_api/queue/join",
        content=body.encode(),
        headers={"content-type": "application/json", **(headers or {})},
    )
    if joined.status_code != 200:
        return {"msg": "refused", "status": joined.status_code, "body": joined.text}
    last: dict[str, Any] = {}
    with client.stream(
        "GET", f"{prefix}/gradio_api/queue/data", params={"session_hash": session}
    ) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            last = json.loads(line[5:])
            if last.get("msg") in ("process_completed", "close_stream", "unexpected_error"):
                break
    return last
