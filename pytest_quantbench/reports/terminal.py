"""The end-of-run console summary, from the run's report rows (`results.rows`).

By default one line per config that fits the terminal (at most `MAX_WIDTH` columns): suite, config, the
headline metric's change with its interval, the speed-up range and the verdict. Long suite names and config
ids are shortened around a marked middle (`shorten`); a terminal too narrow for that loses the intervals
first (`LAYOUTS`). `-v` gives the detail: every metric, the flips, the size and memory ratios and why a
config is not faster.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from pytest_quantbench.records import Direction, MetricResult
from pytest_quantbench.reports.shorten import shorten
from pytest_quantbench.reports.table import table
from pytest_quantbench.results.rows import ConfigRow, headline_metric
from pytest_quantbench.results.run import Run

MAX_WIDTH = 120
GAP = 2  # `table` puts two spaces between columns


def summary_lines(run: Run, width: int = MAX_WIDTH, verbose: bool = False) -> list[str]:
    """The summary: one line per config within `width` (at most `MAX_WIDTH`), or with `verbose` the detail."""
    return detail_lines(run) if verbose else compact_lines(run, min(width, MAX_WIDTH))


# --- the compact summary ----------------------------------------------------------------------------------


def change_interval(m: MetricResult) -> tuple[float, float] | None:
    """The interval of `quantized - original` at the paired statistics' confidence: they bound how much worse
    the quantized model is, which is the change for a lower-is-better metric and its negative otherwise."""
    if m.paired is None:
        return None
    low, high = m.paired.ci_low, m.paired.ci_high
    return (low, high) if m.direction is Direction.LOWER else (0.0 - high, 0.0 - low)  # 0.0 -: no "-0.000"


def headline_change(m: MetricResult | None, intervals: bool = True, name: bool = True) -> str:
    """`accuracy -0.020 [-0.035, -0.005]`: the change with its interval."""
    if m is None:
        return "not evaluated"
    text = (f"{m.name} " if name else "") + f"{m.quantized - m.original:+.3f}"
    interval = change_interval(m) if intervals else None
    return text + (f" [{interval[0]:+.3f}, {interval[1]:+.3f}]" if interval else "")


def speed_cell(row: ConfigRow) -> str:
    """The speed-up range over the timed shapes (the baseline it is against is said under the table); a
    decoder's by phase: `prefill x1.02 decode x1.48 generate x1.40`."""
    values = row.speedups
    if not values:
        return "not timed"
    phases = row.phase_speedups
    if phases:
        text = " ".join(f"{phase.value} {_figures(found)}" for phase, found in phases.items())
    else:
        text = _figures(values)
    return text + (" SLOWER" if row.slower else "")


def _figures(values: list[float]) -> str:
    low, high = f"x{min(values):.2f}", f"x{max(values):.2f}"
    return low if low == high else f"{low}..{high}"  # one figure when the shapes agree to what is shown


def _baselines(run: Run) -> list[str]:
    """What the speed-ups are against: one fp32 backend for the run, else each config's own framework's fp32
    and, per suite, the other backends some of its configs were timed against (a suite's `baseline:`); nothing
    when nothing was timed."""
    one = run.speedup_baseline()
    if one is not None:
        return [f"speed-up vs {one} fp32."]
    if not any(row.speedups for suite in run.suites for row in run.rows(suite.name)):
        return []
    foreign = {
        suite.name: sorted({r.baseline for r in run.rows(suite.name) if r.baseline and r.baseline != r.framework})
        for suite in run.suites
    }
    named = [f"{suite}: vs {' or '.join(b)} fp32" for suite, b in foreign.items() if b]
    return ["speed-up vs each config's own framework's fp32" + (f" ({'; '.join(named)})." if named else ".")]


PRECISE_SPEEDUP = 0.03  # a speed-up whose 95% interval is within ±3% of it tells x2.00 from x2.10


