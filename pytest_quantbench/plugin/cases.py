"""The test functions that every suite file runs, parametrized per config (and per shape for latency)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import pytest

from pytest_quantbench.measure.machine import machine_facts
from pytest_quantbench.measure.timing import Measurement, time_session, timing_info
from pytest_quantbench.results.run import accuracy_row

if TYPE_CHECKING:
    from pytest_quantbench.harness import Harness
    from pytest_quantbench.reports.compare import Gate

CASE_FUNCTIONS = ("accuracy", "latency")


class QuantizedNothingWarning(UserWarning):
    """A config whose quantizer left every node in fp32: its timings are no int8 speed-up."""


@pytest.mark.accuracy
def accuracy(
    quantbench: Harness,
    quantbench_case,
    record_property,
    request: pytest.FixtureRequest,
    quantbench_compare: Gate | None,
) -> None:
    """Original vs quantized on the eval split; fails when a threshold breaks, naming a collapse and its cause, or
    when the quantized metric dropped against a saved run (`--quantbench-compare`)."""
    from pytest_quantbench.verdicts import diagnosis

    result = quantbench.evaluate(quantbench_case)
    info = {**accuracy_row(result), "machine": machine_facts()}
    info["hardware_risk"] = diagnosis.hardware_risk(quantbench, quantbench_case)
    found = diagnosis.for_case(quantbench, quantbench_case, result.verdict.passed, request.config)
    if found is not None:
        info["diagnosis"] = found.as_dict()
        request.node.add_report_section("call", "quantbench diagnosis", found.text())
    record_property("quantbench", info)  # how the result reaches the report, also from xdist workers
    if result.report["quantized_nothing"]:
        ops = result.report["operators_to_quantize"]
        warnings.warn(
            QuantizedNothingWarning(f"{quantbench_case.id}: quantizing {ops} changed no node; the model is still fp32"),
            stacklevel=1,
        )
    result.verdict.raise_for_failure(found.line() if found is not None else "")
    if quantbench_compare is not None:
        quantbench_compare.check(quantbench_case.suite.name, quantbench_case.id, result.quantized)


@pytest.mark.latency
def latency(quantbench: Harness, quantbench_measurement: Measurement, benchmark) -> None:
    """Latency and throughput of one model at one shape, with pytest-benchmark; an int8 model runs in pairs
    with its fp32 model, which gives its speed-up."""
    from pytest_quantbench.verdicts import diagnosis

    m = quantbench_measurement
    case, suite = m.case, m.case.suite
    if m.role == "fp32":
        session, baseline, report = quantbench.original_session(case), None, None
    else:
        session, report = quantbench.quantized_session(case), quantbench.quantized(case).report
        baseline = quantbench.original_session(case)
    feed = quantbench.timing_inputs(suite, m.batch_size, m.input_length)
    benchmark.group = m.group
    timed = time_session(benchmark, session, feed, suite.time, baseline)
    benchmark.extra_info.update(
        suite=suite.name,
        task=suite.task,
        model=suite.model_name_or_path,
        role=m.role,
        config_id=case.baseline_id if m.role == "fp32" else case.id,
        config=case.settings() if m.role == "int8" else {},
        batch_size=m.batch_size,
        input_length=m.input_length,
        intra_op_num_threads=case.config.framework_args.intra_op_num_threads,
        machine=machine_facts(),
        **timing_info(m, timed),
    )
    if report is not None:
        benchmark.extra_info["quantized_nothing"] = report["quantized_nothing"]
        benchmark.extra_info["quantization"] = report
        benchmark.extra_info["hardware_risk"] = diagnosis.hardware_risk(quantbench, case)
        evaluation = quantbench.evaluations.get(case.key)
        if evaluation is not None:
            benchmark.extra_info["accuracy"] = evaluation.as_dict()["metrics"]
