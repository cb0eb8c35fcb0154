"""The test functions that every suite file runs, parametrized per config (and per shape for latency).

They only adapt: the work is `results.case.accuracy_outcome` and `measure.timing`; what they record goes
through `serialize`.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING

import pytest

from pytest_quantbench import serialize
from pytest_quantbench.errors import GateFailure
from pytest_quantbench.measure.timing import Measurement, time_session, timing_result
from pytest_quantbench.plugin.benchmark import Timer
from pytest_quantbench.plugin.state import CASE_RECORD
from pytest_quantbench.records import Role
from pytest_quantbench.reports import ci

if TYPE_CHECKING:
    from pytest_quantbench.bench import Bench
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
    """Latency and throughput of one model at one shape, with pytest-benchmark; a quantized model runs in pairs
    with its fp32 baseline (the suite's `baseline:` backend, else its own), which gives its speed-up."""
    from pytest_quantbench.results.case import known_metrics
    from pytest_quantbench.verdicts import diagnosis, gates, speed

    m = quantbench_measurement
    case, suite = m.case, m.case.suite
    m = dataclasses.replace(m, input_length=quantbench.timed_length(suite, m.input_length))  # as timed
    timer = Timer(benchmark, m.group)
    feed = quantbench.timing_inputs(suite, m.batch_size, m.input_length)

    def memory(role: Role) -> MemoryStats | None:  # measured after the timed rounds, which its child would disturb
        return None if timer.disabled else quantbench.memory(case, role, m.batch_size, m.input_length)

    if m.role is Role.ORIGINAL:
        timed = time_session(timer, quantbench.timed(suite, quantbench.baseline_session(case)), feed, suite.time)
        result = timing_result(m, timed, quantbench.machine(case), memory=memory(Role.ORIGINAL))
    else:
        session, baseline = (
            quantbench.timed(suite, quantbench.quantized_session(case)),
            quantbench.timed(suite, quantbench.baseline_session(case)),
        )  # the task's own step after the model (pooling) is timed too
        timed = time_session(timer, session, feed, suite.time, baseline)
        result = timing_result(
            m, timed, quantbench.machine(case), quantbench.quantized(case).report,
            diagnosis.hardware_risk(quantbench, case), known_metrics(quantbench, case),
            quantbench.backend(case).model_size(case), memory(Role.QUANTIZED), memory(Role.ORIGINAL),
        )  # fmt: skip
        found = speed.diagnose(quantbench, m, feed, result.speedup)
        result = dataclasses.replace(result, speed_diagnosis=found)
    timer.record(serialize.dump(result))
    request.node.stash[CASE_RECORD] = result
    if request.config.getoption("xmlpath", None):
        request.node.user_properties.extend(ci.timing_properties(result))
    broken = gates.latency_violations(result, case.thresholds) if m.role is Role.QUANTIZED else []
    if broken:
        raise GateFailure("; ".join(broken))
