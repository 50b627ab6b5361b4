"""Question/passage examples for the reader, from SQuAD 1.1 train and the SQuAD 2.0 dev part.

The reader reads a question with a passage as the answer path shows it one: the whole
sentences of one index chunk (the paragraph is cut by the index's own splitter, and its
sentences by :func:`retriever.sentences.sentence_spans`, as at question time). Each
question gives

- a *positive*: a chunk holding the sentence with the answer, the answer's place in it;
- a *negative* (for ``--negatives`` of the questions): a chunk that does not hold the
  answer text, half the time from the same paragraph (on the topic, not answering), else
  the chunk of another paragraph of the article that shares most words with the question
  (what a search would retrieve). Its target is "no answer".

An unanswerable SQuAD 2.0 question (written to look answerable) gives each chunk of its
paragraph as a negative. There are few of them (about 1,400 in the training articles), and
a reader trained on little else cannot tell them (``python -m eval.abstain``), so ``--swaps``
of the answerable questions also give a *swapped* one, unanswerable the way SQuAD 2.0's
entity swaps are: one name or figure that the question and its passage share is replaced by
another of the same kind from elsewhere in the article, which the passage never mentions
("When did Beyoncé leave Destiny's Child?" asked of a passage on Beyoncé becomes "When did
Kelly Rowland leave Destiny's Child?"). Its target is "no answer", in the answering passage.
The SQuAD 2.0 dev part's answerable questions are left out: they
are XQuAD's questions (``eval.unseen``), and its four :data:`CALIBRATION_ARTICLES` are held
apart for the abstain model and the reader's figures.

Never built from ``../shared/bench/``: that is where the reader is measured.

``python -m eval.train.data --out runs/train/windows`` writes ``train.jsonl`` and
``calibrate.jsonl`` (the held-apart articles: every question, positives and negatives),
seeded and reproducible.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eval.gold import fold
from ingest.split import split_spans
from retriever.lexical import tokenize
from retriever.sentences import sentence_spans

__all__ = ["CALIBRATION_ARTICLES", "Example", "TRAIN", "examples", "chunk_windows"]

TRAIN = Path(__file__).resolve().parents[2].parent / "shared" / "train"
#: SQuAD 2.0 dev-part articles held apart from training, to tune the reader's weight in
#: the quote and measure the reader (chosen before any run, alphabetically every third article).
CALIBRATION_ARTICLES = ("1973_oil_crisis", "Ctenophora", "Geology", "Warsaw")


@dataclass(frozen=True)
class Example:
    """A question, a passage's sentences, and where the answer stands in them.

    ``answer`` is ``(sentence, start, end)`` with character offsets in that sentence, or
    None when the passage does not answer; ``answerable`` says whether the question has an
    answer in the article at all.
    """

    id: str
    article: str
    question: str
    sentences: tuple[str, ...]
    answer: tuple[int, int, int] | None
    answerable: bool

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Example:
        d = json.loads(line)
        d["sentences"] = tuple(d["sentences"])
        d["answer"] = tuple(d["answer"]) if d["answer"] is not None else None
        return cls(**d)


#: A name (a run of capitalised words) or a figure: what a swap replaces.
NAMED = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*|\b\d[\d,.]*\d\b|\b\d\b")


def _kind(span: str) -> str:
    return "figure" if span[0].isdigit() else "name"


def swapped(question: str, passage: str, pool: list[str], rng: random.Random) -> str | None:
    """``question`` with one name or figure that ``passage`` also holds (never its first
    word) replaced by one of the same kind from ``pool`` that ``passage`` does not mention;
    None when there is none to swap.

    Example:
        >>> swapped("When did Ann leave Bob?", "Ann left Bob in 1990.", ["Eve", "Ann"],
        ...         random.Random(0))
        'When did Eve leave Bob?'
    """
    shared = [m for m in NAMED.finditer(question) if m.start() > 0 and m.group(0) in passage]
    rng.shuffle(shared)
    folded = fold(passage)
    for m in shared:
        others = [p for p in pool if _kind(p) == _kind(m.group(0)) and fold(p) not in folded]
        if others:
            return question[: m.start()] + rng.choice(others) + question[m.end() :]
    return None


def chunk_windows(text: str) -> list[list[tuple[int, int]]]:
    """The sentences (document offsets) of each chunk of ``text``: those lying mostly
    inside it, as the quote chooser takes them."""
    sentences = [(s.start, s.end) for s in sentence_spans(text, "en")]
    windows = []
    for lo, hi in split_spans(text, [(0, len(text))]):
        inside = [(a, b) for a, b in sentences if 2 * (min(b, hi) - max(a, lo)) >= b - a]
        if inside and inside not in windows:
            windows.append(inside)
    return windows


def _positive(
    window: list[tuple[int, int]], lo: int, hi: int
) -> tuple[int, int, int] | None:
    for n, (a, b) in enumerate(window):
        if a <= lo and hi <= b:
            return n, lo - a, hi - a
    return None


def _example(qa: dict[str, Any], article: str, text: str, window, answer, answerable) -> Example:  # type: ignore[no-untyped-def]
    return Example(
        str(qa["id"]), article, qa["question"], tuple(text[a:b] for a, b in window),
        answer, answerable,
    )  # fmt: skip


def _article_examples(
    article: dict[str, Any],
    rng: random.Random,
    negatives: float,
    unanswerable_only: bool,
    swaps: float = 0.0,
) -> Iterator[Example]:
    title = article["title"]
    paras = [(p, p["context"], chunk_windows(p["context"])) for p in article["paragraphs"]]
    flat = [(n, w) for n, p in enumerate(paras) for w in p[2]]
    pool = sorted({m.group(0) for _, text, _ in paras for m in NAMED.finditer(text)})
    words = [set(tokenize(paras[n][1][w[0][0] : w[-1][1]], "en")) for n, w in flat]
    for n, (para, text, windows) in enumerate(paras):
        for qa in para["qas"]:
            answers = qa.get("answers") or []
            q_words = set(tokenize(qa["question"], "en"))
            if not answers:  # SQuAD 2.0: written to look answerable; nothing here answers
                for w in windows:
                    yield _example(qa, title, text, w, None, False)
                continue
            if unanswerable_only:
                continue
            a = answers[0]
            lo, hi = a["answer_start"], a["answer_start"] + len(a["text"])
            holding = [(w, p) for w in windows if (p := _positive(w, lo, hi)) is not None]
            if not holding:
                continue  # the answer straddles sentences: no single sentence holds it
            window, where = rng.choice(holding)
            yield _example(qa, title, text, window, where, True)
            if swaps and rng.random() < swaps:
                passage = text[window[0][0] : window[-1][1]]
                question = swapped(qa["question"], passage, pool, rng)
                if question is not None:
                    swap = {"id": f"{qa['id']}-swap", "question": question}
                    yield _example(swap, title, text, window, None, False)
            if rng.random() >= negatives:
                continue
            folded = {fold(x["text"]) for x in answers}

            def clean(w: list[tuple[int, int]], t: str) -> bool:
                return not any(f in fold(t[w[0][0] : w[-1][1]]) for f in folded)

            same = [w for w in windows if clean(w, text)]
            if same and rng.random() < 0.5:
                yield _example(qa, title, text, rng.choice(same), None, True)
                continue
            others = [
                (len(q_words & words[i]), rng.random(), m, w)
                for i, (m, w) in enumerate(flat)
                if m != n and clean(w, paras[m][1])
            ]
            if others:
                _, _, m, w = max(others)
                yield _example(qa, title, paras[m][1], w, None, True)


def examples(
    path: Path,
    rng: random.Random,
    negatives: float = 0.6,
    articles: set[str] | None = None,
    unanswerable_only: bool = False,
    swaps: float = 0.0,
) -> Iterator[Example]:
    """The examples of a SQuAD JSON(.gz) file, article by article (only ``articles`` if
    given; only unanswerable questions if ``unanswerable_only``; a swapped question for
    ``swaps`` of the answerable ones)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    for article in data:
        if articles is None or article["title"] in articles:
            yield from _article_examples(article, rng, negatives, unanswerable_only, swaps)


