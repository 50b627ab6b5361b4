"""Lexical search: BM25 (bm25s) over words stemmed and filtered for each chunk's language.

A German chunk is tokenised with the German stemmer and stopwords, an English one with
the English ones. A question's language is not reliably detectable from a few words, so
it is tokenised once for every language in the index and the tokens pooled: "liberated"
stems to ``liber`` for English and stays itself for German, and either matches where it
occurs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import bm25s

__all__ = ["LexicalIndex", "tokenize", "stopwords", "STEMMERS", "WORD"]

#: ISO 639-1 code → Snowball stemmer name (PyStemmer).
STEMMERS = {
    "ar": "arabic", "ca": "catalan", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "eu": "basque", "fi": "finnish", "fr": "french",
    "hu": "hungarian", "id": "indonesian", "it": "italian", "lt": "lithuanian", "nl": "dutch",
    "no": "norwegian", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sv": "swedish",
    "tr": "turkish",
}  # fmt: skip
_STOPWORDS = {
    "en": "STOPWORDS_EN", "de": "STOPWORDS_GERMAN", "fr": "STOPWORDS_FRENCH",
    "es": "STOPWORDS_SPANISH", "it": "STOPWORDS_ITALIAN", "nl": "STOPWORDS_DUTCH",
    "pt": "STOPWORDS_PORTUGUESE", "ru": "STOPWORDS_RUSSIAN", "da": "STOPWORDS_DANISH",
    "no": "STOPWORDS_NORWEGIAN", "sv": "STOPWORDS_SWEDISH", "tr": "STOPWORDS_TURKISH",
}  # fmt: skip
#: A word, as tokenising and word counts see it.
WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=32)
def _stemmer(lang: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer(STEMMERS.get(lang, "english"))


@lru_cache(maxsize=32)
def _stopwords(lang: str) -> frozenset[str]:
    from bm25s import stopwords

    return frozenset(getattr(stopwords, _STOPWORDS.get(lang, "STOPWORDS_EN")))


def stopwords(lang: str) -> frozenset[str]:
    """The words BM25 leaves out for ``lang`` (bm25s's lists; English's for a language
    without one)."""
    return _stopwords(lang)


def tokenize(text: str, lang: str = "en") -> list[str]:
    """Lower-cased, stopword-free, stemmed words of ``text`` under ``lang``'s rules.

    Example:
        >>> tokenize("The Soviets liberated Minsk", "en")
        ['soviet', 'liber', 'minsk']
    """
    stop = _stopwords(lang)
    words = [w for w in WORD.findall(text.lower()) if len(w) > 1 and w not in stop]
    return _stemmer(lang).stemWords(words)


class LexicalIndex:
    """BM25 over the chunks of one index generation, saved beside its vectors."""

    def __init__(self, bm25: bm25s.BM25, langs: Sequence[str], avgdl: float | None = None) -> None:
        self._bm25 = bm25
        self.langs = tuple(langs)
        self._vocab: dict[str, int] = bm25.vocab_dict
        #: Mean words per chunk (None for an index saved before it was kept).
        self.avgdl = avgdl

    @classmethod
    def build(cls, chunks: Iterable[tuple[str, str]]) -> LexicalIndex:
        """Index ``(text, lang)`` pairs, in chunk order."""
        import bm25s

        corpus, langs = [], set()
        for text, lang in chunks:
            corpus.append(tokenize(text, lang))
            langs.add(lang)
        bm25 = bm25s.BM25()
        has_words = any(corpus)
        # bm25s cannot add its empty token to an empty vocabulary (chunks of punctuation or
        # stopwords only, or no chunks at all); then no question word ever matches.
        with np.errstate(divide="ignore", invalid="ignore"):
            bm25.index(corpus or [[]], show_progress=False, create_empty_token=has_words)
        avgdl = float(np.mean([len(c) for c in corpus])) if corpus else 0.0
        return cls(bm25, sorted(langs), avgdl)

    def save(self, folder: Path) -> None:
        import json

        self._bm25.save(str(folder), show_progress=False)
        (folder / "langs.json").write_text(json.dumps(list(self.langs)))
        (folder / "stats.json").write_text(json.dumps({"avgdl": self.avgdl}))

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> LexicalIndex:
        import json

        import bm25s

        bm25 = bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False)
        stats = folder / "stats.json"
        avgdl = json.loads(stats.read_text())["avgdl"] if stats.is_file() else None
        return cls(bm25, json.loads((folder / "langs.json").read_text()), avgdl)

    def stats(self) -> tuple[int, float | None]:
        """Chunks indexed and their mean length in words (None for an index saved
        without it): what a delta's BM25 scores with."""
        return int(self._bm25.scores["num_docs"]), self.avgdl

    def doc_freq(self, token: str) -> int:
        """How many chunks hold ``token`` (stemmed)."""
        t = self._vocab.get(token)
        if t is None:
            return 0
        indptr = self._bm25.scores["indptr"]
        return int(indptr[t + 1] - indptr[t])

    def query_tokens(self, question: str) -> list[str]:
        """The question's tokens under every language of the index, known words only."""
        tokens: dict[str, None] = {}
        for lang in self.langs or ("en",):
            for t in tokenize(question, lang):
                if t in self._vocab:
                    tokens[t] = None
        return list(tokens)

    def search(self, question: str, k: int, n_chunks: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks by BM25: ``(scores, ids)``, best first; empty if no word matches."""
        k = min(k, n_chunks)
        return self.search_tokens(self.query_tokens(question), k)

    def search_tokens(self, tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`search` for tokens already made (those the index does not know are
        left out). Equal scores rank by chunk number.

        bm25s keeps each word's precomputed scores as a sparse column; a chunk's score is
        the sum over the question's words. Summed here with one ``bincount`` over the
        words' columns (bm25s's numpy path adds them with ``np.add.at``, several times
        slower at a million chunks).
        """
        m = self._bm25.scores
        ids = [self._vocab[t] for t in dict.fromkeys(tokens) if t in self._vocab]
        n = int(m["num_docs"])
        k = min(k, n)
        if not ids or k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        data, indptr, indices = m["data"], m["indptr"], m["indices"]
        rows = [slice(int(indptr[t]), int(indptr[t + 1])) for t in ids]
        scores = np.bincount(
            np.concatenate([indices[r] for r in rows]),
            weights=np.concatenate([data[r] for r in rows]),
            minlength=n,
        ).astype(np.float32)
        # The chunks any word matched; of them, every one scoring at least the k-th best
        # (the whole of a tie), then the first k by score and chunk number.
        top = np.flatnonzero(scores > 0)
        if len(top) > k:
            found = scores[top]
            top = top[found >= np.partition(found, len(top) - k)[len(top) - k]]
        top = top[np.lexsort((top, -scores[top]))][:k]
        return scores[top], top.astype(np.int64)
