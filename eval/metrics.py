"""Metrics of a batch run, computed from its ``results.jsonl`` lines alone.

Every function here takes plain dicts (a gold line plus its ``response``, Contract 3), so
anyone can re-score a run without Verbatim's index or model. Ranking metrics follow
Contract 3: a passage is relevant when it holds an answer string (case and whitespace
folded) and, where the gold line names a ``source``, comes from that file; ``mrr@10`` and
``ndcg@10`` use the rank of the first relevant passage. These are small pure functions
rather than a ranking library's because the definitions are by first-hit rank over
answer strings, which is not the qrels form those libraries take.

A run also records each question's ``quote_score``, the signal the abstain threshold is
compared with (answered iff ``quote_score >= min_score``). From it, one run tells how well
that signal separates the questions, whatever the threshold: ``abstain_auc`` (the chance
that an unanswerable question scores below an answerable one) and the best
``abstain_recall`` at an ``answer_rate`` of at least 0.95, with the threshold that gives it.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from eval.gold import fold

__all__ = [
    "K_VALUES",
    "first_hit_rank",
    "quote_correct",
    "squad_normalize",
    "exact_match",
    "token_f1",
    "percentile",
    "score",
    "score_by",
    "abstain_curve",
    "is_correct",
]

K_VALUES = (1, 3, 5, 10)
#: The answer rate that ``abstain_recall@ar95`` holds to.
ANSWER_RATE_FLOOR = 0.95


def _source_ok(gold_source: str | None, source: str | None) -> bool:
    if not gold_source:
        return True
    if not source:
        return False
    return source == gold_source or source.rsplit("/", 1)[-1] == gold_source


def _holds_answer(text: str | None, answers: Sequence[str]) -> bool:
    if not text:
        return False
    folded = fold(text)
    return any(fold(a) in folded for a in answers)


def first_hit_rank(row: dict[str, Any]) -> int | None:
    """1-based rank of the first passage holding an answer, or None.

    Example:
        >>> first_hit_rank({"answers": ["b c"], "response": {"passages": [
        ...     {"text": "a", "source": "x"}, {"text": "A  B C", "source": "x"}]}})
        2
    """
    answers = row.get("answers") or []
    for rank, p in enumerate(row["response"].get("passages", []), start=1):
        if _holds_answer(p.get("text"), answers) and _source_ok(row.get("source"), p.get("source")):
            return rank
    return None


def quote_correct(row: dict[str, Any]) -> bool:
    """An answer string stands in the quote (and the quote comes from ``source``, if given)."""
    r = row["response"]
    citation = r.get("citation") or {}
    return (
        bool(r.get("answered"))
        and _holds_answer(r.get("quote"), row.get("answers") or [])
        and (_source_ok(row.get("source"), citation.get("source")))
    )


def is_correct(row: dict[str, Any]) -> bool:
    """Right answer for an answerable question; abstaining for an unanswerable one."""
    if row.get("answers"):
        return quote_correct(row)
    return not row["response"].get("answered")


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def squad_normalize(s: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, articles or extra spaces."""
    return " ".join(_ARTICLES.sub(" ", s.lower().translate(_PUNCT)).split())


def exact_match(prediction: str, answers: Iterable[str]) -> float:
    """1.0 when the normalised prediction equals a normalised answer."""
    p = squad_normalize(prediction)
    return float(any(p == squad_normalize(a) for a in answers))