def _write(path: Path, rows: list[Example]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(e.to_json() + "\n" for e in rows)
    pos = sum(e.answer is not None for e in rows)
    print(f"{path.name}: {len(rows)} passages, {pos} answering, "
          f"{len({e.id for e in rows})} questions", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/train/windows", help="output folder")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--negatives", type=float, default=0.6,
        help="share of questions also given a passage that does not answer",
    )  # fmt: skip
    parser.add_argument(
        "--swaps", type=float, default=0.0,
        help="share of answerable questions also asked with a name or figure swapped "
        "(unanswerable; 0: none, as the shipped reader was trained)",
    )  # fmt: skip
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    train = list(examples(TRAIN / "squad1.1-train.json.gz", rng, args.negatives, swaps=args.swaps))
    dev = TRAIN / "squad2.0-dev-part.json.gz"
    held = set(CALIBRATION_ARTICLES)
    titles = {a["title"] for a in json.load(gzip.open(dev, "rt", encoding="utf-8"))["data"]}
    train += examples(dev, rng, args.negatives, titles - held, unanswerable_only=True)
    rng.shuffle(train)
    _write(out / "train.jsonl", train)
    _write(out / "calibrate.jsonl", list(examples(dev, rng, 1.0, held)))


if __name__ == "__main__":
    main()
