"""Accuracy vs latency of every config at one shape: the trade-off a reader of the card picks a config from.

One panel per suite, in a grid two panels wide: the fp32 original (star), each config numbered (blue dot: passes its gate, red cross:
fails it, grey: scores from the cache, judged in no case of this run), the Pareto front (the points that no
other point beats on both latency and the metric, whichever way the metric is better), and a key of the
numbers under the panel; a panel with nothing to draw says why. matplotlib is imported here only, with its Agg canvas (no display needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_quantbench.extras import needs
from pytest_quantbench.records import Direction, Shape
from pytest_quantbench.results.records import SuiteInfo
from pytest_quantbench.results.rows import ConfigRow, headline_metric
from pytest_quantbench.results.run import Run

COLUMNS = 2  # panels per row of the grid


@dataclass(frozen=True)
class Point:
    latency_ms: float
    value: float
    label: str
    kind: str  # "original", "pass", "nothing" (passes, but the quantizer changed no node), "fail" or "unjudged"


def pareto_front(points: list[Point], direction: Direction = Direction.HIGHER) -> list[Point]:
    """Points no other point beats on both counts (lower latency, a better value), fastest first."""
    sign = 1 if direction is Direction.HIGHER else -1  # compare values as "higher is better"
    front: list[Point] = []
    for p in sorted(points, key=lambda p: (p.latency_ms, -sign * p.value)):
        if not front or sign * p.value > sign * front[-1].value:
            front.append(p)
    return front


def _kind(row: ConfigRow) -> str:
    if row.result is None:
        return "unjudged"
    return "fail" if not row.result.passed else ("nothing" if row.result.quantized_nothing else "pass")


def points(run: Run, suite: SuiteInfo, shape: tuple[int, int | None] | Shape) -> tuple[list[Point], list[str]]:
    """The plotted points of a suite at a shape (originals first) and the key of the config numbers."""
    rows = run.rows(suite.name)
    metric = headline_metric(suite, rows)
    numbers = {c.id: number for number, c in enumerate(suite.configs, 1)}
    originals: dict[str, Point] = {}
    configs, key = [], []
    for row in rows:
        measured = row.metric(metric) if metric else None
        at = next((s for s in row.shapes if s.shape == shape), None)
        if measured is None or at is None or at.quantized.record.latency is None:
            continue
        if at.baseline is not None and at.baseline.record.latency is not None:
            label = "fp32" if len(suite.benchmarked.get("framework_args", [])) < 2 else row.config.baseline_id
            label += f" ({suite.baseline})" if suite.baseline and label == "fp32" else ""
            star = Point(at.baseline.record.latency.mean_ms, measured.original, label, "original")
            originals.setdefault(row.config.baseline_id, star)
        latency, number = at.quantized.record.latency.mean_ms, numbers[row.id]
        configs.append(Point(latency, measured.quantized, str(number), _kind(row)))
        key.append(f"{number}: {row.id}  {row.verdict}  {measured.quantized:.3f}, {latency:.2f} ms")
    return [*originals.values(), *configs], key


def _direction(run: Run, suite: SuiteInfo, metric: str) -> Direction:
    found = (row.metric(metric) for row in run.rows(suite.name))
    return next((m.direction for m in found if m is not None), Direction.HIGHER)


def save_plot(run: Run, path: str | Path, shape: tuple[int, int | None] | Shape | None = None) -> None:
    """Write the PNG; `shape` (batch size, input length) defaults to each suite's first timed shape."""
    with needs("plot", "the accuracy vs latency plot"):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

    suites = run.suites or ()
    columns = min(len(suites), COLUMNS) or 1
    rows = -(-len(suites) // columns) or 1  # a grid, so that many suites stay readable at 100%
    fig = Figure(figsize=(8.5 * columns, 6.5 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False).flatten()
    for ax in axes[len(suites) :]:
        ax.set_axis_off()  # the grid's last row, when the suites do not fill it
    for ax, suite in zip(axes, suites, strict=False):
        shapes = run.shapes(suite.name)
        _panel(ax, run, suite, shape if shape in shapes else (shapes[0] if shapes else None))
    fig.savefig(path, dpi=100)


def nothing_to_draw(shape: tuple[int, int | None] | Shape | None, metric: str | None, pts: list[Point]) -> str | None:
    """Why a panel is empty, or None when it has points: said on the panel, never an empty pair of axes."""
    if shape is None:
        return "not timed in this run"
    if metric is None:
        return "not evaluated in this run"
    if not pts:
        return (
            f"no config has both {metric} and a latency at this shape:\nits scores are neither in this run nor"
            " in the score cache\n(run the accuracy cases once: -m accuracy)"
        )
    return None


def _panel(ax: Any, run: Run, suite: SuiteInfo, shape: tuple[int, int | None] | Shape | None) -> None:
    metric = headline_metric(suite, run.rows(suite.name))
    pts, key = points(run, suite, shape) if shape is not None and metric is not None else ([], [])
    why = nothing_to_draw(shape, metric, [p for p in pts if p.kind != "original"])
    if why is not None or shape is None or metric is None:
        ax.set_title(suite.name)
        ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, wrap=True)
        ax.set_axis_off()
        return
    at = Shape(*shape)
    where = f"batch size {at.batch_size}" + (f", input length {at.input_length}" if at.input_length else "")
    where = where if at.phase is None else f"{at.phase.value}, {at.id}"
    direction = _direction(run, suite, metric)
    ax.set_title(f"{suite.name}: {metric} vs latency ({where})", fontsize=11)
    ax.set_xlabel("latency mean (ms), lower is better")
    ax.set_ylabel(f"{metric}, {direction.value} is better")
    ax.grid(True, alpha=0.3)
    front = pareto_front(pts, direction)
    xs, ys = [p.latency_ms for p in front], [p.value for p in front]
    ax.step(xs, ys, where="post", color="tab:green", linestyle="--", linewidth=1.5, zorder=1)
    ax.scatter(xs, ys, s=380, facecolors="none", edgecolors="tab:green", linewidths=2, label="Pareto front", zorder=2)
    style = {
        "original": {"marker": "*", "s": 260, "color": "black", "label": "original (fp32)"},
        "pass": {"marker": "o", "s": 70, "color": "tab:blue", "label": "int8: passes its gate"},
        "nothing": {"marker": "o", "s": 70, "facecolors": "none", "edgecolors": "tab:blue",
                    "label": "passes, quantized nothing (fp32)"},
        "fail": {"marker": "X", "s": 90, "color": "tab:red", "label": "int8: fails its gate"},
        "unjudged": {"marker": "o", "s": 70, "color": "tab:gray", "label": "int8: cached scores, not judged"},
    }  # fmt: skip
    for kind, kw in style.items():
        chosen = [p for p in pts if p.kind == kind]
        if chosen:
            ax.scatter([p.latency_ms for p in chosen], [p.value for p in chosen], zorder=3, **kw)
    ordered = sorted(pts, key=lambda p: (p.value, p.latency_ms))
    for i, p in enumerate(ordered):  # alternate above/below so that neighbours' numbers do not overlap
        ax.annotate(p.label, (p.latency_ms, p.value), textcoords="offset points", xytext=(6, 6 if i % 2 else -13),
                    fontsize=9, fontweight="bold")  # fmt: skip
    ax.margins(x=0.12, y=0.12)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    ax.text(0.0, -0.12, "\n".join(key), transform=ax.transAxes, va="top", fontsize=8, family="monospace")
