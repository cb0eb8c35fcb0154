"""Adaptive timing: how many rounds a latency case runs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pytest_quantbench import timing
from pytest_quantbench.config import TimeSpec
from pytest_quantbench.timing import MIN_ROUNDS, PILOT_ROUNDS, ci95_rel, plan_rounds


def test_adaptive_rounds_follow_the_spread_within_the_time_cap() -> None:
    spec = TimeSpec(max_time_s=2.0, target_ci=0.02)
    assert plan_rounds([0.010] * 5, spec) == MIN_ROUNDS  # no spread: the minimum
    noisy = [0.008, 0.012, 0.009, 0.011, 0.010]  # about 16% spread: ~250 rounds for +-2%, capped at 2 s / 10 ms
    assert plan_rounds(noisy, spec) == 200
    assert plan_rounds([0.9, 1.1, 1.0, 1.0, 1.0], spec) == MIN_ROUNDS  # slow calls: the cap, never below the minimum
    assert ci95_rel([1.0, 1.0]) == 0.0 and 0.0 < ci95_rel(noisy) < 0.2


class FakeClock:
    """perf_counter for `timing`: advances only when the fake session runs, so no test depends on real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeSession:
    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self.clock, self.seconds, self.calls = clock, seconds, 0

    def get_inputs(self) -> list:
        return []

    def run(self, *_: object) -> None:
        self.calls += 1
        self.clock.now += self.seconds


class FakeBenchmark:
    disabled, stats = False, None

    def pedantic(self, fn, args, rounds, warmup_rounds, iterations) -> None:
        self.rounds, self.warmup_rounds = rounds, warmup_rounds
        for _ in range(rounds + warmup_rounds):
            fn(*args)


@pytest.mark.parametrize(
    ("seconds", "pilot_calls", "rounds"),
    [(1.0, 0, MIN_ROUNDS), (0.15, 0, 13), (0.001, PILOT_ROUNDS, MIN_ROUNDS)],
    ids=["slow-no-pilot", "affordable-rounds-no-pilot", "fast-with-pilot"],
)
def test_warm_up_decides_whether_a_pilot_can_matter(monkeypatch, seconds, pilot_calls, rounds) -> None:
    """A pilot pays only when it may save more calls than it costs: slower calls run what `max_time_s` affords."""
    clock = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", clock)
    session, bench = FakeSession(clock, seconds), FakeBenchmark()
    spec = TimeSpec(warmup_rounds=3, max_time_s=2.0, target_ci=0.02)
    timing.time_session(bench, session, {}, spec)
    assert (bench.rounds, bench.warmup_rounds) == (rounds, 0)
    assert session.calls == spec.warmup_rounds + pilot_calls + rounds


def test_speedup_is_a_ratio_of_medians() -> None:
    """One preempted round (10x) moves the mean by half, the median not at all."""
    book = timing.TimingBook()
    fp32 = SimpleNamespace(role="fp32", baseline_key="k", batch_size=1, case=None, shape_id="bs1")
    int8 = SimpleNamespace(role="int8", baseline_key="k", batch_size=1, case=SimpleNamespace(key="c"), shape_id="bs1")
    book.record(fp32, [0.010] * 9 + [0.100])
    info = book.record(int8, [0.005] * 10)
    assert info["speedup"] == pytest.approx(2.0)
