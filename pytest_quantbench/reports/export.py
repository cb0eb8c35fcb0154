"""A run as github-action-benchmark's custom tools read it: JSON lists of {name, unit, value, extra} for
`customBiggerIsBetter` (quantized metrics, throughput, speed-up) and `customSmallerIsBetter` (latency)."""

from __future__ import annotations

from typing import Any

from pytest_quantbench.results.run import Run


def github_action_benchmark(run: Run) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(bigger is better, smaller is better); names stay the same across runs so the action can chart them."""
    bigger, smaller = [], []
    for row in run.accuracy:
        for m in row.metrics.values():
            extra = f"original {m.original:.4f}; {row.status}"
            bigger.append(
                {"name": f"{row.suite} {row.config_id} {m.name}", "unit": m.name, "value": m.quantized, "extra": extra}
            )
    for t in run.timings:
        name = f"{t.suite} {t.name}"
        extra = f"p50 {t.p50_ms:.3f} ms, p90 {t.p90_ms:.3f} ms, p99 {t.p99_ms:.3f} ms"
        smaller.append({"name": f"{name} latency mean", "unit": "ms", "value": t.mean_ms, "extra": extra})
        bigger.append({"name": f"{name} throughput", "unit": "samples/s", "value": t.throughput})
        if t.speedup is not None:
            against = "" if t.baseline == t.framework else f" ({t.baseline})"  # a suite's `baseline:`
            bigger.append({"name": f"{name} speed-up vs fp32{against}", "unit": "x", "value": t.speedup})
    return bigger, smaller
