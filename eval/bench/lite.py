"""A Milvus Lite server on this machine, for the benchmarks and the tests.

``milvus-lite server`` serves the Milvus gRPC API (what a cluster's proxy serves) from one
Python process. Its own default host is 0.0.0.0, every interface: this always binds it to
127.0.0.1, on a free port.

Example:
    >>> with lite_server(Path("work/milvus")) as (url, pid):  # doctest: +SKIP
    ...     ingest(["docs"], f"{url}/verbatim")
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["lite_server"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def lite_server(data_dir: Path, timeout: float = 90.0) -> Iterator[tuple[str, int]]:
    """A ``milvus-lite server`` on 127.0.0.1 for the ``with``: yields
    ``("milvus://127.0.0.1:PORT", pid)`` and stops it after (its log beside ``data_dir``).

    Raises:
        RuntimeError: the server exited or did not listen within ``timeout`` seconds.
    """
    port = _free_port()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    log = open(data_dir.parent / f"milvus-lite-{port}.log", "w")  # noqa: SIM115
    cmd = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data_dir),
           "--host", "127.0.0.1", "--port", str(port), "--max-workers", "8"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"milvus-lite server exited: {Path(log.name).read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("milvus-lite server did not start") from None
                time.sleep(0.2)
        yield f"milvus://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
