"""Sentence boundaries with character offsets, for English, German and the rest.

Lines are boundaries first (scraped pages put headings, list items and timeline entries
on lines of their own), except a *soft* line break: text hard-wrapped at a column (plain
text, PDF) breaks lines inside sentences, and a break followed by a lower-case
continuation, or after a word hyphenated at the line's end, is read as a space. Inside
the lines so joined, pysbd's rule-based segmenter for the text's language finds the
sentences, and each one is located in the text so that the offsets are exact.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from retriever.records import Span

if TYPE_CHECKING:
    import pysbd

__all__ = ["sentence_spans", "joined", "SENTENCE_LANGUAGES"]

#: pysbd's languages; others fall back to English rules, which split on .!? sensibly.
SENTENCE_LANGUAGES = {
    "en", "de", "fr", "es", "it", "nl", "da", "pl", "ru", "el", "hi", "mr", "zh", "ja",
    "ar", "am", "fa", "ur", "my", "hy", "bg", "kk", "sk",
}  # fmt: skip
_LINE = re.compile(r"[^\n]+")
# A line break inside a sentence: a hyphenated word's break ("infor-\nmation"), or a
# break before a lower-case continuation (not a blank line, not a list item).
_SOFT_BREAK = re.compile(
    r"(?<=[^\W\d_]-)[ \t]*\n[ \t]*(?=[^\W\d_])|(?<=\S)[ \t]*\n[ \t]*(?=[a-zäöüßàâçéèêëîïôûùüÿñæœ])"
)
# A sentence end run into the next sentence without a space ("Minsk.July 13 ..."), as
# scraped pages leave them: a word of two or more lower-case letters, the stop, a capital
# and a lower-case letter. Abbreviations ("U.S.Army") and decimals do not match.
_RUN_TOGETHER = re.compile(r"(?<=[a-zäöüß]{2}[.!?])(?=[A-ZÄÖÜ][a-zäöüß])")


@lru_cache(maxsize=32)
def _segmenter(lang: str) -> pysbd.Segmenter:
    import pysbd

    return pysbd.Segmenter(language=lang if lang in SENTENCE_LANGUAGES else "en", clean=False)


# A hard-wrapped line of prose: a break after a line of at least ``_WRAPPED_CHARS`` that
# does not end a sentence, before a letter, digit or opening bracket that does not start a
# list item ("...Notation One\n(ASN.1, as specified by the X.680\nITU-T recommendation)").
_WRAPPED_CHARS = 50
_BREAK = re.compile(r"[ \t]*\n[ \t]*")
_ENDS_SENTENCE = re.compile(r"[.!?:;…][\"'”’)\]]*$")
# What a sentence the segmenter cut ends in; a piece without it runs on into the next.
_STOP = re.compile(r"[.!?…。！？؟।][\"'”’»)\]]*$")
_GOES_ON = re.compile(r"[^\W_]|[(\"'“‘\[]")
#: A line that starts a list item (also what :mod:`retriever.lists` quotes whole).
LIST_ITEM = re.compile(r"[ \t]*(?:[•*+\-–·▪◦]|\d{1,3}[.)]|[a-z][.)])[ \t]+\S")


def _wrapped(text: str, out: list[str]) -> None:
    """Blank, in ``out`` (``text`` as a list of characters), each break of a wrapped line."""
    for m in _BREAK.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        line = text[line_start : m.start()].strip()
        nxt = m.end()
        if (
            len(line) >= _WRAPPED_CHARS
            and not _ENDS_SENTENCE.search(line)
            and _GOES_ON.match(text, nxt)
            and not LIST_ITEM.match(text, nxt)
        ):
            out[m.start() : m.end()] = " " * (m.end() - m.start())


# Across blank lines too, where page furniture between two pages was blanked out: a break
# after a line that does not end a sentence, before a lower-case continuation.
_SOFT_GAP = re.compile(r"(?<=[^.!?:\s])\s*\n\s*(?=[a-zäöüßàâçéèêëîïôûùüÿñæœ])")


def joined(text: str, across_blank_lines: bool = False) -> str:
    """``text`` with its soft line breaks turned to spaces (the same length: offsets hold).

    Args:
        text: any text.
        across_blank_lines: also join a sentence across blank lines (a PDF's page break,
            its running header blanked out).

    Example:
        >>> joined("a long sentence that\\nwraps. Next\\nLine")
        'a long sentence that wraps. Next\\nLine'
    """
    out = _SOFT_BREAK.sub(lambda m: " " * len(m.group()), text)
    if "\n" in out:
        chars = list(out)
        _wrapped(out, chars)
        out = "".join(chars)
    if across_blank_lines:
        out = _SOFT_GAP.sub(lambda m: " " * len(m.group()), out)
    return out


def sentence_spans(
    text: str, lang: str = "en", offset: int = 0, across_blank_lines: bool = False
) -> list[Span]:
    """Split ``text`` into sentences.

    Args:
        text: any text; a line break ends a sentence unless it is soft (see :func:`joined`).
        lang: ISO 639-1 code choosing the segmentation rules.
        offset: added to every span, to turn passage offsets into document offsets.
        across_blank_lines: see :func:`joined`.

    Returns:
        Spans of the sentences, stripped of surrounding whitespace, in order; together they
        cover every non-space character of ``text``.

    Example:
        >>> text = "Hi there. Bye.\\nNext"
        >>> [text[s.start:s.end] for s in sentence_spans(text)]
        ['Hi there.', 'Bye.', 'Next']
    """
    spans: list[Span] = []
    seg = _segmenter(lang)
    for line in _LINE.finditer(joined(text, across_blank_lines)):
        line_text = line.group()
        if not line_text.strip():
            continue
        base = offset + line.start()
        pos = 0
        open_at: int | None = None  # start of a piece that did not end its sentence
        for piece in (p for s in seg.segment(line_text) for p in _RUN_TOGETHER.split(s)):
            piece = piece.strip()
            if not piece:
                continue
            at = line_text.find(piece, pos)
            if at < 0:  # the segmenter altered the text; keep the rest as one sentence
                break
            pos = at + len(piece)
            start = at if open_at is None else open_at
            if _STOP.search(piece):
                spans.append(Span(base + start, base + pos))
                open_at = None
            else:  # "the X.680 | ITU-T recommendation": no stop, no sentence end
                open_at = start
        if open_at is not None:
            pos = open_at
        rest = line_text[pos:]
        if rest.strip():
            lead = len(rest) - len(rest.lstrip())
            spans.append(Span(base + pos + lead, base + len(line_text.rstrip())))
    return spans
