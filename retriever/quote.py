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

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from retriever.beside import beside
from retriever.encoder import Encoder, calibrate
from retriever.kinds import kind_bonus
from retriever.lexical import WORD, tokenize
from retriever.records import Span
from retriever.sentences import joined, sentence_spans
from retriever.settings import DEFAULT_SCORING, MAX_QUOTE_CHARS, Scoring

__all__ = [
    "Candidate",
    "Meaning",
    "QuoteChoice",
    "Scored",
    "choose_quote",
    "passage_sentences",
    "score_sentences",
]


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
    ``language_weights`` (language → how likely the question is written in it, see
    :func:`retriever.language.language_weights`) how far a sentence's words and the main
    model can judge it.
    """

    main: tuple[Encoder, np.ndarray]
    cross_lingual: tuple[Encoder, np.ndarray] | None = None
    language_weights: dict[str, float] | None = None
    scoring: Scoring = DEFAULT_SCORING

    def scores(self, texts: list[str], langs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The meaning score of each text (written in the matching language), and its
        quote score, which the abstain decision reads.

        For the share of a text that the question is not in its language, the meaning
        score is the cross-lingual cosine times ``cross_language_factor`` and the quote
        score that cosine plus ``cross_language_closeness`` (enough to bring answers across
        languages level with answers within one, not so much that an unrelated sentence in
        another language passes).
        """
        pending = beside(self.cross_lingual[0].encode, texts) if self.cross_lingual else None
        try:
            encoder, vector = self.main
            main = encoder.encode(texts) @ np.asarray(vector, dtype=np.float32)
        finally:
            embedded = pending.result() if pending is not None else None
        if self.cross_lingual is None or embedded is None:
            return main, main
        encoder, vector = self.cross_lingual
        cross = calibrate(encoder, embedded @ np.asarray(vector, np.float32))
        w = self.scoring.cross_lingual_weight
        mixed = (1 - w) * main + w * cross
        if not self.language_weights:
            return mixed, mixed
        same = np.array([self.language_weights.get(lang, 0.0) for lang in langs], np.float32)
        if (same >= 1.0).all():
            return mixed, mixed
        factor = self.scoring.cross_language_factor
        closeness = self.scoring.cross_language_closeness
        return (
            np.where(same >= 1.0, mixed, same * mixed + (1 - same) * cross * factor),
            np.where(same >= 1.0, mixed, same * mixed + (1 - same) * (cross + closeness)),
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
    text: str,
    start: int,
    end: int,
    excluded: Sequence[tuple[int, int]],
    widen: int,
    blank: Sequence[tuple[int, int]] = (),
) -> tuple[int, int, bool, bool]:
    """Widen ``[start, end)`` to the ends of its lines, at most ``widen`` chars each way,
    clipped at debris. Soft line breaks (:func:`retriever.sentences.joined`) do not end a
    line, nor do ``blank`` ranges (page furniture a sentence runs across). Also says
    whether each end is a real boundary (a line's or the text's end, or
    debris) rather than a cut in the middle of a line."""
    lo0, hi0 = max(0, start - widen), min(len(text), end + widen)
    view = text[lo0:hi0]
    view = joined(_blanked(view, blank, lo0), True) if blank else joined(view)
    nl = view.rfind("\n", 0, start - lo0)
    lo = lo0 + nl + 1 if nl >= 0 else lo0
    nl = view.find("\n", end - lo0)
    hi = lo0 + nl if nl >= 0 else hi0
    lo_bound, hi_bound = lo != lo0 or lo == 0, hi != hi0 or hi == len(text)
    for a, b in excluded:
        if b <= start and b > lo:
            lo, lo_bound = b, True
        if a >= end and a < hi:
            hi, hi_bound = a, True
    return lo, hi, lo_bound, hi_bound


#: ``(candidate number, source, span, lang)`` of one sentence.
_Sentence = tuple[int, str, Span, str]


