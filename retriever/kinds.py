"""What a question asks for, and whether a sentence holds it: a date for "when", an
amount the question does not state for "how many", a name for "who" and "where"
(English and German question words). A bonus in the quote's sentence score.

Example:
    >>> kind_bonus("When did it end?", "It ended in May 1945.")
    1.0
"""

from __future__ import annotations

import re

__all__ = ["kind_bonus", "quantities"]

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
