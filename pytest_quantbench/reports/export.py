"""A run in the formats benchmark trackers read.

github-action-benchmark's custom tools: JSON lists of {name, unit, value, extra} for `customBiggerIsBetter`
and `customSmallerIsBetter`: each quantized metric in the list its direction says (accuracy bigger, an error
smaller), throughput and speed-up bigger, latency smaller.

Bencher's Metric Format (BMF, https://bencher.dev/docs/reference/bencher-metric-format):
`{benchmark: {measure: {value, lower_value, upper_value}}}`, the bounds where an interval is known. Each config
is a benchmark `suite::config` with one measure per quantized metric (its bounds: the paired interval of the
change, around the original) and `size-ratio`; each latency case is `suite::case name` with Bencher's built-in
`latency` (ns) and `throughput` (per second), and `speed-up` for a quantized model."""

from __future__ import annotations

from typing import Any

from pytest_quantbench.records import Direction, MetricResult, TimingResult
from pytest_quantbench.results.run import Run


def github_action_benchmark(run: Run) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(bigger is better, smaller is better); names stay the same across runs so the action can chart them."""
    bigger: list[dict[str, Any]] = []
    smaller: list[dict[str, Any]] = []
    for row in (row for suite in run.suites for row in run.rows(suite.name)):
        for m in (row.metrics or {}).values():
            extra = f"original {m.original:.4f}; {row.verdict}" + (" (cached scores)" if row.cached else "")
            entry = {"name": f"{row.suite} {row.id} {m.name}", "unit": m.name, "value": m.quantized, "extra": extra}
            (bigger if m.direction is Direction.HIGHER else smaller).append(entry)
    for case in run.timings:
        t, name = case.record, f"{case.record.suite} {case.name}"
        if t.latency is None:
            continue
        extra = f"p50 {t.latency.p50_ms:.3f} ms, p90 {t.latency.p90_ms:.3f} ms, p99 {t.latency.p99_ms:.3f} ms"
        smaller.append({"name": f"{name} latency mean", "unit": "ms", "value": t.latency.mean_ms, "extra": extra})
        bigger.append({"name": f"{name} throughput", "unit": "samples/s", "value": t.samples_per_s})
        if t.speedup is not None:
            against = "" if t.baseline == case.framework else f" ({t.baseline})"  # a suite's `baseline:`
            bigger.append({"name": f"{name} speed-up vs fp32{against}", "unit": "x", "value": t.speedup})
    return bigger, smaller


Measure = dict[str, float]  # value, and lower_value and upper_value where an interval is known


def _measure(value: float, interval: tuple[float, float] | None = None) -> Measure:
    found = {"value": value}
    return found | ({"lower_value": min(interval), "upper_value": max(interval)} if interval else {})


def _metric_measure(m: MetricResult) -> Measure:
    """The quantized score, bounded by the original plus the paired interval of the change."""
    if m.paired is None:
        return _measure(m.quantized)
    worse = (m.paired.ci_low, m.paired.ci_high)  # how much worse: the quantized score is the original minus it,
    sign = -1 if m.direction is Direction.HIGHER else 1  # or plus it for a lower-is-better metric
    return _measure(m.quantized, (m.original + sign * worse[0], m.original + sign * worse[1]))


def _timing_measures(t: TimingResult) -> dict[str, Measure]:
    assert t.latency is not None
    mean, rel = t.latency.mean_ms * 1e6, t.latency.ci95_rel  # Bencher's latency is in nanoseconds
    found = {"latency": _measure(mean, (mean * (1 - rel), mean * (1 + rel)))}
    if t.samples_per_s is not None:
        found["throughput"] = _measure(t.samples_per_s)
    if t.speedup is not None:
        spread = t.speedup_ci95_rel
        bounds = (t.speedup * (1 - spread), t.speedup * (1 + spread)) if spread is not None else None
        found["speed-up"] = _measure(t.speedup, bounds)
    return found


def bencher(run: Run) -> dict[str, dict[str, Measure]]:
    """The run as BMF JSON: one benchmark per config's accuracy and one per latency case."""
    found: dict[str, dict[str, Measure]] = {}
    for row in (row for suite in run.suites for row in run.rows(suite.name)):
        measures = {m.name: _metric_measure(m) for m in (row.metrics or {}).values()}
        if row.result is not None and row.result.size is not None:
            measures["size-ratio"] = _measure(row.result.size.ratio)
        if measures:
            found[f"{row.suite}::{row.id}"] = measures
    for case in run.timings:
        if case.record.latency is not None:
            found[f"{case.record.suite}::{case.name}"] = _timing_measures(case.record)
    return found
