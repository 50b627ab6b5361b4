"""Ingest: reading, cleaning, splitting and embedding documents into an index.

Names are imported on first use (PEP 562), so that ``from ingest.readers import ...`` (the
CLI's ``--help`` reads the limits' defaults) does not load the pipeline and NumPy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.clean import debris_spans, quotable_segments
    from ingest.pipeline import BadPathError, IngestReport, collect_files, detect_language, ingest
    from ingest.readers import (
        DEFAULT_LIMITS,
        SUPPORTED,
        Extracted,
        ReadLimits,
        UnreadableDocument,
        decode_text,
        read_document,
    )
    from ingest.split import DEFAULT_SPLITTER, SplitterSettings, split_spans

_HOMES = {
    "ingest.clean": ("debris_spans", "quotable_segments"),
    "ingest.pipeline": (
        "BadPathError",
        "IngestReport",
        "collect_files",
        "detect_language",
        "ingest",
    ),
    "ingest.readers": (
        "DEFAULT_LIMITS",
        "SUPPORTED",
        "Extracted",
        "ReadLimits",
        "UnreadableDocument",
        "decode_text",
        "read_document",
    ),
    "ingest.split": ("DEFAULT_SPLITTER", "SplitterSettings", "split_spans"),
}
_HOME = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "BadPathError",
    "DEFAULT_LIMITS",
    "DEFAULT_SPLITTER",
    "Extracted",
    "IngestReport",
    "ReadLimits",
    "SUPPORTED",
    "SplitterSettings",
    "UnreadableDocument",
    "collect_files",
    "debris_spans",
    "decode_text",
    "detect_language",
    "ingest",
    "quotable_segments",
    "read_document",
    "split_spans",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'ingest' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once found, an ordinary attribute
    return value
