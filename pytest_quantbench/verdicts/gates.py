"""Accuracy gates: compare original and quantized scores against a case's thresholds."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pytest_quantbench.errors import CollapseFailure, GateFailure
from pytest_quantbench.suite import Threshold

COLLAPSE_MARGIN = 0.1


@dataclass(frozen=True)
class MetricResult:
    name: str
    original: float
    quantized: float
    chance: float

    @property
    def drop(self) -> float:
        return self.original - self.quantized

    @property
    def ratio(self) -> float:
        return self.quantized / self.original if self.original else float("nan")

    @property
    def collapsed(self) -> bool:
        """Fell to chance: kept under a tenth of the original's margin over always answering the majority label."""
        return self.chance < self.original and self.quantized - self.chance <= COLLAPSE_MARGIN * (
            self.original - self.chance
        )

    def violations(self, threshold: Threshold) -> list[str]:
        out = []
        if threshold.max_drop is not None and self.drop > threshold.max_drop + 1e-12:
            out.append(f"drop {self.drop:.3f} > max_drop {threshold.max_drop:g}")
        if threshold.min_ratio is not None and self.ratio < threshold.min_ratio:
            out.append(f"ratio {self.ratio:.3f} < min_ratio {threshold.min_ratio:g}")
        if threshold.min is not None and self.quantized < threshold.min:
            out.append(f"{self.quantized:.3f} < min {threshold.min:g}")
        return out

    def as_dict(self) -> dict:
        return {**asdict(self), "drop": self.drop, "ratio": self.ratio}


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


def judge(
    original: dict[str, float],
    quantized: dict[str, float],
    chance: dict[str, float],
    thresholds: dict[str, Threshold],
) -> Verdict:
    results, failures, collapsed = [], [], False
    for name, threshold in thresholds.items():
        r = MetricResult(name, original[name], quantized[name], chance.get(name, 0.0))
        results.append(r)
        broken = r.violations(threshold)
        if r.collapsed:
            collapsed = True
            broken.append(f"at chance level {r.chance:.3f}")
        if broken:
            failures.append(f"{name} {r.original:.3f} -> {r.quantized:.3f} (drop {r.drop:.3f}): " + ", ".join(broken))
    return Verdict(tuple(results), tuple(failures), collapsed)
