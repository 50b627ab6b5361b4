"""What an upload may be: its name, its type, its size, and what an update did.

Imported by the CLI for its defaults, so it stays light (no models, no NumPy).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.readers import SUPPORTED
from retriever.errors import VerbatimError

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport

__all__ = [
    "DEFAULT_MAX_UPLOAD_MB",
    "MAX_FILES_PER_UPLOAD",
    "UpdateResult",
    "UploadError",
    "safe_filename",
    "sha256_file",
]

#: Largest file accepted by upload, in megabytes (``verbatim serve --max-upload-mb``).
DEFAULT_MAX_UPLOAD_MB = 20
MAX_FILES_PER_UPLOAD = 50
#: Longest file name kept, in UTF-8 bytes (file systems allow 255).
_MAX_NAME_BYTES = 180


class UploadError(VerbatimError, ValueError):
    """An uploaded file is refused; the message names the file and the reason."""


def safe_filename(name: str) -> str:
    """A file name that can only land inside the documents folder, or ``UploadError``.

    Folders are dropped (``../x.txt``, ``/etc/x.txt`` and ``C:\\x.txt`` all become
    ``x.txt``), control and format characters removed, leading dots stripped (no hidden
    files, no ``..``), and over-long names shortened, keeping the extension.

    Raises:
        UploadError: nothing usable is left, or the type is not one ingest reads.

    Example:
        >>> safe_filename("../../etc/passwd.txt")
        'passwd.txt'
    """
    shown = name if len(name) <= 80 else name[:77] + "…"
    base = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    base = re.sub(r"\s+", " ", base).strip().lstrip(".").strip()
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem.strip(" ."):
        raise UploadError(f"{shown!r} has no usable file name; rename it (e.g. notes.txt)")
    suffix = "." + ext.lower()
    if suffix not in SUPPORTED:
        raise UploadError(
            f"{shown!r} is not a supported type ({suffix}); upload one of {', '.join(SUPPORTED)}"
        )
    while len((stem + suffix).encode("utf-8")) > _MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem.rstrip(" .") + suffix


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


@dataclass
class UpdateResult:
    """What an upload or removal did to the index."""

    report: IngestReport
    saved: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    #: Uploads saved under another name than they came with (a different document had it).
    renamed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the index changed (a document added, updated or removed)."""
        r = self.report
        return bool(r.added or r.updated or r.removed)

    def lines(self) -> tuple[str, list[str]]:
        """What was done, as one sentence, and each problem (a file not read, refused or
        renamed) on its own."""
        r = self.report
        parts = []
        if r.added:
            parts.append(f"added {', '.join(r.added)}")
        if r.updated:
            parts.append(f"updated {', '.join(r.updated)}")
        if r.removed:
            parts.append(f"removed {', '.join(r.removed)}")
        done = "; ".join(parts) if parts else "nothing changed"
        done = f"{done}. The index holds {r.chunks} passages (updated in {r.seconds:.1f} s)."
        problems = [*self.renamed]
        problems += [f"could not read {source}: {why}" for source, why in r.skipped]
        problems += self.refused
        return done, problems

    def summary(self) -> str:
        done, problems = self.lines()
        return done if not problems else f"{done[:-1]}; {'; '.join(problems)}."
