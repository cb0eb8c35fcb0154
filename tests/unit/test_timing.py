"""Adaptive timing: how many rounds a latency case runs."""

from __future__ import annotations

import itertools

import pytest

from pytest_quantbench.measure import timing
from pytest_quantbench.measure.timing import (
    MIN_PAIRS,
    MIN_ROUNDS,
    PAIRED_PILOT_ROUNDS,
    PILOT_ROUNDS,
    ci95_rel,
    plan_rounds,
)
from pytest_quantbench.records import MachineFacts, Role, TimingResult
from pytest_quantbench.suite import TimeSpec


def untimed(batch_size: int) -> TimingResult:
    """A quantized latency record before its rounds are added."""
    machine = MachineFacts("cpu", 1, (), False, "3")
    return TimingResult("s", "t", "m", Role.QUANTIZED, "c", {}, batch_size, 16, 1, machine)


def test_adaptive_rounds_follow_the_spread_within_the_time_cap() -> None:
    spec = TimeSpec(max_time_s=2.0, target_ci=0.02)
    assert plan_rounds([0.010] * 5, 0.010, spec) == MIN_ROUNDS  # no spread: the minimum
    noisy = [0.008, 0.012, 0.009, 0.011, 0.010]  # about 16% spread: ~250 rounds for +-2%, capped at 2 s / 10 ms
    assert plan_rounds(noisy, 0.010, spec) == 200
    assert plan_rounds(noisy, 0.020, spec) == 100  # a round of two calls: half the rounds fit
    assert (
        plan_rounds([0.9, 1.1, 1.0, 1.0, 1.0], 1.0, spec) == MIN_ROUNDS
    )  # slow calls: the cap, never below the minimum
    assert ci95_rel([1.0, 1.0]) == 0.0 and 0.0 < ci95_rel(noisy) < 0.2


class FakeClock:
    """perf_counter for `timing`: advances only when the fake session runs, so no test depends on real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeSession:
    """A call takes `seconds` times the machine's slowdown at that moment (1 unless `drift` says otherwise)."""

    def __init__(self, clock: FakeClock, seconds: float, drift=lambda now: 1.0) -> None:
        self.clock, self.seconds, self.drift, self.calls = clock, seconds, drift, 0

    def get_inputs(self) -> list:
        return []

    def run(self, *_: object) -> None:
        self.calls += 1
        self.clock.now += self.seconds * self.drift(self.clock.now)


class FakeBenchmark:
    """pytest-benchmark's `pedantic` as far as timing uses it: untimed setup, timed call, recorded rounds."""

    disabled = False

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock, self.data = clock, None

    def times(self) -> list[float] | None:
        return self.data

    def pedantic(self, fn, args, setup, rounds, warmup_rounds, iterations) -> None:
        self.rounds, self.warmup_rounds = rounds, warmup_rounds
        data = []
        for i in range(rounds + warmup_rounds):
            if setup is not None:
                setup()
            start = self.clock.now if self.clock else 0.0
            fn(*args)
            if i >= warmup_rounds and self.clock:
                data.append(self.clock.now - start)
        if self.clock:
            self.data = data


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
    assert session.calls == spec.warmup_rounds + 1 + pilot_calls + rounds  # one steady round prices a round


def test_an_int8_round_is_paired_with_a_fp32_call_and_drift_cancels(monkeypatch) -> None:
    """The machine slows down 3x over the case: apart, the two medians would disagree; paired, the speed-up
    is the true 2x, and every recorded int8 round has the fp32 call that ran just before it."""
    clock = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", clock)

    def slowing(now: float) -> float:
        return 1.0 + 2.0 * min(now, 1.0)

    int8, fp32 = FakeSession(clock, 0.005, slowing), FakeSession(clock, 0.010, slowing)
    bench = FakeBenchmark(clock)
    timed = timing.time_session(bench, int8, {}, TimeSpec(rounds=20, warmup_rounds=2), baseline=fp32)
    assert len(timed.times) == len(timed.baseline) == bench.rounds == 20
    assert fp32.calls == int8.calls == 2 + 20 and bench.warmup_rounds == 0
    assert max(timed.times) / min(timed.times) > 1.5  # the drift is there ...
    assert timing.with_rounds(untimed(1), timed).speedup == pytest.approx(2.0, rel=0.05)  # ... and cancels


