"""Choosing the quote: the sentence, or two adjacent ones, of the top passages that answers.

Candidates are the sentences of the top passages, widened to whole sentences (a chunk may
start or end mid-sentence) but never into text kept out as debris, and each pair of
adjacent sentences (an answer often follows the sentence that names the subject). Each
candidate is scored by

- meaning: its cosine to the question under the main model and the cross-lingual one,
  mixed by ``cross_lingual_weight``; a sentence in another language than the question is judged by
  the cross-lingual model alone, multiplied by ``CROSS_LANGUAGE_FACTOR``: it holds none of
  the question's words, and cosines across languages run lower than within one (a
  sentence unrelated to the question stays near 0);
- words: the share of the question's words (stemmed, stopwords out, under the sentence's
  language) that it, or the heading it stands under within the passage, holds;
- kind: whether it holds the kind of thing asked for (a date for "when", an amount the
  question does not state for "how many", a name for "who" and "where").

A pair is judged by its sentences' mean meaning and the words either holds. The weights
(:class:`~retriever.settings.Scoring`) were chosen by measurement on both gold sets
(README, "Measurements").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retriever.encoder import Encoder, calibrate
from retriever.lexical import WORD, tokenize
from retriever.records import Span
from retriever.sentences import sentence_spans
from retriever.settings import DEFAULT_SCORING, MAX_QUOTE_CHARS, Scoring

__all__ = ["QuoteChoice", "Candidate", "Meaning", "choose_quote", "kind_bonus", "quantities"]
_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|december|"
    r"januar|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember"
)
_DATE = re.compile(rf"\b(1[0-9]{{3}}|20[0-9]{{2}})\b|\b({_MONTHS})\b", re.IGNORECASE)
#: Amounts: figures other than years and days of a month, and number words.
_AMOUNT = re.compile(
    r"\b\d[\d.,]*\b|\b(?:dozens?|hundreds?|thousands?|millions?|billions?|"
    r"two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|[a-z]+teen|"
    r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"dutzend|hundert|tausend|millionen|million|milliarden?|"
    r"zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|[a-zäöü]+zehn|[a-zäöü]+zig|"
    r"dreißig)\b",
    re.IGNORECASE,
)
_YEAR_OR_DAY = re.compile(
    rf"\b(?:1[0-9]{{3}}|20[0-9]{{2}})\b(?![.,]\d)"
    rf"|\b\d{{1,2}}\.?\s+(?:{_MONTHS})\b|\b(?:{_MONTHS})\s+\d{{1,2}}\b",
    re.IGNORECASE,
)


_DURATION = re.compile(
    r"\s*(?:-\s*)?(?:years?|months?|weeks?|days?|hours?|"
    r"jahren?|monaten?|wochen|tagen?|stunden)\b",
    re.IGNORECASE,
)
_HOW_LONG = re.compile(r"\b(how long|wie lange)\b", re.I)


def quantities(text: str, durations: bool = False) -> set[str]:
    """The amounts ``text`` states (``"nearly 2 million"`` → 2, million); years and dates
    left out, and spans of time (``"three years"``) unless ``durations``."""
    text = _YEAR_OR_DAY.sub(" ", text)
    return {
        m.group().lower().rstrip(".,")
        for m in _AMOUNT.finditer(text)
        if durations or not _DURATION.match(text, m.end())
    }


_PROPER = re.compile(r"(?<=[\w,;] )[A-ZÄÖÜ][\w’'-]+")
_WHEN = re.compile(
    r"^\s*(when|what (year|date|day|month)|in which year|wann|in welchem jahr)\b", re.I
)
_HOW_MANY = re.compile(r"\b(how (many|much|long|far|large)|wie (viele|viel|lange|weit))\b", re.I)
_WHO = re.compile(r"^\s*(who|whom|whose|wer|wem|wen)\b", re.I)
_WHERE = re.compile(r"^\s*(where|wo|wohin)\b", re.I)


def kind_bonus(question: str, sentence: str) -> float:
    """1.0 when the sentence holds the kind of thing the question asks for, else 0."""
    if _WHEN.search(question):
        return 1.0 if _DATE.search(sentence) else 0.0
    if _HOW_MANY.search(question):
        durations = bool(_HOW_LONG.search(question))
        return 1.0 if quantities(sentence, durations) - quantities(question, True) else 0.0
    if _WHO.search(question) or _WHERE.search(question):
        return 1.0 if _PROPER.search(sentence) else 0.0
    return 0.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A retrieved passage as the quote chooser sees it: where it stands."""

    source: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Meaning:
    """How meaning is measured: the main model, and the cross-lingual one if the store has it.

    Each ``(encoder, question vector)`` embeds the candidate sentences;
    ``scoring.cross_lingual_weight`` is the cross-lingual model's share, and
    ``question_lang`` (when known) tells which sentences stand in another language.
    """

    main: tuple[Encoder, np.ndarray]
    cross_lingual: tuple[Encoder, np.ndarray] | None = None
    question_lang: str | None = None
    scoring: Scoring = DEFAULT_SCORING

    def scores(self, texts: list[str], langs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The meaning score of each text (written in the matching language), and its
        quote score, which the abstain decision reads: for a text in another language than
        the question, its cross-lingual cosine plus ``cross_language_closeness`` (enough
        to bring answers across languages level with answers within one, not so much that
        an unrelated sentence in another language passes)."""
        encoder, vector = self.main
        main = encoder.encode(texts) @ np.asarray(vector, dtype=np.float32)
        if self.cross_lingual is None:
            return main, main
        encoder, vector = self.cross_lingual
        cross = calibrate(encoder, encoder.encode(texts) @ np.asarray(vector, np.float32))
        w = self.scoring.cross_lingual_weight
        mixed = (1 - w) * main + w * cross
        if self.question_lang is None:
            return mixed, mixed
        other = np.array([lang != self.question_lang for lang in langs])
        return (
            np.where(other, cross * self.scoring.cross_language_factor, mixed),
            np.where(other, cross + self.scoring.cross_language_closeness, mixed),
        )


@dataclass(frozen=True, slots=True)
class QuoteChoice:
    """The chosen quote: document offsets, its ranking score and its quote score (the
    abstain signal, see :meth:`Meaning.scores`).

    ``passage_scores`` holds, for each candidate passage in the order given, the score of
    its best single sentence, or of the quote if it stands there (-inf when it has none):
    a finer ranking of the passages than the search's.
    """

    source: str
    span: Span
    text: str
    score: float
    quote_score: float
    passage_scores: tuple[float, ...] = ()


def _quotable_window(
    text: str, start: int, end: int, excluded: Sequence[tuple[int, int]], widen: int
) -> tuple[int, int]:
    """Widen ``[start, end)`` to line ends, at most ``widen`` chars, clipped at debris."""
    lo = max(0, start - widen)
    hi = min(len(text), end + widen)
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


#: ``(candidate number, source, span, lang)`` of one sentence.
_Sentence = tuple[int, str, Span, str]


def choose_quote(
    question: str,
    candidates: Sequence[Candidate],
    documents: dict[str, tuple[str, str, Sequence[tuple[int, int]]]],
    meaning: Meaning,
) -> QuoteChoice | None:
    """Pick the sentence, or two adjacent sentences, that best answer ``question``.

    Args:
        question: the user's question.
        candidates: the passages to look in, best first (typically the top 3).
        documents: ``source -> (text, lang, excluded spans)`` for each candidate's document.
        meaning: the encoders and question vectors that score meaning, and the weights.

    Returns:
        The best quote, or ``None`` when the passages hold no usable sentence.
    """
    scoring = meaning.scoring
    sentences = _sentences(candidates, documents, scoring.widen_chars)
    if not sentences:
        return None
    texts = [documents[src][0][s.start : s.end] for _, src, s, _ in sentences]
    sims, closeness = meaning.scores(texts, [lang for *_, lang in sentences])
    scores, words, kinds, q_words = _score_sentences(question, sentences, texts, sims, scoring)

    passage_scores = [-np.inf] * len(candidates)
    best = max(range(len(sentences)), key=scores.__getitem__)
    for n, (rank, *_) in enumerate(sentences):
        passage_scores[rank] = max(passage_scores[rank], scores[n])
    choice = (scores[best], best, best)
    for n in range(len(sentences) - 1):
        (rank, src, a, lang), (rank2, src2, b, _) = sentences[n], sentences[n + 1]
        adjacent = rank == rank2 and src == src2 and 0 <= b.start - a.end <= scoring.pair_gap_chars
        if not adjacent or b.end - a.start > MAX_QUOTE_CHARS:
            continue
        short = scoring.fragment_words
        if len(WORD.findall(texts[n])) < short or len(WORD.findall(texts[n + 1])) < short:
            continue
        pair = (
            float(sims[n] + sims[n + 1]) / 2
            + scoring.words_weight * _share(q_words[lang], words[n] | words[n + 1])
            + scoring.kind_weight * max(kinds[n], kinds[n + 1])
            - scoring.rank_penalty * rank
            + scoring.pair_bonus
        )
        if pair > choice[0]:
            choice = (pair, n, n + 1)
    score, first, last = choice
    rank, source, a, _ = sentences[first]
    # The passage holding the quote ranks by it, a pair included.
    passage_scores[rank] = max(passage_scores[rank], score)
    span = Span(a.start, sentences[last][2].end)
    return QuoteChoice(
        source,
        span,
        documents[source][0][span.start : span.end],
        score,
        float(max(closeness[first : last + 1])),
        tuple(passage_scores),
    )


def _sentences(
    candidates: Sequence[Candidate],
    documents: dict[str, tuple[str, str, Sequence[tuple[int, int]]]],
    widen: int,
) -> list[_Sentence]:
    """The sentences of the candidates that mostly lie inside them, in document order
    within each candidate; a sentence two candidates share counts once."""
    sentences: list[_Sentence] = []
    seen: set[tuple[str, int, int]] = set()
    for rank, cand in enumerate(candidates):
        text, lang, excluded = documents[cand.source]
        lo, hi = _quotable_window(text, cand.start, cand.end, excluded, widen)
        for span in sentence_spans(text[lo:hi], lang, offset=lo):
            inside = min(span.end, cand.end) - max(span.start, cand.start)
            if inside * 2 < span.end - span.start or span.end - span.start > MAX_QUOTE_CHARS:
                continue
            key = (cand.source, span.start, span.end)
            if key not in seen:
                seen.add(key)
                sentences.append((rank, cand.source, span, lang))
    return sentences


def _score_sentences(
    question: str,
    sentences: list[_Sentence],
    texts: list[str],
    sims: np.ndarray,
    scoring: Scoring,
) -> tuple[list[float], list[set[str]], list[float], dict[str, set[str]]]:
    """Each sentence's score, its words and kind bonus, and the question's words by
    language (see the module docstring)."""
    q_words: dict[str, set[str]] = {}
    words: list[set[str]] = []
    kinds: list[float] = []
    scores: list[float] = []
    heading: tuple[int, set[str]] = (-1, set())  # (candidate, words) of the last heading
    for (rank, _, _, lang), sent, sim in zip(sentences, texts, sims, strict=True):
        if lang not in q_words:
            q_words[lang] = set(tokenize(question, lang))
        words.append(set(tokenize(sent, lang)))
        kinds.append(kind_bonus(question, sent))
        fragment = len(WORD.findall(sent)) < scoring.fragment_words
        # A heading's words count for the sentences under it, within the passage.
        context = heading[1] if heading[0] == rank else set()
        if fragment:
            heading = (rank, words[-1])
        scores.append(
            float(sim)
            + scoring.words_weight * _share(q_words[lang], words[-1] | context)
            + scoring.kind_weight * kinds[-1]
            - scoring.rank_penalty * rank
            - (scoring.fragment_penalty if fragment else 0.0)
        )
    return scores, words, kinds, q_words


def _share(question_words: set[str], words: set[str]) -> float:
    """The share of the question's words that ``words`` holds."""
    return len(question_words & words) / len(question_words) if question_words else 0.0
