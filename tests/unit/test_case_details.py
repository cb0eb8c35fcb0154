"""A case's details for per-test reports of other plugins (pytest-html's rows, `reports.details`)."""

from __future__ import annotations

from synthetic_runs import suite_run

from pytest_quantbench.records import Role
from pytest_quantbench.reports import details


def test_an_accuracy_case_shows_its_verdict_line_and_each_metric_with_its_interval() -> None:
    case = suite_run(2, suites=("sst2",)).accuracy[1]  # drop 0.01, interval of the drop [0.000, 0.025]
    assert details.case_lines(case) == [
        "FAIL: case 1",
        "accuracy 0.9000 -> 0.8900, change -0.010 [-0.025, +0.000] (95% paired interval)",
    ]
    assert details.brief(case) == "FAIL accuracy -0.010 [-0.025, +0.000]"


def test_a_latency_case_shows_its_mean_speed_up_interval_and_why_not_faster() -> None:
    timings = {t.record.config_id: t.record for t in suite_run(2, suites=("sst2",)).timings}
    slow = timings["cfg-001"]  # x1.00 against fp32, diagnosed
    assert details.timing_lines(slow) == [
        "mean 10.000 ms at bs1-len16",
        "speed-up x1.00 [x0.95, x1.05] vs onnxruntime fp32",
        "why not faster: " + slow.speed_diagnosis.line,
    ]
    assert details.brief(slow) == "speed-up x1.00"
    fp32 = timings["fp32"]
    assert fp32.role is Role.ORIGINAL
    assert details.timing_lines(fp32) == ["mean 10.000 ms at bs1-len16"]
    assert details.brief(fp32) == "10.000 ms"