def test_speedup_is_the_median_of_paired_ratios() -> None:
    """One preempted fp32 call (10x) moves the mean ratio a lot, the median not at all."""
    timed = timing.Timed(times=[0.005] * 10, baseline=[0.010] * 9 + [0.100])
    info = timing.with_rounds(untimed(4), timed)
    assert info.speedup == pytest.approx(2.0)
    assert info.paired_fp32 is not None and info.paired_fp32.rounds == 10
    assert info.samples_per_s == pytest.approx(800.0)
    assert timing.with_rounds(untimed(1), timing.Timed([0.005] * 3)).speedup is None


def test_a_speed_up_interval_is_the_median_s_and_one_preempted_call_does_not_widen_it() -> None:
    steady = [2.0 + 0.01 * ((i * 7) % 5 - 2) for i in range(40)]  # ratios within ±1%
    spoiled = [*steady[:-1], 0.2]  # one fp32 call preempted: a ratio 10x off
    assert timing.median_ci95_rel(steady) < 0.01
    assert timing.median_ci95_rel(spoiled) < 0.01  # the median's interval ignores it ...
    assert timing.ci95_rel(spoiled) > 0.04  # ... where the mean's would report ±4% or more
    assert timing.median_ci95_rel([2.0]) == 0.0
    assert timing.median_ci95_rel([1.0, 3.0]) == pytest.approx(0.5)  # two rounds: the range, about the median


def test_rounds_for_a_median_are_planned_from_a_spread_one_outlier_does_not_inflate() -> None:
    pilot = [2.0, 2.02, 1.98, 2.01, 0.5]  # one spoiled pair
    assert timing.rounds_needed(pilot, 0.02, median=True) < timing.rounds_needed(pilot, 0.02)
    assert timing.rounds_needed([2.0] * 5, 0.02, median=True) == MIN_PAIRS  # the floor of a median's evidence
    assert timing.rounds_needed([2.0] * 5, 0.02) == MIN_ROUNDS


