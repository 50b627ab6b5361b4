"""Gold sets: JSON Lines (Contract 2) and SQuAD v1.1 / v2.0 JSON.

A SQuAD file also brings its corpus: each paragraph becomes one document, named
``<article>/<paragraph number>.txt``, written out by :func:`write_squad_corpus`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retriever.errors import VerbatimError

__all__ = [
    "GoldItem",
    "GoldSet",
    "GoldFormatError",
    "load_gold",
    "iter_jsonl",
    "fold",
    "write_squad_corpus",
]


class GoldFormatError(VerbatimError, ValueError):
    """A gold file is malformed; the message names the file, the line and what is wrong."""


@dataclass(frozen=True)
class GoldItem:
    """One gold question. ``answers == ()`` means the documents do not answer it."""

    id: str
    question: str
    answers: tuple[str, ...]
    source: str | None = None
    kind: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        return bool(self.answers)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            **self.extra,
            "id": self.id,
            "question": self.question,
            "answers": list(self.answers),
        }
        if self.source is not None:
            d["source"] = self.source
        if self.kind is not None:
            d["kind"] = self.kind
        return d


@dataclass(frozen=True)
class GoldSet:
    items: tuple[GoldItem, ...]
    path: Path
    format: str
    #: For SQuAD: ``(source, text)`` of every paragraph, the corpus the questions are asked of.
    corpus: tuple[tuple[str, str], ...] = ()


_SPACE = re.compile(r"\s+")


def fold(s: str) -> str:
    """Case and whitespace folded, for answer matching (Contract 2)."""
    return _SPACE.sub(" ", s).strip().casefold()


def _item_from(d: Any, where: str) -> GoldItem:
    if not isinstance(d, dict):
        raise GoldFormatError(f"{where}: expected a JSON object, got {type(d).__name__}")
    for key in ("id", "question", "answers"):
        if key not in d:
            raise GoldFormatError(f"{where}: missing field {key!r}")
    if not isinstance(d["question"], str) or not d["question"].strip():
        raise GoldFormatError(f"{where}: 'question' must be a non-empty string")
    answers = d["answers"]
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        raise GoldFormatError(f"{where}: 'answers' must be a list of non-empty strings")
    if d.get("source") is not None and not isinstance(d["source"], str):
        raise GoldFormatError(f"{where}: 'source' must be a file name (a string)")
    kind = d.get("kind", d.get("lang"))
    extra = {k: v for k, v in d.items() if k not in {"id", "question", "answers", "source", "kind"}}
    return GoldItem(
        str(d["id"]),
        d["question"],
        tuple(answers),
        d.get("source"),
        None if kind is None else str(kind),
        extra,
    )


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` of each non-blank line of a JSON Lines file.

    Raises:
        GoldFormatError: a line is not valid JSON (names the file and line).
    """
    # By "\n" only: str.splitlines() also breaks at U+2028 and the like, which JSON
    # strings may hold unescaped.
    for n, line in enumerate(_read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldFormatError(
                f"{path}:{n}: not valid JSON ({exc.msg} at column {exc.colno})"
            ) from None


def _read_text(path: Path) -> str:
    """The file's text; a byte that is not UTF-8 is an error naming its line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise GoldFormatError(
            f"{path}:{line}: not UTF-8 (byte {data[exc.start]:#04x}); save the file as UTF-8"
        ) from None


def _load_jsonl(path: Path) -> GoldSet:
    items = []
    seen: set[str] = set()
    for n, d in iter_jsonl(path):
        item = _item_from(d, f"{path}:{n}")
        if item.id in seen:
            raise GoldFormatError(f"{path}:{n}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise GoldFormatError(f"{path}: no questions in the file")
    return GoldSet(tuple(items), path, "jsonl")


def _field(d: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``d[key]`` if ``d`` is an object holding a ``kind`` there; else a GoldFormatError."""
    if not isinstance(d, dict):
        raise GoldFormatError(f"{where}: expected a JSON object, got {type(d).__name__}")
    if key not in d:
        raise GoldFormatError(f"{where}: missing field {key!r}")
    if not isinstance(d[key], kind):
        raise GoldFormatError(
            f"{where}: {key!r} must be a {_JSON_TYPES.get(kind, 'string or number')}, "
            f"got {type(d[key]).__name__}"
        )
    return d[key]


_JSON_TYPES = {list: "list", str: "string", dict: "object"}


def _load_squad(path: Path, data: dict[str, Any]) -> GoldSet:
    """SQuAD v1.1/v2.0; errors name the place in the file as a JSON path (``data[0]...``)."""
    version = str(data.get("version", ""))
    if not isinstance(data.get("data"), list) or not version.startswith(("v1.", "v2.", "1.", "2.")):
        raise GoldFormatError(
            f"{path}: not a SQuAD v1.1/v2.0 file (version {version or 'missing'!r}, "
            "expected a top-level 'data' list)"
        )
    items, corpus = [], []
    seen: set[str] = set()
    for a_no, article in enumerate(data["data"]):
        where = f"{path}: data[{a_no}]"
        paragraphs = _field(article, "paragraphs", list, where)
        title = str(article.get("title", f"article{a_no}"))
        for p_no, para in enumerate(paragraphs):
            where = f"{path}: data[{a_no}].paragraphs[{p_no}]"
            context = _field(para, "context", str, where)
            qas = _field(para, "qas", list, where)
            source = f"{title}/{p_no:03d}.txt"
            corpus.append((source, context))
            for q_no, qa in enumerate(qas):
                where = f"{path}: data[{a_no}].paragraphs[{p_no}].qas[{q_no}]"
                qid = str(_field(qa, "id", (str, int), where))
                question = _field(qa, "question", str, where)
                if not question.strip():
                    raise GoldFormatError(f"{where}: 'question' is empty")
                if qid in seen:
                    raise GoldFormatError(f"{where}: duplicate id {qid!r}")
                seen.add(qid)
                answers = []
                if not qa.get("is_impossible"):
                    given = _field(qa, "answers", list, where)
                    answers = [
                        _field(a, "text", str, f"{where}.answers[{i}]") for i, a in enumerate(given)
                    ]
                    answers = list(dict.fromkeys(a for a in answers if a.strip()))
                    if not answers:
                        raise GoldFormatError(
                            f"{where}: no answer text, and not marked 'is_impossible'"
                        )
                # No ``source``: as SQuAD's open-retrieval use counts it, an answer string in
                # the quote is right whichever paragraph holds it; the paragraph is kept.
                items.append(
                    GoldItem(
                        qid,
                        question,
                        tuple(answers),
                        None,
                        "answerable" if answers else "unanswerable",
                        {"paragraph": source},
                    )
                )
    if not items:
        raise GoldFormatError(f"{path}: no questions in the file")
    return GoldSet(tuple(items), path, "squad", tuple(corpus))


def load_gold(path: Path | str) -> GoldSet:
    """Load a gold set, telling JSON Lines from SQuAD JSON by content.

    Raises:
        GoldFormatError: the file is missing or malformed (with line number where known).
    """
    path = Path(path)
    if not path.is_file():
        raise GoldFormatError(f"no gold file at {path}")
    text = _read_text(path)
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            first = text.lstrip().split("\n", 1)[0]
            if '"data"' in text[:4096] and not _is_json(first):
                # One JSON document, not lines: a SQuAD file that does not parse.
                raise GoldFormatError(
                    f"{path}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})"
                ) from None
        else:
            if isinstance(data, dict) and ("data" in data or "version" in data):
                return _load_squad(path, data)
    return _load_jsonl(path)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def write_squad_corpus(gold: GoldSet, folder: Path | str) -> Path:
    """Write a SQuAD gold set's paragraphs as text files under ``folder``."""
    folder = Path(folder)
    for source, text in gold.corpus:
        p = folder / source
        p.parent.mkdir(parents=True, exist_ok=True)
        if not p.exists() or p.read_text(encoding="utf-8") != text:
            p.write_text(text, encoding="utf-8")
    return folder
