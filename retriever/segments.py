"""A generation's delta segment: chunks written since its base, searched beside it.

Rewriting a million-chunk generation for one new document means gigabytes of vectors, a
retrained ANN index and a rebuilt BM25. Instead, a generation of format 4 keeps its
predecessor's big files (hard links, not copies) as its *base* and puts what changed in a
small *delta*::

    vectors.npy, aux_vectors.npy, *.faiss, texts.bin, lexical/   the base (linked)
    delta/vectors.npy, delta/aux_vectors.npy                      the delta's vectors
    delta/texts.bin                                              the delta's texts
    delta/lexical/                                               its words (DeltaLexical)
    chunks.npy                                                   every row, rewritten

Rows ``0 .. base_rows`` are the base's and the rest the delta's; a document replaced or
removed since the base was built leaves its base rows behind with ``doc`` −1 (dead). The
delta is searched exactly; dead rows are dropped from the base's hits, which are fetched
deep enough that they cannot crowd out live ones. A full write (``verbatim ingest`` past
the delta's limit, or :func:`ingest.compact.compact` in the background) folds both back
into one base.

BM25 over the delta uses the base's statistics (documents, document frequencies, mean
length) plus its own, so its scores sit on the base's scale; the base's own scores keep
the statistics it was built with until the next full write.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retriever.lexical import tokenize

if TYPE_CHECKING:
    from retriever.file_bytes import FileBytes
    from retriever.lexical import LexicalIndex
    from retriever.vectors import VectorSpace

__all__ = ["DeltaLexical", "JoinedTexts", "SegmentedLexical", "SegmentedSpace"]

#: bm25s's defaults (method ``lucene``), which the base was built with.
K1, B = 1.5, 0.75


def _merge(parts: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` of several ``(scores, ids)`` rows: by score, then id; -1 pads."""
    scores = np.concatenate([s for s, _ in parts]) if parts else np.zeros(0, np.float32)
    ids = np.concatenate([i for _, i in parts]) if parts else np.zeros(0, np.int64)
    order = np.lexsort((ids, -scores))[:k]
    out_s = np.full(k, -np.inf, np.float32)
    out_i = np.full(k, -1, np.int64)
    out_s[: len(order)], out_i[: len(order)] = scores[order], ids[order]
    return out_s, out_i


