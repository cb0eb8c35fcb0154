"""Accuracy gates: compare original and quantized scores against a case's thresholds.

With the per-sample predictions of both models (`Pairs`), every metric also gets its paired statistics
(`statistics.paired_stats`), a `confidence` threshold is judged on the drop's interval (PASS inside, FAIL
beyond, INCONCLUSIVE across), and the label-free fidelity gates (`agreement`, `cosine`) and the size gate
are judged too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pytest_quantbench.errors import CollapseFailure, GateFailure
from pytest_quantbench.records import (
    MetricResult,
    ModelSize,
    PairedStats,
    PredictionPaths,
    QuantizationReport,
    TimingResult,
)
from pytest_quantbench.suite import Case, Threshold, Thresholds
from pytest_quantbench.tasks import MetricFn, Task
from pytest_quantbench.verdicts import statistics

DEFAULT_CONFIDENCE = 0.95  # of the interval shown when a threshold asks for none
COLLAPSE_MARGIN = 0.1


def collapsed(r: MetricResult) -> bool:
    """Fell to chance: kept under a tenth of the original's margin over always answering the majority label,
    by a drop that is real (its paired interval above zero, when there is one): an original a hair above
    chance that loses its hair is noise, not a collapse."""
    fell = r.chance < r.original and r.quantized - r.chance <= COLLAPSE_MARGIN * (r.original - r.chance)
    return fell and (r.paired is None or r.paired.ci_low > 0)


def violations(r: MetricResult, threshold: Threshold) -> list[str]:
    out = []
    judged_on_interval = threshold.confidence is not None and r.paired is not None
    if threshold.max_drop is not None and not judged_on_interval and r.drop > threshold.max_drop + 1e-12:
        out.append(f"drop {r.drop:.3f} > max_drop {threshold.max_drop:g}")
    if judged_on_interval and interval_decision(r, threshold) == "FAIL":
        out.append(f"drop > max_drop {threshold.max_drop:g} at {100 * (threshold.confidence or 0):g}% confidence")
    if threshold.min_ratio is not None and r.ratio < threshold.min_ratio:
        out.append(f"ratio {r.ratio:.3f} < min_ratio {threshold.min_ratio:g}")
    if threshold.min is not None and r.quantized < threshold.min:
        out.append(f"{r.quantized:.3f} < min {threshold.min:g}")
    return out


def interval_decision(r: MetricResult, threshold: Threshold) -> str:
    """PASS when the whole interval of the drop is within max_drop, FAIL when it is all beyond, else
    INCONCLUSIVE."""
    assert r.paired is not None and threshold.max_drop is not None
    limit = threshold.max_drop + 1e-12
    if r.paired.ci_high <= limit:
        return "PASS"
    return "FAIL" if r.paired.ci_low > limit else "INCONCLUSIVE"


def inconclusive_line(r: MetricResult, threshold: Threshold) -> str:
    """What the interval says and how many eval samples would decide it."""
    p = r.paired
    assert p is not None and threshold.max_drop is not None
    needed = statistics.samples_to_decide(p.drop, p.ci_low, p.ci_high, threshold.max_drop, p.n)
    hint = (
        f"about {needed} evaluation samples would decide it" if needed
        else "the drop sits on max_drop: no evaluation size decides it"
    )  # fmt: skip
    return (
        f"{r.name} drop {p.drop:.3f}, {100 * p.confidence:g}% CI [{p.ci_low:+.3f}, {p.ci_high:+.3f}] straddles "
        f"max_drop {threshold.max_drop:g} on {p.n} samples; {hint}"
    )


@dataclass(frozen=True)
class Verdict:
    results: tuple[MetricResult, ...]
    failures: tuple[str, ...]
    collapsed: bool
    inconclusive: tuple[str, ...] = ()
    inconclusive_fails: bool = False  # some inconclusive threshold has on_inconclusive: fail

    @property
    def passed(self) -> bool:
        return not self.failures and not (self.inconclusive and self.inconclusive_fails)

    def line(self) -> str:
        """One readable line: metric, original, quantized, drop, limit, and COLLAPSE or INCONCLUSIVE when it
        applies."""
        if self.failures:
            prefix = "COLLAPSE: " if self.collapsed else ""
            return prefix + "; ".join(self.failures)
        if self.inconclusive:
            return "INCONCLUSIVE: " + "; ".join(self.inconclusive)
        return "; ".join(f"{r.name} {r.original:.3f} -> {r.quantized:.3f} (drop {r.drop:+.3f})" for r in self.results)

    def raise_for_failure(self, cause: str = "", artifacts: str = "") -> None:
        """Raise the one-line failure; `cause` (the diagnosis: cause and fix) and `artifacts` (where the failing
        models and predictions lie) are appended to it."""
        if self.passed:
            return
        failure = CollapseFailure if self.collapsed else GateFailure
        raise failure("; ".join(filter(None, [self.line(), cause, artifacts])))


@dataclass(frozen=True)
class Pairs:
    """Both models' per-sample predictions and logits rows on the same eval samples, and how to score them."""

    task: Task
    original: list[Any]
    quantized: list[Any]
    references: list[Any]
    metric: Callable[[str], MetricFn]
    original_logits: np.ndarray
    quantized_logits: np.ndarray

    def stats(self, name: str, confidence: float, scores: tuple[float, float] | None = None) -> PairedStats:
        return statistics.paired_stats(
            self.task, name, self.original, self.quantized, self.references, self.metric, confidence, scores=scores
        )

    def fidelity(self, name: str) -> MetricResult:
        """A fidelity gate as a metric whose original, scored against itself, is 1.0."""
        if name == "agreement":
            chance = statistics.agreement_chance(self.task, self.original)
            return MetricResult(name, 1.0, statistics.agreement(self.task, self.original, self.quantized), chance)
        return MetricResult(name, 1.0, statistics.mean_cosine(self.original_logits, self.quantized_logits))


