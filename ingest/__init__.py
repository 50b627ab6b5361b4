"""Ingest: reading, cleaning, splitting and embedding documents into an index.

Names are imported on first use (PEP 562), so that ``from ingest.readers import ...`` (the
CLI's ``--help`` reads the limits' defaults) does not load the pipeline and NumPy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retriever.lazy import exports

if TYPE_CHECKING:
    from ingest.clean import debris_spans, quotable_segments
    from ingest.compact import DEFAULT_DELTA, DeltaPolicy, compact
    from ingest.files import BadPathError, collect_files
    from ingest.pipeline import ingest
    from ingest.plan import IngestReport
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
    from retriever.language import detect_language

_HOMES = {
    "ingest.clean": ("debris_spans", "quotable_segments"),
    "ingest.compact": ("DEFAULT_DELTA", "DeltaPolicy", "compact"),
    "ingest.files": ("BadPathError", "collect_files"),
    "ingest.pipeline": ("ingest",),
    "ingest.plan": ("IngestReport",),
    "retriever.language": ("detect_language",),
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

__all__ = [
    "BadPathError",
    "DEFAULT_DELTA",
    "DEFAULT_LIMITS",
    "DEFAULT_SPLITTER",
    "Extracted",
    "IngestReport",
    "ReadLimits",
    "SUPPORTED",
    "DeltaPolicy",
    "SplitterSettings",
    "UnreadableDocument",
    "collect_files",
    "compact",
    "debris_spans",
    "decode_text",
    "detect_language",
    "ingest",
    "quotable_segments",
    "read_document",
    "split_spans",
]


__getattr__ = exports(__name__, _HOMES)