@dataclass(frozen=True)
class Scored:
    """The candidate sentences of some passages, each scored by meaning, words and kind.

    ``sentences`` holds ``(candidate number, source, span, lang)`` in document order within
    each candidate; the other fields are parallel to it (``q_words``: the question's words
    by language). ``passages`` holds each candidate's own whole sentences
    (:func:`passage_sentences`), shared ones included, as a reader reads them.
    """

    sentences: list[_Sentence]
    texts: list[str]
    sims: np.ndarray
    closeness: np.ndarray
    scores: list[float]
    words: list[set[str]]
    kinds: list[float]
    q_words: dict[str, set[str]]
    passages: list[list[Span]]

    def before(self, n: int) -> str:
        """The sentence before sentence ``n`` in its passage ("" for a first one)."""
        if n and self.sentences[n - 1][:2] == self.sentences[n][:2]:
            return self.texts[n - 1]
        return ""


def score_sentences(
    question: str,
    candidates: Sequence[Candidate],
    documents: dict[str, tuple[str, str, Sequence[tuple[int, int]]]],
    meaning: Meaning,
) -> Scored | None:
    """The sentences of ``candidates`` with their scores, or None when there is none.

    Args:
        question: the user's question.
        candidates: the passages to look in, best first.
        documents: ``source -> (text, lang, excluded spans[, blanked spans])`` for each
            candidate's document: sentences stop at excluded spans (navigation) and run
            across blanked ones (a PDF's running headers between two pages).
        meaning: the encoders and question vectors that score meaning, and the weights.
    """
    scoring = meaning.scoring
    passages = passage_sentences(candidates, documents, scoring.widen_chars)
    sentences = _sentences(candidates, passages, documents)
    if not sentences:
        return None
    texts = [documents[src][0][s.start : s.end] for _, src, s, _ in sentences]
    sims, closeness = meaning.scores(texts, [lang for *_, lang in sentences])
    scores, words, kinds, q_words = _score_sentences(question, sentences, texts, sims, scoring)
    return Scored(sentences, texts, sims, closeness, scores, words, kinds, q_words, passages)


def choose_quote(
    question: str,
    candidates: Sequence[Candidate],
    documents: dict[str, tuple[str, str, Sequence[tuple[int, int]]]],
    meaning: Meaning,
    judge: Callable[[Scored, set[int]], Sequence[float]] | None = None,
) -> QuoteChoice | None:
    """Pick the sentence, or two adjacent sentences, that best answer ``question``.

    Each is scored by :func:`score_sentences` (a pair as in the module docstring). When
    ``judge`` is given (a trained reader's, :func:`retriever.reading.reader_judge`) and the
    best two come within ``scoring.reader_margin`` of each other, the judge reads the
    passages holding a candidate within ``reader_reach`` of the best, and its value of each
    of their sentences (a log-odds that it holds the answer), clipped to ``±reader_clip``
    and scaled to ``reader_weight`` at most, is added; a pair takes its better sentence's.
    The other passages' candidates count as read at ``-reader_clip``: a candidate that far
    behind cannot win.

    Returns:
        The best quote, or ``None`` when the passages hold no usable sentence.
    """
    scored = score_sentences(question, candidates, documents, meaning)
    if scored is None:
        return None
    scoring = meaning.scoring
    units = _units(scored, scoring)
    ranked = sorted((u[0] for u in units), reverse=True)
    if judge is not None and len(ranked) > 1 and ranked[0] - ranked[1] < scoring.reader_margin:
        clip = scoring.reader_clip
        reach = ranked[0] - scoring.reader_reach
        near = {scored.sentences[a][0] for score, a, _ in units if score >= reach}
        read = np.clip(np.asarray(judge(scored, near), np.float64), -clip, clip)
        read *= scoring.reader_weight / clip
        units = [(s + float(read[a : b + 1].max()), a, b) for s, a, b in units]
    passage_scores = [-np.inf] * len(candidates)
    for score, a, b in units:
        if a == b:
            rank = scored.sentences[a][0]
            passage_scores[rank] = max(passage_scores[rank], score)
    score, first, last = max(units, key=lambda u: u[0])
    rank, source, a, _ = scored.sentences[first]
    # The passage holding the quote ranks by it, a pair included.
    passage_scores[rank] = max(passage_scores[rank], score)
    span = Span(a.start, scored.sentences[last][2].end)
    return QuoteChoice(
        source,
        span,
        documents[source][0][span.start : span.end],
        score,
        float(max(scored.closeness[first : last + 1])),
        tuple(passage_scores),
    )


