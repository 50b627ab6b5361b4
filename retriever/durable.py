"""Writing files so that a crash leaves either the old bytes or the new, and checking them.

- :func:`write_atomic`: the one way Verbatim replaces a file (a run's results, a gold set,
  the feedback export, an upload): written beside it, flushed, renamed over it; and
  :func:`atomic_folder` for a folder (an exported model).
- :func:`write_file`, :func:`fsync_dir`: the flushes a new index generation is made of.
- :func:`seal` and :func:`check_files`: every file of a generation is hashed when it is
  written and checked when it is opened. The size, times and inode each file then had are
  kept beside them (:data:`STAT_CACHE`); opening hashes only the files whose ``stat`` no
  longer matches (any write changes ``ctime``; a copy changes the inode), so a
  million-chunk index opens without reading its gigabytes. The cache is a shortcut, not a
  safeguard: when it is missing or damaged, every file is hashed.

These functions are public, and the writers call them through this module
(``durable.write_file(...)``), so that the fault tests can stop a write at each of them.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "STAT_CACHE",
    "atomic_folder",
    "check_files",
    "flushed",
    "fsync_dir",
    "seal",
    "sha256_file",
    "stat_key",
    "trust",
    "write_atomic",
    "write_file",
]

#: The stat cache of a generation (see the module docstring).
STAT_CACHE = ".stat-cache.json"
#: A file changed within the same clock tick as its last write keeps its ``ctime``; files
#: written less than this long before they were hashed are therefore always hashed again.
_RACY_NS = 2_000_000_000


def sha256_file(path: Path, sync: bool = False) -> str:
    """sha256 of a file's bytes; with ``sync``, also flush the file to disk."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
        if sync:
            os.fsync(f.fileno())
    return h.hexdigest()


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename into it, say) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def flushed(path: Path) -> Iterator[BinaryIO]:
    """A new file at ``path`` for writing, flushed to disk when the block ends.

    Example:
        >>> with flushed(tmp / "chunks.npy") as f:   # doctest: +SKIP
        ...     np.save(f, rows)
    """
    with open(path, "wb") as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and flush it to disk (the caller renames it into place)."""
    with flushed(path) as f:
        f.write(data)


def write_atomic(path: Path | str, data: bytes | str, *, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` in one step: a reader sees the old file or the new.

    The bytes go to a hidden file beside ``path`` first (text as UTF-8); ``sync`` flushes
    them and the folder to disk, so that a crash cannot leave an empty file behind.

    Example:
        >>> write_atomic(tmp / "metrics.json", "{}")   # doctest: +SKIP
    """
    path = Path(path)
    blob = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        if sync:
            write_file(tmp, blob)
        else:
            tmp.write_bytes(blob)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if sync:
        fsync_dir(path.parent)


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """A new folder to fill, put in ``target``'s place in one rename when the block ends.

    On an error the half-filled folder goes and ``target`` stays as it was; an older
    ``target`` is replaced whole, never mixed with the new files.

    Example:
        >>> with atomic_folder(cache / "model") as tmp:   # doctest: +SKIP
        ...     export(tmp / "model.onnx")
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{target.name}-{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        yield tmp
        old = target.with_name(f".old-{target.name}-{secrets.token_hex(4)}")
        if target.exists():
            os.rename(target, old)
        os.rename(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def stat_key(st: os.stat_result) -> list[int]:
    """What the stat cache remembers of a file: size, modification and change times, inode."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def seal(
    folder: Path, known: dict[str, list[Any]] | None = None
) -> tuple[dict[str, list[Any]], dict[str, list[int]]]:
    """Flush every file under ``folder`` to disk.

    ``known`` holds the ``[bytes, sha256]`` of files linked in from a sealed generation
    (see :mod:`retriever.segments`): never written here, they are neither hashed nor
    flushed again, and their stat keys are always kept.

    Returns each file's size and sha256, for the manifest, and the :func:`stat_key` of
    each file that is safe to trust later without hashing it again.
    """
    known = known or {}
    files: dict[str, list[Any]] = {}
    stats: dict[str, list[int]] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_dir():
            fsync_dir(p)
            continue
        name = p.relative_to(folder).as_posix()
        st = p.stat()
        if name in known and known[name][0] == st.st_size:
            files[name] = list(known[name])
            stats[name] = stat_key(st)
            continue
        digest = sha256_file(p, sync=True)
        st = p.stat()
        files[name] = [st.st_size, digest]
        if time.time_ns() - st.st_ctime_ns > _RACY_NS:
            stats[name] = stat_key(st)
    return files, stats


def trust(generation: Path, names: list[str]) -> None:
    """Record the present stat keys of ``names`` in the generation's stat cache.

    A hard link made or removed changes a file's ``ctime`` without touching its bytes:
    after the generation a linked file came from is removed, its key is taken again here
    so that opening need not hash gigabytes that were never written.
    """
    path = generation / STAT_CACHE
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # no cache: every file is hashed on opening, as ever
    for name in names:
        try:
            cache[name] = stat_key((generation / name).stat())
        except OSError:
            cache.pop(name, None)
    write_atomic(path, json.dumps(cache))


def check_files(generation: Path, files: dict[str, list[Any]]) -> str | None:
    """What is wrong with a generation's files, or None when each matches ``files``
    (relative path → ``[bytes, sha256]``, as :func:`seal` returned them)."""
    try:
        trusted = json.loads((generation / STAT_CACHE).read_text(encoding="utf-8"))
        if not isinstance(trusted, dict):
            trusted = {}
    except (OSError, ValueError):
        trusted = {}
    for name, (size, digest) in files.items():
        p = generation / name
        try:
            st = p.stat()
            if st.st_size != size:
                return f"{name} is {st.st_size} bytes, not {size}"
            if trusted.get(name) == stat_key(st):
                continue
            if sha256_file(p) != digest:
                return f"{name} does not match its checksum"
        except OSError as exc:
            return f"{name}: {exc.strerror or exc}"
    return None