@dataclass
class Evaluation:
    """Original vs quantized scores of a case and the gate's verdict."""

    case: Case
    original: dict[str, float]
    quantized: dict[str, float]
    verdict: Verdict
    report: QuantizationReport
    predictions: PredictionPaths | None = None
    size: ModelSize | None = None


def judge(
    original: dict[str, float],
    quantized: dict[str, float],
    chance: dict[str, float],
    thresholds: Thresholds,
    pairs: Pairs | None = None,
    size: ModelSize | None = None,
) -> Verdict:
    """The verdict of a case's thresholds; fidelity gates need `pairs`, the size gate `size` (each is skipped
    without), the speed and memory gates belong to the latency cases."""
    results, failures, fell, unsure, unsure_fails = [], [], False, [], False
    judged = [*thresholds.metrics, *(thresholds.fidelity if pairs is not None else ())]
    fidelity = dict(thresholds.fidelity)
    for name, threshold in judged:
        if name in fidelity:
            assert pairs is not None
            r = pairs.fidelity(name)
        else:
            confidence, scores = threshold.confidence or DEFAULT_CONFIDENCE, (original[name], quantized[name])
            paired = pairs.stats(name, confidence, scores) if pairs is not None else None
            r = MetricResult(name, original[name], quantized[name], chance.get(name, 0.0), paired)
        results.append(r)
        broken = violations(r, threshold)
        if collapsed(r):
            fell = True
            broken.append(f"at chance level {r.chance:.3f}")
        if broken:
            evidence = f" [{r.paired.describe()}]" if r.paired is not None else ""
            failures.append(
                f"{name} {r.original:.3f} -> {r.quantized:.3f} (drop {r.drop:.3f}): " + ", ".join(broken) + evidence
            )
        elif threshold.confidence is not None and r.paired is not None and interval_decision(r, threshold) != "PASS":
            unsure.append(inconclusive_line(r, threshold))
            unsure_fails = unsure_fails or threshold.on_inconclusive == "fail"
    failures += [line for line in [size_violation(size, thresholds.size)] if line]
    return Verdict(tuple(results), tuple(failures), fell, tuple(unsure), unsure_fails)


def size_violation(size: ModelSize | None, threshold: Threshold | None) -> str | None:
    """The size gate: the quantized model's bytes over the original's above `max_ratio`; None when it holds or
    nothing was measured."""
    if size is None or threshold is None or threshold.max_ratio is None or size.ratio <= threshold.max_ratio:
        return None
    return f"size ratio {size.ratio:.3f} > max_ratio {threshold.max_ratio:g}"


def speed_violation(result: TimingResult, threshold: Threshold) -> str | None:
    """The speed gate of a latency case: fails when the paired speed-up's median is below `min` and so is its
    whole 95% interval (a noisy round cannot fail it); None when it holds or nothing was timed. The line ends
    with the speed diagnosis's cause and fix, as an accuracy failure ends with its diagnosis."""
    if threshold.min is None or result.speedup is None:
        return None
    half = result.speedup * (result.speedup_ci95_rel or 0.0)
    high = result.speedup + half
    if result.speedup >= threshold.min or high >= threshold.min:
        return None
    slower = ", SLOWER than fp32" if result.slower else ""
    why = f"; {result.speed_diagnosis.line}" if result.speed_diagnosis is not None else ""
    return (
        f"speedup x{result.speedup:.2f} (95% CI x{result.speedup - half:.2f}..x{high:.2f}) < min "
        f"x{threshold.min:g}{slower}{why}"
    )


def memory_violation(result: TimingResult, threshold: Threshold) -> str | None:
    """The memory gate of an int8 latency case: its run peak over its fp32 model's, at the case's shape, above
    `max_ratio`; None when it holds or nothing was measured."""
    ratio = result.memory_ratio
    if threshold.max_ratio is None or ratio is None or ratio <= threshold.max_ratio:
        return None
    assert result.memory is not None and result.fp32_memory is not None
    mine, fp32 = result.memory.run_peak_bytes / 1e6, result.fp32_memory.run_peak_bytes / 1e6
    return (
        f"memory run peak ratio {ratio:.3f} ({mine:.1f} MB / {fp32:.1f} MB at {result.memory.shape}) > max_ratio "
        f"{threshold.max_ratio:g}"
    )


def latency_violations(result: TimingResult, thresholds: Thresholds) -> list[str]:
    """What an int8 latency case breaks of its speed and memory gates."""
    judged = ((speed_violation, thresholds.speedup), (memory_violation, thresholds.memory))
    found = [check(result, threshold) for check, threshold in judged if threshold is not None]
    return [line for line in found if line]
