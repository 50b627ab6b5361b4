"""Question/sentence pairs for the reader, from SQuAD 1.1 train and the SQuAD 2.0 dev part.

Each question becomes a *group*: the sentence of its paragraph that holds the answer
(label 1) and hard negatives (label 0): the other sentences of the paragraph that share
the most words with the question, and the closest sentences of the article's other
paragraphs (what a search would retrieve). An unanswerable SQuAD 2.0 question's group
holds only negatives: the sentences of its paragraph closest to it, which look like an
answer and are not one. Sentences are cut by :func:`retriever.sentences.sentence_spans`,
as at question time, and each carries a little context: the sentence before it.

Never built from ``../shared/bench/``: that is where the reader is measured.

``python -m eval.train.data --out runs/train/pairs`` writes ``train.jsonl`` (SQuAD 1.1
questions, and SQuAD 2.0 dev-part articles of the training split) and ``calibrate.jsonl``
(the held-apart SQuAD 2.0 articles), seeded and reproducible.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from retriever.lexical import tokenize
from retriever.sentences import sentence_spans

__all__ = ["Candidate", "Group", "groups", "CALIBRATION_ARTICLES"]

TRAIN = Path(__file__).resolve().parents[2].parent / "shared" / "train"
#: SQuAD 2.0 dev-part articles held apart from training, to calibrate the abstain decision
#: and measure the reader (chosen before any run, alphabetically every third article).
CALIBRATION_ARTICLES = ("1973_oil_crisis", "Ctenophora", "Geology", "Warsaw")
#: Longest context kept before a sentence, in characters.
CONTEXT_CHARS = 200


@dataclass(frozen=True)
class Candidate:
    """A sentence to read with the question, the sentence before it, and its label."""

    text: str
    context: str
    label: int


@dataclass(frozen=True)
class Group:
    """One question and its candidate sentences (at most one positive)."""

    id: str
    article: str
    question: str
    candidates: tuple[Candidate, ...]
    answerable: bool

    def to_json(self) -> str:
        d = asdict(self)
        d["candidates"] = [asdict(c) for c in self.candidates]
        return json.dumps(d, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Group:
        d = json.loads(line)
        d["candidates"] = tuple(Candidate(**c) for c in d["candidates"])
        return cls(**d)


def _sentences(context: str) -> list[tuple[int, int, str, str]]:
    """``(start, end, text, the sentence before it)`` for each sentence of a paragraph."""
    spans = sentence_spans(context, "en")
    out = []
    for n, s in enumerate(spans):
        before = context[spans[n - 1].start : spans[n - 1].end] if n else ""
        out.append((s.start, s.end, context[s.start : s.end], before[-CONTEXT_CHARS:]))
    return out


def _overlap(question: set[str], text: str) -> float:
    words = set(tokenize(text, "en"))
    return len(question & words) / (len(question) or 1)


def _article_groups(
    article: dict[str, Any], rng: random.Random, negatives: int, far: int
) -> Iterator[Group]:
    paragraphs = [(p, _sentences(p["context"])) for p in article["paragraphs"]]
    for n, (para, sents) in enumerate(paragraphs):
        for qa in para["qas"]:
            q_words = set(tokenize(qa["question"], "en"))
            answers = qa.get("answers") or []
            positive = None
            if answers:
                a = answers[0]
                lo, hi = a["answer_start"], a["answer_start"] + len(a["text"])
                holding = [i for i, (s, e, *_) in enumerate(sents) if s <= lo and hi <= e]
                if not holding:
                    continue  # the answer straddles sentences: no single sentence holds it
                positive = holding[0]
            near = sorted(
                (i for i in range(len(sents)) if i != positive),
                key=lambda i: (-_overlap(q_words, sents[i][2]), rng.random()),
            )[: negatives if positive is not None else negatives + 1]
            others = [p for m, p in enumerate(paragraphs) if m != n and p[1]]
            rng.shuffle(others)
            far_sents = [s for _, ss in others[: 4 * far] for s in ss]
            far_best = sorted(far_sents, key=lambda s: -_overlap(q_words, s[2]))[:far]
            cands = []
            if positive is not None:
                cands.append(Candidate(sents[positive][2], sents[positive][3], 1))
            cands += [Candidate(sents[i][2], sents[i][3], 0) for i in near]
            cands += [Candidate(s[2], s[3], 0) for s in far_best]
            if len(cands) < 2:
                continue
            yield Group(
                str(qa["id"]), article["title"], qa["question"], tuple(cands), bool(answers)
            )


def groups(
    path: Path,
    rng: random.Random,
    negatives: int = 3,
    far: int = 2,
    articles: set[str] | None = None,
) -> Iterator[Group]:
    """The groups of a SQuAD JSON(.gz) file, article by article (only ``articles`` if given)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        data = json.load(f)["data"]
    for article in data:
        if articles is None or article["title"] in articles:
            yield from _article_groups(article, rng, negatives, far)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/train/pairs", help="output folder")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--squad1-questions", type=int, default=30_000, help="SQuAD 1.1 train questions to keep"
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    squad1 = list(groups(TRAIN / "squad1.1-train.json.gz", rng))
    rng.shuffle(squad1)
    squad1 = squad1[: args.squad1_questions]
    dev = TRAIN / "squad2.0-dev-part.json.gz"
    dev_train = list(groups(dev, rng, articles=None))
    kept = [g for g in dev_train if g.article not in CALIBRATION_ARTICLES]
    held = [g for g in dev_train if g.article in CALIBRATION_ARTICLES]
    train = squad1 + kept
    rng.shuffle(train)
    for name, rows in (("train", train), ("calibrate", held)):
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(g.to_json() + "\n" for g in rows)
        pos = sum(c.label for g in rows for c in g.candidates)
        print(f"{name}: {len(rows)} questions, {sum(len(g.candidates) for g in rows)} pairs, "
              f"{pos} positives, {sum(not g.answerable for g in rows)} unanswerable")  # fmt: skip


if __name__ == "__main__":
    main()
