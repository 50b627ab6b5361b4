"""Answers as HTML for the chat: the quote as a blockquote with its citation, then sources.

Document text is untrusted: everything taken from a document, a file name or a question is
escaped, and the whole answer is one HTML block with no blank line, so the chat's Markdown
renderer treats none of it as Markdown.
"""

from __future__ import annotations

import re
from html import escape

from retriever.records import NOT_FOUND, Answer, Passage, location, place
from ui.feedback import MAX_COMMENT_CHARS
from ui.pages import doc_href
from ui.pdf_viewer import pdf_href

__all__ = [
    "answer_html",
    "error_html",
    "passage_html",
    "question_html",
    "rated_html",
    "seal_of",
    "FEEDBACK_PATH",
]

#: Where a rated answer's comment form sends the comment (see :mod:`ui.api`).
FEEDBACK_PATH = "/api/feedback"
_SEAL = re.compile(r'<input type="hidden" class="vb-seal" value="([A-Za-z0-9_.=-]+)">')
_RATING = re.compile(r'<form class="vb-rate".*?</form>', re.S)


def _text(s: str) -> str:
    # Newlines become <br> so that no blank line ends the HTML block early.
    return escape(s).replace("\r", "").replace("\n", "<br>")


def question_html(question: str) -> str:
    """The user's question as chat text: shown as typed, never read as Markdown or HTML."""
    return f'<p class="vb-question">{_text(question)}</p>'


def error_html(message: str) -> str:
    """A clear one-line message in place of an answer."""
    return f'<p class="vb-error"><b>Cannot answer:</b> {_text(message)}</p>'


def _link(href: str, label: str, cls: str) -> str:
    return f'<a class="{cls}" href="{escape(href, quote=True)}" target="_blank">{label}</a>'


def _href(source: str, page: int | None, start: int, end: int, base: str) -> str:
    """A span's link: the PDF page viewer for a document of pages, else the text viewer."""
    return (pdf_href if page is not None else doc_href)(source, start, end, base)


def _place(page: int | None, section: str | None, start: int, end: int) -> str:
    """``p. 4 · § Installation`` (escaped), its character offsets in a tooltip."""
    return (
        f'<span class="vb-place" title="{location(start, end)}">'
        f"{escape(place(page, section, start, end))}</span>"
    )


def passage_html(p: Passage, base: str = "") -> str:
    """One source passage with the quoted part marked and a link into its document."""
    if p.highlight is not None:
        a, b = p.highlight.start - p.start, p.highlight.end - p.start
        body = f"{_text(p.text[:a])}<mark>{_text(p.text[a:b])}</mark>{_text(p.text[b:])}"
    else:
        body = _text(p.text)
    span = p.highlight or p
    open_doc = _link(_href(p.source, p.page, span.start, span.end, base), "open", "vb-open")
    where = _place(p.page, p.section, p.start, p.end)
    return (
        f'<li class="vb-passage"><div class="vb-passage-head"><b>[{p.rank}]</b> '
        f"{escape(p.title)} · <code>{escape(p.source)}</code> · {where} "
        f"· score {p.score:.2f} · {open_doc}</div>"
        f'<div class="vb-passage-text">{body}</div></li>'
    )


def answer_html(answer: Answer, seal: str = "", base: str = "") -> str:
    """The chat message for ``answer``.

    Args:
        answer: what to show.
        seal: the answer sealed by :class:`ui.seal.AnswerSeal`, carried in the markup (a
            hidden field), so that a rating names the answer it rates.
        base: prefix for links into the document viewer (the server's address when the
            message is shown on another site, as in the embedded widget).
    """
    parts = ['<div class="vb-answer">']
    if seal:
        parts.append(f'<input type="hidden" class="vb-seal" value="{escape(seal, quote=True)}">')
    if answer.answered and answer.citation is not None and answer.quote is not None:
        c = answer.citation
        href = _href(c.source, c.page, c.start, c.end, base)
        parts.append(
            f'<blockquote class="vb-quote">{_text(answer.quote)} '
            f"<sup>{_link(href, '[1]', 'vb-ref')}</sup></blockquote>"
            f'<div class="vb-cite">[1] {escape(c.title)} · <code>{escape(c.source)}</code> · '
            f"{_link(href, _place(c.page, c.section, c.start, c.end), 'vb-loc')}"
            '<button type="button" class="vb-copy" title="Copy the quote and its citation">'
            "Copy</button></div>"
        )
        label = "Sources"
    else:
        parts.append(
            f'<p class="vb-notfound"><b>{NOT_FOUND}</b> Nothing in them answers this '
            "question; these are the closest passages.</p>"
        )
        label = "Closest passages"
    if answer.passages:
        items = "".join(passage_html(p, base) for p in answer.passages)
        parts.append(  # collapsed: the verdict and the quote are what the eye lands on
            f"<details><summary>{label} ({len(answer.passages)})</summary>"
            f'<ol class="vb-passages">{items}</ol></details>'
        )
    parts.append("</div>")
    return "".join(parts)


def seal_of(message: str) -> str | None:
    """The seal an answer's markup carries (None for a question or an error)."""
    found = _SEAL.search(message)
    return found.group(1) if found else None


def rated_html(message: str, vote: str, base: str = "") -> str:
    """``message`` (an answer's markup) with the rating's thanks and a comment form at its
    end, in place of an earlier one: the comment goes with the answer it rates.

    Args:
        message: the answer as :func:`answer_html` made it.
        vote: ``up`` or ``down``.
        base: the server's address when the answer is shown on another site.
    """
    thanks = "marked as helpful" if vote == "up" else "marked as not helpful"
    form = (
        f'<form class="vb-rate" action="{escape(base + FEEDBACK_PATH, quote=True)}" '
        f'method="post"><p class="vb-rated">Thanks — {thanks}.</p>'
        '<label class="vb-comment">Add a comment (optional) <input type="text" '
        f'name="comment" maxlength="{MAX_COMMENT_CHARS}" autocomplete="off" '
        'placeholder="What was right or wrong?"></label>'
        '<button type="submit" class="vb-comment-send">Send</button></form>'
    )
    message = _RATING.sub("", message)
    head, closing, _ = message.rpartition("</div>")
    return f"{head}{form}{closing}" if closing else message + form
