"""Two runs side by side: ``verbatim eval --compare RUN_A RUN_B``.

Every metric with its delta (B − A), overall and by kind, and the questions that flipped:
right in A and wrong in B (regressions) and back (fixes). "Right" is
:func:`eval.metrics.is_correct`: the quote holds an answer, or an unanswerable question
was declined.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.gold import GoldFormatError, iter_jsonl
from eval.metrics import is_correct, score, score_by
from eval.report import HEADLINE

__all__ = ["Comparison", "load_run", "compare_runs", "format_comparison"]


@dataclass(frozen=True)
class Comparison:
    a: Path
    b: Path
    metrics_a: dict[str, Any]
    metrics_b: dict[str, Any]
    by_kind_a: dict[str, dict[str, Any]]
    by_kind_b: dict[str, dict[str, Any]]
    regressions: list[dict[str, Any]]
    fixes: list[dict[str, Any]]
    only_a: list[str]
    only_b: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": str(self.a),
            "b": str(self.b),
            "delta": {m: _delta(self.metrics_a.get(m), self.metrics_b.get(m)) for m in HEADLINE},
            "regressions": [r["id"] for r in self.regressions],
            "fixes": [r["id"] for r in self.fixes],
            "only_a": self.only_a,
            "only_b": self.only_b,
        }


def load_run(folder: Path | str) -> list[dict[str, Any]]:
    """The rows of a run's ``results.jsonl``.

    Raises:
        GoldFormatError: no results file, or a malformed line (with its number).
    """
    path = Path(folder) / "results.jsonl"
    if not path.is_file():
        raise GoldFormatError(f"no results.jsonl in {folder}; is it the --out of a run?")
    rows = []
    for n, row in iter_jsonl(path):
        if not (isinstance(row, dict) and "id" in row and isinstance(row.get("response"), dict)):
            raise GoldFormatError(
                f"{path}:{n}: expected a gold line with 'id' and a 'response' object"
            )
        rows.append(row)
    return rows


def _delta(a: Any, b: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return b - a
    return None


def compare_runs(a: Path | str, b: Path | str) -> Comparison:
    """Compare two run folders (metrics are recomputed from their results)."""
    rows_a, rows_b = load_run(a), load_run(b)
    by_id_a = {r["id"]: r for r in rows_a}
    by_id_b = {r["id"]: r for r in rows_b}
    common = [i for i in by_id_a if i in by_id_b]
    regressions = [
        by_id_b[i] for i in common if is_correct(by_id_a[i]) and not is_correct(by_id_b[i])
    ]
    fixes = [by_id_b[i] for i in common if not is_correct(by_id_a[i]) and is_correct(by_id_b[i])]
    return Comparison(
        Path(a),
        Path(b),
        score(rows_a),
        score(rows_b),
        score_by(rows_a, "kind"),
        score_by(rows_b, "kind"),
        regressions,
        fixes,
        [i for i in by_id_a if i not in by_id_b],
        [i for i in by_id_b if i not in by_id_a],
    )


def _num(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.3f}"


def _signed(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:+.1f}" if abs(v) >= 10 else f"{v:+.3f}"


def format_comparison(c: Comparison) -> str:
    """The comparison as plain text."""
    lines = [f"A: {c.a}", f"B: {c.b}", "", f"{'metric':18} {'A':>9} {'B':>9} {'B − A':>9}"]
    for m in HEADLINE:
        va, vb = c.metrics_a.get(m), c.metrics_b.get(m)
        lines.append(f"{m:18} {_num(va):>9} {_num(vb):>9} {_signed(_delta(va, vb)):>9}")
    kinds = sorted(set(c.by_kind_a) | set(c.by_kind_b))
    if kinds:
        lines += ["", f"{'by kind':18} {'quote@1 A':>9} {'B':>9} {'hit@1 A':>9} {'B':>9}"]
        for kind in kinds:
            ka, kb = c.by_kind_a.get(kind, {}), c.by_kind_b.get(kind, {})
            metric = "quote@1" if (ka.get("answerable") or kb.get("answerable")) else None
            qa = ka.get(metric) if metric else ka.get("abstain_recall")
            qb = kb.get(metric) if metric else kb.get("abstain_recall")
            lines.append(
                f"{kind:18} {_num(qa):>9} {_num(qb):>9} {_num(ka.get('hit@1')):>9} "
                f"{_num(kb.get('hit@1')):>9}"
            )
    for title, rows in (
        ("right in A, wrong in B", c.regressions),
        ("wrong in A, right in B", c.fixes),
    ):
        lines += ["", f"{title}: {len(rows)}"]
        for r in rows:
            lines.append(f"  {r['id']}: {r['question']}")
    if c.only_a or c.only_b:
        lines += ["", f"only in A: {len(c.only_a)}, only in B: {len(c.only_b)}"]
    return "\n".join(lines)
