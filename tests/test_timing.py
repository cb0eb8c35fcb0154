"""Adaptive timing: how many rounds a latency case runs."""

from __future__ import annotations

from pytest_quantbench.config import TimeSpec
from pytest_quantbench.timing import MIN_ROUNDS, ci95_rel, plan_rounds


def test_adaptive_rounds_follow_the_spread_within_the_time_cap() -> None:
    spec = TimeSpec(max_time_s=2.0, target_ci=0.02)
    assert plan_rounds([0.010] * 5, spec) == MIN_ROUNDS  # no spread: the minimum
    noisy = [0.008, 0.012, 0.009, 0.011, 0.010]  # about 16% spread: ~250 rounds for +-2%, capped at 2 s / 10 ms
    assert plan_rounds(noisy, spec) == 200
    assert plan_rounds([0.9, 1.1, 1.0, 1.0, 1.0], spec) == MIN_ROUNDS  # slow calls: the cap, never below the minimum
    assert ci95_rel([1.0, 1.0]) == 0.0 and 0.0 < ci95_rel(noisy) < 0.2
