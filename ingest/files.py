"""Which files an ingest run reads: the supported files under the given paths, named by
their path relative to the folder given (the citations' ``source``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from ingest.readers import SUPPORTED
from retriever.errors import VerbatimError

__all__ = ["BadPathError", "collect_files"]


class BadPathError(VerbatimError, FileNotFoundError):
    """A path given to ingest does not exist."""


def collect_files(
    paths: Iterable[Path | str],
    warn: Callable[[str], None],
    skip: Callable[[str, str], None] | None = None,
) -> list[tuple[str, Path]]:
    """Expand files and folders into ``(source, path)`` pairs, sorted by source.

    A folder's files are named relative to it; a file given directly by its name. Hidden
    files and folders are passed over, symbolic links to folders are not followed (no
    loops), and a link inside a folder to a file outside it is skipped: indexing a folder
    never publishes a file from elsewhere (a file given by name is read wherever its link
    points). Files of unsupported types, clashing names, such links and unreadable folders
    are passed to ``skip(source, reason)``, or else reported through ``warn``.

    Raises:
        BadPathError: a path does not exist.
    """

    def _skip(source: str, reason: str) -> None:
        if skip is not None:
            skip(source, reason)
        else:
            warn(f"skipped {source}: {reason}")

    found: dict[str, Path] = {}
    for raw in paths:
        root = Path(raw).expanduser()
        if not root.exists():
            what = "a broken or looping symbolic link" if root.is_symlink() else "no such file"
            raise BadPathError(f"no such file or folder: {raw} ({what})")
        if not root.is_dir():
            entries = [(root.name, root)]
        else:
            entries = []

            def _unreadable(exc: OSError, root: Path = root) -> None:
                name = Path(exc.filename or root)
                source = name.relative_to(root).as_posix() if name != root else str(root)
                _skip(source + "/", f"cannot read the folder ({exc.strerror or exc})")

            for dirpath, dirnames, filenames in os.walk(
                root, followlinks=False, onerror=_unreadable
            ):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    p = Path(dirpath) / name
                    entries.append((p.relative_to(root).as_posix(), p))
        inside = root.resolve() if root.is_dir() else None
        for source, p in entries:
            try:
                source.encode("utf-8")
            except UnicodeEncodeError:  # undecodable bytes in the name, kept as surrogates
                shown = os.fsencode(source).decode("utf-8", "backslashreplace")
                _skip(shown, "its name is not valid UTF-8; rename the file")
                continue
            if p.suffix.lower() not in SUPPORTED:
                _skip(source, f"unsupported file type {p.suffix or '(none)'!r}")
                continue
            if inside is not None and p.is_symlink() and not _within(p, inside):
                _skip(source, "a symbolic link to a file outside the folder")
                continue
            if source in found and found[source].resolve() != p.resolve():
                _skip(str(p), f"another file is already named {source}")
                continue
            found[source] = p
    return sorted(found.items())


def _within(link: Path, folder: Path) -> bool:
    """True when the symbolic link ``link`` ends at a path inside ``folder`` (a link loop
    or a dangling link that stays inside counts as inside: reading it then fails)."""
    return folder in Path(os.path.realpath(link)).parents
