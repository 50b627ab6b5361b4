"""A file's bytes read by offset: what a served index reads at random places."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["FileBytes"]


class FileBytes:
    """A file's bytes, read by offset (``pread``) and never mapped.

    Questions read a chunk's or a document's text at random places in ``texts.bin``. Through
    a map, each read fault also maps the cached pages around it (64 KiB of fault-around,
    or a whole 2 MiB folio of a file just written), so at a million chunks a served index
    held hundreds of MiB of text pages after 200 questions that read a few MiB of it (README,
    "Performance"). A slice reads just its bytes, which are copied out either way.
    """

    def __init__(self, path: Path) -> None:
        self._name = Path(path).name
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._size = os.fstat(self._fd).st_size

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, s: slice) -> bytes:
        start, stop, _ = s.indices(self._size)
        if stop <= start:
            return b""
        data = os.pread(self._fd, stop - start, start)
        if len(data) != stop - start:
            raise OSError(f"{self._name} ended at {start + len(data)}, before byte {stop}")
        return data

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
