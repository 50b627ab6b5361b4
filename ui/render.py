"""Answers as HTML for the chat: the quote as a blockquote with its citation, then sources.

Document text is untrusted: everything taken from a document, a file name or a question is
escaped, and the whole answer is one HTML block with no blank line, so the chat's Markdown
renderer treats none of it as Markdown.
"""

from __future__ import annotations

from html import escape

from retriever.records import Answer, Passage

__all__ = ["answer_html", "location", "passage_html"]

NOT_FOUND = "Not found in the documents."


def _text(s: str) -> str:
    # Newlines become <br> so that no blank line ends the HTML block early.
    return escape(s).replace("\r", "").replace("\n", "<br>")


def location(start: int, end: int) -> str:
    """A human location for a character range: ``chars 1,234–1,340``."""
    return f"chars {start:,}–{end:,}"


def passage_html(p: Passage) -> str:
    """One source passage with the quoted part marked."""
    if p.highlight is not None:
        a, b = p.highlight.start - p.start, p.highlight.end - p.start
        body = f"{_text(p.text[:a])}<mark>{_text(p.text[a:b])}</mark>{_text(p.text[b:])}"
    else:
        body = _text(p.text)
    return (
        f'<li class="vb-passage"><div class="vb-passage-head"><b>[{p.rank}]</b> '
        f"{escape(p.title)} · <code>{escape(p.source)}</code> · {location(p.start, p.end)} "
        f'· score {p.score:.2f}</div><div class="vb-passage-text">{body}</div></li>'
    )


def answer_html(answer: Answer) -> str:
    """The chat message for ``answer``."""
    parts = ['<div class="vb-answer">']
    if answer.answered and answer.citation is not None and answer.quote is not None:
        c = answer.citation
        parts.append(
            f'<blockquote class="vb-quote">{_text(answer.quote)} <sup>[1]</sup></blockquote>'
            f'<div class="vb-cite">[1] {escape(c.title)} · <code>{escape(c.source)}</code> · '
            f"{location(c.start, c.end)}</div>"
        )
        label = "Sources"
    else:
        parts.append(
            f'<p class="vb-notfound"><b>{NOT_FOUND}</b> Nothing in them answers this '
            "question; these are the closest passages.</p>"
        )
        label = "Closest passages"
    if answer.passages:
        items = "".join(passage_html(p) for p in answer.passages)
        opened = "" if answer.answered else " open"
        parts.append(
            f"<details{opened}><summary>{label} ({len(answer.passages)})</summary>"
            f'<ol class="vb-passages">{items}</ol></details>'
        )
    parts.append("</div>")
    return "".join(parts)