def token_f1(prediction: str, answers: Iterable[str]) -> float:
    """SQuAD token F1 of ``prediction`` against its best-matching answer.

    Example:
        >>> round(token_f1("the cat sat", ["cat sat down"]), 3)
        0.8
    """
    best = 0.0
    pred = squad_normalize(prediction).split()
    for answer in answers:
        gold = squad_normalize(answer).split()
        common = Counter(pred) & Counter(gold)
        same = sum(common.values())
        if not pred or not gold or same == 0:
            continue
        precision, recall = same / len(pred), same / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values``, linear between neighbours; NaN if empty."""
    s = sorted(values)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def score(rows: Sequence[dict[str, Any]], k_values: Sequence[int] = K_VALUES) -> dict[str, Any]:
    """All Contract 3 metrics of ``rows`` (results.jsonl lines).

    Returns:
        ``{metric: value}``; a metric with no question to measure it on is None.
    """
    answerable = [r for r in rows if r.get("answers")]
    unanswerable = [r for r in rows if not r.get("answers")]
    ranks = [first_hit_rank(r) for r in answerable]
    out: dict[str, Any] = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
    }
    for k in k_values:
        out[f"hit@{k}"] = _mean([float(r is not None and r <= k) for r in ranks])
    out["mrr@10"] = _mean([1.0 / r if r is not None and r <= 10 else 0.0 for r in ranks])
    out["ndcg@10"] = _mean(
        [1.0 / math.log2(r + 1) if r is not None and r <= 10 else 0.0 for r in ranks]
    )
    out["quote@1"] = _mean([float(quote_correct(r)) for r in answerable])
    quotes = [(r["response"].get("quote") or "") for r in answerable]
    out["exact_match"] = _mean(
        [exact_match(q, r["answers"]) for q, r in zip(quotes, answerable, strict=True)]
    )
    out["f1"] = _mean([token_f1(q, r["answers"]) for q, r in zip(quotes, answerable, strict=True)])
    out["abstain_recall"] = _mean([float(not r["response"].get("answered")) for r in unanswerable])
    out["answer_rate"] = _mean([float(bool(r["response"].get("answered"))) for r in answerable])
    out.update(abstain_curve(rows))
    # Questions that failed with an error have no timing: left out, not counted as 0 ms.
    latencies = [
        float(r["response"]["timing_ms"]["total"])
        for r in rows
        if "total" in ((r.get("response") or {}).get("timing_ms") or {})
    ]
    out["latency_ms_p50"] = percentile(latencies, 0.5) if latencies else None
    out["latency_ms_p95"] = percentile(latencies, 0.95) if latencies else None
    lengths = [len(r["response"]["quote"]) for r in rows if r["response"].get("quote")]
    out["quote_chars_mean"] = _mean([float(n) for n in lengths])
    return out


def abstain_curve(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """How well ``quote_score`` separates unanswerable questions from answerable ones.

    Returns:
        ``abstain_auc``, ``abstain_recall@ar95`` and ``min_score@ar95`` (the threshold, one
        of the run's scores, that abstains on the most unanswerable questions while
        answering at least ``ANSWER_RATE_FLOOR`` of the answerable ones). None when the run
        lacks either kind of question or does not record quote scores.

    Example:
        >>> rows = [{"answers": ["a"], "quote_score": s} for s in (0.5, 0.6, 0.7)]
        >>> rows += [{"answers": [], "quote_score": s} for s in (0.2, 0.65)]
        >>> {k: round(v, 3) for k, v in abstain_curve(rows).items()}
        {'abstain_auc': 0.667, 'abstain_recall@ar95': 0.5, 'min_score@ar95': 0.5}
    """
    empty = {"abstain_auc": None, "abstain_recall@ar95": None, "min_score@ar95": None}
    if not rows or any("quote_score" not in r for r in rows):
        return empty
    yes = [r["quote_score"] for r in rows if r.get("answers")]
    no = [r["quote_score"] for r in rows if not r.get("answers")]
    known = [s for s in yes + no if s is not None]
    if not yes or not no or not known:
        return empty
    # No quote at all (or an error): never answered, below any threshold.
    floor = min(known) - 1.0
    yes = sorted(floor if s is None else s for s in yes)
    no = [floor if s is None else s for s in no]
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score([1] * len(no) + [0] * len(yes), [-s for s in no + yes]))
    # Answered iff score >= threshold: the highest threshold that still answers enough.
    threshold = yes[len(yes) - math.ceil(ANSWER_RATE_FLOOR * len(yes) - 1e-9)]
    if threshold == floor:  # too many answerable questions got no quote at all
        return {**empty, "abstain_auc": auc}
    below = max((s for s in yes + no if s < threshold), default=floor)
    return {
        "abstain_auc": auc,
        "abstain_recall@ar95": sum(s < threshold for s in no) / len(no),
        "min_score@ar95": _short_threshold(below, threshold),
    }


def _short_threshold(below: float, at: float) -> float:
    """The shortest decimal in ``(below, at]``: it decides every question as ``at`` does.

    Example:
        >>> _short_threshold(0.3412, 0.348351687)
        0.348
    """
    for digits in range(1, 10):
        value = math.floor(at * 10**digits) / 10**digits
        if below < value <= at:
            return value
    return at


def score_by(rows: Sequence[dict[str, Any]], field: str) -> dict[str, dict[str, Any]]:
    """:func:`score` for each value of ``field`` (``kind`` or ``lang``) present in ``rows``."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r.get(field) is not None:
            groups.setdefault(str(r[field]), []).append(r)
    return {key: score(group) for key, group in sorted(groups.items())}