class SegmentedSpace:
    """One vector space of a format-4 generation: the base's rows, then the delta's."""

    def __init__(self, base: VectorSpace, delta: VectorSpace, dead: np.ndarray) -> None:
        self.base = base
        self.delta = delta
        self.dead = dead  # sorted base rows whose document is gone
        self.spec = base.spec

    @property
    def d(self) -> int:
        return self.base.d if len(self.base) else self.delta.d

    def __len__(self) -> int:
        return len(self.base) + len(self.delta)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` live rows per query: the base's (its ANN index, if any) and the
        delta's (exact), merged by exact cosine."""
        return self._both(self.base.search, queries, k)

    def exact(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`search` by brute force in both segments."""
        return self._both(self.base.exact, queries, k)

    def _both(
        self, base_search: Callable[..., tuple[np.ndarray, np.ndarray]], queries: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        nb = len(self.base)
        # Dead rows may hold the best matches (a replaced document's old text): fetch past them.
        kb = min(nb, k + len(self.dead))
        kd = min(k, len(self.delta))
        empty = np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        bs, bi = base_search(queries, kb) if kb else empty
        ds, di = self.delta.exact(queries, kd) if kd else empty
        scores = np.empty((len(queries), k), np.float32)
        ids = np.empty((len(queries), k), np.int64)
        for row in range(len(queries)):
            live = (bi[row] >= 0) & ~np.isin(bi[row], self.dead)
            scores[row], ids[row] = _merge(
                [(bs[row][live], bi[row][live]), (ds[row], di[row] + nb)], k
            )
        return scores, ids

    def similarity(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        nb = len(self.base)
        out = np.empty(len(ids), np.float32)
        low = ids < nb
        out[low] = self.base.similarity(query, ids[low])
        out[~low] = self.delta.similarity(query, ids[~low] - nb)
        return out

    def vectors(self, start: int, end: int) -> np.ndarray:
        nb = len(self.base)
        parts = []
        if start < nb:
            parts.append(self.base.vectors(start, min(end, nb)))
        if end > nb:
            parts.append(self.delta.vectors(max(start, nb) - nb, end - nb))
        return np.concatenate(parts) if parts else np.zeros((0, self.d), np.float32)


class JoinedTexts:
    """The base's ``texts.bin`` and the delta's, read as one byte range (a document's
    text lies wholly in one of them)."""

    def __init__(self, base: FileBytes, delta: FileBytes) -> None:
        self._base, self._delta, self._nb = base, delta, len(base)

    def __getitem__(self, s: slice) -> bytes:
        if s.start >= self._nb:
            return bytes(self._delta[s.start - self._nb : s.stop - self._nb])
        return bytes(self._base[s])


class DeltaLexical:
    """BM25 over the delta's chunks, scored with the base's statistics plus its own.

    Each word's term frequencies are kept by chunk (rows of a sparse matrix by word), so
    a question costs one slice per known word.
    """

    def __init__(
        self,
        vocab: dict[str, int],
        indptr: np.ndarray,
        docs: np.ndarray,
        tf: np.ndarray,
        lengths: np.ndarray,
        langs: Iterable[str],
    ) -> None:
        self.vocab, self.indptr, self.docs, self.tf = vocab, indptr, docs, tf
        self.lengths = lengths
        self.langs = tuple(langs)

    @classmethod
    def build(cls, chunks: Iterable[tuple[str, str]]) -> DeltaLexical:
        """Index ``(text, lang)`` pairs, in chunk order."""
        vocab: dict[str, int] = {}
        postings: list[dict[int, int]] = []
        lengths, langs = [], set()
        for doc, (text, lang) in enumerate(chunks):
            words = tokenize(text, lang)
            lengths.append(len(words))
            langs.add(lang)
            for w in words:
                t = vocab.setdefault(w, len(vocab))
                if t == len(postings):
                    postings.append({})
                postings[t][doc] = postings[t].get(doc, 0) + 1
        indptr = np.zeros(len(postings) + 1, np.int64)
        indptr[1:] = np.cumsum([len(p) for p in postings])
        docs = np.fromiter((d for p in postings for d in p), np.int64, int(indptr[-1]))
        tf = np.fromiter((n for p in postings for n in p.values()), np.float32, int(indptr[-1]))
        return cls(vocab, indptr, docs, tf, np.asarray(lengths, np.float32), sorted(langs))

    def save(self, folder: Path) -> None:
        folder.mkdir()
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        (folder / "vocab.json").write_text(
            json.dumps({"langs": list(self.langs), "words": words}, ensure_ascii=False),
            encoding="utf-8",
        )
        with open(folder / "postings.npz", "wb") as f:
            np.savez(f, indptr=self.indptr, docs=self.docs, tf=self.tf, lengths=self.lengths)

    @classmethod
    def load(cls, folder: Path) -> DeltaLexical:
        meta = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        with np.load(folder / "postings.npz") as z:
            arrays = {name: z[name] for name in ("indptr", "docs", "tf", "lengths")}
        vocab = {w: i for i, w in enumerate(meta["words"])}
        return cls(vocab, langs=meta["langs"], **arrays)

    def scores(self, tokens: list[str], base: LexicalIndex) -> np.ndarray:
        """BM25 of every delta chunk for ``tokens`` (distinct, stemmed)."""
        out = np.zeros(len(self.lengths), np.float32)
        if not len(self.lengths):
            return out
        n_base, avg_base = base.stats()
        n = n_base + len(self.lengths)
        if avg_base is None:  # a base saved without its mean: the delta's own stands in
            avg_base = float(self.lengths.mean())
        total = avg_base * n_base + float(self.lengths.sum())
        avgdl = total / n if total else 1.0
        norm = K1 * ((1 - B) + B * self.lengths / avgdl)
        for token in tokens:
            t = self.vocab.get(token)
            if t is None:
                continue
            lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
            df = (hi - lo) + base.doc_freq(token)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            d, tf = self.docs[lo:hi], self.tf[lo:hi]
            out[d] += idf * tf / (norm[d] + tf)
        return out


class SegmentedLexical:
    """BM25 over a format-4 generation: the base's index and the delta's, dead rows out."""

    def __init__(
        self, base: LexicalIndex, delta: DeltaLexical, base_rows: int, dead: np.ndarray
    ) -> None:
        self.base, self.delta = base, delta
        self.base_rows, self.dead = base_rows, dead
        self.langs = tuple(sorted({*base.langs, *delta.langs}))

    def search(self, question: str, k: int, n_chunks: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` live chunks by BM25: ``(scores, ids)``, best first."""
        langs = self.langs or ("en",)
        tokens = list(dict.fromkeys(t for lang in langs for t in tokenize(question, lang)))
        k = min(k, n_chunks)
        if not tokens or k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        bs, bi = self.base.search_tokens(tokens, min(self.base_rows, k + len(self.dead)))
        live = ~np.isin(bi, self.dead)
        ds = self.delta.scores(tokens, self.base)
        di = np.flatnonzero(ds > 0)
        if len(di) > k:
            di = di[np.argpartition(-ds[di], k - 1)[:k]]
        s, i = _merge([(bs[live], bi[live]), (ds[di], di + self.base_rows)], k)
        keep = i >= 0
        return s[keep], i[keep]
