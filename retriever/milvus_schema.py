"""The layout of a Verbatim store in Milvus: where it lives, its two collections, their rows.

A store named ``NAME`` is two collections:

- ``NAME`` holds one row per chunk: a stable ``id`` (from the document's hash and the
  chunk's start), the document (``source``, its ``key`` and ``sha``), ``start``/``end``
  character offsets, ``lang``, ``text``, the two dense vectors (``main``,
  ``cross_lingual``) and BM25 (``bm25``, made by Milvus's BM25 function from ``terms``:
  the chunk's words stemmed and stopword-filtered by Verbatim's tokenizer for the
  document's language, :func:`retriever.lexical.tokenize`).
- ``NAME_documents`` holds what a stateless server needs beside the chunks: each
  document's record (title, language, pages, headings, excluded ranges: a
  :class:`~retriever.manifest.DocumentRecord` as JSON) and its extracted text, both split
  into parts under Milvus's VARCHAR limit, a journal of documents being written, and the
  ``meta`` row (models, settings, languages and the version that servers follow).

Milvus counts a VARCHAR's ``max_length`` in UTF-8 bytes, so every text is cut on a
character boundary to fit (:func:`fit_bytes`, :func:`split_bytes`); Milvus Lite counts
characters, so the store enforces the bytes itself.

Example:
    >>> parse_location("milvus://127.0.0.1:19530/wiki").uri
    'http://127.0.0.1:19530'
    >>> split_bytes("ää", 2)
    ['ä', 'ä']
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retriever.errors import BadArgumentError

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = [
    "CHUNK_FIELDS",
    "FORMAT",
    "LEXICAL_WAYS",
    "MAX_VARCHAR",
    "MilvusLocation",
    "StoreMeta",
    "chunk_id",
    "connect",
    "fit_bytes",
    "is_milvus",
    "parse_location",
    "row_id",
    "source_key",
    "split_bytes",
]

#: The layout's version, recorded in the meta row; a store of another one is rebuilt.
FORMAT = 1
#: Milvus's largest VARCHAR, in UTF-8 bytes.
MAX_VARCHAR = 65_535
#: Longest source path a store keeps (bytes), as Linux's PATH_MAX.
MAX_SOURCE = 4_096
#: How BM25 gets its words: ``verbatim`` (the chunk's words stemmed per document language
#: by :func:`retriever.lexical.tokenize`, fed to Milvus's BM25 function) or ``engine``
#: (the raw text through Milvus's own analyzer). Chosen by measurement (README, "Scaling
#: out").
LEXICAL_WAYS = ("verbatim", "engine")
#: The chunk fields a search reads back: never the vectors, never the BM25 output.
CHUNK_FIELDS = ["source", "sha", "start", "end", "lang", "text"]
#: Milvus's index for each of Verbatim's index types (``auto``: HNSW, what a growing
#: collection keeps fast without retraining).
DENSE_INDEXES = {"auto": "HNSW", "hnsw": "HNSW", "flat": "FLAT", "ivf": "IVF_SQ8"}
#: HNSW's build and search breadth (larger: better recall, slower).
HNSW_PARAMS = {"M": 16, "efConstruction": 200}
HNSW_EF = 128
#: BM25's parameters, as bm25s's defaults in the local index.
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,200}")
#: Keepalive pings at most every 5.5 minutes: pymilvus pings every 10 s, which Milvus Lite's
#: gRPC server (default policy: one ping per 5 minutes without data) answers with GOAWAY
#: "too_many_pings" during a long idle spell, such as embedding a large batch, and the
#: connection is lost. A Milvus cluster accepts both.
GRPC_OPTIONS = {"grpc.keepalive_time_ms": 330_000, "grpc.keepalive_permit_without_calls": True}


@dataclass(frozen=True)
class MilvusLocation:
    """Where a store lives: the server's ``uri`` and the store's ``name``.

    ``milvus://HOST:PORT/NAME`` names a Milvus server (a cluster's proxy, or
    ``milvus-lite server``); a path ending in ``.db`` runs Milvus Lite inside this process
    (one process at a time), store name ``verbatim`` unless given as ``PATH.db#NAME``.
    ``$VERBATIM_MILVUS_TOKEN`` (``user:password`` or an API key) logs in.
    """

    uri: str
    name: str
    text: str

    @property
    def documents(self) -> str:
        """The name of the collection of documents and the meta row."""
        return f"{self.name}_documents"

    def __str__(self) -> str:
        return self.text


def is_milvus(location: object) -> bool:
    """True when ``location`` names a Milvus store rather than an index folder."""
    text = str(location)
    return text.startswith("milvus://") or text.split("#", 1)[0].endswith(".db")


def parse_location(location: str | MilvusLocation) -> MilvusLocation:
    """The :class:`MilvusLocation` of ``milvus://HOST:PORT/NAME`` or ``PATH.db[#NAME]``.

    Raises:
        BadArgumentError: not such a location, or a name Milvus does not accept.
    """
    if isinstance(location, MilvusLocation):
        return location
    text = str(location)
    if text.startswith("milvus://"):
        rest = text[len("milvus://") :]
        host, _, name = rest.partition("/")
        if not host or ":" not in host:
            raise BadArgumentError(
                f"{text}: name the server and port, e.g. milvus://127.0.0.1:19530/verbatim"
            )
        uri = f"http://{host}"
    elif text.split("#", 1)[0].endswith(".db"):
        path, _, name = text.partition("#")
        uri = str(Path(path).expanduser().resolve())
    else:
        raise BadArgumentError(
            f"{text} is not a Milvus store: use milvus://HOST:PORT/NAME or a path ending in .db"
        )
    name = name.strip("/") or "verbatim"
    if not _NAME.fullmatch(name):
        raise BadArgumentError(
            f"{name!r} cannot name a Milvus collection: use letters, digits and _ "
            "(not starting with a digit)"
        )
    return MilvusLocation(uri, name, text)


def connect(location: MilvusLocation) -> MilvusClient:
    """A client of the server at ``location`` (for a ``.db`` path: Milvus Lite, started here).

    Raises:
        VerbatimError: pymilvus is not installed, or the server cannot be reached.
    """
    from retriever.errors import VerbatimError

    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise VerbatimError(
            "a Milvus store needs pymilvus (and milvus-lite for a .db path): "
            "pip install 'verbatim[scale]'"
        ) from None
    token = os.environ.get("VERBATIM_MILVUS_TOKEN", "")
    try:
        return MilvusClient(location.uri, token=token, timeout=30, grpc_options=GRPC_OPTIONS)
    except Exception as exc:  # pymilvus raises several kinds for an unreachable server
        raise VerbatimError(
            f"cannot reach Milvus at {location.text} ({type(exc).__name__}: "
            f"{str(exc)[:200]}); start the server or check --store"
        ) from None


@dataclass(frozen=True)
class StoreMeta:
    """What a store records of itself in its meta row (as a manifest does for an index).

    ``version`` changes with every write that is complete, so servers that poll it see
    new documents; ``langs`` are the languages of its documents.
    """

    model: str
    dim: int
    splitter: dict[str, Any]
    backend: str = "torch"
    cross_lingual_model: str | None = None
    cross_lingual_dim: int = 0
    lexical: str = "verbatim"
    index_type: str = "auto"
    langs: tuple[str, ...] = ()
    version: str = ""
    format: int = FORMAT
    versions: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StoreMeta:
        d = json.loads(text)
        d["langs"] = tuple(d.get("langs", ()))
        return cls(**d)

    def same_build(self, other: StoreMeta) -> bool:
        """True when vectors and words made under ``other`` fit this store."""
        keys = ("model", "dim", "splitter", "backend", "cross_lingual_model", "lexical")
        return all(getattr(self, k) == getattr(other, k) for k in keys)


def _hash63(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & (2**63 - 1)


def chunk_id(sha256: str, start: int, end: int) -> int:
    """A chunk's stable id, from its document's hash and its offsets: writing the same
    document again replaces its rows instead of adding to them."""
    return _hash63(f"chunk\0{sha256}\0{start}\0{end}")


def source_key(source: str) -> int:
    """A whole number standing for ``source`` in filters (no quoting of file names)."""
    return _hash63(f"source\0{source}")


def row_id(kind: str, source: str, sha256: str = "", part: int = 0) -> int:
    """The id of a row of the documents collection."""
    return _hash63(f"{kind}\0{source}\0{sha256}\0{part}")


def fit_bytes(text: str, limit: int = MAX_VARCHAR) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, on a character boundary.

    Example:
        >>> fit_bytes("aäb", 2)
        'a'
    """
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def split_bytes(text: str, limit: int = MAX_VARCHAR) -> list[str]:
    """``text`` in parts of at most ``limit`` UTF-8 bytes each, cut between characters;
    ``"".join(parts) == text``. An empty text is one empty part."""
    data = text.encode("utf-8")
    parts, pos = [], 0
    while pos < len(data):
        end = min(pos + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # inside a character
            end -= 1
        parts.append(data[pos:end].decode("utf-8"))
        pos = end
    return parts or [""]


def check_source(source: str) -> None:
    """Raises :class:`BadArgumentError` for a source path a store cannot keep."""
    if len(source.encode("utf-8", "surrogatepass")) > MAX_SOURCE:
        raise BadArgumentError(f"{source[:80]}…: a path longer than {MAX_SOURCE} bytes")