def test_a_paired_pilot_is_evidence_and_the_bank_lends_what_fast_cases_left_to_slow_ones() -> None:
    spec = TimeSpec(max_time_s=1.0, target_ci=0.02)
    bank = timing.TimeBank()
    steady = lambda: (0.010, 0.005)  # noqa: E731  a fast, stable pair: the floor of pairs, its pilot among them
    rounds, pilot = timing._adaptive_rounds(steady, True, spec, bank)
    assert (len(pilot), rounds) == (PAIRED_PILOT_ROUNDS, MIN_PAIRS - PAIRED_PILOT_ROUNDS)
    left = bank.balance_s
    assert left == pytest.approx(1.0 - MIN_PAIRS * 0.015)  # only the pairs it ran were spent
    # a slow, noisy pair (0.1 s a round): alone it affords 10 pairs; with the loan it affords more, pilots,
    # needs more than that and runs what it affords
    noisy = itertools.cycle([(0.06, 0.04), (0.05, 0.05), (0.04, 0.06), (0.06, 0.04), (0.05, 0.05)])
    rounds, pilot = timing._adaptive_rounds(lambda: next(noisy), True, spec, bank)
    affordable = int((1.0 + left) / 0.1)
    assert len(pilot) + rounds == affordable > 10
    assert bank.balance_s == pytest.approx(1.0 + left - affordable * 0.1)  # what its pairs left is given back
    # the bank is spent: the next slow pair runs what it affords alone, its pilot leaving room for the rounds
    rounds, pilot = timing._adaptive_rounds(lambda: (0.06, 0.04), True, spec, timing.TimeBank())
    assert (len(pilot), rounds) == (10 - MIN_ROUNDS, MIN_ROUNDS)
    # a steady slow pair (20 would not fit its own time) takes the slow floor, borrowing only for it
    rich = timing.TimeBank(balance_s=5.0)
    rounds, pilot = timing._adaptive_rounds(lambda: (0.06, 0.04), True, spec, rich)
    assert len(pilot) + rounds == timing.SLOW_MIN_PAIRS < MIN_PAIRS
    assert rich.balance_s == pytest.approx(5.0 - (timing.SLOW_MIN_PAIRS * 0.1 - 1.0))
    # one that fits `MIN_PAIRS` in its own time runs them, borrowing nothing
    before = rich.balance_s
    rounds, pilot = timing._adaptive_rounds(lambda: (0.03, 0.02), True, spec, rich)
    assert len(pilot) + rounds == MIN_PAIRS and rich.balance_s == pytest.approx(before)
    # a pair slower than its whole allowance still runs the minimum of recorded rounds after its one probe
    rounds, pilot = timing._adaptive_rounds(lambda: (2.0, 1.0), True, spec, timing.TimeBank())
    assert (len(pilot), rounds) == (1, MIN_ROUNDS)
    # an fp32 case alone never borrows
    lone = timing.TimeBank(balance_s=5.0)
    assert timing._adaptive_rounds(lambda: (0.0, 0.1), False, spec, lone) == (10, [])
    assert lone.balance_s == pytest.approx(5.0)


def test_the_pilot_s_pairs_join_the_speed_up_unless_they_ran_apart_from_the_rounds() -> None:
    recorded = [0.0100, 0.0102, 0.0098, 0.0101, 0.0099]  # x2.04 .. x1.96
    timed = timing.Timed(times=[0.005] * 5, baseline=recorded, pilot=[(0.0100, 0.005)] * 6)
    assert len(timed.ratios()) == 11  # the pilot's median (x2) within the rounds' range: evidence too
    info = timing.with_rounds(untimed(1), timed)
    assert info.speedup == pytest.approx(2.0)
    assert info.latency is not None and info.latency.rounds == 5  # latency: pytest-benchmark's recorded rounds
    apart = timing.Timed(times=[0.005] * 5, baseline=recorded, pilot=[(0.030, 0.010)] * 6)
    assert len(apart.ratios()) == 5  # a pilot at x3 beside rounds at x2: the load changed, the rounds alone
    assert timing.with_rounds(untimed(1), apart).speedup == pytest.approx(2.0, rel=0.02)


def test_a_baseline_row_times_a_share_of_the_time_and_a_fixed_count_stays() -> None:
    spec = TimeSpec(max_time_s=2.0)
    assert timing.baseline_spec(spec).max_time_s == pytest.approx(2.0 * timing.BASELINE_TIME_SHARE)
    fixed = TimeSpec(rounds=7, max_time_s=2.0)
    assert timing.baseline_spec(fixed) == fixed


def test_microsecond_pairs_run_at_least_a_share_of_the_time() -> None:
    """A steady 100 us pair would stop at the floor of pairs (2 ms): too few for calls that jitter by
    microseconds; it runs at least `MIN_TIME_SHARE` of `max_time_s` instead."""
    spec = TimeSpec(max_time_s=1.0, target_ci=0.02)
    rounds, pilot = timing._adaptive_rounds(lambda: (0.00006, 0.00004), True, spec, timing.TimeBank())
    assert len(pilot) + rounds == pytest.approx(timing.MIN_TIME_SHARE / 0.0001, abs=1)


def test_the_garbage_collector_is_paused_while_a_case_times_and_left_as_it_was() -> None:
    import gc

    assert gc.isenabled()
    with timing.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with timing.collector_paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
