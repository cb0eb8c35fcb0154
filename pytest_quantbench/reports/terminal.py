"""The end-of-run console summary, from the run's report rows (`results.rows`).

By default one line per config that fits the terminal (at most `MAX_WIDTH` columns): suite, config, the
headline metric's change with its interval, the speed-up range and the verdict; long suite names and config
ids are shortened at a token boundary, with a marker. `-v` gives the detail: every metric, the flips, the
size and memory ratios and why a config is not faster.
"""

from __future__ import annotations

import re

from pytest_quantbench.records import Direction, MetricResult
from pytest_quantbench.reports.table import table
from pytest_quantbench.results.rows import ConfigRow, headline_metric
from pytest_quantbench.results.run import Run

MAX_WIDTH = 120
ELLIPSIS = "…"
SEPARATORS = re.compile(r"([-+])")  # between the words of an id (`grid.id_token` joins its pieces with them)
SUITE_MIN, CONFIG_MIN = 12, 24  # narrowest the suite and config columns get before the config's gives more
GAP = 2  # `table` puts two spaces between columns


def summary_lines(run: Run, width: int = MAX_WIDTH, verbose: bool = False) -> list[str]:
    """The summary: one line per config within `width` (at most `MAX_WIDTH`), or with `verbose` the detail."""
    return detail_lines(run) if verbose else compact_lines(run, min(width, MAX_WIDTH))


# --- the compact summary ----------------------------------------------------------------------------------


def shorten(text: str, width: int) -> str:
    """`text` in at most `width` characters: whole words from both ends around a middle `…`, so that the
    start and the end of an id stay readable; a single word too long for `width` is cut, marked `…` too."""
    if len(text) <= width:
        return text
    words = SEPARATORS.split(text)  # words at even places, each separator after the word before it
    head, tail, i, j = "", "", 0, len(words) - 1  # head: words[:i], tail: words[j + 1:]; both end at a separator
    while i < j:
        grown = False
        if len(head) + len(words[i]) + 1 + len(tail) + len(ELLIPSIS) <= width:  # a word and the separator after
            head, i, grown = head + words[i] + words[i + 1], i + 2, True
        if i < j and len(head) + 1 + len(words[j]) + len(tail) + len(ELLIPSIS) <= width:
            tail, j, grown = words[j - 1] + words[j] + tail, j - 2, True
        if not grown:
            break
    if not head and not tail:
        return text[: max(width - len(ELLIPSIS), 0)] + ELLIPSIS
    return head + ELLIPSIS + tail


def change_interval(m: MetricResult) -> tuple[float, float] | None:
    """The interval of `quantized - original` at the paired statistics' confidence: they bound how much worse
    the quantized model is, which is the change for a lower-is-better metric and its negative otherwise."""
    if m.paired is None:
        return None
    low, high = m.paired.ci_low, m.paired.ci_high
    return (low, high) if m.direction is Direction.LOWER else (-high, -low)


def headline_change(m: MetricResult | None) -> str:
    """`accuracy -0.020 [-0.035, -0.005]`: the change with its interval."""
    if m is None:
        return "not evaluated"
    text = f"{m.name} {m.quantized - m.original:+.3f}"
    interval = change_interval(m)
    return text + (f" [{interval[0]:+.3f}, {interval[1]:+.3f}]" if interval else "")


def speed_cell(row: ConfigRow, named: bool) -> str:
    """The speed-up range over the timed shapes; `named`: the run's speed-ups have several baselines."""
    values = row.speedups
    if not values:
        return "not timed"
    low, high = min(values), max(values)
    text = f"x{low:.2f}" if low == high else f"x{low:.2f}..x{high:.2f}"
    return text + (" SLOWER" if row.slower else "") + (f" vs {row.baseline}" if named else "")


def compact_lines(run: Run, width: int) -> list[str]:
    one = run.speedup_baseline()
    body, confidences = [], set()
    for suite in run.suites:
        rows = run.rows(suite.name)
        metric = headline_metric(suite, rows)
        for row in rows:
            m = row.metric(metric) if metric else None
            change = headline_change(m) + (" (cached)" if row.cached and m is not None else "")
            body.append([suite.name, row.id, change, speed_cell(row, named=one is None), row.verdict])
            confidences |= {m.paired.confidence} if m is not None and m.paired is not None else set()
    if not body:
        return []
    level = f" [{100 * confidences.pop():g}% CI]" if len(confidences) == 1 else " [CI]" if confidences else ""
    header = ["suite", "config", f"change{level}", "speed-up", "verdict"]
    against = f"speed-up vs {one} fp32" if one else "speed-up vs fp32 (its baseline named)"
    return [*table(header, _fit(header, body, width)), f"{against}; every metric, memory and cause: -v, or the card"]


def _fit(header: list[str], body: list[list[str]], width: int) -> list[list[str]]:
    """The rows with suite names and config ids shortened so that a line fits `width`: the config column
    gives first (down to `CONFIG_MIN`), then the suite column (down to `SUITE_MIN`), then the config's again."""
    widths = [max(len(c) for c in column) for column in zip(header, *body, strict=True)]
    excess = sum(widths) + GAP * (len(widths) - 1) - width
    for column, floor in ((1, CONFIG_MIN), (0, SUITE_MIN), (1, len(header[1]))):
        give = max(0, min(excess, widths[column] - floor))
        widths[column] -= give
        excess -= give
    return [[shorten(suite, widths[0]), shorten(config, widths[1]), *rest] for suite, config, *rest in body]


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
    counted = f", flips {p.flips_to_wrong}/{p.flips_to_right}" if flips else ""
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
    speed = speedup_range(row.speedups, row.slower)
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
