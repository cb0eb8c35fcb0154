"""Latency cases: how each is timed (paired rounds, adaptive counts, the run's time bank), and the speed-up
measured in the same run; which cases there are is `measurements.py`'s."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from pytest_quantbench.errors import BuildError
from pytest_quantbench.measure.measurements import Measurement
from pytest_quantbench.measure.time_bank import LOAN_CAP, TimeBank
from pytest_quantbench.records import (
    HardwareRisk,
    LatencyStats,
    MachineFacts,
    MemoryStats,
    MetricResult,
    ModelSize,
    Phase,
    QuantizationReport,
    Role,
    TimingResult,
)
from pytest_quantbench.runtimes.base import inputs_of, run_failure
from pytest_quantbench.suite import TimeSpec

Z95 = 1.96
MAD_TO_SD = 1.4826  # the median absolute deviation of a normal sample, times this, is its standard deviation
MEDIAN_EFFICIENCY = 1.2533  # a sample median's standard error is sqrt(pi/2) times the mean's
MIN_ROUNDS = PILOT_ROUNDS = 5
PILOT_WORTH_IT = MIN_ROUNDS + 2 * PILOT_ROUNDS  # affordable rounds from which a pilot may save what it costs
# A paired case's pilot is evidence too (its pairs join the speed-up), so it costs nothing and can be long
# enough to judge the spread; and no speed-up rests on fewer pairs than make its order-statistic interval
# more than the range: at 20 pairs the interval spans the middle half of the ratios, at 5 all of them.
PAIRED_PILOT_ROUNDS = 10
MIN_PAIRS = 20
# A pair slower than its `max_time_s` over `MIN_PAIRS` would borrow much for the floor alone: it takes this one,
# which keeps its interval off the three most extreme ratios each side, and borrows only for what its spread needs.
SLOW_MIN_PAIRS = 15
# ... and none on less than this share of its `max_time_s`: calls of a few microseconds (a small CNN) jitter
# by more than the speed-up's precision, and thousands of them cost a tenth of a second.
MIN_TIME_SHARE = 0.1
# A baseline's own latency row informs (the speed-ups come from the pairs, each with its fp32 call), so it
# times this share of `max_time_s`; the time goes to the pairs.
BASELINE_TIME_SHARE = 0.25


def rounds_needed(pilot: list[float], target_ci: float, median: bool = False, floor: int | None = None) -> int:
    """Rounds that bring the 95% CI of the pilot quantity's mean within ±`target_ci`, judged from the pilot's
    spread; with `median` (a paired speed-up, reported as the median of its ratios) the CI of the median,
    judged from a spread one preempted call does not inflate (the MAD), wider by the median's 1.25, and never
    fewer than `floor` (default `MIN_PAIRS`: below them the order statistics' interval is wider than the normal
    theory says)."""
    floor = floor or (MIN_PAIRS if median else MIN_ROUNDS)
    centre = statistics.median(pilot) if median else statistics.fmean(pilot)
    if len(pilot) < 2 or centre <= 0:
        return floor
    if median:
        spread = MAD_TO_SD * statistics.median(abs(v - centre) for v in pilot) / centre * MEDIAN_EFFICIENCY
    else:
        spread = statistics.stdev(pilot) / centre
    return max(floor, math.ceil((Z95 * spread / target_ci) ** 2))


def plan_rounds(pilot: list[float], round_s: float, spec: TimeSpec, median: bool = False, extra_s: float = 0.0) -> int:
    """`rounds_needed`, but no more than `max_time_s` (plus `extra_s` the run's `TimeBank` lends) of rounds of
    `round_s` each: a stable small model stops after a few rounds, a slow one at the cap."""
    affordable = int((spec.max_time_s + extra_s) / round_s) if round_s > 0 else MIN_ROUNDS
    return max(MIN_ROUNDS, min(rounds_needed(pilot, spec.target_ci, median), affordable))


def baseline_spec(spec: TimeSpec) -> TimeSpec:
    """How a baseline's own latency row is timed: adaptive rounds within `BASELINE_TIME_SHARE` of the time."""
    if spec.rounds is not None:
        return spec
    return dataclasses.replace(spec, max_time_s=spec.max_time_s * BASELINE_TIME_SHARE)


def ci95_rel(values: list[float]) -> float:
    """Half-width of the 95% confidence interval of the mean, relative to the mean."""
    mean = statistics.fmean(values)
    return Z95 * statistics.stdev(values) / math.sqrt(len(values)) / mean if len(values) > 1 and mean > 0 else 0.0


def median_ci95_rel(values: list[float]) -> float:
    """Half-width of the distribution-free 95% confidence interval of the median (between the order statistics
    the binomial bounds), relative to the median: the interval of the statistic a speed-up reports. A mean's
    interval would be widened by every preempted call, whose ratio the median already ignores."""
    n = len(values)
    centre = statistics.median(values) if values else 0.0
    if n < 2 or centre <= 0:
        return 0.0
    ordered = sorted(values)
    k = max(0, math.floor(n / 2 - Z95 * math.sqrt(n) / 2))  # 0-based rank of the lower bound
    return (ordered[n - 1 - k] - ordered[k]) / 2 / centre


def _timed_call(session: Any, feed: dict) -> float:
    start = time.perf_counter()
    try:  # free until it raises (zero-cost exceptions): the timed call stays a bare `run`
        session.run(None, feed)
    except Exception as exc:
        raise run_failure(session, feed, exc) from exc
    return time.perf_counter() - start


class Timer(Protocol):
    """What timing needs of pytest-benchmark's fixture (`plugin.benchmark.Timer` adapts it)."""

    @property
    def disabled(self) -> bool: ...

    def pedantic(self, target: Callable[..., Any], **kwargs: Any) -> Any: ...

    def times(self) -> list[float] | None:
        """The recorded rounds in seconds, None when nothing was timed."""


@dataclass
class Timed:
    """A case's recorded rounds in seconds; for an int8 case the fp32 call run just before each of them, and the
    (fp32, int8) pairs of its pilot, which were run the same way outside pytest-benchmark's record."""

    times: list[float]
    baseline: list[float] = field(default_factory=list)
    pilot: list[tuple[float, float]] = field(default_factory=list)
    extra: list[tuple[float, float]] = field(default_factory=list)  # pairs run after the rounds (`_topped_up`)

    def ratios(self) -> list[float]:
        """Every pair's fp32/int8 ratio: the pilot's and the recorded rounds' (with the pairs run after them), or
        the latter alone when the pilot's median lies outside their range (the machine's load changed between
        the two: mixed, the pairs would make two modes and move the median between them)."""
        recorded = [before / t for before, t in [*zip(self.baseline, self.times, strict=True), *self.extra] if t > 0]
        pilot = [before / t for before, t in self.pilot if t > 0]
        if pilot and recorded and not min(recorded) <= statistics.median(pilot) <= max(recorded):
            return recorded
        return [*pilot, *recorded]


def time_session(
    timer: Timer,
    session: Any,
    feed: dict,
    spec: TimeSpec,
    baseline: Any = None,
    baseline_feed: dict | None = None,
    bank: TimeBank | None = None,
) -> Timed | None:
    """Time `session.run` with pytest-benchmark; inputs are built before, only the call is timed.

    With a `baseline` session (an int8 case's fp32 model), every round is a pair: the fp32 call runs in
    pytest-benchmark's untimed `setup`, timed here, right before the timed int8 call. Both then see the same
    moment of a noisy machine, so their ratio holds where latencies measured seconds apart drift.

    With `rounds` unset, rounds adapt after the warm-up (`_adaptive_rounds`): a paired case runs a pilot of
    pairs whose spread sets how many more it needs for its speed-up's interval (the pilot's pairs count in the
    speed-up), within `max_time_s` and what the run's `bank` lends (`TimeBank`); an fp32 case pilots only
    where `max_time_s` affords enough rounds for a pilot to pay off (`PILOT_WORTH_IT`). The baseline runs on
    `feed` too unless it has its own (`baseline_feed`: a decoder's cache, which each model makes for itself).
    Returns None when pytest-benchmark is disabled. Python's cyclic garbage collector is paused meanwhile
    (`collector_paused`).
    """
    with collector_paused():
        return _time_rounds(timer, session, feed, spec, baseline, baseline_feed, bank)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a case times, as `timeit` does: a collection triggered by the
    loop's own allocations walks every object the run holds (datasets, tokenizers, torch modules) and lands
    inside one call of a pair, whose ratio it spoils. Session outputs hold no cycles: reference counting frees
    them meanwhile, and what else waits is collected after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _time_rounds(
    timer: Timer,
    session: Any,
    feed: dict,
    spec: TimeSpec,
    baseline: Any,
    baseline_feed: dict | None,
    bank: TimeBank | None,
) -> Timed | None:
    base_feed = inputs_of(baseline, feed if baseline_feed is None else baseline_feed) if baseline is not None else {}
    feed = inputs_of(session, feed)
    paired: list[float] = []  # the fp32 call of each recorded round
    pilot: list[tuple[float, float]] = []

    def calls() -> tuple[float, float]:
        """One round outside pytest-benchmark (warm-up, pilot): (fp32 seconds or 0, seconds)."""
        before = _timed_call(baseline, base_feed) if baseline is not None else 0.0
        return before, _timed_call(session, feed)

    def setup() -> None:
        paired.append(_timed_call(baseline, base_feed))

    bank = bank or TimeBank()
    rounds, warmup = spec.rounds, spec.warmup_rounds
    if not timer.disabled and (rounds is None or baseline is not None):
        for _ in range(warmup if rounds else max(warmup, 1)):  # both models warm up
            calls()
        if rounds is None:
            rounds, pilot = _adaptive_rounds(calls, baseline is not None, spec, bank)
        warmup = 0
    try:
        timer.pedantic(
            session.run, args=(None, feed), setup=setup if baseline is not None else None, rounds=rounds or 1,
            warmup_rounds=warmup, iterations=1,
        )  # fmt: skip
    except BuildError:  # the paired fp32 call, already worded
        raise
    except Exception as exc:
        raise run_failure(session, feed, exc) from exc
    times = timer.times()
    if times is None:
        return None
    timed = Timed(times, paired, pilot)
    return _topped_up(timed, calls, spec, bank) if spec.rounds is None and baseline is not None else timed


def _topped_up(timed: Timed, calls: Callable[[], tuple[float, float]], spec: TimeSpec, bank: TimeBank) -> Timed:
    """A paired case whose speed-up came out wider than `target_ci` (its pairs more spread than its pilot said:
    the load changed mid-case) runs the pairs its whole spread asks for, on a second loan within its cap of
    `LOAN_CAP` times its own time: they join the speed-up (`Timed.extra`). A case whose pilot was right, or that
    spent its cap already, runs none."""
    ratios = timed.ratios()
    if median_ci95_rel(ratios) <= spec.target_ci:
        return timed
    pairs = [*timed.pilot, *zip(timed.baseline, timed.times, strict=True)]
    spent_s = sum(before + t for before, t in pairs)
    round_s = spent_s / len(pairs)
    wanted = max(PILOT_ROUNDS, rounds_needed(ratios, spec.target_ci, median=True) - len(ratios))
    loan = bank.lend(wanted * round_s, (1 + LOAN_CAP) * spec.max_time_s - spent_s)
    extra = [calls() for _ in range(int(loan / round_s))] if round_s > 0 else []
    bank.deposit(loan - sum(before + t for before, t in extra))
    return dataclasses.replace(timed, extra=extra)


def _adaptive_rounds(
    calls: Callable[[], tuple[float, float]], paired: bool, spec: TimeSpec, bank: TimeBank
) -> tuple[int, list[tuple[float, float]]]:
    """The rounds of an adaptive case, and for a paired case its pilot's pairs (the case's evidence too).

    A first steady round (after the warm-up, whose first call allocates) prices a round. A paired case runs
    `_paired_rounds`; an fp32 case never borrows and pilots only where it can pay (`PILOT_WORTH_IT`)."""
    probe = calls()
    if paired:
        return _paired_rounds(probe, calls, spec, bank)
    round_s = sum(probe)
    affordable = int(spec.max_time_s / round_s) if round_s > 0 else PILOT_WORTH_IT
    if affordable < PILOT_WORTH_IT:  # the pilot would cost more calls than it could save
        return max(MIN_ROUNDS, affordable), []
    times = [t for _, t in (calls() for _ in range(PILOT_ROUNDS))]
    return plan_rounds(times, statistics.fmean(times), spec), []


def _paired_rounds(
    probe: tuple[float, float], calls: Callable[[], tuple[float, float]], spec: TimeSpec, bank: TimeBank
) -> tuple[int, list[tuple[float, float]]]:
    """A paired case borrows what the bank can lend (up to `LOAN_CAP` times its own time), pilots, and runs the
    pairs its pilot's spread needs (`rounds_needed`: at least `MIN_PAIRS`, or `SLOW_MIN_PAIRS` where those
    would not fit its own time, and at least `MIN_TIME_SHARE` of it), at least `MIN_ROUNDS` of them recorded;
    what it leaves unspent goes back to the bank."""
    round_s = sum(probe)
    loan = bank.lend(LOAN_CAP * spec.max_time_s, LOAN_CAP * spec.max_time_s)
    allowance = spec.max_time_s + loan
    affordable = max(1, int(allowance / round_s)) if round_s > 0 else PAIRED_PILOT_ROUNDS
    floor = MIN_PAIRS if MIN_PAIRS * round_s <= spec.max_time_s else SLOW_MIN_PAIRS
    # the pilot leaves room for the recorded rounds within what the case affords and within its floor
    pilot_size = max(1, min(PAIRED_PILOT_ROUNDS, affordable - MIN_ROUNDS, floor - MIN_ROUNDS))
    pilot = [probe, *(calls() for _ in range(pilot_size - 1))]
    round_s = statistics.fmean(before + t for before, t in pilot)
    wanted = rounds_needed([before / t for before, t in pilot if t > 0], spec.target_ci, True, floor)
    if round_s > 0:
        wanted = max(wanted, int(MIN_TIME_SHARE * spec.max_time_s / round_s))
    affordable = int(allowance / round_s) if round_s > 0 else wanted
    rounds = max(MIN_ROUNDS, min(wanted, affordable) - len(pilot))
    bank.deposit(allowance - (len(pilot) + rounds) * round_s)
    return rounds, pilot


def latency_stats(times: list[float]) -> LatencyStats:
    """Mean, p50/p90/p99 in ms and the CI of the mean: kept because saved runs drop the raw rounds."""
    cuts = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else [times[0]] * 99
    return LatencyStats(
        mean_ms=statistics.fmean(times) * 1e3,
        p50_ms=cuts[49] * 1e3,
        p90_ms=cuts[89] * 1e3,
        p99_ms=cuts[98] * 1e3,
        rounds=len(times),
        ci95_rel=ci95_rel(times),
    )


def with_rounds(result: TimingResult, timed: Timed) -> TimingResult:
    """A latency record with what its rounds say: their latency and, for a paired quantized case, its fp32
    calls and the speed-up, the median of the per-pair ratios (a preempted call spoils one pair, which the
    median drops)."""
    result = dataclasses.replace(result, latency=latency_stats(timed.times))
    if not timed.baseline:
        return result
    ratios = timed.ratios()
    return dataclasses.replace(
        result, paired_fp32=latency_stats(timed.baseline), speedup=statistics.median(ratios),
        speedup_ci95_rel=median_ci95_rel(ratios),
    )  # fmt: skip


def timing_result(
    m: Measurement,
    timed: Timed | None,
    machine: MachineFacts,
    report: QuantizationReport | None = None,
    risk: HardwareRisk | None = None,
    accuracy: dict[str, MetricResult] | None = None,
    size: ModelSize | None = None,
    memory: MemoryStats | None = None,
    fp32_memory: MemoryStats | None = None,
) -> TimingResult:
    """What a latency case records: the model and shape, the machine, and the statistics of its rounds."""
    case, suite = m.case, m.case.suite
    quantized = m.role is Role.QUANTIZED
    result = TimingResult(
        suite=suite.name, task=suite.task, model=suite.model_name_or_path, role=m.role,
        config_id=case.id if quantized else case.baseline_id, config=case.settings() if quantized else {},
        batch_size=m.batch_size, input_length=m.input_length,
        intra_op_num_threads=case.config.framework_args.intra_op_num_threads, machine=machine,
        quantized_nothing=None if report is None else report.quantized_nothing,
        quantization=report, hardware_risk=risk, accuracy=accuracy, size=size, baseline=case.baseline,
        memory=memory, fp32_memory=fp32_memory, phase=m.phase,
        prompt_length=m.prompt_length if m.phase is Phase.GENERATE else None,
    )  # fmt: skip
    return result if timed is None else with_rounds(result, timed)
