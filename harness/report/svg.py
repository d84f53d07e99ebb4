"""Inline SVG charts for the report: no scripts, no fonts fetched, readable in print (black on white).

Every label is XML-escaped here; the templates insert these strings as they are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH = 720
_STYLE = 'font-family="sans-serif" font-size="12"'


def _svg(height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
            f'height="{height}" role="img" aria-label="{escape(title)}" {_STYLE}><title>{escape(title)}</title>'
            + "".join(body) + "</svg>")


def _scale(low: float, high: float, left: int, right: int) -> tuple[float, float, float]:
    span = (high - low) or 1.0
    return low, span, (right - left) / span


def nice_ticks(low: float, high: float, count: int = 5) -> tuple[float, float, list[float]]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high], about `count`
    intervals; returns the axis range widened to the outer ticks, and the ticks."""
    if not high > low:
        low, high = low - 0.5, low + 0.5
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    ticks = [round(i * step, 12) for i in range(first, last + 1)]
    return ticks[0], ticks[-1], ticks


def tick_label(value: float, ticks: Sequence[float], signed: bool = False) -> str:
    """Enough decimals for the step between ticks, thousands separated, never in e-notation."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
    if step < 1 and round(step * 10 ** decimals, 6) % 1:
        decimals += 1  # 0.25 steps need two places
    text = f"{value:{'+' if signed and value else ''},.{decimals}f}"
    return text.replace("-", "−")


def _anchor(x: float, left: float, right: float) -> str:
    """Labels at the ends of an axis are anchored inwards, so none is cut off by the edge."""
    return "start" if x - left < 24 else "end" if right - x < 24 else "middle"


def forest(rows: Sequence[tuple[str, float, float | None, float | None]], margin: float) -> str:
    """Per-task gap (candidate - baseline) with its 95% CI; a dashed line at -margin, a solid one at 0."""
    left, right, row_h, top = 220, WIDTH - 20, 26, 20
    values = [v for _, g, lo, hi in rows for v in (g, lo, hi) if v is not None] + [-margin, 0.0]
    low, high, ticks = nice_ticks(min(values), max(values))
    origin, _, per = _scale(low, high, left, right)
    x = lambda v: left + (v - origin) * per  # noqa: E731
    height = top + row_h * len(rows) + 40
    body = [f'<line x1="{x(0):.1f}" y1="{top - 8}" x2="{x(0):.1f}" y2="{height - 30}" stroke="#000"/>',
            f'<line x1="{x(-margin):.1f}" y1="{top - 8}" x2="{x(-margin):.1f}" y2="{height - 30}" stroke="#b00" '
            f'stroke-dasharray="5 4"/>',
            f'<text x="{x(-margin):.1f}" y="{top - 10}" text-anchor="middle" fill="#b00">−margin</text>']
    for i, (label, gap, lo, hi) in enumerate(rows):
        y = top + row_h * i + row_h / 2
        body.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
        if lo is not None and hi is not None:
            body.append(f'<line x1="{x(lo):.1f}" y1="{y:.1f}" x2="{x(hi):.1f}" y2="{y:.1f}" stroke="#000" '
                        f'stroke-width="2"/>')
        body.append(f'<rect x="{x(gap) - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="#000"/>')
    axis_y = height - 24
    for tick in ticks:
        body.append(f'<text x="{x(tick):.1f}" y="{axis_y + 14}" text-anchor="{_anchor(x(tick), left, right)}">'
                    f'{tick_label(tick, ticks, signed=True)}</text>')
    body.append(f'<line x1="{left}" y1="{axis_y}" x2="{right}" y2="{axis_y}" stroke="#000"/>')
    return _svg(height, body, "Per-task gap with 95% confidence intervals")


def scatter(points: Sequence[tuple[str, float | None, float]], x_label: str, y_label: str, title: str) -> str:
    """Labelled points; points without an x value are listed under the chart instead."""
    left, right, top, bottom = 70, WIDTH - 30, 20, 260
    placed = [(label, x, y) for label, x, y in points if x is not None]
    missing = [label for label, x, _ in points if x is None]
    xs = [float(p[1]) for p in placed if p[1] is not None] or [0.0]
    _, x_high, x_ticks = nice_ticks(0.0, max(xs) * 1.1 or 1.0, 4)
    x0, _, xper = _scale(0.0, x_high, left, right)
    y0, _, yper = _scale(0.0, 1.0, 0, bottom - top)
    body = [f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#000"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#000"/>',
            f'<text x="{(left + right) / 2:.0f}" y="{bottom + 34}" text-anchor="middle">{escape(x_label)}</text>',
            f'<text x="14" y="{(top + bottom) / 2:.0f}" transform="rotate(-90 14 {(top + bottom) / 2:.0f})" '
            f'text-anchor="middle">{escape(y_label)}</text>']
    y_ticks = nice_ticks(0.0, 1.0)[2]
    for tick in y_ticks:
        y = bottom - (tick - y0) * yper
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick_label(tick, y_ticks)}</text>')
    for tick in x_ticks:
        tx = left + (tick - x0) * xper
        body.append(f'<text x="{tx:.1f}" y="{bottom + 16}" text-anchor="{_anchor(tx, left, right)}">'
                    f'{tick_label(tick, x_ticks)}</text>')
    for label, xv, yv in placed:
        cx, cy = left + (float(xv) - x0) * xper, bottom - (yv - y0) * yper
        body.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="#000"/>'
                    f'<text x="{cx + 8:.1f}" y="{cy - 6:.1f}">{escape(label)}</text>')
    if missing:
        body.append(f'<text x="{left}" y="{bottom + 52}">no cost data: {escape(", ".join(missing))}</text>')
    return _svg(bottom + 60, body, title)


def boxes(series: Sequence[tuple[str, Sequence[float] | None]], unit: str, title: str) -> str:
    """One horizontal box per series from its five-number summary (min, q1, median, q3, max, as the
    analysis layer computed them): whiskers at min/max, box at the quartiles, a bar at the median."""
    left, right, row_h, top = 160, WIDTH - 30, 34, 16
    # Long latencies read in seconds ("20.7 s", not "2.074e+04 ms").
    divisor = 1000.0 if unit == "ms" and max((v for _, vs in series for v in (vs or ())), default=0) >= 10_000 else 1.0
    unit = "s" if divisor > 1 else unit
    series = [(label, [v / divisor for v in vs] if vs else None) for label, vs in series]
    values = [v for _, vs in series for v in (vs or ())] or [0.0, 1.0]
    low, high, ticks = nice_ticks(min(0.0, min(values)), max(values) or 1.0, 4)
    origin, _, per = _scale(low, high, left, right)
    x = lambda v: left + (v - origin) * per  # noqa: E731
    height = top + row_h * len(series) + 36
    body = []
    for i, (label, vs) in enumerate(series):
        y = top + row_h * i + row_h / 2
        body.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
        if not vs:
            continue
        q = list(vs)
        body.append(f'<line x1="{x(q[0]):.1f}" y1="{y:.1f}" x2="{x(q[4]):.1f}" y2="{y:.1f}" stroke="#000"/>'
                    f'<rect x="{x(q[1]):.1f}" y="{y - 9:.1f}" width="{max(1.0, x(q[3]) - x(q[1])):.1f}" height="18" '
                    f'fill="#ddd" stroke="#000"/>'
                    f'<line x1="{x(q[2]):.1f}" y1="{y - 9:.1f}" x2="{x(q[2]):.1f}" y2="{y + 9:.1f}" stroke="#000" '
                    f'stroke-width="3"/>')
    axis_y = height - 24
    body.append(f'<line x1="{left}" y1="{axis_y}" x2="{right}" y2="{axis_y}" stroke="#000"/>')
    for tick in ticks:
        body.append(f'<text x="{x(tick):.1f}" y="{axis_y + 14}" text-anchor="{_anchor(x(tick), left, right)}">'
                    f'{tick_label(tick, ticks)} {escape(unit)}</text>')
    return _svg(height, body, title)


def bars(items: Sequence[tuple[str, float]], unit: str, title: str) -> str:
    """Horizontal bars with their values written at the end."""
    left, right, row_h, top = 220, WIDTH - 90, 24, 10
    high = max((v for _, v in items), default=1.0) or 1.0
    height = top + row_h * max(1, len(items)) + 10
    body = []
    for i, (label, value) in enumerate(items):
        y = top + row_h * i
        length = (right - left) * value / high
        body.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
                    f'<rect x="{left}" y="{y + 3}" width="{length:.1f}" height="16" fill="#555"/>'
                    f'<text x="{left + length + 6:.1f}" y="{y + 15}">{value:,.0f} {escape(unit)}</text>')
    if not items:
        body.append(f'<text x="{left}" y="{top + 15}">none</text>')
    return _svg(height, body, title)
