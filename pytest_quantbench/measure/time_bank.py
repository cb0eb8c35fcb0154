"""The run's time bank: timing time that fast latency cases leave unspent, lent to slow ones."""

from __future__ import annotations

from dataclasses import dataclass

LOAN_CAP = 2.0  # a slow paired case borrows at most this many times its own `max_time_s` from the run's bank


# The run's bank may lend this much before anything is deposited: the slow shapes that happen to run first (the
# seven batch-8 embedding rows, before any fast case has left time over: 6 pairs of 0.17-0.27 s fit their own
# second, 9 more reach their floor, ~13 s in all) borrow against what the fast cases leave later. A replay of 12
# runs' recorded pairs through this code: 635 of 678 speed-ups within ±3% against 618 without it, at 10 s more
# a run, where 20% more time for every case gave 623 at 6 s more (an allocation, not just more time); 10 s of
# overdraft gave 631, 20 s 638, 30 s 639. Real warm runs alternated with and without it agree where the machine
# is quiet (55, 56, 56 of 56 against 50, 55, 51; 5 s more a run); on a noisy VM neither side won (198 of 224).
OVERDRAFT_S = 15.0


@dataclass
class TimeBank:
    """Timing time the run's fast cases left unspent, lent to slow ones: a case that reaches its precision in
    less than `max_time_s` deposits the rest, and a case whose pilot needs more than `max_time_s` affords
    borrows up to `LOAN_CAP` times it, as does one whose pairs turn out more spread than its pilot said. The
    run's bank lends what was deposited and up to `overdraft_s` more (`OVERDRAFT_S`), so a slow case that runs
    before the fast ones is not the one left short; deposits refill the overdraft before anything else is
    lent. A case's own `max_time_s` is never lent away: the run times at most `overdraft_s` beyond every
    case's `max_time_s` together, and the slow shapes (large batches, which afford few rounds) get the rounds
    they need.

    Credit that later cases repaid out of their own time was measured (a replay of 12 runs' pairs through this
    code): it moved precision from the run's last suites to its first at 6 s more a run, and brought no more
    speed-ups within ±3%. A bank built without an overdraft (a case timed on its own) lends only deposits."""

    balance_s: float = 0.0  # below 0: lent on the overdraft, refilled by the next deposits
    overdraft_s: float = 0.0

    def lend(self, wanted_s: float, cap_s: float) -> float:
        lent = max(0.0, min(wanted_s, cap_s, self.balance_s + self.overdraft_s))
        self.balance_s -= lent
        return lent

    def deposit(self, unspent_s: float) -> None:
        self.balance_s += max(0.0, unspent_s)
