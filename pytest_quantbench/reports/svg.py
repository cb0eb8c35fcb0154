"""The HTML report's charts as inline SVG (no script, no network): quality change against speed-up with both
intervals as whiskers and the Pareto front, an op profile as paired bars, and a sparkline for history.

Every function takes plain numbers and labels and returns one `<svg>` element; text is escaped here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from pytest_quantbench.reports.plot import Point, pareto_front

WIDTH, HEIGHT = 720, 380
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 20, 50  # margins around the plotting area
LABELLED_POINTS = 30  # more points than this are numbered only in their tooltips


@dataclass(frozen=True)
class ChartPoint:
    """One config: its speed-up and quality change (up is better, whichever way the metric is), each with the
    interval around it (None: not known), and the CSS class of its verdict."""

    label: str
    title: str  # the tooltip: config id, verdict, values
    speedup: float
    speedup_interval: tuple[float, float] | None
    change: float
    change_interval: tuple[float, float] | None
    kind: str


@dataclass(frozen=True)
class Scale:
    low: float
    high: float
    start: float  # pixels
    end: float

    def __call__(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return self.start + (value - self.low) / span * (self.end - self.start)


def _extent(values: list[float], include: float) -> tuple[float, float]:
    """A padded range holding every value and `include` (the no-change line)."""
    low, high = min([*values, include]), max([*values, include])
    pad = (high - low) * 0.08 or abs(high) * 0.1 or 0.1
    return low - pad, high + pad


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values inside [low, high]."""
    raw = (high - low) / count or 1.0
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if raw <= step * m)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step) + 1)]


def _axes(x: Scale, y: Scale, x_label: str, y_label: str) -> list[str]:
    parts = [
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" class="frame"/>'
    ]
    for value in ticks(x.low, x.high):
        px = x(value)
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" class="grid"/>')
        parts.append(
            f'<text x="{px:.1f}" y="{HEIGHT - BOTTOM + 16}" class="tick" text-anchor="middle">{value:g}</text>'
        )
    for value in ticks(y.low, y.high):
        py = y(value)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py:.1f}" y2="{py:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{py + 4:.1f}" class="tick" text-anchor="end">{value:g}</text>')
    parts.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 10}" class="axis" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    parts.append(
        f'<text transform="translate(16 {(TOP + HEIGHT - BOTTOM) / 2}) rotate(-90)" class="axis" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    return parts


def tradeoff_chart(points: list[ChartPoint], x_label: str, y_label: str, chart_id: str) -> str:
    """Quality change (y, up is better) against speed-up (x, right is better), whiskers for both intervals,
    the no-change lines (speed-up 1, change 0) and the Pareto front ringed and joined."""
    xs = [v for p in points for v in (p.speedup, *(p.speedup_interval or ()))]
    ys = [v for p in points for v in (p.change, *(p.change_interval or ()))]
    x = Scale(*_extent(xs or [1.0], 1.0), LEFT, WIDTH - RIGHT)
    y = Scale(*_extent(ys or [0.0], 0.0), HEIGHT - BOTTOM, TOP)
    parts = _axes(x, y, x_label, y_label)
    parts.append(f'<line x1="{x(1.0):.1f}" x2="{x(1.0):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" class="even"/>')
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0.0):.1f}" y2="{y(0.0):.1f}" class="even"/>')
    front = pareto_front([Point(-p.speedup, p.change, p.label, p.kind) for p in points])
    line = " ".join(f"{x(-f.latency_ms):.1f},{y(f.value):.1f}" for f in front)
    parts.append(f'<polyline points="{line}" class="front"/>')
    on_front = {(f.label, -f.latency_ms, f.value) for f in front}
    for p in points:
        parts += _point(p, x, y, (p.label, p.speedup, p.change) in on_front, len(points) <= LABELLED_POINTS)
    body = "\n".join(parts)
    return (
        f'<svg id="{escape(chart_id)}" class="chart{" many" if len(points) > LABELLED_POINTS else ""}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(y_label)} against {escape(x_label)}" xmlns="http://www.w3.org/2000/svg">\n{body}\n</svg>'
    )


def _point(p: ChartPoint, x: Scale, y: Scale, on_front: bool, labelled: bool) -> list[str]:
    px, py = x(p.speedup), y(p.change)
    parts = [f'<g class="pt {escape(p.kind)}"><title>{escape(p.title)}</title>']
    if p.speedup_interval:
        low, high = (x(v) for v in p.speedup_interval)
        parts.append(f'<line x1="{low:.1f}" x2="{high:.1f}" y1="{py:.1f}" y2="{py:.1f}" class="whisker"/>')
    if p.change_interval:
        low, high = (y(v) for v in p.change_interval)
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{low:.1f}" y2="{high:.1f}" class="whisker"/>')
    if on_front:
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="9" class="ring"/>')
    parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" class="dot"/>')
    if labelled:
        parts.append(f'<text x="{px + 8:.1f}" y="{py - 7:.1f}" class="label">{escape(p.label)}</text>')
    return [*parts, "</g>"]


def op_bars(ops: list[tuple[str, float, float]]) -> str:
    """Time per call by op type, original (grey) above quantized (blue), longest first; (op, fp32, int8) ms."""
    row, width = 34, 620
    left = 12 + 7 * max((len(op) for op, _, _ in ops), default=4)  # room for the longest op name
    top = max((max(a, b) for _, a, b in ops), default=1.0) or 1.0
    parts = []
    for i, (op, original, quantized) in enumerate(ops):
        y0 = 6 + i * row
        parts.append(f'<text x="{left - 6}" y="{y0 + 18}" class="tick" text-anchor="end">{escape(op)}</text>')
        for j, (value, css) in enumerate(((original, "fp32"), (quantized, "int8"))):
            w = max(value / top * (width - left - 80), 1.0)  # 80: room for the value after the bar
            parts.append(f'<rect x="{left}" y="{y0 + j * 13}" width="{w:.1f}" height="11" class="bar {css}"/>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{y0 + j * 13 + 10}" class="tick">{value:.2f} ms</text>')
    height = 12 + len(ops) * row
    return (
        f'<svg class="bars" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="time per call by op type" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def sparkline(values: list[float | None], label: str) -> str:
    """A small trend of one value across runs (oldest first); None leaves a gap (not comparable, not measured)."""
    width, height, pad = 120, 26, 3
    known = [v for v in values if v is not None]
    if not known:
        return ""
    x = Scale(0, max(len(values) - 1, 1), pad, width - pad)
    y = Scale(*(_extent(known, known[0])), height - pad, pad)
    segments: list[list[str]] = []
    current: list[str] = []
    for i, v in enumerate(values):
        if v is None:
            segments, current = [*segments, current] if current else segments, []
        else:
            current.append(f"{x(i):.1f},{y(v):.1f}")
    segments += [current] if current else []
    lines = "".join(f'<polyline points="{" ".join(s)}" class="trend"/>' for s in segments)
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2" class="trend-dot"/>'
        for i, v in enumerate(values)
        if v is not None
    )
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">{lines}{dots}</svg>'
    )
