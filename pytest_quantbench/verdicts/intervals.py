"""Gates judged on a paired interval: `max_drop` and `max_ratio` when the threshold asks for `confidence`, and
a fidelity gate's `min` when its measure has an interval. PASS when the whole interval is within the bound, FAIL
when all of it is beyond, else INCONCLUSIVE, with a line saying how many evaluation samples would decide it.
`gates.py` calls these; they read only the result's paired statistics (`MetricResult.paired`) and the threshold.
"""

from __future__ import annotations

import dataclasses

from pytest_quantbench.records import Direction, MetricResult, Verdict
from pytest_quantbench.suite import Threshold
from pytest_quantbench.verdicts import statistics

EPSILON = 1e-12  # a drop exactly at its limit passes, whatever the float rounding


def interval_decision(r: MetricResult, threshold: Threshold) -> Verdict:
    """PASS when the whole interval of the drop (how much worse) is within max_drop, FAIL when it is all
    beyond, else INCONCLUSIVE."""
    assert r.paired is not None and threshold.max_drop is not None
    limit = threshold.max_drop + EPSILON
    if r.paired.ci_high <= limit:
        return Verdict.PASS
    return Verdict.FAIL if r.paired.ci_low > limit else Verdict.INCONCLUSIVE


def ratio_decision(r: MetricResult, threshold: Threshold) -> Verdict:
    """PASS when the whole interval of quantized / original is within max_ratio, FAIL when it is all beyond,
    else INCONCLUSIVE."""
    assert r.paired is not None and r.paired.ratio_low is not None and r.paired.ratio_high is not None
    assert threshold.max_ratio is not None
    limit = threshold.max_ratio + EPSILON
    if r.paired.ratio_high <= limit:
        return Verdict.PASS
    return Verdict.FAIL if r.paired.ratio_low > limit else Verdict.INCONCLUSIVE


def ratio_inconclusive_line(r: MetricResult, threshold: Threshold) -> str:
    """What the ratio's interval says and how many eval samples would decide it."""
    p = r.paired
    assert p is not None and p.ratio_low is not None and p.ratio_high is not None and threshold.max_ratio is not None
    needed = statistics.samples_to_decide(r.relative, p.ratio_low, p.ratio_high, threshold.max_ratio, p.n)
    hint = f"about {needed} evaluation samples would decide it" if needed else "no evaluation size decides it"
    return (
        f"{r.name} ratio {r.relative:.3f}, {100 * p.confidence:g}% CI [{p.ratio_low:.3f}, {p.ratio_high:.3f}] "
        f"straddles max_ratio {threshold.max_ratio:g} on {p.n} samples; {hint}"
    )


def interval_undecided(r: MetricResult, threshold: Threshold) -> str | None:
    """The inconclusive line of the first interval gate (max_drop, then max_ratio) that is not decided, or
    None when each is decided (or there is none)."""
    if threshold.confidence is None or r.paired is None:
        return None
    if threshold.max_drop is not None and interval_decision(r, threshold) is not Verdict.PASS:
        return inconclusive_line(r, threshold)
    ratio = threshold.max_ratio is not None and r.paired.ratio_low is not None
    return ratio_inconclusive_line(r, threshold) if ratio and ratio_decision(r, threshold) is not Verdict.PASS else None


def inconclusive_line(r: MetricResult, threshold: Threshold) -> str:
    """What the interval says and how many eval samples would decide it."""
    p = r.paired
    assert p is not None and threshold.max_drop is not None
    needed = statistics.samples_to_decide(p.drop, p.ci_low, p.ci_high, threshold.max_drop, p.n)
    word = r.direction.worse_word
    hint = (
        f"about {needed} evaluation samples would decide it" if needed
        else f"the {word} sits on max_drop: no evaluation size decides it"
    )  # fmt: skip
    return (
        f"{r.name} {word} {p.drop:.3f}, {100 * p.confidence:g}% CI [{p.ci_low:+.3f}, {p.ci_high:+.3f}] straddles "
        f"max_drop {threshold.max_drop:g} on {p.n} samples; {hint}"
    )


def score_interval(r: MetricResult) -> tuple[float, float]:
    """The interval of the quantized score, from the paired interval of how much worse it is."""
    assert r.paired is not None
    sign = -1.0 if r.direction is Direction.HIGHER else 1.0
    ends = sorted(r.original + sign * drop for drop in (r.paired.ci_low, r.paired.ci_high))
    return ends[0], ends[1]


def floor_on_interval(r: MetricResult, threshold: Threshold) -> tuple[Threshold, str | None, str | None]:
    """A fidelity gate's `min` on a measure with an interval (an embedding's mean cosine, its neighbours kept):
    PASS when the whole interval of the quantized score is at or above it, FAIL when all of it is below, else
    INCONCLUSIVE. Returns the threshold left for the point gates, the failure and the inconclusive line."""
    if r.paired is None or threshold.min is None:
        return threshold, None, None
    low, high = score_interval(r)
    rest, limit = dataclasses.replace(threshold, min=None), threshold.min
    where = f"{100 * r.paired.confidence:g}% CI [{low:.3f}, {high:.3f}] on {r.paired.n} samples"
    if low >= limit - EPSILON:
        return rest, None, None
    if high < limit - EPSILON:
        return rest, f"{r.quantized:.3f} < min {limit:g} ({where})", None
    return rest, None, f"{r.name} {r.quantized:.3f}, {where} straddles min {limit:g}; more evaluation samples decide it"
