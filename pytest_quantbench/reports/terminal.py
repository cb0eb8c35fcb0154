"""The end-of-run console summary: one headline row per config (metric drop, speed-up, verdict)."""

from __future__ import annotations

from pytest_quantbench.records import MetricResult, TimingResult
from pytest_quantbench.reports.table import table
from pytest_quantbench.results.run import Run


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


def summary_lines(run: Run) -> list[str]:
    rows = []
    one = run.speedup_baseline()  # the header names it; speed-ups against several get it per row
    for suite in run.suites:
        accuracy = run.accuracy_of(suite.name)
        speedups: dict[str, list[float]] = {}
        baselines: dict[str, str] = {}
        slower: set[str] = set()
        measured: dict[str, list[TimingResult]] = {}  # int8 rows with both models' peak memory
        for t in run.timings_of(suite.name):
            if t.speedup is not None:
                speedups.setdefault(t.config_id, []).append(t.speedup)
                baselines[t.config_id] = t.baseline
            if t.result is not None and t.result.slower:
                slower.add(t.config_id)
            if t.result is not None and t.result.memory_ratio is not None:
                measured.setdefault(t.config_id, []).append(t.result)
        for config in suite.configs:
            row = accuracy.get(config.id)
            if row is None and config.id not in speedups:
                continue
            drop = _changes(list(row.metrics.values())) if row else "not evaluated"
            if row and row.size is not None:
                drop += f", size x{row.size.ratio:.2f}"
            verdict = row.status if row else ""
            speed = speedup_range(speedups.get(config.id, []), config.id in slower)
            if one is None and config.id in baselines:
                speed += f" vs {baselines[config.id]}"
            if config.id in measured:  # at the shape of its largest run peak
                top = max(measured[config.id], key=lambda r: r.memory.run_peak_bytes if r.memory else 0)
                speed += f", memory x{top.memory_ratio:.2f}"
            rows.append([suite.name, config.id, drop, speed, verdict])
    if not rows:
        return []
    against = f"speed-up vs fp32 ({one})" if one else "speed-up vs fp32"
    header = ["suite", "config", "metric original->quantized (change)", against, "verdict"]
    slow = [
        f"speed {suite.name} {t.config_id} (x{t.speedup:.2f} at {t.shape_id}): {d.line}"
        for suite in run.suites
        for t, d in run.speed_diagnoses(suite.name)
    ]
    return [*table(header, rows), *slow]
