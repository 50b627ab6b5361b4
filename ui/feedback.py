"""Feedback on answers: a JSON Lines log in the data folder, and its export as a gold set.

Each thumbs up or down (and each optional comment) appends one line to
``<data>/feedback.jsonl``::

    {"time": "2025-01-31T12:00:00Z", "answer_id": "3f2a…", "vote": "up", "comment": null,
     "question": "…", "response": {…Contract 1…}}

A comment line carries the same ``answer_id``, ``vote: null`` and the ``comment``.
:func:`export_gold` folds the log into a gold set (Contract 2) that ``verbatim eval``
accepts: the last vote on an answer counts, an up-voted answer's quote becomes the expected
answer (an up-voted "Not found" becomes an unanswerable question), and down-voted answers
are left out, since a down vote says what is wrong, not what is right.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retriever.durable import write_atomic
from retriever.errors import VerbatimError

__all__ = ["FeedbackLog", "ExportReport", "export_gold", "FEEDBACK_FILE", "MAX_COMMENT_CHARS"]

FEEDBACK_FILE = "feedback.jsonl"
MAX_COMMENT_CHARS = 2000
VOTES = ("up", "down")


class FeedbackLog:
    """Appends feedback lines to ``path``; safe to call from several threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def vote(self, answer_id: str, response: dict[str, Any], vote: str) -> dict[str, Any]:
        """Record a thumbs ``up`` or ``down`` on an answer (Contract 1 ``response``)."""
        if vote not in VOTES:
            raise VerbatimError(f"vote {vote!r} is not one of {', '.join(VOTES)}")
        return self._append(
            {
                "answer_id": answer_id,
                "vote": vote,
                "comment": None,
                "question": response.get("question"),
                "response": response,
            }
        )

    def comment(self, answer_id: str, question: str | None, text: str) -> dict[str, Any]:
        """Record a comment on an answer already voted on."""
        text = (text or "").strip()
        if not text:
            raise VerbatimError("the comment is empty; type a few words first")
        if len(text) > MAX_COMMENT_CHARS:
            raise VerbatimError(
                f"the comment is {len(text)} characters long; keep it under {MAX_COMMENT_CHARS}"
            )
        return self._append(
            {"answer_id": answer_id, "vote": None, "comment": text, "question": question}
        )

    def _append(self, record: dict[str, Any]) -> dict[str, Any]:
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **record}
        data = json.dumps(line, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(data)
        return line


@dataclass
class ExportReport:
    """What :func:`export_gold` wrote."""

    out: Path
    written: int
    answerable: int
    unanswerable: int
    down: int
    unreadable: int

    def summary(self) -> str:
        return (
            f"wrote {self.written} question{'' if self.written == 1 else 's'} to {self.out} "
            f"({self.answerable} with an expected answer, {self.unanswerable} the documents "
            "do not answer); left out "
            f"{self.down} down-voted answers"
            + (f" and {self.unreadable} unreadable lines" if self.unreadable else "")
        )


def _fold_question(q: str) -> str:
    return " ".join(q.split()).casefold()


def _expected(response: dict[str, Any]) -> list[str]:
    """The gold answers an up vote on ``response`` makes: its quote, or none for a
    "Not found" (or an answer without a citation)."""
    citation = response.get("citation")
    quote = response.get("quote")
    if (
        response.get("answered")
        and isinstance(quote, str)
        and quote
        and isinstance(citation, dict)
        and isinstance(citation.get("source"), str)
    ):
        return [quote]
    return []


def export_gold(log: Path | str, out: Path | str) -> ExportReport:
    """Turn a feedback log into a gold set (Contract 2) at ``out``.

    The last vote on each answer counts; when the same question was rated several times,
    the latest up-voted answer wins. Comments travel along as ``comment``.

    Raises:
        VerbatimError: the log does not exist.
    """
    log, out = Path(log), Path(out)
    if not log.is_file():
        raise VerbatimError(
            f"no feedback log at {log}; rate answers in the chat first "
            "(or give --data, the folder that holds feedback.jsonl)"
        )
    answers: dict[str, dict[str, Any]] = {}
    comments: dict[str, list[str]] = {}
    unreadable = 0
    with open(log, encoding="utf-8") as f:
        for raw in f:
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                answer_id = str(line["answer_id"])
            except (ValueError, KeyError, TypeError):
                unreadable += 1  # a torn last line after a crash loses only itself
                continue
            if line.get("vote") in VOTES and isinstance(line.get("response"), dict):
                answers.pop(answer_id, None)  # re-insert: order by the last vote
                answers[answer_id] = line
            if line.get("comment"):
                comments.setdefault(answer_id, []).append(str(line["comment"]))

    by_question: dict[str, dict[str, Any]] = {}
    down = 0
    for answer_id, line in answers.items():
        response = line["response"]
        question = response.get("question") or line.get("question") or ""
        if line["vote"] == "down":
            down += 1
            # A down vote takes back only the same answer given again, not another answer
            # to the same question that was voted up.
            kept = by_question.get(_fold_question(question))
            if kept is not None and kept["answers"] == _expected(response):
                del by_question[_fold_question(question)]
            continue
        item: dict[str, Any] = {"id": f"feedback-{answer_id[:12]}", "question": question}
        item["answers"] = _expected(response)
        if item["answers"]:
            item["source"] = response["citation"]["source"]
        item["kind"] = "feedback"
        if answer_id in comments:
            item["comment"] = " / ".join(comments[answer_id])
        by_question.pop(_fold_question(question), None)
        by_question[_fold_question(question)] = item

    items = list(by_question.values())
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
    answerable = sum(1 for i in items if i["answers"])
    return ExportReport(out, len(items), answerable, len(items) - answerable, down, unreadable)
