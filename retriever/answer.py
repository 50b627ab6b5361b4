"""The Answerer: question in, a cited verbatim :class:`Answer` out.

Example:
    >>> answerer = Answerer.open("data/index")                  # doctest: +SKIP
    >>> answer = answerer.ask("When was the siege of Leningrad broken?")  # doctest: +SKIP
    >>> answer.quote                                            # doctest: +SKIP
    'On January 27, 1944, the siege of Leningrad was finally broken, ...'
"""

from __future__ import annotations

import math
import re
import threading
import time
import unicodedata
from functools import lru_cache
from pathlib import Path

from retriever.encoder import (
    CachedEncoder,
    Encoder,
    encode_query,
    load_encoder,
    resolve_model,
)
from retriever.errors import BadArgumentError, BadQuestionError, IndexMismatchError
from retriever.index import Index, rebuild_hint
from retriever.language import question_language
from retriever.multilingual import load_aux_encoder
from retriever.quote import Candidate, Meaning, choose_quote
from retriever.records import Answer, Citation, Passage, Span
from retriever.search import FUSIONS, hybrid_search

__all__ = [
    "Answerer",
    "clean_question",
    "check_question",
    "check_k",
    "DEFAULT_K",
    "MAX_K",
    "MAX_QUESTION_CHARS",
    "DEFAULT_MIN_SCORE",
]

DEFAULT_K = 5
MAX_K = 100
MAX_QUESTION_CHARS = 2000
#: Below this meaning score of the best quote (its cosine to the question), Verbatim says
#: the documents do not answer. Measured on both gold sets (see README).
DEFAULT_MIN_SCORE = 0.34
#: How dense and lexical rankings are fused (see retriever.search); measured in the README.
DEFAULT_FUSION = "convex"
DEFAULT_ALPHA = 0.5
#: Share of the cross-lingual encoder in meaning scores, when the index has one.
DEFAULT_AUX_WEIGHT = 0.7
#: How many of the top passages the quote is looked for in (and reranked by their sentences).
QUOTE_PASSAGES = 3
#: Weight of a passage's best sentence against its search score when reranking the top
#: passages: a passage holding one sentence that answers beats one vaguely about the topic.
RERANK_WEIGHT = 3.0


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_question(question: object) -> str:
    """A question as text: NFC-normalised, control characters turned to spaces, and lone
    surrogates (undecodable bytes on a command line, broken JSON escapes) turned to U+FFFD,
    so that it can be encoded, printed and returned as JSON.

    Anything that is not a string becomes ``""`` (which :func:`check_question` refuses).

    Example:
        >>> clean_question("When\x07 did it end?")
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
        >>> check_question("  When?\n")
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


def check_k(k: object) -> int:
    """``k`` if it is a whole number 1..MAX_K; raises :class:`BadArgumentError` otherwise."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise BadArgumentError(f"k of {k!r} is out of range; use a whole number 1..{MAX_K}")
    return k


