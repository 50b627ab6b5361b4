"""Language identification (py3langid) for documents and for questions.

A document's language picks its stemmer, stopwords and sentence rules. A question's
language, guessed among the languages the index holds, tells which passages its words and
the main model can judge, and which only the cross-lingual encoder can.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

__all__ = ["detect_language", "question_language"]


@lru_cache(maxsize=8)
def _identifier(langs: tuple[str, ...]) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if langs:
        identifier.set_languages(list(langs))
    return identifier


def detect_language(text: str) -> str:
    """ISO 639-1 code of the main language of ``text``; ``en`` when there is too little."""
    sample = text[:5000]
    if len(sample.strip()) < 20:
        return "en"
    return str(_identifier(()).classify(sample)[0])


def question_language(
    question: str, langs: Sequence[str], min_confidence: float = 0.8
) -> str | None:
    """The language of ``question`` among ``langs``, or None when unsure or moot.

    Below ``min_confidence`` (``Scoring.language_confidence``) the language is unknown.

    Example:
        >>> question_language("Wann befreite die Rote Armee Minsk?", ["de", "en"])
        'de'
    """
    if len(langs) < 2:
        return langs[0] if langs else None
    lang, confidence = _identifier(tuple(sorted(langs))).classify(question)
    return lang if confidence >= min_confidence else None