def _units(scored: Scored, scoring: Scoring) -> list[tuple[float, int, int]]:
    """``(score, first, last)`` of each sentence and each pair of adjacent sentences that
    may be quoted together, sentences first, in order."""
    sentences, texts, sims = scored.sentences, scored.texts, scored.sims
    words, kinds, q_words = scored.words, scored.kinds, scored.q_words
    units = [(s, n, n) for n, s in enumerate(scored.scores)]
    short = scoring.fragment_words
    for n in range(len(sentences) - 1):
        (rank, src, a, lang), (rank2, src2, b, _) = sentences[n], sentences[n + 1]
        adjacent = rank == rank2 and src == src2 and 0 <= b.start - a.end <= scoring.pair_gap_chars
        if not adjacent or b.end - a.start > MAX_QUOTE_CHARS:
            continue
        if len(WORD.findall(texts[n])) < short or len(WORD.findall(texts[n + 1])) < short:
            continue
        pair = (
            float(sims[n] + sims[n + 1]) / 2
            + scoring.words_weight * _share(q_words[lang], words[n] | words[n + 1])
            + scoring.kind_weight * max(kinds[n], kinds[n + 1])
            - scoring.rank_penalty * rank
            + scoring.pair_bonus
        )
        units.append((pair, n, n + 1))
    return units


def passage_sentences(
    candidates: Sequence[Candidate],
    documents: dict[str, tuple[str, str, Sequence[tuple[int, int]]]],
    widen: int,
) -> list[list[Span]]:
    """The whole sentences of each candidate: those that mostly lie inside it, widened past
    its ends to complete them (never into debris), in document order."""
    out: list[list[Span]] = []
    for cand in candidates:
        text, lang, excluded, *rest = documents[cand.source]
        blank = rest[0] if rest else ()
        lo, hi, lo_bound, hi_bound = _quotable_window(
            text, cand.start, cand.end, excluded, widen, blank
        )
        view = text[lo:hi]
        if blank:  # page furniture a sentence may run across: read as spaces
            view = _blanked(view, blank, lo)
        spans = sentence_spans(view, lang, offset=lo, across_blank_lines=bool(blank))
        kept = []
        for n, span in enumerate(spans):
            inside = min(span.end, cand.end) - max(span.start, cand.start)
            if inside * 2 < span.end - span.start or span.end - span.start > MAX_QUOTE_CHARS:
                continue
            if (n == 0 and not lo_bound) or (n == len(spans) - 1 and not hi_bound):
                continue  # cut by the window: part of a sentence, never a quote
            kept.append(span)
        out.append(kept)
    return out


def _sentences(
    candidates: Sequence[Candidate],
    passages: Sequence[Sequence[Span]],
    documents: dict[str, tuple[str, str, Sequence[tuple[int, int]]]],
) -> list[_Sentence]:
    """The sentences of the candidates (``passages``: :func:`passage_sentences`), in
    document order within each candidate; a sentence two candidates share counts once, in
    the first."""
    sentences: list[_Sentence] = []
    seen: set[tuple[str, int, int]] = set()
    for rank, (cand, spans) in enumerate(zip(candidates, passages, strict=True)):
        lang = documents[cand.source][1]
        for span in spans:
            key = (cand.source, span.start, span.end)
            if key not in seen:
                seen.add(key)
                sentences.append((rank, cand.source, span, lang))
    return sentences


def _blanked(view: str, ranges: Sequence[tuple[int, int]], offset: int) -> str:
    """``view`` (the text from ``offset``) with ``ranges`` turned to spaces, newlines kept."""
    chars = list(view)
    for a, b in ranges:
        for i in range(max(a - offset, 0), min(b - offset, len(chars))):
            if chars[i] != "\n":
                chars[i] = " "
    return "".join(chars)


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
