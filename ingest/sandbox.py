"""Reading documents in a child process, so that no file can cost unbounded time or memory.

Parsers are written in C (lexbor, lxml) and Python (pypdf); a hostile file can make them
run for hours (HTML nested 100,000 deep takes lexbor minutes) or take gigabytes. Neither
can be stopped from inside the process that called them. So ingest hands each file to a
long-lived child process, limited in address space (``RLIMIT_AS``), and waits at most
``ReadLimits.seconds`` for its text; a child that runs over is killed (and the next file
gets a new one), a child that dies takes only that file with it. Either way the file is
reported as unreadable and the run goes on.

Example:
    >>> doc = read_isolated(Path("notes.html"), Path("notes.html").read_bytes())  # doctest: +SKIP
    >>> doc.title                                                           # doctest: +SKIP
    'Notes'
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from ingest.readers import DEFAULT_LIMITS, Extracted, ReadLimits, UnreadableDocument, read_document

__all__ = ["read_isolated", "shutdown"]

log = logging.getLogger("verbatim.ingest")


def _address_space() -> int:
    """Bytes of address space this process has mapped (0 where /proc does not tell)."""
    import resource

    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * resource.getpagesize()


def _serve(conn: Connection, memory_bytes: int) -> None:
    """The child: read each file sent, answer with its text or the reason it is unreadable."""
    import resource

    # On top of what the process maps already (a forked child inherits its parent's maps).
    limit = _address_space() + memory_bytes
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    conn.send("ready")
    while True:
        try:
            path, data, limits = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        except MemoryError:  # the file itself does not fit; what is left of it is unread
            conn.send(("gone", "reading it needs more memory than a document may use"))
            return
        try:
            reply: tuple[str, Any] = ("ok", read_document(Path(path), data, limits))
        except UnreadableDocument as exc:
            reply = ("unreadable", str(exc))
        except MemoryError:
            reply = ("unreadable", "reading it needs more memory than a document may use")
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("unreadable", "its text is too large to hand back"))


#: Seconds a new reader process may take to start (imports included).
_START_SECONDS = 60.0
#: How reader processes start: a fresh interpreter (``exec``) unless it cannot run here,
#: then ``fork`` (see :class:`_Child`).
_method = "exec"


class _Child:
    """One reader process and the pipe to it; replaced when it dies or runs over time.

    A fresh interpreter (``python -m ingest.sandbox``) shares nothing with a threaded server
    and imports nothing of the caller's script. Where this user cannot start the
    interpreter again (it sits in a folder closed to them, say), the child is forked
    instead, its parsers imported beforehand so that it imports nothing itself.
    """

    def __init__(self, memory_bytes: int) -> None:
        global _method
        self.memory_bytes = memory_bytes
        try:
            self._start(_method)
        except OSError:
            if _method == "fork":
                raise
            log.warning("cannot start a fresh interpreter to read documents; forking instead")
            _method = "fork"
            self._start("fork")

    def _start(self, method: str) -> None:
        if method == "fork":
            _preload_parsers()
            ctx = multiprocessing.get_context("fork")
            self.conn, child_end = ctx.Pipe()
            process = ctx.Process(target=_serve, args=(child_end, self.memory_bytes), daemon=True)
            process.start()
            child_end.close()
            self.process: _Process = _ForkedProcess(process)
        else:
            ours, theirs = socket.socketpair()
            root = str(Path(__file__).resolve().parent.parent)
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(
                    [root, *filter(None, [os.environ.get("PYTHONPATH")])]
                ),
            }
            try:
                popen = subprocess.Popen(
                    [sys.executable, "-m", "ingest.sandbox", str(theirs.fileno()),
                     str(self.memory_bytes)],
                    pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            finally:
                theirs.close()
            self.conn = Connection(ours.detach())
            self.process = _ExecProcess(popen)
        try:
            ready = self.conn.poll(_START_SECONDS) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.stop()
            raise OSError(f"the reader process did not start (exit code {self.process.exitcode})")

    def stop(self) -> None:
        self.conn.close()
        self.process.kill()


class _Process(Protocol):
    """What :class:`_Child` needs of its process, however it was started."""

    @property
    def exitcode(self) -> int | None: ...

    def is_alive(self) -> bool: ...

    def kill(self) -> None: ...


class _ExecProcess:
    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen

    @property
    def exitcode(self) -> int | None:
        return self._popen.poll()

    def is_alive(self) -> bool:
        return self._popen.poll() is None

    def kill(self) -> None:
        if self._popen.poll() is None:
            self._popen.kill()
        self._popen.wait(5)


class _ForkedProcess:
    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self._process = process

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode

    def is_alive(self) -> bool:
        return self._process.is_alive()

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join(5)


def _preload_parsers() -> None:
    """Import every parser, so that a forked child need not (imports take locks)."""
    import charset_normalizer  # noqa: F401
    import docx  # noqa: F401
    import pypdf  # noqa: F401
    from selectolax.lexbor import LexborHTMLParser  # noqa: F401


_lock = threading.Lock()
_child: _Child | None = None


def read_isolated(path: Path, data: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> Extracted:
    """:func:`~ingest.readers.read_document` in a child process, within ``limits``.

    Args:
        path: the file (its suffix chooses the reader; it is not opened again).
        data: its bytes.
        limits: text, unpacked size, time and memory one document may take.

    Raises:
        UnreadableDocument: what :func:`read_document` raises, or the file took longer than
            ``limits.seconds``, or the reader died on it.
    """
    global _child
    with _lock:  # one file at a time; other threads wait their turn
        if (
            _child is None
            or not _child.process.is_alive()
            or (_child.memory_bytes != limits.memory_bytes)
        ):
            if _child is not None:
                _child.stop()
                _child = None
            try:
                _child = _Child(limits.memory_bytes)
            except OSError as exc:
                raise UnreadableDocument(f"no reader process could start ({exc})") from None
        child = _child
        try:
            try:
                child.conn.send((str(path), data, limits))
                sent = True
            except OSError:
                sent = False  # the child gave up on the file halfway; its answer says why
            if not child.conn.poll(limits.seconds):
                _child = None
                child.stop()
                raise UnreadableDocument(
                    f"reading it took longer than {limits.seconds:g} s, the limit per "
                    "document (raise it with --read-timeout)"
                )
            status, value = child.conn.recv()
            if status == "gone" or not sent:  # it answered, and it is gone
                _child = None
                child.stop()
        except (EOFError, OSError, BrokenPipeError):
            _child = None
            child.stop()
            code = child.process.exitcode
            raise UnreadableDocument(
                f"the reader process stopped on it (exit code {code}): it ran out of memory "
                "or a parser crashed on a damaged file"
            ) from None
    if status == "ok":
        return value
    raise UnreadableDocument(value)  # "unreadable", or "gone": unreadable and stopped


def shutdown() -> None:
    """Stop the reader process, if one runs (at exit, and in tests)."""
    global _child
    with _lock:
        if _child is not None:
            _child.stop()
            _child = None


atexit.register(shutdown)


if __name__ == "__main__":  # the reader process: python -m ingest.sandbox FD MEMORY_BYTES
    _serve(Connection(int(sys.argv[1])), int(sys.argv[2]))
