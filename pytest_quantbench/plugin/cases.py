"""The test functions that every suite file runs, parametrized per config (and per shape for latency).

They only adapt: the work is `results.case.accuracy_outcome` and `measure.timing`; what they record goes
through `serialize`.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any

import pytest

from pytest_quantbench import serialize
from pytest_quantbench.errors import GateFailure
from pytest_quantbench.measure.measurements import Measurement
from pytest_quantbench.measure.timing import baseline_spec, time_session, timing_result
from pytest_quantbench.plugin.benchmark import Timer, timing_disabled
from pytest_quantbench.plugin.state import CASE_RECORD, TIMED_CASES
from pytest_quantbench.records import Role
from pytest_quantbench.reports import ci

if TYPE_CHECKING:
    from pytest_quantbench.bench import Bench
    from pytest_quantbench.measure.phases import Target
    from pytest_quantbench.records import MemoryStats
    from pytest_quantbench.reports.compare import Gate

CASE_FUNCTIONS = ("accuracy", "latency")
RESULT_PROPERTY = "quantbench"  # the user property an accuracy result travels in, also from xdist workers


class QuantizedNothingWarning(UserWarning):
    """A config whose quantizer left every node in fp32: its timings are no int8 speed-up."""


@pytest.mark.accuracy
def accuracy(
    quantbench: Bench,
    quantbench_case,
    request: pytest.FixtureRequest,
    quantbench_compare: Gate | None,
) -> None:
    """Original vs quantized on the eval split; fails when a threshold breaks, naming a collapse and its cause, or
    when the quantized metric dropped against a saved run (`--quantbench-compare`)."""
    from pytest_quantbench.plugin.state import diagnose_options
    from pytest_quantbench.results.case import accuracy_outcome

    case = quantbench_case
    outcome = accuracy_outcome(quantbench, case, diagnose_options(request.config))
    if case.key in request.config.stash.get(TIMED_CASES, frozenset()) and not timing_disabled(request.config):
        quantbench.prefetch_memory(case)  # its latency cases will ask: probed while the next configs build
    result = request.config.hook.pytest_quantbench_case_result(case=case, result=outcome.result) or outcome.result
    if outcome.diagnosis is not None:
        request.node.add_report_section("call", "quantbench diagnosis", outcome.diagnosis.text())
    # not `record_property`, which warns on every case under pytest's default junit_family (xunit2)
    request.node.user_properties.append((RESULT_PROPERTY, serialize.dump(result)))
    request.node.stash[CASE_RECORD] = result
    if request.config.getoption("xmlpath", None):  # --junitxml: flat properties a CI page shows
        request.node.user_properties.extend(ci.case_properties(result))
    if result.quantized_nothing:
        ops = list(result.quantization.operators_to_quantize or ())
        warnings.warn(
            QuantizedNothingWarning(f"{case.id}: quantizing {ops} changed no node; the model is still fp32"),
            stacklevel=1,
        )
    outcome.evaluation.verdict.raise_for_failure(outcome.cause, outcome.artifacts)
    if quantbench_compare is not None:
        quantbench_compare.check(case.suite.name, case.id, outcome.evaluation.quantized)


@pytest.mark.latency
def latency(quantbench: Bench, quantbench_measurement: Measurement, benchmark, request: pytest.FixtureRequest) -> None:
    """Latency and throughput of one model at one shape (a decoder's: at one phase), with pytest-benchmark; a
    quantized model runs in pairs with its fp32 baseline (the suite's `baseline:` backend, else its own), which
    gives its speed-up."""
    from pytest_quantbench.results.case import known_metrics
    from pytest_quantbench.verdicts import diagnosis, gates, speed

    quantbench.settle()  # nothing runs beside a timed round
    m = quantbench.as_timed(quantbench_measurement)  # the lengths as timed
    case, suite = m.case, m.case.suite
    timer = Timer(benchmark, m.group)
    targets = _Targets(quantbench, m)

    def memory(role: Role) -> MemoryStats | None:  # measured after the timed rounds, which its child would disturb
        if timer.disabled:
            return None
        if m.phase is None:
            return quantbench.memory(case, role, m.batch_size, m.input_length)
        return quantbench.phase_memory(m, role)  # a decoder's, with its cache: every phase in one child per model

    if m.role is Role.ORIGINAL:
        own = targets.of(Role.ORIGINAL)
        timed = time_session(timer, own.session, own.feed, baseline_spec(suite.time), bank=quantbench.time_bank)
        result = timing_result(m, timed, quantbench.machine(case), memory=memory(Role.ORIGINAL))
    else:
        own, fp32 = targets.of(Role.QUANTIZED), targets.of(Role.ORIGINAL)
        timed = time_session(timer, own.session, own.feed, suite.time, fp32.session, fp32.feed, quantbench.time_bank)
        result = timing_result(
            m, timed, quantbench.machine(case), quantbench.quantized(case).report,
            diagnosis.hardware_risk(quantbench, case), known_metrics(quantbench, case),
            quantbench.backend(case).model_size(case), memory(Role.QUANTIZED), memory(Role.ORIGINAL),
        )  # fmt: skip
        found = speed.diagnose(quantbench, m, targets.profiled, result.speedup)
        result = dataclasses.replace(result, speed_diagnosis=found)
    timer.record(serialize.dump(result))
    request.node.stash[CASE_RECORD] = result
    if request.config.getoption("xmlpath", None):
        request.node.user_properties.extend(ci.timing_properties(result))
    broken = gates.latency_violations(result, case.thresholds) if m.role is Role.QUANTIZED else []
    if broken:
        raise GateFailure("; ".join(broken))


class _Targets:
    """What a latency case times of each model: the session (with its task's step after it, an embedding's
    pooling) on the timing feed, or a decoder's phase of it (`Bench.phase_target`: each model its own cache)."""

    def __init__(self, bench: Bench, m: Measurement) -> None:
        self.bench, self.m = bench, m
        self.feed = bench.timing_inputs(m.case.suite, m.batch_size, m.prompt_length)

    def of(self, role: Role) -> Target:
        from pytest_quantbench.measure.phases import Target

        bench, m = self.bench, self.m
        open_ = bench.baseline_session if role is Role.ORIGINAL else bench.quantized_session
        if m.phase is None:
            return Target(bench.timed(m.case.suite, open_(m.case)), self.feed)
        return bench.phase_target(m, open_(m.case))

    @property
    def profiled(self) -> dict[str, Any]:
        """The feed the speed diagnosis profiles both models on: a decoder's phase feed (the quantized model's:
        the profiler opens sessions of both roles on the same inputs), else the timing feed."""
        return self.feed if self.m.phase is None else self.of(Role.QUANTIZED).feed
