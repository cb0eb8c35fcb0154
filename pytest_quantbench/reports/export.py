"""A run as github-action-benchmark's custom tools read it: JSON lists of {name, unit, value, extra} for
`customBiggerIsBetter` and `customSmallerIsBetter`: each quantized metric in the list its direction says
(accuracy bigger, an error smaller), throughput and speed-up bigger, latency smaller."""

from __future__ import annotations

from typing import Any

from pytest_quantbench.records import Direction
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
