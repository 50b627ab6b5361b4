"""Where an index lives, whichever the store: a folder (the local index) or Milvus.

A location is a folder (:class:`retriever.index.Index`), ``milvus://HOST:PORT/NAME`` or a
``.db`` path (:class:`retriever.milvus_store.MilvusStore`). The faces name a location and
these functions open the right store, tell its current version (what servers follow) and
make an answerer on it with the store's own models.

Example:
    >>> answerer = open_answerer("milvus://127.0.0.1:19530/verbatim")  # doctest: +SKIP
    >>> open_answerer("data/index").ask("When was Minsk liberated?")   # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from retriever.milvus_schema import is_milvus
from retriever.settings import DEFAULT_SCORING, Scoring

if TYPE_CHECKING:
    from retriever.answer import Answerer
    from retriever.store import Store

__all__ = ["current_version", "is_milvus", "open_answerer", "open_store", "store_exists"]


def open_store(location: str | Path) -> Store:
    """The store at ``location``.

    Raises:
        IndexNotFoundError: nothing there yet (the message says how to build it).
        IndexCorruptError: a damaged index or a store of another layout.
    """
    if is_milvus(location):
        from retriever.milvus_store import MilvusStore

        return MilvusStore.open(str(location))
    from retriever.index import Index

    return Index.open(location)


def store_exists(location: str | Path) -> bool:
    """True when a store has been written at ``location``."""
    if is_milvus(location):
        from retriever.milvus_schema import connect, parse_location
        from retriever.milvus_writer import read_meta

        where = parse_location(str(location))
        return read_meta(connect(where), where) is not None
    from retriever.index import Index

    return Index.exists(location)


def current_version(location: str | Path, store: object = None) -> str | None:
    """The version of the store at ``location`` now (None when it cannot be read): a
    store object whose ``version`` differs is out of date. ``store``, an open store of
    ``location``, lends its connection."""
    if is_milvus(location):
        from retriever.milvus_schema import connect, parse_location
        from retriever.milvus_writer import read_meta

        try:
            where = parse_location(str(location))
            client = getattr(store, "client", None) or connect(where)
            meta = read_meta(client, where)
        except Exception:  # an unreachable server: keep what we have
            return None
        return meta.version if meta is not None else None
    from retriever.generations import live_generation

    return live_generation(location)


def open_answerer(
    location: str | Path,
    model: str | None = None,
    *,
    scoring: Scoring = DEFAULT_SCORING,
    backend: str | None = None,
) -> Answerer:
    """An :class:`~retriever.answer.Answerer` on the store at ``location`` with the store's
    own models (``model``, if given, must be the store's).

    Raises:
        IndexNotFoundError, IndexCorruptError: see :func:`open_store`.
        IndexMismatchError: ``model`` is not the store's.
    """
    from retriever.answer import Answerer

    if not is_milvus(location):
        return Answerer.open(location, model, scoring=scoring, backend=backend)
    from retriever.encoder import resolve_model
    from retriever.errors import IndexMismatchError
    from retriever.models import load_models, query_backend

    store = open_store(location)
    if model is not None and resolve_model(model)[0] != store.model:
        raise IndexMismatchError(
            f"the store {location} was built with model {store.model!r}, not {model!r}; "
            "leave out --model"
        )
    encoder, cross = load_models(
        store.model, backend or query_backend(store.backend), store.cross_lingual_model
    )
    return Answerer(store, encoder, cross_lingual_encoder=cross, scoring=scoring)
