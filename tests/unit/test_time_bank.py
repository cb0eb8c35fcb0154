"""A paired case whose pairs spread more than its pilot said tops up from the run's time bank, within its cap."""

from __future__ import annotations

import pytest

from pytest_quantbench.measure import timing
from pytest_quantbench.measure.time_bank import TimeBank
from pytest_quantbench.suite import TimeSpec


def test_a_case_whose_pairs_spread_more_than_its_pilot_said_tops_up_on_a_second_loan() -> None:
    spec = TimeSpec(max_time_s=1.0, target_ci=0.02)
    shifted = [0.012, 0.008, 0.0115, 0.0085, 0.012, 0.008, 0.0115, 0.0085, 0.012, 0.008]  # the load changed
    timed = timing.Timed(times=[0.005] * 10, baseline=shifted)
    assert timing.median_ci95_rel(timed.ratios()) > spec.target_ci
    bank = TimeBank(balance_s=5.0)
    topped = timing._topped_up(timed, lambda: (0.010, 0.005), spec, bank)
    assert len(topped.extra) >= timing.PILOT_ROUNDS  # more pairs, as the whole spread asks
    assert timing.median_ci95_rel(topped.ratios()) < timing.median_ci95_rel(timed.ratios())
    assert bank.balance_s == pytest.approx(5.0 - 0.015 * len(topped.extra))  # what they took, no more
    # a case whose pairs agree with its pilot runs none, and one that spent its cap borrows nothing
    steady_pilot = [(0.010, 0.005)] * 10  # x2.0, as the recorded rounds
    calm = timing.Timed(times=[0.005] * 10, baseline=[0.010] * 10, pilot=steady_pilot)
    assert timing._topped_up(calm, lambda: (0.010, 0.005), spec, bank).extra == []
    spent = timing.Timed(times=[0.5] * 6, baseline=shifted[:6], pilot=[])  # 3 s: its whole cap
    assert timing._topped_up(spent, lambda: (0.010, 0.005), spec, bank).extra == []


def test_the_runs_bank_lends_on_its_overdraft_before_any_deposit_and_deposits_refill_it() -> None:
    spec = TimeSpec(max_time_s=1.0, target_ci=0.02)
    slow_first = lambda: (0.10, 0.06)  # noqa: E731  (a batch-8 pair: 6 fit its own second)
    alone, _ = timing._adaptive_rounds(slow_first, True, spec, TimeBank())  # a case timed on its own
    bank = TimeBank(overdraft_s=4.0)  # the run's
    rounds, pilot = timing._adaptive_rounds(slow_first, True, spec, bank)
    assert len(pilot) + rounds >= timing.SLOW_MIN_PAIRS > alone + 1  # its floor, on the overdraft
    assert -4.0 <= bank.balance_s < 0  # lent on the overdraft, never beyond it
    left = 4.0 + bank.balance_s
    assert bank.lend(10.0, 10.0) == pytest.approx(left)  # what is left of it, no more
    assert bank.lend(1.0, 1.0) == 0.0
    bank.deposit(4.5)  # a fast case's time refills the overdraft first
    assert bank.lend(10.0, 10.0) == pytest.approx(0.5 + 4.0)
