"""A case's details in a few lines, for another tool's per-test report (pytest-html's rows and extras): the
verdict line, each metric with the interval of its change, the speed-up with its interval.

The typed record is the case's own (`CaseResult` of an accuracy case, `TimingResult` of a latency case), so
these read exactly what the run's JSON keeps.
"""

from __future__ import annotations

from pytest_quantbench.records import CaseResult, MetricResult, TimingResult
from pytest_quantbench.reports.terminal import change_interval, headline_change


def metric_line(m: MetricResult) -> str:
    """`accuracy 0.9000 -> 0.8800, change -0.020 [-0.031, -0.008] (95% paired interval)`."""
    line = f"{m.name} {m.original:.4f} -> {m.quantized:.4f}, change {m.quantized - m.original:+.3f}"
    interval = change_interval(m)
    if interval is None or m.paired is None:
        return line
    return line + f" [{interval[0]:+.3f}, {interval[1]:+.3f}] ({100 * m.paired.confidence:g}% paired interval)"


def speed_line(t: TimingResult) -> str | None:
    """`speed-up x1.23 [x1.17, x1.29] vs onnxruntime fp32`, None for a model timed alone."""
    if t.speedup is None:
        return None
    rel = t.speedup_ci95_rel
    interval = f" [x{t.speedup * (1 - rel):.2f}, x{t.speedup * (1 + rel):.2f}]" if rel else ""
    return f"speed-up x{t.speedup:.2f}{interval} vs {t.baseline or 'its'} fp32"


def case_lines(result: CaseResult) -> list[str]:
    """An accuracy case: its status and verdict line, then one line per metric."""
    head = f"{result.status}: {result.line}" if result.line else result.status
    return [head, *(metric_line(m) for m in result.metrics.values())]


def timing_lines(result: TimingResult) -> list[str]:
    """A latency case: its mean latency, and for a quantized model the speed-up and its diagnosis."""
    lines = [f"mean {result.latency.mean_ms:.3f} ms at {result.shape.id}"] if result.latency is not None else []
    speed = speed_line(result)
    lines += [speed] if speed else []
    lines += [f"why not faster: {result.speed_diagnosis.line}"] if result.speed_diagnosis is not None else []
    return lines


def brief(record: CaseResult | TimingResult) -> str:
    """One cell: an accuracy case's verdict and its first metric's change with its interval; a latency case's
    speed-up, or its mean latency when it was timed alone."""
    if isinstance(record, CaseResult):
        first = next(iter(record.metrics.values()), None)
        return record.verdict.value + (f" {headline_change(first)}" if first is not None else "")
    if record.speedup is not None:
        return f"speed-up x{record.speedup:.2f}"
    return f"{record.latency.mean_ms:.3f} ms" if record.latency is not None else ""