class Answerer:
    """Answers questions from one index with one encoder.

    Args:
        index: an open :class:`Index`.
        encoder: the encoder to embed questions with; must be the index's model.
        min_score: abstain when the best quote's meaning score (``Answer.quote_score``) is
            below this (higher: abstains more often, wrong answers rarer).

    Raises:
        IndexMismatchError: the encoder is not the model or dimension the index was built with.
    """

    def __init__(
        self,
        index: Index,
        encoder: Encoder,
        *,
        min_score: float = DEFAULT_MIN_SCORE,
        fusion: str = DEFAULT_FUSION,
        alpha: float = DEFAULT_ALPHA,
        aux_encoder: Encoder | None = None,
        aux_weight: float = DEFAULT_AUX_WEIGHT,
    ):
        if encoder.name != index.manifest.model:
            raise IndexMismatchError(
                f"the index at {index.path} was built with model {index.manifest.model!r}, "
                f"not {encoder.name!r}; ask with --model {index.manifest.model} or "
                f"{rebuild_hint(index.path)} --model {encoder.name}"
            )
        if len(index) and encoder.dim != index.manifest.dim:
            raise IndexMismatchError(
                f"the index at {index.path} holds {index.manifest.dim}-dimensional vectors but "
                f"model {encoder.name!r} makes {encoder.dim}; {rebuild_hint(index.path)}"
            )
        self.index = index
        self.encoder = encoder
        if fusion not in FUSIONS:
            raise BadArgumentError(f"fusion {fusion!r} is not one of {', '.join(FUSIONS)}")
        if not 0.0 <= alpha <= 1.0:
            raise BadArgumentError(f"alpha of {alpha} must lie between 0 and 1")
        if index.has_aux and aux_encoder is None:
            raise IndexMismatchError(
                f"the index at {index.path} also holds {index.manifest.aux_model!r} vectors; "
                "pass its encoder (Answerer.open does)"
            )
        if aux_encoder is not None and aux_encoder.name != index.manifest.aux_model:
            raise IndexMismatchError(
                f"the index at {index.path} was built with cross-lingual model "
                f"{index.manifest.aux_model!r}, not {aux_encoder.name!r}; "
                f"{rebuild_hint(index.path)}"
            )
        if not 0.0 <= aux_weight <= 1.0:
            raise BadArgumentError(f"aux_weight of {aux_weight} must lie between 0 and 1")
        if not math.isfinite(min_score):
            raise BadArgumentError(f"min_score of {min_score} must be a finite number")
        self.aux_encoder = aux_encoder if index.has_aux else None
        # Sentence vectors for the quote, remembered across questions (same vectors, so
        # the same quote is chosen; only the time changes).
        self._sentence_encoders = {
            id(e): CachedEncoder(e) for e in (encoder, self.aux_encoder) if e is not None
        }
        self.aux_weight = aux_weight
        self.min_score = min_score
        self.fusion = fusion
        self.alpha = alpha

    @classmethod
    def open(
        cls,
        path: Path | str,
        model: str | None = None,
        *,
        min_score: float = DEFAULT_MIN_SCORE,
        fusion: str = DEFAULT_FUSION,
        alpha: float = DEFAULT_ALPHA,
        aux_weight: float = DEFAULT_AUX_WEIGHT,
        backend: str | None = None,
    ) -> Answerer:
        """Open the index at ``path`` with its own model, or with ``model`` if given.

        ``backend`` runs the model with ``torch`` or ``onnx-int8``; default: as at ingest.
        """
        index = Index.open(path)
        if model is not None and resolve_model(model)[0] != index.manifest.model:
            raise IndexMismatchError(
                f"the index at {path} was built with model {index.manifest.model!r}, not "
                f"{model!r}; leave out --model or {rebuild_hint(path)} --model {model}"
            )
        aux = load_aux_encoder(index.manifest.aux_model) if index.manifest.aux_model else None
        # The cross-lingual model reads its weights on first use: let it do so while the
        # main model loads, not during the first question.
        warm = threading.Thread(target=aux.encode, args=(["warm up"],)) if aux else None
        if warm:
            warm.start()
        encoder = load_encoder(index.manifest.model, backend=backend or index.manifest.backend)
        if warm:
            warm.join()
        return cls(
            index,
            encoder,
            min_score=min_score,
            fusion=fusion,
            alpha=alpha,
            aux_encoder=aux,
            aux_weight=aux_weight,
        )

    @lru_cache(maxsize=256)  # noqa: B019 - documents are immutable within one index
    def _doc_info(self, source: str) -> tuple[str, str, tuple[tuple[int, int], ...]]:
        doc = self.index.document(source)
        return self.index.document_text(source), doc.lang, doc.excluded

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
        question = check_question(question)
        k = check_k(k)

        q_vec = self.encoder.encode([question])[0]
        q_aux = encode_query(self.aux_encoder, question) if self.aux_encoder else None
        question_lang = question_language(question, self.index.langs) if q_aux is not None else None
        t_enc = time.perf_counter()
        found = hybrid_search(
            self.index,
            question,
            q_vec,
            max(k, QUOTE_PASSAGES),
            fusion=self.fusion,
            alpha=self.alpha,
            aux_vector=q_aux,
            aux_weight=self.aux_weight,
            question_lang=question_lang,
        )
        t_search = time.perf_counter()
        hits = [(h.score, self.index.chunk(h.id)) for h in found]

        choice = None
        if hits:
            top = hits[:QUOTE_PASSAGES]
            choice = choose_quote(
                question,
                [Candidate(c.source, c.start, c.end, s) for s, c in top],
                {c.source: self._doc_info(c.source) for _, c in top},
                Meaning(
                    (self._sentence_encoders[id(self.encoder)], q_vec),
                    (self._sentence_encoders[id(self.aux_encoder)], q_aux)
                    if self.aux_encoder is not None and q_aux is not None
                    else None,
                    self.aux_weight,
                    question_lang,
                ),
            )
        if choice is not None:
            order = sorted(
                range(len(top)),
                key=lambda n: -(top[n][0] + RERANK_WEIGHT * choice.passage_scores[n]),
            )
            hits[: len(top)] = [top[n] for n in order]
        # The abstain signal: how close the quote's meaning comes to the question.
        quote_score = choice.similarity if choice is not None else None
        answered = quote_score is not None and quote_score >= self.min_score
        if not answered:
            choice = None
        t_quote = time.perf_counter()

        passages = []
        for rank, (score, chunk) in enumerate(hits[:k], start=1):
            highlight = None
            if choice and choice.source == chunk.source:
                lo, hi = max(choice.span.start, chunk.start), min(choice.span.end, chunk.end)
                if lo < hi:
                    highlight = Span(lo, hi)
            passages.append(
                Passage(
                    rank=rank,
                    source=chunk.source,
                    title=self.index.document(chunk.source).title,
                    start=chunk.start,
                    end=chunk.end,
                    score=score,
                    text=chunk.text,
                    highlight=highlight,
                )
            )
        citation = None
        if choice is not None:
            citation = Citation(
                choice.source,
                self.index.document(choice.source).title,
                choice.span.start,
                choice.span.end,
            )
        timing = {
            "encode": (t_enc - t0) * 1000,
            "search": (t_search - t_enc) * 1000,
            "quote": (t_quote - t_search) * 1000,
            "total": (time.perf_counter() - t0) * 1000,
        }
        return Answer(
            question=question,
            answered=answered,
            quote=choice.text if choice else None,
            citation=citation,
            passages=tuple(passages),
            timing_ms=timing,
            quote_score=quote_score,
        )
