"""Every tuned number of the answer path in one typed place, and the choices users pick from.

:class:`Scoring` holds the weights and thresholds that measurements chose (README,
"Measurements"); its defaults are the measured row. The :class:`~retriever.answer.Answerer`,
the search and the quote chooser all read one ``Scoring``; ``verbatim eval`` records it
whole in ``metrics.json`` and takes another with ``--scoring FILE.json``, and sweeps vary
any field with :meth:`Scoring.replace`.

This module imports nothing heavy: the CLI reads its choices for ``--help``.

Example:
    >>> DEFAULT_SCORING.fusion, DEFAULT_SCORING.min_score
    ('convex', 0.34)
    >>> DEFAULT_SCORING.replace(alpha=0.7).alpha
    0.7
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from retriever.errors import BadArgumentError

__all__ = [
    "BACKENDS",
    "CROSS_LINGUAL_NAMES",
    "DEFAULT_CROSS_LINGUAL_MODEL",
    "E5_MODEL",
    "USE_MODEL",
    "DEFAULT_K",
    "DEFAULT_SCORING",
    "FUSIONS",
    "INDEX_TYPES",
    "MAX_K",
    "MAX_QUESTION_CHARS",
    "MAX_QUOTE_CHARS",
    "Scoring",
    "check_k",
]

#: How dense and lexical rankings are fused (see :mod:`retriever.search`).
FUSIONS = ("rrf", "convex", "dense")
#: How a model is run: PyTorch float32; ONNX Runtime float32 (the same vectors, without
#: PyTorch); ONNX Runtime with int8 weights (faster on CPU, within quantization error).
BACKENDS = ("torch", "onnx-fp32", "onnx-int8")
#: How vectors are indexed (see :mod:`retriever.vectors`).
INDEX_TYPES = ("auto", "flat", "ivf", "hnsw")
#: The names recorded in manifests for the cross-lingual encoders
#: (:mod:`retriever.cross_lingual`), and the one of a new index (measured against USE in
#: the README).
USE_MODEL = "use-multilingual-v3"
E5_MODEL = "multilingual-e5-small-q4"
CROSS_LINGUAL_NAMES = (USE_MODEL, E5_MODEL)
DEFAULT_CROSS_LINGUAL_MODEL = E5_MODEL
#: Passages an answer lists unless asked otherwise, and the most it lists.
DEFAULT_K = 5
MAX_K = 100
MAX_QUESTION_CHARS = 2000
#: Contract 1: a quote is at most this long.
MAX_QUOTE_CHARS = 400


def check_k(k: object) -> int:
    """``k`` if it is a whole number 1..MAX_K; raises :class:`BadArgumentError` otherwise.

    Example:
        >>> check_k(5)
        5
    """
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise BadArgumentError(f"k of {k!r} is out of range; use a whole number 1..{MAX_K}")
    return k


@dataclass(frozen=True)
class Scoring:
    """How passages are ranked, the quote chosen and the abstain decision made.

    Search (:mod:`retriever.search`):
        fusion: ``convex``, ``rrf`` or ``dense``.
        alpha: weight of meaning against BM25 in ``convex`` fusion (higher: meaning over
            words).
        cross_lingual_weight: share of the cross-lingual model in meaning scores (higher:
            finds answers in other languages, at some cost on same-language questions).
        depth: candidates taken from each ranking before fusing (larger: better recall of
            chunks only one method ranks high, slightly slower).
        rrf_k: the constant of reciprocal-rank fusion.
        cross_language_offset: added to the cross-lingual cosine of a passage in another
            language than the question (cosines across languages run lower).

    Quote (:mod:`retriever.quote`):
        quote_passages: how many of the top passages the quote is looked for in (and
            reranked by their sentences).
        rerank_weight: weight of a passage's best sentence against its search score.
        words_weight: weight of the share of the question's words a sentence holds.
        kind_weight: weight of holding the kind of thing asked for (a date for "when").
        rank_penalty: taken off per rank of the passage a sentence stands in.
        fragment_words: fewer words than this make a heading or fragment...
        fragment_penalty: ...which is taken this much off.
        pair_bonus: added to a pair of adjacent sentences.
        pair_gap_chars: most characters between two sentences that count as adjacent.
        cross_language_factor: a sentence in another language than the question is scored
            by its cross-lingual cosine times this.
        widen_chars: how far a passage is widened on each side to complete its sentences.

    Reader (:mod:`retriever.reader`):
        reader: the trained reader that weighs in on the quote's candidates ("" for none:
            the scores above alone choose the quote).
        reader_margin: the reader reads the quote passages only when the two best
            candidates' scores lie closer than this (larger: read more often, slower;
            1e9: every question).
        reader_reach: ...and of them only those holding a candidate within this of the best
            (larger: reads more passages, slower).
        reader_weight: the most the reader's judgement adds to or takes off a candidate's
            score...
        reader_clip: ...reached at this log-odds of holding the answer (it scales linearly
            up to it).

    Abstaining:
        min_score: below this quote score, the quote's closeness (its cosine to the
            question), the documents do not answer (higher: abstains more often, wrong
            answers rarer).
        cross_language_closeness: the quote score of a sentence in another language is its
            cross-lingual cosine plus this (set so that German questions of the held-apart
            training articles are answered within two of 116 as often as English ones; README,
            "Answers across languages").
    """

    fusion: str = "convex"
    alpha: float = 0.5
    cross_lingual_weight: float = 0.7
    depth: int = 50
    rrf_k: int = 60
    cross_language_offset: float = 0.1
    quote_passages: int = 3
    rerank_weight: float = 3.0
    words_weight: float = 0.35
    kind_weight: float = 0.2
    rank_penalty: float = 0.03
    fragment_words: int = 5
    fragment_penalty: float = 0.3
    pair_bonus: float = 0.1
    pair_gap_chars: int = 3
    cross_language_factor: float = 2.0
    widen_chars: int = 300
    reader: str = "reader-e5-12"
    reader_margin: float = 1e9
    reader_reach: float = 0.2
    reader_weight: float = 0.5
    reader_clip: float = 10.0
    min_score: float = 0.34
    cross_language_closeness: float = 0.10

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kind = int if f.type in ("int", int) else float if f.type in ("float", float) else str
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, f.name, float(value))
                value = float(value)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise BadArgumentError(f"scoring {f.name} of {value!r} is not a {kind.__name__}")
            if kind is float and not math.isfinite(value):
                raise BadArgumentError(f"scoring {f.name} of {value} must be a finite number")
        if self.fusion not in FUSIONS:
            raise BadArgumentError(f"fusion {self.fusion!r} is not one of {', '.join(FUSIONS)}")
        for name in ("alpha", "cross_lingual_weight"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise BadArgumentError(f"{name} of {getattr(self, name)} must lie between 0 and 1")
        for name in ("depth", "quote_passages", "rrf_k"):
            if getattr(self, name) < 1:
                raise BadArgumentError(f"{name} of {getattr(self, name)} must be 1 or more")
        if self.reader_clip <= 0.0:
            raise BadArgumentError(f"reader_clip of {self.reader_clip} must be above 0")

    def replace(self, **changes: Any) -> Scoring:
        """A copy with ``changes``; raises :class:`BadArgumentError` for an unknown field."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise BadArgumentError(
                f"scoring has no {', '.join(unknown)}; its fields: "
                f"{', '.join(f.name for f in fields(self))}"
            )
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scoring:
        """Defaults overridden by ``d``'s fields (a partial dict is fine)."""
        if not isinstance(d, dict):
            raise BadArgumentError("scoring settings must be a JSON object of fields")
        return DEFAULT_SCORING.replace(**d)

    @classmethod
    def load(cls, path: Path | str) -> Scoring:
        """Read settings from a JSON file (``verbatim eval --scoring FILE``).

        Raises:
            BadArgumentError: the file is missing, not JSON, or names an unknown field.
        """
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise BadArgumentError(f"cannot read --scoring {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise BadArgumentError(f"--scoring {path} is not JSON ({exc})") from None
        return cls.from_dict(d)


#: The measured defaults (README, "Measurements").
DEFAULT_SCORING = Scoring()
