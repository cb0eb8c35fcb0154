"""The run's time bank: credit against the cases still to come, repaid by them, never past the run's time."""

from __future__ import annotations

import random

import pytest

from pytest_quantbench.measure import timing
from pytest_quantbench.measure.time_bank import LOAN_CAP, PREFUND_SHARE, TimeBank
from pytest_quantbench.suite import TimeSpec


def test_a_slow_case_that_runs_first_borrows_against_the_cases_to_come() -> None:
    spec = TimeSpec(max_time_s=1.0, target_ci=0.02)
    noisy = [(0.06, 0.04), (0.05, 0.05), (0.04, 0.06)] * 20  # 0.1 s a pair, too spread for 10 pairs
    alone = timing._paired_rounds(noisy[0], iter(noisy[1:]).__next__, spec, TimeBank())
    bank = TimeBank()
    for key in ("fast-1", "fast-2", "fast-3", "fast-4"):
        bank.expect(key, 1.0)
    backed = timing._paired_rounds(noisy[0], iter(noisy[1:]).__next__, spec, bank)
    assert alone[0] + len(alone[1]) == 10  # its own second only
    assert backed[0] + len(backed[1]) == int((1.0 + LOAN_CAP * 1.0) / 0.1)  # what the cap lets it borrow
    assert bank.balance_s == pytest.approx(-LOAN_CAP * 1.0)  # in debt, against the four cases to come


def test_a_case_that_finds_the_run_in_debt_repays_at_most_its_share() -> None:
    bank = TimeBank(balance_s=-3.0)
    bank.expect("next", 1.0)
    bank.settle("next")  # it times now: its own time backs nothing
    assert bank.lend(2.0, 2.0, own_s=1.0) == pytest.approx(-PREFUND_SHARE)  # it keeps the rest of its second
    assert bank.balance_s == pytest.approx(-3.0 + PREFUND_SHARE)
    bank.settle("never-expected")  # a case that was never expected (or settled twice) changes nothing
    assert bank.balance_s == pytest.approx(-3.0 + PREFUND_SHARE)


def test_the_run_never_times_longer_than_every_case_s_time_together() -> None:
    """Any order of fast and slow cases: each keeps at least the unlent share of its own time, and what they
    spend in all stays within the sum of their `max_time_s` (no case here hits a floor of rounds)."""
    rng = random.Random(7)
    for _ in range(200):
        times = [rng.choice([0.5, 1.0, 2.0]) for _ in range(rng.randint(1, 12))]
        bank = TimeBank()
        for i, own in enumerate(times):
            bank.expect(str(i), own)
        spent = 0.0
        for i, own in enumerate(times):
            bank.settle(str(i))
            allowance = own + bank.lend(LOAN_CAP * own, LOAN_CAP * own, own)
            assert allowance >= (1 - PREFUND_SHARE) * own - 1e-9
            used = allowance * rng.choice([0.1, 0.5, 1.0])  # fast cases leave time, slow ones spend it all
            bank.deposit(allowance - used)
            spent += used
        assert spent <= sum(times) + 1e-9


def test_a_case_whose_pairs_spread_more_than_its_pilot_said_tops_up_on_a_second_loan() -> None:
    spec = TimeSpec(max_time_s=1.0, target_ci=0.02)
    steady_pilot = [(0.010, 0.005)] * 10  # x2.0: a pilot that planned the floor of pairs
    shifted = [0.012, 0.008, 0.0115, 0.0085, 0.012, 0.008, 0.0115, 0.0085, 0.012, 0.008]  # the load changed
    timed = timing.Timed(times=[0.005] * 10, baseline=shifted)
    assert timing.median_ci95_rel(timed.ratios()) > spec.target_ci
    bank = TimeBank(balance_s=5.0)
    topped = timing._topped_up(timed, lambda: (0.010, 0.005), spec, bank)
    assert len(topped.extra) >= timing.PILOT_ROUNDS  # more pairs, as the whole spread asks
    assert timing.median_ci95_rel(topped.ratios()) < timing.median_ci95_rel(timed.ratios())
    assert bank.balance_s == pytest.approx(5.0 - 0.015 * len(topped.extra))  # what they took, no more
    # a case whose pairs agree with its pilot runs none, and one that spent its cap borrows nothing
    calm = timing.Timed(times=[0.005] * 10, baseline=[0.010] * 10, pilot=steady_pilot)
    assert timing._topped_up(calm, lambda: (0.010, 0.005), spec, bank).extra == []
    spent = timing.Timed(times=[0.5] * 6, baseline=shifted[:6], pilot=[])  # 3 s: its whole cap
    assert timing._topped_up(spent, lambda: (0.010, 0.005), spec, bank).extra == []
