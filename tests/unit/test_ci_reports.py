"""CI outputs from runs built as records: the GitHub job summary (content, escaping, the 1 MiB limit), the JUnit
properties of a case, and the Bencher Metric Format export checked against Bencher's documented schema."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from synthetic_runs import HOSTILE, suite_run
from test_reports import write_run

from pytest_quantbench import cli
from pytest_quantbench.records import Direction, MetricResult, PairedStats
from pytest_quantbench.reports import ci, export


def test_the_step_summary_has_counts_the_headline_table_and_each_failure_with_its_cause() -> None:
    text = ci.step_summary(suite_run(configs=4, suites=("sst2",)))
    assert text.startswith("## quantbench\n\n**1** PASS · **1** FAIL · **1** COLLAPSE · **1** INCONCLUSIVE\n")
    assert "| suite | config | verdict | change [interval] | speed-up |\n| --- | --- | --- | --- | --- |\n" in text
    assert "| sst2 | cfg-001 | FAIL | accuracy -0.010 [-0.025, +0.000] | x1.00 |" in text
    assert "- sst2 cfg-001: case 1; MatMul &lt;node_1&gt; loses precision" in text
    assert "- sst2 cfg-002: case 2" in text  # a collapse is a failure too
    failures = text.split("### Failures")[1].split("|")[0]
    assert "- sst2 cfg-003: case 3" in failures  # inconclusive, and its gate fails then
    assert "alert" not in failures  # the config that passed
    assert HOSTILE not in text and "&lt;script&gt;alert(1)&lt;/script&gt;&amp;co" in text


def test_the_step_summary_keeps_within_its_room_and_says_what_it_left_out() -> None:
    run = suite_run(configs=100)  # 200 configs
    whole = ci.step_summary(run)
    assert len(whole.encode()) < ci.LIMIT_BYTES and whole.count("\n| ") == 1 + 1 + 200
    small = ci.step_summary(run, room=20_000)
    assert len(small.encode()) <= 20_000
    shown = small.count("\n| ") - 2
    assert 0 < shown < 200 and f"{200 - shown} more configs: see the card or the HTML report." in small
    assert small.count("\n- ") == whole.count("\n- ")  # every failure kept


def test_case_properties_carry_the_verdict_scores_change_and_interval() -> None:
    run = suite_run(configs=2, suites=("sst2",))
    result = run.accuracy[1]  # drop 0.01, drop interval [0.0, 0.025]
    props = dict(ci.case_properties(result))
    assert props["quantbench.verdict"] == "FAIL"
    assert props["quantbench.accuracy.original"] == "0.9" and props["quantbench.accuracy.quantized"] == "0.89"
    assert props["quantbench.accuracy.change"] == "-0.01"
    assert (props["quantbench.accuracy.change_low"], props["quantbench.accuracy.change_high"]) == ("-0.025", "0")
    assert props["quantbench.size_ratio"] == "0.275"
    timing = dict(ci.timing_properties(run.timings[2].record))  # x1.00 at 5%
    assert timing == {"quantbench.latency_mean_ms": "10", "quantbench.speedup": "1",
                      "quantbench.speedup_low": "0.95", "quantbench.speedup_high": "1.05"}  # fmt: skip


def bmf_problems(data: object) -> list[str]:
    """What breaks Bencher's BMF JSON Schema (https://bencher.dev/bmf.json: an object of benchmarks, each an
    object of measures, each with a numeric `value` and optional numeric `lower_value`/`upper_value`), and its
    documented limits (measure names up to 64 characters, benchmark names up to 1024)."""
    if not isinstance(data, dict) or not data:
        return ["not a non-empty object"]
    found = []
    for name, measures in data.items():
        if not (isinstance(measures, dict) and measures and 0 < len(name) <= 1024):
            found.append(f"{name}: not an object of measures")
            continue
        for measure, metric in measures.items():
            numbers = isinstance(metric, dict) and all(
                isinstance(metric.get(k, 0.0), float | int) and math.isfinite(metric.get(k, 0.0))
                for k in ("value", "lower_value", "upper_value")
            )
            if not (numbers and "value" in metric and set(metric) <= {"value", "lower_value", "upper_value"}):
                found.append(f"{name}/{measure}: {metric!r}")
            elif not 0 < len(measure) <= 64 or not metric.get("lower_value", -math.inf) <= metric[
                "value"
            ] <= metric.get("upper_value", math.inf):
                found.append(f"{name}/{measure}: bounds or name")  # fmt: skip
    return found


def test_the_bencher_export_follows_the_bencher_metric_format() -> None:
    run = suite_run(configs=3, suites=("sst2",))
    data = json.loads(json.dumps(export.bencher(run)))
    assert bmf_problems(data) == []
    assert data["sst2::cfg-001"] == {
        "accuracy": {"value": pytest.approx(0.89), "lower_value": pytest.approx(0.875), "upper_value": pytest.approx(0.9)},
        "size-ratio": {"value": 0.275},
    }  # fmt: skip
    latency = data["sst2::int8-cfg-001-bs1-len16"]
    assert latency["latency"]["value"] == pytest.approx(10e6)  # ns
    assert latency["speed-up"] == {"value": 1.0, "lower_value": 0.95, "upper_value": 1.05}
    assert set(data["sst2::fp32-bs1-len16"]) == {"latency", "throughput"}
    assert bmf_problems({"b": {"m": {"lower_value": 1.0}}}) and bmf_problems({"b": {"m": {"value": "1"}}})


def test_a_lower_is_better_metric_is_bounded_the_right_way_round() -> None:
    paired = PairedStats("mse", 0.1, 0.05, 0.2, 0.95, None, None, None, 100)  # worse by 0.05..0.2
    measure = export._metric_measure(MetricResult("mse", 1.0, 1.1, paired=paired, direction=Direction.LOWER))
    assert measure == {"value": 1.1, "lower_value": 1.05, "upper_value": 1.2}


def test_cli_export_bencher(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = write_run(tmp_path / "run.json")
    out = tmp_path / "bmf.json"
    assert cli.main(["export", str(saved), "--format", "bencher", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert bmf_problems(data) == [] and "sst2::dynamic-per_tensor" in data
    assert cli.main(["export", str(saved), "--format", "bencher"]) == 0
    assert json.loads(capsys.readouterr().out) == data
