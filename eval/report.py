"""The human side of a run: a printed summary table and a self-contained ``report.html``."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from eval.metrics import ANSWER_RATE_FLOOR, first_hit_rank, is_correct
from eval.plots import histogram_chart, line_chart

__all__ = ["HEADLINE", "format_table", "render_report", "threshold_line"]

#: Metrics shown in summaries, in order.
HEADLINE = (
    "hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10", "quote@1", "exact_match", "f1",
    "abstain_recall", "answer_rate", "abstain_auc", "abstain_recall@ar95",
    "latency_ms_p50", "latency_ms_p95", "quote_chars_mean",
)  # fmt: skip


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"
    return str(value)


def format_table(metrics: dict[str, Any], metrics_names: Sequence[str] = HEADLINE) -> str:
    """A plain-text table: one row for the whole set, one per kind."""
    rows = [("all", metrics["overall"])] + list(metrics.get("by_kind", {}).items())
    width = max(len(name) for name, _ in rows)
    widths = [max(len(m), 6) for m in metrics_names]
    head = f"{'':{width}}  {'n':>4}  " + "  ".join(
        f"{m:>{w}}" for m, w in zip(metrics_names, widths, strict=True)
    )
    lines = [head]
    for name, m in rows:
        cells = "  ".join(
            f"{_fmt(m.get(k)):>{w}}" for k, w in zip(metrics_names, widths, strict=True)
        )
        lines.append(f"{name:{width}}  {m['questions']:>4}  {cells}")
    return "\n".join(lines)


def threshold_line(overall: dict[str, Any]) -> str | None:
    """One sentence on the abstain threshold this run suggests, or None without the figures.

    Example:
        >>> threshold_line({"abstain_auc": 0.8, "abstain_recall@ar95": 0.5,
        ...                 "min_score@ar95": 0.312})
        'Abstain signal: AUC 0.800; --min-score 0.312 would answer at least 0.95 of answerable questions and decline 0.500 of unanswerable ones.'
    """  # noqa: E501
    threshold = overall.get("min_score@ar95")
    if threshold is None or overall.get("abstain_auc") is None:
        return None
    return (
        f"Abstain signal: AUC {overall['abstain_auc']:.3f}; --min-score {threshold} would "
        f"answer at least {ANSWER_RATE_FLOOR} of answerable questions and decline "
        f"{overall['abstain_recall@ar95']:.3f} of unanswerable ones."
    )


def _metrics_html(metrics: dict[str, Any]) -> str:
    rows = [("all", metrics["overall"])] + list(metrics.get("by_kind", {}).items())
    head = "".join(f"<th>{escape(m)}</th>" for m in HEADLINE)
    body = "".join(
        f"<tr><th>{escape(name)}</th><td>{m['questions']}</td>"
        + "".join(f"<td>{_fmt(m.get(k))}</td>" for k in HEADLINE)
        + "</tr>"
        for name, m in rows
    )
    return f'<table class="num"><tr><th></th><th>n</th>{head}</tr>{body}</table>'


def _hit_curve(rows: Sequence[dict[str, Any]], k: int) -> str:
    groups: dict[str, list[dict[str, Any]]] = {"all": [r for r in rows if r.get("answers")]}
    for r in groups["all"]:
        if r.get("kind"):
            groups.setdefault(str(r["kind"]), []).append(r)
    xs = list(range(1, k + 1))
    series = {}
    for name, group in groups.items():
        ranks = [first_hit_rank(r) for r in group]
        if ranks:
            series[name] = [
                sum(1 for x in ranks if x is not None and x <= j) / len(ranks) for j in xs
            ]
    if not series:
        return "<p>No answerable questions.</p>"
    return line_chart(xs, series, x_label="k (passages read)", y_label="hit@k")


def _score_plot(rows: Sequence[dict[str, Any]], threshold: float | None) -> str:
    groups: dict[str, list[float]] = {"answerable": [], "unanswerable": []}
    for r in rows:
        if r.get("quote_score") is not None:
            groups["answerable" if r.get("answers") else "unanswerable"].append(r["quote_score"])
    scores = groups["answerable"] + groups["unanswerable"]
    if not scores:
        return "<p>No quote scores in this run.</p>"
    lo = min(0.0, min(scores))
    hi = max(1.0, max(scores))
    return histogram_chart(
        groups,
        lo=lo,
        hi=hi,
        marker=threshold,
        x_label="quote score (meaning)",
        marker_label=f"abstain below {threshold}" if threshold else "",
    )


def _failures(rows: Sequence[dict[str, Any]]) -> str:
    out = []
    for r in rows:
        if is_correct(r):
            continue
        resp = r["response"]
        cite = resp.get("citation") or {}
        rank = first_hit_rank(r) if r.get("answers") else None
        expected = " | ".join(r["answers"]) if r.get("answers") else "(abstain)"
        given = resp.get("quote") if resp.get("answered") else "(abstained)"
        if resp.get("error"):
            given = f"error: {resp['error']}"
        score = r.get("quote_score")
        out.append(
            "<tr>"
            f"<td>{escape(str(r.get('id')))}</td><td>{escape(str(r.get('kind') or ''))}</td>"
            f"<td>{escape(r['question'])}</td><td>{escape(expected)}</td>"
            f"<td>{escape(given or '')}</td><td>{escape(cite.get('source') or '')}</td>"
            f"<td>{escape(str(r.get('source') or ''))}</td>"
            f"<td>{'—' if rank is None else rank}</td>"
            f"<td>{'—' if score is None else f'{score:.3f}'}</td></tr>"
        )
    if not out:
        return "<p>None: every question was answered right.</p>"
    return (
        "<table><tr><th>id</th><th>kind</th><th>question</th><th>expected</th>"
        "<th>quote given</th><th>quoted from</th><th>expected source</th>"
        "<th>first hit rank</th><th>quote score</th></tr>" + "".join(out) + "</table>"
    )


_STYLE = """
body {font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #1f2328}
table {border-collapse: collapse; margin: 1em 0; font-size: 13px}
th, td {border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top}
table.num td {text-align: right}
.plots {display: flex; flex-wrap: wrap; gap: 2em}
dl {display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 13px}
dt {font-weight: 600} dd {margin: 0}
.scroll {overflow-x: auto}
"""


def render_report(rows: Sequence[dict[str, Any]], metrics: dict[str, Any]) -> str:
    """The whole report as one HTML page with inline SVG: opens offline, anywhere."""
    run = metrics.get("run", {})
    n_fail = sum(not is_correct(r) for r in rows)
    shown = {
        k: ", ".join(f"{name} {value}" for name, value in v.items()) if k == "scoring" else v
        for k, v in run.items()
        if k not in {"splitter"}
    }
    info = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in shown.items())
    k = int(run.get("k", 10))
    line = threshold_line(metrics["overall"])
    suggestion = f"<p>{escape(line)}</p>" if line else ""
    scores = _score_plot(rows, run.get("scoring", {}).get("min_score"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Verbatim evaluation report</title>
<style>{_STYLE}</style></head><body>
<h1>Verbatim evaluation report</h1>
<dl>{info}</dl>
<h2>Figures</h2>
<div class="scroll">{_metrics_html(metrics)}</div>
{suggestion}
<div class="plots">
<figure><figcaption>hit@k: share of answerable questions with an answer in the top k
passages</figcaption>{_hit_curve(rows, k)}</figure>
<figure><figcaption>Quote score, answerable vs unanswerable questions: what the abstain
threshold separates (answered at or above it)</figcaption>{scores}</figure>
</div>
<h2>Failures ({n_fail} of {len(rows)})</h2>
<p>Answerable questions whose quote holds no expected answer, and unanswerable questions that
were answered.</p>
{_failures(rows)}
</body></html>
"""
