"""Choosing the quote: the whole sentence of the best passages that answers the question.

Candidates are the sentences of the top passages, widened to whole sentences (a chunk may
start or end mid-sentence) but never into text kept out as debris. Each candidate is
scored by meaning (cosine to the question), by the question's words it shares, and by
whether it holds the kind of thing asked for (a date for "when", a number for "how many").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retriever.encoder import Encoder
from retriever.records import Span
from retriever.sentences import sentence_spans

__all__ = ["QuoteChoice", "Candidate", "choose_quote", "MAX_QUOTE_CHARS"]

MAX_QUOTE_CHARS = 400
# How far a passage is widened on each side to complete its first and last sentences.
_WIDEN = 300

_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    """a an the and or of to in on at by for from with as is are was were be been being it its
    this that these those which who whom whose what when where why how did do does done has
    have had not no yes than then there their they them he she his her him i you we our your
    into onto over under after before during about up down out can could would should will
    shall may might must many much some any all each other such only also very just so
    der die das den dem des ein eine einer eines einem einen und oder zu im in am an auf aus
    bei mit nach von vor um für über unter ist sind war waren wird wurde wurden hat hatte
    sich sie er es wie was wer wo wann warum welche welcher welches nicht auch noch bis""".split()
)
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"januar|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember"
)
_DATE = re.compile(rf"\b(1[0-9]{{3}}|20[0-9]{{2}})\b|\b({_MONTHS})\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d")
_PROPER = re.compile(r"(?<=[\w,;] )[A-ZÄÖÜ][\w’'-]+")
_WHEN = re.compile(
    r"^\s*(when|what (year|date|day|month)|in which year|wann|in welchem jahr)\b", re.I
)
_HOW_MANY = re.compile(r"\b(how (many|much|long|far|large)|wie (viele|viel|lange|weit))\b", re.I)
_WHO = re.compile(r"^\s*(who|whom|whose|wer|wem|wen)\b", re.I)
_WHERE = re.compile(r"^\s*(where|wo|wohin)\b", re.I)


def content_words(text: str) -> set[str]:
    """Lower-cased words of ``text`` without stopwords; crude stemming of plural -s."""
    words = set()
    for w in _WORD.findall(text.lower()):
        if w in _STOP or len(w) < 2:
            continue
        words.add(w[:-1] if len(w) > 4 and w.endswith("s") else w)
    return words


def _type_bonus(question: str, sentence: str) -> float:
    """1.0 when the sentence holds the kind of thing the question asks for, else 0."""
    if _WHEN.search(question):
        return 1.0 if _DATE.search(sentence) else 0.0
    if _HOW_MANY.search(question):
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if _WHO.search(question) or _WHERE.search(question):
        return 1.0 if _PROPER.search(sentence) else 0.0
    return 0.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A retrieved passage as the quote chooser sees it."""

    source: str
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class QuoteChoice:
    """The chosen quote: document offsets and the scores that chose it."""

    source: str
    span: Span
    text: str
    score: float
    similarity: float


def _quotable_window(
    text: str, start: int, end: int, excluded: Sequence[tuple[int, int]]
) -> tuple[int, int]:
    """Widen ``[start, end)`` to line ends, at most ``_WIDEN`` chars, clipped at debris."""
    lo = max(0, start - _WIDEN)
    hi = min(len(text), end + _WIDEN)
    nl = text.rfind("\n", lo, start)
    lo = nl + 1 if nl >= 0 else lo
    nl = text.find("\n", end, hi)
    hi = nl if nl >= 0 else hi
    for a, b in excluded:
        if b <= start and b > lo:
            lo = b
        if a >= end and a < hi:
            hi = a
    return lo, hi


def choose_quote(
    question: str,
    candidates: Sequence[Candidate],
    documents: dict[str, tuple[str, str, Sequence[tuple[int, int]]]],
    scorers: Sequence[tuple[Encoder, np.ndarray, float]],
) -> QuoteChoice | None:
    """Pick the sentence that best answers ``question`` from the top passages.

    Args:
        question: the user's question.
        candidates: the passages to look in, best first (typically the top 3).
        documents: ``source -> (text, lang, excluded spans)`` for each candidate's document.
        scorers: ``(encoder, question vector, weight)``: each encoder embeds the candidate
            sentences, and a sentence's meaning score is the weighted sum of its cosines.

    Returns:
        The best sentence, or ``None`` when the passages hold no usable sentence.
    """
    spans: list[tuple[int, str, Span]] = []
    seen: set[tuple[str, int, int]] = set()
    for rank, cand in enumerate(candidates):
        text, lang, excluded = documents[cand.source]
        lo, hi = _quotable_window(text, cand.start, cand.end, excluded)
        for span in sentence_spans(text[lo:hi], lang, offset=lo):
            # Keep sentences that mostly lie inside the passage itself.
            inside = min(span.end, cand.end) - max(span.start, cand.start)
            if inside * 2 < span.end - span.start or span.end - span.start > MAX_QUOTE_CHARS:
                continue
            key = (cand.source, span.start, span.end)
            if key not in seen:
                seen.add(key)
                spans.append((rank, cand.source, span))
    if not spans:
        return None

    texts = [documents[src][0][s.start : s.end] for _, src, s in spans]
    sims = np.zeros(len(texts), dtype=np.float32)
    for encoder, vector, weight in scorers:
        if weight:
            sims += weight * (encoder.encode(texts) @ np.asarray(vector, dtype=np.float32))
    q_words = content_words(question)
    best: QuoteChoice | None = None
    for (rank, source, span), sent, sim in zip(spans, texts, sims, strict=True):
        words = content_words(sent)
        overlap = len(q_words & words) / len(q_words) if q_words else 0.0
        n_words = len(_WORD.findall(sent))
        score = (
            float(sim)
            + 0.35 * overlap
            + 0.15 * _type_bonus(question, sent)
            - 0.03 * rank
            - (0.3 if n_words < 5 else 0.0)  # headings and fragments answer nothing
        )
        if best is None or score > best.score:
            best = QuoteChoice(source, span, sent, score, float(sim))
    return best
