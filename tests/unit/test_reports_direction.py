"""Every report reads what the records say rather than assuming: a metric's direction (a rise of a lower-is-better
metric is worse), the engines the run recorded, a suite gated on fidelity alone (`ref_keys: []`), and the speed
diagnosis's threshold."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from synthetic_runs import machine

from pytest_quantbench.records import (
    CaseResult,
    Direction,
    EngineInfo,
    LatencyStats,
    MetricResult,
    QuantizationReport,
    Role,
    SpeedDiagnosis,
    TimingResult,
)
from pytest_quantbench.reports import card, compare, export, plot
from pytest_quantbench.results.records import ConfigInfo, SuiteInfo, TimedCase
from pytest_quantbench.results.run import Run
from pytest_quantbench.suite import TimeSpec
from pytest_quantbench.verdicts import speed

MACHINE = machine("cpu")
CONFIGS = ("a", "b", "c")


def run_of(
    metric: MetricResult | dict[str, MetricResult], *, metrics: tuple[str, ...], machine=MACHINE, **suite
) -> Run:
    """One suite of three configs timed at bs1: `a` and `b` with `metric` (b's quantized value moved by +0.5),
    `c` a pytorch config; `a` 2x faster than fp32, `b` 1.5x, `c` 0.9x (diagnosed)."""
    info = SuiteInfo(
        name="s", task="t", model="m", dataset={"path": "d"}, metrics=metrics, fixed={}, benchmarked={"cfg": list(CONFIGS)},
        time=TimeSpec(rounds=5), configs=tuple(
            ConfigInfo(c, {"cfg": c}, "fp32", framework="pytorch" if c == "c" else "onnxruntime") for c in CONFIGS
        ), **suite,
    )  # fmt: skip
    by_config = metric if isinstance(metric, dict) else {c: metric for c in CONFIGS}
    accuracy = []
    for c, m in by_config.items():
        m = dataclasses.replace(m, quantized=m.quantized + 0.5) if c == "b" else m
        accuracy.append(CaseResult("s", c, {m.name: m}, True, False, QuantizationReport({}, 1, False)))
    timings = [TimedCase("fp32", _timing(Role.ORIGINAL, "fp32", 10.0, None), "onnxruntime")]
    for c, ms in zip(CONFIGS, (5.0, 6.7, 11.0), strict=True):
        record = _timing(Role.QUANTIZED, c, ms, 10.0 / ms)
        timings.append(TimedCase(f"int8-{c}", record, "pytorch" if c == "c" else "onnxruntime"))
    return Run("run.json", machine, {}, (info,), tuple(accuracy), tuple(timings))


def _timing(role: Role, config_id: str, ms: float, speedup: float | None) -> TimingResult:
    diagnosed = SpeedDiagnosis("a cause", "a fix") if speedup is not None and speedup < speed.SLOW else None
    return TimingResult(
        "s", "t", "m", role, config_id, {}, 1, 16, 1, MACHINE, latency=LatencyStats(ms, ms, ms, ms, 5, 0.01),
        speedup=speedup, speed_diagnosis=diagnosed, baseline="onnxruntime" if config_id != "c" else "pytorch",
    )  # fmt: skip


MSE = MetricResult("mse", 1.0, 1.1, direction=Direction.LOWER)
ACCURACY = MetricResult("accuracy", 0.9, 0.8)


def test_compare_counts_a_rise_of_a_lower_is_better_metric_as_a_drop() -> None:
    saved, now = run_of(MSE, metrics=("mse",)), run_of(dataclasses.replace(MSE, quantized=1.4), metrics=("mse",))
    deltas = {d.config_id: d for d in compare.accuracy_deltas(saved, now)}
    assert deltas["a"].drop == pytest.approx(0.3)  # 1.1 -> 1.4: worse by 0.3
    spec = compare.FailSpec.parse("mse:0.1")
    lines = compare.accuracy_table(list(deltas.values()), [spec], saved.source)
    assert lines[1].split() == ["s", "a", "mse", "1.100", "1.400", "+0.300", "FAIL", "(drop", ">", "0.1)"]
    with pytest.raises(
        compare.CompareFailure, match=r"mse 1.100 in saved run run.json -> 1.400 now \(drop 0.300 > mse:0.1\)"
    ):
        compare.Gate(saved, [spec]).check("s", "a", {"mse": 1.4})
    compare.Gate(saved, [spec]).check("s", "a", {"mse": 0.5})  # a fall of the error: better, whatever its size
    better = compare.accuracy_deltas(saved, run_of(dataclasses.replace(MSE, quantized=0.5), metrics=("mse",)))
    assert all(d.drop < 0 for d in better)


def test_the_plot_reads_the_direction_for_its_front_and_its_axis(tmp_path: Path) -> None:
    pts = [plot.Point(1.0, 0.9, "fast-high", "pass"), plot.Point(2.0, 0.5, "slow-low", "pass")]
    assert [p.label for p in plot.pareto_front(pts)] == ["fast-high"]
    assert [p.label for p in plot.pareto_front(pts, Direction.LOWER)] == ["fast-high", "slow-low"]
    run = run_of(MSE, metrics=("mse",))
    points, _ = plot.points(run, run.suites[0], (1, 16))
    assert [p.value for p in points] == [1.0, 1.1, 1.6, 1.1] and points[0].kind == "original"
    labels = []

    class Axes:  # what `_panel` asks of matplotlib's axes, recorded
        def __getattr__(self, name):
            return lambda *args, **kwargs: labels.append((name, args))

    plot._panel(Axes(), run, run.suites[0], (1, 16))
    assert ("set_ylabel", ("mse, lower is better",)) in labels


def test_the_plot_of_a_suite_gated_on_fidelity_alone_shows_its_first_fidelity_measure(tmp_path: Path) -> None:
    """`ref_keys: []` gives `metrics: []`: the plot used to read `suite.metrics[0]` and raise IndexError."""
    agreement = MetricResult("agreement", 1.0, 0.97)
    run = run_of(agreement, metrics=())
    points, _ = plot.points(run, run.suites[0], (1, 16))
    assert [p.value for p in points[1:]] == [0.97, 1.47, 0.97]
    plot.save_plot(run, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")
    text = card.render(run)
    assert "metrics: []" in text and "agreement (quantized)" in text


def test_the_export_lists_each_metric_by_its_direction() -> None:
    bigger, smaller = export.github_action_benchmark(run_of({"a": MSE, "c": ACCURACY}, metrics=("mse", "accuracy")))
    assert "s a mse" in {e["name"] for e in smaller} and "s a mse" not in {e["name"] for e in bigger}
    assert "s c accuracy" in {e["name"] for e in bigger}


def test_the_card_prints_each_engine_the_suite_used_as_its_backend_words_it() -> None:
    engines = (
        EngineInfo("onnxruntime", "1.23.2", "onnxruntime 1.23.2 (CPUExecutionProvider)"),
        EngineInfo("pytorch", "torch 2.13.0", "pytorch (torch 2.13.0, eager, fbgemm)"),
    )
    text = card.render(run_of(ACCURACY, metrics=("accuracy",), machine=dataclasses.replace(MACHINE, engines=engines)))
    assert "**Backend:** `onnxruntime 1.23.2 (CPUExecutionProvider)`  \n" in text
    assert "**Backend:** `pytorch (torch 2.13.0, eager, fbgemm)`  \n" in text
    unrecorded = dataclasses.replace(MACHINE, engines=())  # no engine recorded: the backends' names alone
    old = card.render(run_of(ACCURACY, metrics=("accuracy",), machine=unrecorded))
    assert "**Backend:** `onnxruntime`  \n**Backend:** `pytorch`  \n" in old and "CPUExecutionProvider" not in old


def test_the_speed_diagnosis_section_names_the_threshold_it_was_run_below() -> None:
    text = card.render(run_of(ACCURACY, metrics=("accuracy",)))
    assert f"Speed diagnosis (configs below x{speed.SLOW:.2f}):" in text
    assert "a cause" in text


def test_compare_names_the_engines_whose_versions_differ() -> None:
    ort = EngineInfo("onnxruntime", "1.23.2", "")
    torch = EngineInfo("pytorch", "torch 2.13.0", "")
    old = dataclasses.replace(MACHINE, engines=(ort, torch))
    new = dataclasses.replace(MACHINE, engines=(dataclasses.replace(ort, version="1.24.0"), torch))
    assert compare.kernel_differences(old, new) == ["onnxruntime 1.23.2 -> 1.24.0"]
    assert compare.kernel_differences(old, old) == []
