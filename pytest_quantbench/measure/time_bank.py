"""The run's time bank: timing time that fast latency cases leave unspent, lent to slow ones."""

from __future__ import annotations

from dataclasses import dataclass

LOAN_CAP = 2.0  # a slow paired case borrows at most this many times its own `max_time_s` from the run's bank


@dataclass
class TimeBank:
    """Timing time the run's fast cases left unspent, lent to slow ones: a case that reaches its precision in
    less than `max_time_s` deposits the rest, and a case whose pilot needs more than `max_time_s` affords
    borrows up to `LOAN_CAP` times it, as does one whose pairs turn out more spread than its pilot said. The
    run never times longer than every case's `max_time_s` together, and the slow shapes (large batches, which
    afford few rounds) get the rounds they need.

    It lends only what was deposited. Credit against the cases still to come was measured (a replay of 12
    runs' pairs through this code): it moves precision from the run's last suites to its first at 6 s more a
    run, and brings no more speed-ups within ±3%."""

    balance_s: float = 0.0

    def lend(self, wanted_s: float, cap_s: float) -> float:
        lent = max(0.0, min(wanted_s, cap_s, self.balance_s))
        self.balance_s -= lent
        return lent

    def deposit(self, unspent_s: float) -> None:
        self.balance_s += max(0.0, unspent_s)
