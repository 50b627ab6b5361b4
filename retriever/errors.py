"""Domain errors: each one names the bad value and how to fix it.

The CLI turns any :class:`VerbatimError` into one line on stderr and exit code 2; the
HTTP API turns it into a 4xx answer. Anything else is a bug.
"""

from __future__ import annotations

__all__ = [
    "VerbatimError",
    "BadQuestionError",
    "BadArgumentError",
    "IndexNotFoundError",
    "IndexMismatchError",
    "IndexCorruptError",
    "rebuild_hint",
]


class VerbatimError(Exception):
    """Base class of every error a user can cause and fix."""


class BadQuestionError(VerbatimError, ValueError):
    """The question is empty, whitespace only, or otherwise unusable."""


class BadArgumentError(VerbatimError, ValueError):
    """An argument such as ``k`` is out of range."""


class IndexNotFoundError(VerbatimError, FileNotFoundError):
    """There is no index where one was expected."""


class IndexMismatchError(VerbatimError):
    """The index was built with another model, dimension or format."""


class IndexCorruptError(VerbatimError):
    """Index files are missing, truncated or inconsistent."""


def rebuild_hint(path: object) -> str:
    """The end of an error about the index at ``path``: the command that rebuilds it."""
    return f"rebuild it with: verbatim ingest YOUR_DOCUMENTS --index {path}"
