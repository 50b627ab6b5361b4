"""An index folder's generations: the pointer to the live one, the writers' lock, clean-up.

Layout of an index folder::

    INDEX/
      CURRENT              name of the live generation, swapped atomically (os.replace)
      .lock                held by the one writer at a time
      gen-<time>-<rand>/   one complete, immutable generation (see :mod:`retriever.writer`)
      .compact.lock        held while a background rebuild runs (see ``ingest.compact``)
      .compact-gen-…/      the generation that rebuild is writing

A writer builds a new generation beside the live one (``.tmp-gen-…``), renames it into
place and only then points ``CURRENT`` at it, so a reader (or a crash at any moment) sees
either the old index or the new one, whole. The next writer clears what a crash left.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from retriever import durable
from retriever.errors import VerbatimError

__all__ = [
    "COMPACT_LOCK",
    "COMPACT_PREFIX",
    "CURRENT",
    "compacting",
    "index_lock",
    "live_generation",
    "new_generation_name",
    "publish",
    "remove_leftovers",
    "remove_stale",
]

CURRENT = "CURRENT"
_LOCK = ".lock"
COMPACT_LOCK = ".compact.lock"
COMPACT_PREFIX = ".compact-"


def new_generation_name() -> str:
    """A fresh generation name: ``gen-<UTC time>-<random>`` (sorts by time)."""
    return f"gen-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"


def live_generation(path: Path | str) -> str | None:
    """The name of the generation ``CURRENT`` points at, or None when it cannot be read."""
    try:
        return (Path(path) / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


@contextmanager
def index_lock(path: Path | str, wait: float = 0.0, name: str = "") -> Iterator[None]:
    """Hold an exclusive lock on an index folder so two writers never interleave.

    Args:
        wait: seconds to wait for another writer to finish before giving up.
        name: another lock of the same folder (the background rebuild's, ``COMPACT_LOCK``).

    Raises:
        VerbatimError: the lock stayed held (or the folder cannot be made).
    """
    import fcntl

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        lock = open(path / (name or _LOCK), "a+")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        what = "it is a file, not a folder" if path.is_file() else exc.strerror or str(exc)
        raise VerbatimError(f"cannot keep an index at {path}: {what}") from None
    with lock as f:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise VerbatimError(
                        f"another ingest is writing to {path}; wait for it to finish"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def compacting(path: Path) -> bool:
    """True while a background rebuild of the index at ``path`` runs (holds its lock)."""
    try:
        with index_lock(path, name=COMPACT_LOCK):
            return False
    except VerbatimError:
        return True


def publish(path: Path, tmp: Path, name: str) -> Path:
    """Rename the sealed generation ``tmp`` to ``name`` and make it the live one.

    The swap is one ``os.replace`` of ``CURRENT``; every step is flushed to disk first.
    Generations it replaced are removed after (readers keep their open files).
    """
    final = path / name
    os.rename(tmp, final)
    durable.write_file(path / f".{CURRENT}.tmp", name.encode())
    os.replace(path / f".{CURRENT}.tmp", path / CURRENT)
    durable.fsync_dir(path)
    return final


def remove_leftovers(path: Path | str) -> None:
    """Drop what interrupted writes left behind: generations ``CURRENT`` does not name and
    half-written temporary folders. Call it holding :func:`index_lock`.

    Conservative: when ``CURRENT`` is missing only temporary folders go, and when it names
    no generation on disk nothing is touched, so that a damaged index can still be mended.
    """
    path = Path(path)
    keep = live_generation(path)
    if keep is None:
        for child in path.glob(".tmp-gen-*"):
            shutil.rmtree(child, ignore_errors=True)
    elif keep.startswith("gen-") and (path / keep).is_dir():
        remove_stale(path, keep)
        (path / f".{CURRENT}.tmp").unlink(missing_ok=True)


def remove_stale(path: Path, keep: str) -> None:
    """Drop generations and leftovers other than ``keep`` (readers hold open files); a
    background rebuild's half-written generation only when no rebuild runs."""
    prefixes = ("gen-", ".tmp-gen-")
    if any(path.glob(f"{COMPACT_PREFIX}*")) and not compacting(path):
        prefixes = (*prefixes, COMPACT_PREFIX)
    for child in path.iterdir():
        if child.is_dir() and child.name != keep and child.name.startswith(prefixes):
            shutil.rmtree(child, ignore_errors=True)
