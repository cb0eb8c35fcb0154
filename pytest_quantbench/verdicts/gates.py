"""Accuracy gates: compare original and quantized scores against a case's thresholds."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_quantbench.errors import CollapseFailure, GateFailure
from pytest_quantbench.records import MetricResult, QuantizationReport
from pytest_quantbench.suite import Case, Threshold

COLLAPSE_MARGIN = 0.1


def collapsed(r: MetricResult) -> bool:
    """Fell to chance: kept under a tenth of the original's margin over always answering the majority label."""
    return r.chance < r.original and r.quantized - r.chance <= COLLAPSE_MARGIN * (r.original - r.chance)


def violations(r: MetricResult, threshold: Threshold) -> list[str]:
    out = []
    if threshold.max_drop is not None and r.drop > threshold.max_drop + 1e-12:
        out.append(f"drop {r.drop:.3f} > max_drop {threshold.max_drop:g}")
    if threshold.min_ratio is not None and r.ratio < threshold.min_ratio:
        out.append(f"ratio {r.ratio:.3f} < min_ratio {threshold.min_ratio:g}")
    if threshold.min is not None and r.quantized < threshold.min:
        out.append(f"{r.quantized:.3f} < min {threshold.min:g}")
    return out


@dataclass(frozen=True)
class Verdict:
    results: tuple[MetricResult, ...]
    failures: tuple[str, ...]
    collapsed: bool

    @property
    def passed(self) -> bool:
        return not self.failures

    def line(self) -> str:
        """One readable line: metric, original, quantized, drop, limit, and COLLAPSE when it applies."""
        if self.passed:
            return "; ".join(
                f"{r.name} {r.original:.3f} -> {r.quantized:.3f} (drop {r.drop:+.3f})" for r in self.results
            )
        prefix = "COLLAPSE: " if self.collapsed else ""
        return prefix + "; ".join(self.failures)

    def raise_for_failure(self, cause: str = "") -> None:
        """Raise the one-line failure; `cause` (the diagnosis: cause and fix) is appended to it."""
        if self.passed:
            return
        raise (CollapseFailure if self.collapsed else GateFailure)("; ".join(filter(None, [self.line(), cause])))


@dataclass
class Evaluation:
    """Original vs quantized scores of a case and the gate's verdict."""

    case: Case
    original: dict[str, float]
    quantized: dict[str, float]
    verdict: Verdict
    report: QuantizationReport


def judge(
    original: dict[str, float],
    quantized: dict[str, float],
    chance: dict[str, float],
    thresholds: dict[str, Threshold],
) -> Verdict:
    results, failures, fell = [], [], False
    for name, threshold in thresholds.items():
        r = MetricResult(name, original[name], quantized[name], chance.get(name, 0.0))
        results.append(r)
        broken = violations(r, threshold)
        if collapsed(r):
            fell = True
            broken.append(f"at chance level {r.chance:.3f}")
        if broken:
            failures.append(f"{name} {r.original:.3f} -> {r.quantized:.3f} (drop {r.drop:.3f}): " + ", ".join(broken))
    return Verdict(tuple(results), tuple(failures), fell)
