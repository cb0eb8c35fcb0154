"""Latency cases: which (model, shape) pairs to time, how, and the speed-up measured in the same run."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from .config import Case, Suite, TimeSpec

Z95 = 1.96
MIN_ROUNDS = PILOT_ROUNDS = 5
PILOT_WORTH_IT = MIN_ROUNDS + 2 * PILOT_ROUNDS  # affordable rounds from which a pilot may save what it costs


@dataclass(frozen=True)
class Measurement:
    """One timing case: the fp32 baseline or a config's int8 model, at one batch size and input length."""

    case: Case
    role: str  # "fp32" or "int8"
    batch_size: int
    input_length: int | None

    @property
    def shape_id(self) -> str:
        return f"bs{self.batch_size}" + (f"-len{self.input_length}" if self.input_length else "")

    @property
    def id(self) -> str:
        model = self.case.baseline_id if self.role == "fp32" else f"int8-{self.case.id}"
        return f"{model}-{self.shape_id}"

    @property
    def group(self) -> str:
        """pytest-benchmark group: the baseline and every config of one shape side by side."""
        shape = f"batch_size={self.batch_size}" + (f" input_length={self.input_length}" if self.input_length else "")
        return f"{self.case.suite.name} {shape}"

    @property
    def baseline_key(self) -> tuple:
        return (str(self.case.suite.path), self.case.baseline_id, self.batch_size, self.input_length)


def measurements(suite: Suite) -> list[Measurement]:
    """Shape by shape: each distinct fp32 baseline once, then every config."""
    out = []
    for batch_size, input_length in suite.shapes:
        baselines = {}
        for case in suite.cases:
            baselines.setdefault(case.baseline_id, case)
        out += [Measurement(c, "fp32", batch_size, input_length) for c in baselines.values()]
        out += [Measurement(c, "int8", batch_size, input_length) for c in suite.cases]
    return out


def plan_rounds(pilot: list[float], spec: TimeSpec) -> int:
    """Rounds that bring the 95% CI of the mean within ±`target_ci` (judged from the pilot's spread), but no
    more than `max_time_s` of calls: a stable small model stops after a few rounds, a slow one at the cap."""
    mean = statistics.fmean(pilot)
    spread = statistics.stdev(pilot) / mean if len(pilot) > 1 and mean > 0 else 0.0
    needed = math.ceil((Z95 * spread / spec.target_ci) ** 2)
    affordable = int(spec.max_time_s / mean) if mean > 0 else MIN_ROUNDS
    return max(MIN_ROUNDS, min(needed, affordable))


def ci95_rel(times: list[float]) -> float:
    """Half-width of the 95% confidence interval of the mean, relative to the mean."""
    mean = statistics.fmean(times)
    return Z95 * statistics.stdev(times) / math.sqrt(len(times)) / mean if len(times) > 1 and mean > 0 else 0.0


def _timed_calls(session: Any, feed: dict, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    return times


def time_session(benchmark: Any, session: Any, feed: dict, spec: TimeSpec) -> list[float] | None:
    """Time `session.run` with pytest-benchmark; inputs are built before, only the call is timed.

    With `rounds` unset, the warm-up calls are timed too: when they show that `max_time_s` affords too few
    rounds for a pilot to pay off (`PILOT_WORTH_IT`), the case runs what it affords (at least the minimum);
    otherwise a pilot of calls (not recorded) sets the number of rounds (`plan_rounds`). Returns the latency of every round in seconds, or None when pytest-benchmark is
    disabled.
    """
    wanted = {i.name for i in session.get_inputs()}
    feed = {k: v for k, v in feed.items() if k in wanted}
    rounds, warmup = spec.rounds, spec.warmup_rounds
    if rounds is None and not getattr(benchmark, "disabled", False):
        last = _timed_calls(session, feed, max(warmup, 1))[-1]
        affordable = int(spec.max_time_s / last) if last > 0 else PILOT_WORTH_IT
        if affordable < PILOT_WORTH_IT:  # the pilot would cost more calls than it could save
            rounds = max(MIN_ROUNDS, affordable)
        else:
            rounds = plan_rounds(_timed_calls(session, feed, PILOT_ROUNDS), spec)
        warmup = 0
    benchmark.pedantic(session.run, args=(None, feed), rounds=rounds or 1, warmup_rounds=warmup, iterations=1)
    stats = getattr(benchmark, "stats", None)
    return list(stats.stats.data) if stats is not None else None


def percentiles_ms(times: list[float]) -> dict[str, float]:
    """p50/p90/p99 in ms, kept in `extra_info` because saved runs drop the raw rounds (`--benchmark-save-data`)."""
    cuts = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else [times[0]] * 99
    return {f"latency_p{p}_ms": cuts[p - 1] * 1e3 for p in (50, 90, 99)} | {
        "rounds": len(times),
        "latency_ci95_rel": ci95_rel(times),
    }


@dataclass
class TimingBook:
    """fp32 latencies of this run, so each int8 case reports its speed-up against the same run's baseline."""

    baselines: dict[tuple, float] = field(default_factory=dict)
    speedups: dict[tuple[str, str], float] = field(default_factory=dict)

    def record(self, m: Measurement, times: list[float] | None) -> dict:
        """Speed-up is the ratio of medians: one preempted round moves a mean, not a median."""
        info: dict[str, Any] = {}
        if times is None:
            return info
        mean, median = statistics.fmean(times), statistics.median(times)
        info["latency_mean_ms"] = mean * 1e3
        info.update(percentiles_ms(times))
        info["samples_per_s"] = m.batch_size / mean
        if m.role == "fp32":
            self.baselines[m.baseline_key] = median
        elif m.baseline_key in self.baselines:
            speedup = self.baselines[m.baseline_key] / median
            info["speedup"] = speedup
            self.speedups[(m.case.key, m.shape_id)] = speedup
        return info
