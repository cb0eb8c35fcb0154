"""The run's time bank: timing time that fast latency cases leave unspent, lent to slow ones, and credit
against the cases still to come, so a slow case that runs first is not the one left short."""

from __future__ import annotations

from dataclasses import dataclass, field

LOAN_CAP = 2.0  # a slow paired case borrows at most this many times its own `max_time_s` from the run's bank
# A case may borrow against this share of the `max_time_s` of the paired cases still to come (they are
# expected to leave it: most cases reach their precision well within their time). A later case repays at
# most this share of its own time, so every case keeps the rest whatever ran before it, and the run never
# times longer than every case's `max_time_s` together (each case's repayment covers what was lent on it).
PREFUND_SHARE = 0.5


@dataclass
class TimeBank:
    """Timing time the run's fast cases left unspent, lent to slow ones: a case that reaches its precision in
    less than `max_time_s` deposits the rest, and a case whose pilot needs more than `max_time_s` affords
    borrows up to `LOAN_CAP` times it. Without credit (`expected` empty: a programmatic run, an xdist worker)
    only what was deposited is lent, and a slow case that runs before the fast ones gets nothing; with the
    collected cases `expected`, it borrows against `PREFUND_SHARE` of their time, which they repay."""

    balance_s: float = 0.0  # negative: lent on credit, repaid by the cases still to come
    expected: dict[str, float] = field(default_factory=dict)  # paired cases still to time: max_time_s by node id

    def expect(self, key: str, max_time_s: float) -> None:
        self.expected[key] = max_time_s

    def settle(self, key: str) -> None:
        """A case times now, or never will (skipped, failed before timing): it no longer backs a loan."""
        self.expected.pop(key, None)

    def credit_s(self) -> float:
        return self.balance_s + PREFUND_SHARE * sum(self.expected.values())

    def lend(self, wanted_s: float, cap_s: float, own_s: float = 0.0) -> float:
        """Up to `wanted_s` and `cap_s` of the credit; negative when the run is in debt: the case, of `own_s`
        seconds, repays up to `PREFUND_SHARE` of them."""
        lent = max(min(wanted_s, cap_s, self.credit_s()), -PREFUND_SHARE * own_s)
        self.balance_s -= lent
        return lent

    def deposit(self, unspent_s: float) -> None:
        self.balance_s += max(0.0, unspent_s)
