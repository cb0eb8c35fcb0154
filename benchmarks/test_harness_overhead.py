"""Overhead benchmark (not a test): the harness's timed call against a bare `session.run` loop.

Prints the ratio of the harness's mean latency to the bare loop's; the goal is <= 1.02. Nothing is asserted
on it: timings belong in benchmarks, never in pass/fail.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from pytest_quantbench.measure.timing import time_session
from pytest_quantbench.plugin.benchmark import Timer
from pytest_quantbench.suite import TimeSpec, load_suite

SUITE = Path(__file__).parent.parent / "examples" / "tiny-sentiment.suite.yaml"
ROUNDS = 200


def test_harness_overhead(benchmark, quantbench, capsys) -> None:
    case = load_suite(SUITE).cases[0]
    session = quantbench.original_session(case)
    names = {i.name for i in session.get_inputs()}
    feed = {k: v for k, v in quantbench.timing_inputs(case.suite, 1, 32).items() if k in names}
    spec = TimeSpec(rounds=ROUNDS, warmup_rounds=10)
    timer = Timer(benchmark, group="harness overhead")
    timed = time_session(timer, session, feed, spec)
    start = time.perf_counter()
    for _ in range(ROUNDS):
        session.run(None, feed)
    bare_mean = (time.perf_counter() - start) / ROUNDS
    if timed is not None:
        ratio = statistics.fmean(timed.times) / bare_mean
        timer.record({"bare_loop_mean_s": bare_mean, "overhead_ratio": ratio})
        with capsys.disabled():
            print(f"\nharness/bare session.run latency ratio: {ratio:.3f} (goal <= 1.02)")
