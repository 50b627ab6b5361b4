"""The embedding stage of ingest: every new chunk in both vector spaces, in large batches.

Models load only when something is to be embedded (an unchanged corpus never loads them).
Both the local pipeline (:mod:`ingest.pipeline`) and the Milvus ingest
(:mod:`ingest.milvus_ingest`) embed through :func:`embed_new`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ingest.plan import Planned, Settings
from retriever.encoder import Encoder
from retriever.models import load_cross_lingual, load_encoder

__all__ = ["BATCH_SIZE", "embed_new"]

#: Texts embedded per batch (larger: faster, more memory).
BATCH_SIZE = 64


def embed_new(
    plan: list[Planned],
    chosen: Settings,
    encoder: Encoder | None,
    cross_encoder: Encoder | None,
    progress: bool,
    say: Callable[[str], None],
) -> tuple[int, Encoder | None, Encoder | None]:
    """Embed, in large batches across documents, every chunk that has no vectors yet.

    Models load only when something is to be embedded. Returns how many chunks were
    embedded, and the encoders (loaded or given; None when not needed).
    """
    todo = [p for p in plan if p.vectors is None and not p.reused]
    texts = [p.text[a:b] for p in todo for a, b in p.spans]
    if not texts:
        return 0, encoder, cross_encoder
    passes = 2 if chosen.cross_lingual_model else 1
    total = len(texts) * passes

    def done(n: int) -> None:
        say(f"Embedding passages: {n} of {total} ({100 * n // total} %)…")

    encoder = encoder or load_encoder(chosen.model, backend=chosen.backend)
    vectors = _embed(encoder, texts, progress, done)
    cross = None
    if chosen.cross_lingual_model:
        cross_encoder = cross_encoder or load_cross_lingual(
            chosen.cross_lingual_model, batches=True
        )
        cross = _embed(cross_encoder, texts, progress, lambda n: done(len(texts) + n))
    cursor = 0
    for p in todo:
        n = len(p.spans)
        p.vectors = vectors[cursor : cursor + n]
        p.cross_vectors = None if cross is None else cross[cursor : cursor + n]
        cursor += n
    return len(texts), encoder, cross_encoder


def _embed(
    encoder: Encoder, texts: list[str], progress: bool, done: Callable[[int], None]
) -> np.ndarray:
    """``texts`` embedded in batches, telling ``done`` how many are, and a bar if asked."""
    from tqdm import tqdm

    parts = []
    with tqdm(total=len(texts), unit="chunk", desc="embedding", disable=not progress) as bar:
        done(0)
        for i in range(0, len(texts), BATCH_SIZE * 4):
            batch = texts[i : i + BATCH_SIZE * 4]
            parts.append(encoder.encode(batch, batch_size=BATCH_SIZE))
            bar.update(len(batch))
            done(i + len(batch))
    return np.concatenate(parts) if parts else encoder.encode(texts, batch_size=BATCH_SIZE)
