"""The Answerer: question in, a cited verbatim :class:`Answer` out.

An answer is made in three public stages, which the bench times one by one:
:meth:`Answerer.embed` (the question in each vector space, and its language),
:meth:`Answerer.search` (hybrid search in the store) and :meth:`Answerer.quote` (the
sentence that answers, the top passages reranked by it, and the abstain decision).

Example:
    >>> answerer = Answerer.open("data/index")                  # doctest: +SKIP
    >>> answer = answerer.ask("When was the siege of Leningrad broken?")  # doctest: +SKIP
    >>> answer.quote                                            # doctest: +SKIP
    'On January 27, 1944, the siege of Leningrad was finally broken, ...'
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from retriever.beside import beside
from retriever.encoder import CachedEncoder, Encoder, calibrate, encode_query, resolve_model
from retriever.errors import BadQuestionError, IndexMismatchError, rebuild_hint
from retriever.language import language_weights
from retriever.lists import whole_list
from retriever.quote import Candidate, Meaning, QuoteChoice, choose_quote
from retriever.reading import ReaderLike, reader_judge
from retriever.records import Answer, Chunk, Citation, Passage, Span
from retriever.search import Hit, hybrid_search
from retriever.settings import DEFAULT_K, DEFAULT_SCORING, MAX_QUESTION_CHARS, Scoring, check_k
from retriever.store import Space, Store

__all__ = ["Answerer", "Question", "clean_question", "check_question"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_question(question: object) -> str:
    """A question as text: NFC-normalised, control characters turned to spaces, and lone
    surrogates (undecodable bytes on a command line, broken JSON escapes) turned to U+FFFD,
    so that it can be encoded, printed and returned as JSON.

    Anything that is not a string becomes ``""`` (which :func:`check_question` refuses).

    Example:
        >>> clean_question("When\\x07 did it end?")
        'When  did it end?'
    """
    if not isinstance(question, str):
        return ""
    try:
        question.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 joins valid surrogate pairs and replaces lone ones.
        question = question.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROL.sub(" ", unicodedata.normalize("NFC", question))


def check_question(question: object) -> str:
    """The question, cleaned (:func:`clean_question`) and stripped; raises
    :class:`BadQuestionError` when it is unusable.

    Example:
        >>> check_question("  When?\\n")
        'When?'
    """
    question = clean_question(question)
    if not question.strip():
        raise BadQuestionError("the question is empty; type a question about your documents")
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise BadQuestionError(
            f"the question is {len(question)} characters long; keep it under {MAX_QUESTION_CHARS}"
        )
    if not any(ch.isalnum() for ch in question):
        raise BadQuestionError(
            "the question has no letters or digits; type a question about your documents"
        )
    return question


@dataclass(frozen=True)
class Question:
    """A checked question, embedded in each vector space of the store.

    ``languages`` holds how likely it is written in each language of the store
    (:func:`retriever.language.language_weights`), when the cross-lingual space is there to
    judge passages in other languages (empty: moot).
    """

    text: str
    vector: np.ndarray
    cross_lingual_vector: np.ndarray | None
    languages: dict[str, float]


class Answerer:
    """Answers questions from one store with its encoders.

    Args:
        index: an open store (:class:`retriever.index.Index` for a local index).
        encoder: embeds questions in the main space; must be the store's model.
        cross_lingual_encoder: embeds them in the cross-lingual space; needed when the
            store has one, ignored otherwise.
        scoring: every weight and threshold (default: the measured ones).
        reader: the reader that settles close calls between candidate sentences; by
            default ``scoring.reader`` (none when it is ""), loaded once per process.

    Raises:
        IndexMismatchError: an encoder is not the model or dimension the store was built
            with, or the cross-lingual encoder is missing.
    """

    def __init__(
        self,
        index: Store,
        encoder: Encoder,
        *,
        cross_lingual_encoder: Encoder | None = None,
        scoring: Scoring = DEFAULT_SCORING,
        reader: ReaderLike | None = None,
    ):
        where = index.location
        if encoder.name != index.model:
            raise IndexMismatchError(
                f"the index at {where} was built with model {index.model!r}, "
                f"not {encoder.name!r}; ask with --model {index.model} or "
                f"{rebuild_hint(where)} --model {encoder.name}"
            )
        if len(index) and encoder.dim != index.dim:
            raise IndexMismatchError(
                f"the index at {where} holds {index.dim}-dimensional vectors but "
                f"model {encoder.name!r} makes {encoder.dim}; {rebuild_hint(where)}"
            )
        cross = index.has(Space.CROSS_LINGUAL)
        if cross and cross_lingual_encoder is None:
            raise IndexMismatchError(
                f"the index at {where} also holds {index.cross_lingual_model!r} vectors; "
                "pass its encoder (Answerer.open does)"
            )
        if cross_lingual_encoder is not None and (
            cross_lingual_encoder.name != index.cross_lingual_model
        ):
            raise IndexMismatchError(
                f"the index at {where} was built with cross-lingual model "
                f"{index.cross_lingual_model!r}, not {cross_lingual_encoder.name!r}; "
                f"{rebuild_hint(where)}"
            )
        self.index = index
        self.encoder = encoder
        self.cross_lingual_encoder = cross_lingual_encoder if cross else None
        self.scoring = scoring
        if reader is None and scoring.reader:
            from retriever.reader import LoadingReader

            reader = LoadingReader(scoring.reader)
        self.reader = reader
        # Sentence vectors for the quote, remembered across questions (same vectors, so
        # the same quote is chosen; only the time changes).
        self._sentences = CachedEncoder(encoder)
        self._cross_sentences = (
            CachedEncoder(self.cross_lingual_encoder) if self.cross_lingual_encoder else None
        )

    @property
    def min_score(self) -> float:
        """Below this quote score the answerer abstains (``scoring.min_score``)."""
        return self.scoring.min_score

    @classmethod
    def open(
        cls,
        path: Path | str,
        model: str | None = None,
        *,
        scoring: Scoring = DEFAULT_SCORING,
        backend: str | None = None,
    ) -> Answerer:
        """Open the local index at ``path`` with its own models (or with ``model``, which
        must be the index's).

        ``backend`` runs the model (see :data:`~retriever.settings.BACKENDS`); default:
        :func:`~retriever.models.query_backend` of the one used at ingest.
        """
        from retriever.index import Index
        from retriever.models import load_models, query_backend

        index = Index.open(path)
        if index.cross_lingual_model:  # questions' languages weigh its two spaces
            from retriever.language import preload

            preload()
        reader = None
        if scoring.reader:  # read its weights while the encoders load
            from retriever.reader import LoadingReader

            reader = LoadingReader(scoring.reader)
        if model is not None and resolve_model(model)[0] != index.model:
            raise IndexMismatchError(
                f"the index at {path} was built with model {index.model!r}, not "
                f"{model!r}; leave out --model or {rebuild_hint(path)} --model {model}"
            )
        encoder, cross = load_models(
            index.model, backend or query_backend(index.manifest.backend),
            index.cross_lingual_model,
        )  # fmt: skip
        return cls(index, encoder, cross_lingual_encoder=cross, scoring=scoring, reader=reader)

    def on(self, index: Store) -> Answerer:
        """An answerer like this one (models, scoring) on another store of the same models."""
        return Answerer(
            index,
            self.encoder,
            cross_lingual_encoder=self.cross_lingual_encoder,
            scoring=self.scoring,
            reader=self.reader,
        )

    @lru_cache(maxsize=256)  # noqa: B019 - documents are immutable within one store
    def _doc_info(self, source: str) -> tuple[str, str, tuple[tuple[int, int], ...], ...]:
        """The document's text and language, and its debris: where sentences stop, or for a
        document of pages (its running headers), what sentences run across."""
        doc = self.index.document(source)
        text = self.index.document_text(source)
        return (text, doc.lang, (), doc.excluded) if doc.pages else (text, doc.lang, doc.excluded)

    def _section(self, source: str, offset: int) -> str | None:
        """The text of the heading ``offset`` of ``source`` stands under, if any."""
        span = self.index.document(source).heading_of(offset)
        if span is None:
            return None
        return " ".join(self._doc_info(source)[0][span[0] : span[1]].split())[:120]

    # -- the stages ------------------------------------------------------------------------

    def embed(self, question: str) -> Question:
        """The question (already checked) in each vector space, and its language."""
        cross = self.cross_lingual_encoder
        pending = beside(encode_query, cross, question) if cross else None
        try:
            vector = self.encoder.encode([question])[0]
        finally:
            cross_vector = pending.result() if pending is not None else None
        weights = language_weights(question, self.index.langs) if cross_vector is not None else {}
        return Question(question, vector, cross_vector, weights)

    def search(self, question: Question, k: int) -> list[Hit]:
        """The top ``k`` chunks for ``question`` by hybrid search (see :mod:`retriever.search`)."""
        cross = self.cross_lingual_encoder
        return hybrid_search(
            self.index,
            question.text,
            question.vector,
            k,
            scoring=self.scoring,
            cross_lingual_vector=question.cross_lingual_vector,
            language_weights=question.languages,
            **({"calibrate": partial(calibrate, cross)} if cross is not None else {}),
        )

    def quote(
        self, question: Question, hits: list[tuple[float, Chunk]]
    ) -> tuple[QuoteChoice | None, list[tuple[float, Chunk]]]:
        """The quote among the top passages of ``hits`` (``(score, chunk)``, best first),
        and ``hits`` with those passages reranked by their sentences.

        The quote is None when no sentence comes close enough (``scoring.min_score``); its
        score is in ``choice.quote_score`` either way — the abstain signal.
        """
        if not hits:
            return None, hits
        top = hits[: self.scoring.quote_passages]
        meaning = Meaning(
            (self._sentences, question.vector),
            (self._cross_sentences, question.cross_lingual_vector)
            if self._cross_sentences is not None and question.cross_lingual_vector is not None
            else None,
            question.languages,
            self.scoring,
        )
        candidates = [Candidate(c.source, c.start, c.end) for _, c in top]
        documents = {c.source: self._doc_info(c.source) for _, c in top}
        judge = None
        if self.reader is not None:
            judge = reader_judge(self.reader, question.text, candidates, documents)
        choice = choose_quote(question.text, candidates, documents, meaning, judge)
        if choice is None:
            return None, hits
        choice = whole_list(choice, documents[choice.source])
        weight = self.scoring.rerank_weight
        order = sorted(
            range(len(top)), key=lambda n: -(top[n][0] + weight * choice.passage_scores[n])
        )
        ranked = [top[n] for n in order]
        # The passage the quote stands in comes first: source [1] is the one cited.
        start = choice.span.start
        cited = [i for i, (_, c) in enumerate(ranked) if c.source == choice.source
                 and c.start <= start < c.end]  # fmt: skip
        if cited and cited[0] > 0:
            ranked.insert(0, ranked.pop(cited[0]))
        return choice, ranked + hits[len(top) :]

    # -- the whole ------------------------------------------------------------------------

    def ask(self, question: str, k: int = DEFAULT_K) -> Answer:
        """Answer ``question`` with a verbatim quote, or abstain.

        Args:
            question: free text in any language.
            k: passages to return (1..100; larger shows more context, costs a little more).

        Returns:
            An :class:`Answer`; ``answered`` is False when the documents hold no answer.

        Raises:
            BadQuestionError: empty, whitespace-only or over-long question.
            BadArgumentError: ``k`` out of range.
        """
        t0 = time.perf_counter()
        text = check_question(question)
        k = check_k(k)
        q = self.embed(text)
        t_enc = time.perf_counter()
        found = self.search(q, max(k, self.scoring.quote_passages))
        t_search = time.perf_counter()
        choice, hits = self.quote(q, [(h.score, self.index.chunk(h.id)) for h in found])
        quote_score = choice.quote_score if choice is not None else None
        answered = quote_score is not None and quote_score >= self.scoring.min_score
        if not answered:
            choice = None
        t_quote = time.perf_counter()
        timing = {
            "encode": (t_enc - t0) * 1000,
            "search": (t_search - t_enc) * 1000,
            "quote": (t_quote - t_search) * 1000,
        }
        return self._answer(q.text, choice, hits[:k], quote_score, timing, t0)

    def _answer(
        self,
        question: str,
        choice: QuoteChoice | None,
        hits: list[tuple[float, Chunk]],
        quote_score: float | None,
        timing: dict[str, float],
        t0: float,
    ) -> Answer:
        """The :class:`Answer` for a chosen quote (None: abstained) and the passages."""
        passages = []
        for rank, (score, chunk) in enumerate(hits, start=1):
            highlight = None
            if choice and choice.source == chunk.source:
                lo, hi = max(choice.span.start, chunk.start), min(choice.span.end, chunk.end)
                if lo < hi:
                    highlight = Span(lo, hi)
            doc = self.index.document(chunk.source)
            passages.append(
                Passage(
                    rank=rank,
                    source=chunk.source,
                    title=doc.title,
                    start=chunk.start,
                    end=chunk.end,
                    score=score,
                    text=chunk.text,
                    highlight=highlight,
                    page=doc.page_of(chunk.start),
                    section=self._section(chunk.source, chunk.start),
                )
            )
        citation = None
        if choice is not None:
            doc = self.index.document(choice.source)
            start, end = choice.span.start, choice.span.end
            citation = Citation(
                choice.source,
                doc.title,
                start,
                end,
                doc.page_of(start),
                self._section(choice.source, start),
            )
        return Answer(
            question=question,
            answered=choice is not None,
            quote=choice.text if choice else None,
            citation=citation,
            passages=tuple(passages),
            timing_ms={**timing, "total": (time.perf_counter() - t0) * 1000},
            quote_score=quote_score,
        )
