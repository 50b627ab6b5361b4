"""Language identification (py3langid) for documents and for questions.

A document's language picks its stemmer, stopwords and sentence rules. A question is short
and its language often uncertain, so it is never decided: :func:`language_weights` says,
for each language of the index, how likely the question is written in it, against all the
languages py3langid knows (an English question to a German library is English, not the
best German guess). The search and the quote weigh a passage's words and the main model
by that, and the cross-lingual model by the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

__all__ = ["detect_language", "language_weights", "preload", "supported_languages"]

_LOADING = threading.Lock()


def _identifier(langs: tuple[str, ...]) -> Any:
    """py3langid's identifier, loaded once per process: a caller that comes while another
    thread loads it waits for that one's instead of unpacking the model again."""
    with _LOADING:
        return _load_identifier(langs)


@lru_cache(maxsize=8)
def _load_identifier(langs: tuple[str, ...]) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if langs:
        identifier.set_languages(list(langs))
    return identifier


def preload() -> None:
    """Start loading the identifier on a thread of its own. Unpacking its model takes about
    0.6 s, which a process's first question would otherwise wait for after its encoders."""
    threading.Thread(
        target=lambda: _identifier(supported_languages()), name="load languages", daemon=True
    ).start()


def supported_languages() -> tuple[str, ...]:
    """The languages the tools read: those with a stemmer (BM25) or sentence rules."""
    from retriever.lexical import STEMMERS
    from retriever.sentences import SENTENCE_LANGUAGES

    return tuple(sorted(set(STEMMERS) | SENTENCE_LANGUAGES))


def detect_language(text: str) -> str:
    """ISO 639-1 code of the main language of ``text``, among those the tools read
    (:func:`supported_languages`); ``en`` when there is too little."""
    sample = text[:5000]
    if len(sample.strip()) < 20:
        return "en"
    return str(_identifier(supported_languages()).classify(sample)[0])


def language_weights(question: str, langs: Sequence[str]) -> dict[str, float]:
    """How likely ``question`` is written in each of ``langs``, relative to its likeliest
    language of all those the tools read (:func:`supported_languages`): 1.0 for that one,
    near 0 for a language it is plainly not in.

    Example:
        >>> w = language_weights("Wann befreite die Rote Armee Minsk?", ["de", "en"])
        >>> w["de"], w["en"] < 0.1
        (1.0, True)
    """
    if not langs:
        return {}
    ranked = _identifier(supported_languages()).rank(question)
    probs = dict(ranked)
    top = max(ranked[0][1], 1e-9)
    return {lang: min(1.0, float(probs.get(lang, 0.0)) / top) for lang in langs}