def precision_note(run: Run) -> list[str]:
    """How precise the run's speed-ups are: the share of timed shapes whose 95% interval is within ±3%, and the
    median half-width (a noisy machine widens them; a wide one says to time longer, `time: max_time_s`)."""
    spreads = sorted(
        record.speedup_ci95_rel
        for suite in run.suites
        for row in run.rows(suite.name)
        for shape in row.shapes
        for record in [shape.quantized.record]
        if record.speedup is not None and record.speedup_ci95_rel is not None
    )
    if not spreads:
        return []
    within = sum(s <= PRECISE_SPEEDUP for s in spreads)
    median = spreads[len(spreads) // 2]
    return [
        f"Speed-ups within ±{PRECISE_SPEEDUP:.0%}: {within} of {len(spreads)} ({within / len(spreads):.0%}),"
        f" median ±{median:.1%}."
    ]


@dataclass(frozen=True)
class Layout:
    """How a compact line gives up width: the intervals, then the metric's name, then which column shrinks to
    what, in order (0 the suite, 1 the config: the narrowest width each gets)."""

    intervals: bool
    names: bool
    floors: tuple[tuple[int, int], ...]


LAYOUTS = (  # the first that fits the terminal is used, else the last: ids stay readable before intervals do
    Layout(True, True, ((1, 20), (0, 14))),
    Layout(False, True, ((1, 20), (0, 14), (1, 12), (0, 12))),
    Layout(False, False, ((1, 20), (0, 14), (1, 12), (0, 10), (1, 8), (0, 8))),
)


def compact_lines(run: Run, width: int) -> list[str]:
    cells = [
        (suite.name, row, row.metric(metric) if metric else None)
        for suite in run.suites
        for metric in [headline_metric(suite, run.rows(suite.name))]
        for row in run.rows(suite.name)
    ]
    if not cells:
        return []
    lines: list[str] = []
    for layout in LAYOUTS:
        lines = _compact_table(cells, layout, width)
        if max(map(len, lines)) <= width:
            break
    notes = [
        *_baselines(run),
        *precision_note(run),
        "Every metric, flips, size, memory and speed causes: -v, or the card.",
    ]
    return [*lines, *textwrap.wrap(" ".join(notes), width)]


def _compact_table(cells: list[tuple[str, ConfigRow, MetricResult | None]], layout: Layout, width: int) -> list[str]:
    confidences = {m.paired.confidence for *_, m in cells if m is not None and m.paired is not None}
    level = f" [{100 * next(iter(confidences)):g}% CI]" if len(confidences) == 1 else " [CI]"
    change = "change" + (level if confidences and layout.intervals else "")
    header = ["suite", "config", change, "speed-up", "verdict"]
    body = [
        [suite, row.id, headline_change(m, layout.intervals, layout.names) + (" (cached)" if row.cached and m else ""),
         speed_cell(row), row.verdict]
        for suite, row, m in cells
    ]  # fmt: skip
    return table(header, _fit(header, body, width, layout.floors))


def _fit(header: list[str], body: list[list[str]], width: int, floors: tuple[tuple[int, int], ...]) -> list[list[str]]:
    """The rows with suite names and config ids shortened (`shorten.shorten`) so that a line fits `width`,
    the columns giving up width in the order of `floors`."""
    widths = [max(len(c) for c in column) for column in zip(header, *body, strict=True)]
    excess = sum(widths) + GAP * (len(widths) - 1) - width
    for column, floor in floors:
        give = max(0, min(excess, widths[column] - floor))
        widths[column] -= give
        excess -= give
    suites = shorten([row[0] for row in body], widths[0])
    configs = {suite: shorten([c for s, c, *_ in body if s == suite], widths[1]) for suite in suites}
    return [[suites[suite], configs[suite][config], *rest] for suite, config, *rest in body]


# --- the detail (-v) ------------------------------------------------------------------------------------


def speedup_range(values: list[float], slower: bool = False) -> str:
    """The speed-up over every timed shape: `x1.20`, or `x0.80..x1.20 (4 shapes)`; SLOWER when some shape's
    int8 model is slower than fp32 beyond its interval."""
    if not values:
        return "not timed"
    low, high = min(values), max(values)
    text = f"x{low:.2f}" if len(values) == 1 else f"x{low:.2f}..x{high:.2f} ({len(values)} shapes)"
    return text + (" SLOWER" if slower else "")


def _change(m: MetricResult, flips: bool = True) -> str:
    text = f"{m.name} {m.original:.3f}->{m.quantized:.3f} ({m.quantized - m.original:+.3f})"
    if m.paired is None:
        return text
    p = m.paired
    counted = f", flips {p.flips_to_wrong}/{p.flips_to_right}" if flips and p.flipped else ""
    return text + f" [drop CI{100 * p.confidence:g} {p.ci_low:+.3f}..{p.ci_high:+.3f}{counted}]"


def _changes(metrics: list[MetricResult]) -> str:
    """Every metric's change; the flips once at the end when every metric counts the same samples flipping
    (they do when correctness is per sample), instead of once a metric."""
    flips = {(m.paired.flips_to_wrong, m.paired.flips_to_right) for m in metrics if m.paired is not None}
    if len(metrics) < 2 or len(flips) != 1 or any(m.paired is None for m in metrics):
        return ", ".join(_change(m) for m in metrics)
    ((wrong, right),) = flips
    return ", ".join(_change(m, flips=False) for m in metrics) + f", flips {wrong}/{right}"


def _detail_cells(row: ConfigRow, named: bool) -> list[str]:
    """A row's metrics (and size), speed-up range (and memory) and verdict, in full."""
    metrics = _changes(list(row.metrics.values())) if row.metrics else "not evaluated"
    if row.cached:
        metrics += " (cached)"
    if row.result is not None and row.result.size is not None:
        metrics += f", size x{row.result.size.ratio:.2f}"
    phases = row.phase_speedups
    speed = speedup_range(row.speedups, row.slower) if not phases else speed_cell(row)
    if named and row.baseline is not None:
        speed += f" vs {row.baseline}"
    peak = row.peak_memory
    if peak is not None and peak.memory_ratio is not None:  # at the shape of its largest run peak
        speed += f", memory x{peak.memory_ratio:.2f}"
    return [metrics, speed, row.verdict]


def detail_lines(run: Run) -> list[str]:
    one = run.speedup_baseline()  # the header names it; speed-ups against several get it per row
    body = [[s.name, row.id, *_detail_cells(row, one is None)] for s in run.suites for row in run.rows(s.name)]
    if not body:
        return []
    against = f"speed-up vs fp32 ({one})" if one else "speed-up vs fp32"
    header = ["suite", "config", "metric original->quantized (change)", against, "verdict"]
    slow = [
        f"speed {s.name} {row.id} (x{shape.speedup:.2f} at {shape.shape.id}): {found.line}"
        for s in run.suites
        for row in run.rows(s.name)
        if row.speed_diagnosis is not None
        for shape, found in [row.speed_diagnosis]
    ]
    return [*table(header, body), *slow]
