"""Tiny inline-SVG charts for the report: no plotting library, nothing fetched to view them."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["line_chart", "histogram_chart", "PALETTE"]

PALETTE = ["#2f6feb", "#e5534b", "#2da44e", "#bf8700", "#8250df", "#1b7c83", "#cf222e"]
_W, _H, _L, _R, _T, _B = 560, 300, 48, 150, 16, 40  # size and margins


def _frame(
    x_label: str,
    y_label: str,
    x_ticks: list[tuple[float, str]],
    y_ticks: list[tuple[float, str]],
    body: str,
) -> str:
    pw, ph = _W - _L - _R, _H - _T - _B
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="{_W}" '
        f'height="{_H}" font-family="system-ui, sans-serif" font-size="11">',
        f'<rect x="{_L}" y="{_T}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
    ]
    for fx, label in x_ticks:
        x = _L + fx * pw
        parts.append(
            f'<line x1="{x:.1f}" y1="{_T + ph}" x2="{x:.1f}" y2="{_T + ph + 4}" stroke="#999"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{_T + ph + 16}" text-anchor="middle">{escape(label)}</text>'
        )
    for fy, label in y_ticks:
        y = _T + ph - fy * ph
        parts.append(f'<line x1="{_L}" y1="{y:.1f}" x2="{_L + pw}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{_L - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
    parts.append(
        f'<text x="{_L + pw / 2}" y="{_H - 6}" text-anchor="middle">{escape(x_label)}</text>'
    )
    parts.append(
        f'<text x="12" y="{_T + ph / 2}" text-anchor="middle" '
        f'transform="rotate(-90 12 {_T + ph / 2})">{escape(y_label)}</text>'
    )
    parts.append(body)
    parts.append("</svg>")
    return "".join(parts)


def _legend(names: Sequence[str]) -> str:
    out = []
    for i, name in enumerate(names):
        y = _T + 10 + 16 * i
        color = PALETTE[i % len(PALETTE)]
        out.append(
            f'<rect x="{_W - _R + 12}" y="{y - 8}" width="10" height="10" '
            f'fill="{color}"/><text x="{_W - _R + 28}" y="{y + 1}">{escape(name)}</text>'
        )
    return "".join(out)


def line_chart(
    xs: Sequence[int], series: dict[str, Sequence[float]], *, x_label: str, y_label: str
) -> str:
    """Lines of ``series`` (values 0..1) over integer ``xs``, as an SVG string."""
    pw, ph = _W - _L - _R, _H - _T - _B
    span = max(xs) - min(xs) or 1

    def fx(x: float) -> float:
        return (x - min(xs)) / span

    body = []
    for i, (_name, ys) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        pts = " ".join(
            f"{_L + fx(x) * pw:.1f},{_T + ph - y * ph:.1f}" for x, y in zip(xs, ys, strict=True)
        )
        body.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in zip(xs, ys, strict=True):
            body.append(
                f'<circle cx="{_L + fx(x) * pw:.1f}" cy="{_T + ph - y * ph:.1f}" r="2.5" '
                f'fill="{color}"><title>{escape(_name)} @{x}: {y:.3f}</title></circle>'
            )
    body.append(_legend(list(series)))
    return _frame(
        x_label,
        y_label,
        [(fx(x), str(x)) for x in xs],
        [(t / 4, f"{t / 4:.2f}") for t in range(5)],
        "".join(body),
    )


def histogram_chart(
    groups: dict[str, Sequence[float]],
    *,
    bins: int = 20,
    lo: float = 0.0,
    hi: float = 1.0,
    marker: float | None = None,
    x_label: str = "",
    marker_label: str = "",
) -> str:
    """Overlaid histograms (share of each group per bin), with an optional vertical marker."""
    pw, ph = _W - _L - _R, _H - _T - _B
    width = (hi - lo) / bins
    shares: dict[str, list[float]] = {}
    for name, values in groups.items():
        counts = [0] * bins
        for v in values:
            counts[min(bins - 1, max(0, int((v - lo) / width)))] += 1
        shares[name] = [c / len(values) if values else 0.0 for c in counts]
    top = max((max(s) for s in shares.values() if s), default=1.0) or 1.0
    body = []
    for i, (name, s) in enumerate(shares.items()):
        color = PALETTE[i % len(PALETTE)]
        for b, share in enumerate(s):
            if share:
                h = share / top * ph
                body.append(
                    f'<rect x="{_L + b / bins * pw:.1f}" y="{_T + ph - h:.1f}" '
                    f'width="{pw / bins - 1:.1f}" height="{h:.1f}" fill="{color}" '
                    f'fill-opacity="0.5"><title>{escape(name)} {lo + b * width:.2f}–'
                    f"{lo + (b + 1) * width:.2f}: {share:.1%}</title></rect>"
                )
    if marker is not None:
        x = _L + (marker - lo) / (hi - lo) * pw
        body.append(
            f'<line x1="{x:.1f}" y1="{_T}" x2="{x:.1f}" y2="{_T + ph}" stroke="#000" '
            'stroke-dasharray="4 3"/>'
        )
        body.append(f'<text x="{x + 4:.1f}" y="{_T + 12}">{escape(marker_label)}</text>')
    body.append(_legend(list(groups)))
    ticks = [(t / 5, f"{lo + (hi - lo) * t / 5:.1f}") for t in range(6)]
    return _frame(
        x_label,
        "share of questions",
        ticks,
        [(t / 4, f"{top * t / 4:.0%}") for t in range(5)],
        "".join(body),
    )
