"""Overhead benchmark (not a test): the harness's timed call against a bare `session.run`.

The harness times the tiny model's fp32 case as any latency case (`time_session`, no baseline). Before each
of its rounds, pytest-benchmark's untimed `setup` runs one bare `session.run`, timed with `perf_counter`
alone, so each harness call has a bare twin from the same moment of the machine: two loops run one after
the other drift apart on a shared machine by more than the overhead they compare. Prints the ratio of the
two medians (harness / bare; the median of per-pair ratios is not used: back-to-back identical calls already
read ~1% apart by it); the goal is <= 1.02. Nothing is asserted on it: timings belong in benchmarks, never
in pass/fail.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from pytest_quantbench.measure.timing import time_session
from pytest_quantbench.plugin.benchmark import Timer
from pytest_quantbench.suite import TimeSpec, load_suite

SUITE = Path(__file__).parent.parent / "examples" / "tiny-sentiment.suite.yaml"
ROUNDS = 200


class BareTwin(Timer):
    """The harness's `Timer`, with one bare timed `session.run` before each round (warm-up included)."""

    def __init__(self, fixture: Any, group: str, session: Any, feed: dict[str, Any]) -> None:
        super().__init__(fixture, group)
        self.session, self.feed, self.bare = session, feed, []

    def pedantic(self, target: Any, **kwargs: Any) -> Any:
        assert kwargs.get("setup") is None, "an unpaired case: its setup is ours to use"

        def bare() -> None:
            start = time.perf_counter()
            self.session.run(None, self.feed)
            self.bare.append(time.perf_counter() - start)

        return super().pedantic(target, **{**kwargs, "setup": bare})


def test_harness_overhead(benchmark, quantbench, capsys) -> None:
    case = load_suite(SUITE).cases[0]
    session = quantbench.original_session(case)
    names = {i.name for i in session.get_inputs()}
    feed = {k: v for k, v in quantbench.timing_inputs(case.suite, 1, 32).items() if k in names}
    spec = TimeSpec(rounds=ROUNDS, warmup_rounds=10)
    timer = BareTwin(benchmark, "harness overhead", session, feed)
    timed = time_session(timer, session, feed, spec)
    if timed is not None:
        bare = timer.bare[-ROUNDS:]  # the twins of the recorded rounds (the warm-up's came first)
        ratio = statistics.median(timed.times) / statistics.median(bare)
        timer.record({"bare_median_s": statistics.median(bare), "overhead_ratio": ratio})
        with capsys.disabled():
            print(f"\nharness/bare session.run latency ratio: {ratio:.3f} (goal <= 1.02)")
