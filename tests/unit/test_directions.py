"""Metrics that know their direction: what each metric is, and gates, collapse, statistics and records reading
it, so that the rise of a lower-is-better metric (an error) is what gets worse."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pytest_quantbench import serialize
from pytest_quantbench.records import CaseResult, Direction, MetricInfo, MetricResult, QuantizationReport, Verdict
from pytest_quantbench.registry import Registry
from pytest_quantbench.suite import Threshold, Thresholds
from pytest_quantbench.suite.vocabulary import TaskVocabulary
from pytest_quantbench.tasks import Encoded, Evidence, Task
from pytest_quantbench.verdicts import statistics
from pytest_quantbench.verdicts.gates import Pairs, judge

LOWER = {"mse": Direction.LOWER}


def mse(predictions: list, references: list) -> float:
    return float(np.mean((np.asarray(predictions) - np.asarray(references)) ** 2))


class Regression(Task):
    """One number per sample; its mean squared error splits into per-sample squared errors."""

    name = "regression"
    vocabulary = TaskVocabulary(("mse",), ("mse",), {"primary": "x"}, ("y",))
    metric_infos = (MetricInfo("mse", Direction.LOWER, "", (0.0, None)),)

    def encode(self, processor, spec, rows, padding=True, max_length=None) -> Encoded:
        return Encoded({"x": np.asarray(rows[spec.primary], dtype=np.float32)})

    def predict(self, logits, alignments, references, id2label) -> list:
        return logits[:, 0].astype(float).tolist()

    def sample_counts(self, metric: str, predictions: list, references: list):
        errors = (np.asarray(predictions) - np.asarray(references)) ** 2
        return errors, np.ones_like(errors)

    def chance(self, references: list) -> dict[str, float]:
        return {"mse": float(np.var(references))}


class Rescored(Regression):
    def sample_counts(self, metric: str, predictions: list, references: list) -> None:
        return None


def test_bundled_hub_user_and_task_metrics_say_which_way_is_better() -> None:
    registry = Registry()
    accuracy = registry.metric_info("accuracy", "text-classification")
    assert (accuracy.direction, accuracy.range) == (Direction.HIGHER, (0.0, 1.0))
    assert registry.metric_info("matthews_correlation").range == (-1.0, 1.0)
    assert registry.metric_info("wer").direction is Direction.LOWER  # a hub metric on the known-lower list
    assert registry.metric_info("perplexity").direction is Direction.LOWER
    assert registry.metric_info("bleu").direction is Direction.HIGHER  # any other hub name
    registry.add_metric("error_rate", lambda p, r: 0.0)  # the old call: higher is better
    assert registry.metric_info("error_rate").direction is Direction.HIGHER
    registry.add_metric("distance", lambda p, r: 0.0, direction="lower", unit="m", range=(0.0, None))
    assert registry.metric_info("distance") == MetricInfo("distance", Direction.LOWER, "m", (0.0, None))
    registry.add_task(Regression())
    assert registry.metric_info("mse", "regression").range == (0.0, None)  # as the task declares it
    registry.add_metric("mse", mse, direction="higher")  # a user's own word wins over the task's
    assert registry.metric_info("mse", "regression").direction is Direction.HIGHER


def test_an_unknown_direction_is_refused() -> None:
    with pytest.raises(ValueError, match="'down' is not a valid Direction"):
        Registry().add_metric("mse", mse, direction="down")


def test_a_small_rise_passes_and_a_large_one_fails_as_a_rise() -> None:
    v = judge(
        {"mse": 0.10},
        {"mse": 0.12},
        {"mse": 0.5},
        Thresholds.from_keys({"mse": Threshold(max_drop=0.05)}),
        directions=LOWER,
    )
    assert v.passed and v.verdict is Verdict.PASS
    assert v.line() == "mse 0.100 -> 0.120 (rise +0.020)"
    v = judge(
        {"mse": 0.10},
        {"mse": 0.20},
        {"mse": 0.5},
        Thresholds.from_keys({"mse": Threshold(max_drop=0.05)}),
        directions=LOWER,
    )
    assert not v.passed and not v.collapsed and v.verdict is Verdict.FAIL
    assert v.line() == "mse 0.100 -> 0.200 (rise 0.100): rise 0.100 > max_drop 0.05"
    better = judge(
        {"mse": 0.10}, {"mse": 0.05}, {}, Thresholds.from_keys({"mse": Threshold(max_drop=0.0)}), directions=LOWER
    )
    assert better.passed and better.results[0].drop == pytest.approx(-0.05)  # an error that falls got better
    same = judge({"mse": 0.10}, {"mse": 0.05}, {}, Thresholds.from_keys({"mse": Threshold(max_drop=0.0)}))
    assert not same.passed  # read as higher-is-better (no direction given), the same numbers are a drop


@pytest.mark.parametrize(
    ("threshold", "passes", "message"),
    [
        (Threshold(min_ratio=0.9), False, "ratio 0.800 < min_ratio 0.9 (original / quantized: lower is better)"),
        (Threshold(min_ratio=0.75), True, ""),
        (Threshold(max=0.11), False, "0.125 > max 0.11"),  # a ceiling, as written
        (Threshold(max=0.15), True, ""),
        (Threshold(min=0.2), False, "0.125 < min 0.2"),  # a floor, as written, whichever way is better
    ],
)
def test_ratio_and_bound_of_a_lower_is_better_metric(threshold: Threshold, passes: bool, message: str) -> None:
    v = judge({"mse": 0.1}, {"mse": 0.125}, {"mse": 0.5}, Thresholds.from_keys({"mse": threshold}), directions=LOWER)
    assert v.passed is passes
    assert message in v.line()
    assert v.results[0].ratio == pytest.approx(0.8)


def test_an_error_that_rises_to_the_means_collapses() -> None:
    """The int8 model's error rose to (or past) what always answering the mean scores: a collapse."""
    gates = Thresholds.from_keys({"mse": Threshold(max_drop=0.05)})
    v = judge({"mse": 0.01}, {"mse": 0.30}, {"mse": 0.25}, gates, directions=LOWER)
    assert v.collapsed and v.verdict is Verdict.COLLAPSE
    assert v.line() == "COLLAPSE: mse 0.010 -> 0.300 (rise 0.290): rise 0.290 > max_drop 0.05, at chance level 0.250"
    near = judge({"mse": 0.01}, {"mse": 0.20}, {"mse": 0.25}, gates, directions=LOWER)
    assert not near.collapsed  # still 0.05 better than the mean's, over a tenth of the original's 0.24
    unknown = judge({"mse": 0.01}, {"mse": 9.0}, {}, gates, directions=LOWER)
    assert not unknown.collapsed and not unknown.passed  # no chance level named: a plain failure


def _pairs(task: Task, original: list[float], quantized: list[float], references: list[float]) -> Pairs:
    return Pairs(task, Evidence(original), Evidence(quantized), references, lambda name: mse)


def _errors(n: int, rise: float, seed: int = 0) -> tuple[list[float], list[float], list[float]]:
    """Targets, the original's answers off by N(0, 0.1) and the quantized one's off by N(0, 0.1 + rise)."""
    rng = np.random.default_rng(seed)
    refs = rng.normal(0, 1, n)
    return (refs + rng.normal(0, 0.1, n)).tolist(), (refs + rng.normal(0, 0.1 + rise, n)).tolist(), refs.tolist()


def test_the_interval_is_of_the_rise_and_a_regression_counts_no_flips() -> None:
    original, quantized, refs = _errors(500, 0.2)
    stats = statistics.paired_stats(
        Regression(), "mse", original, quantized, refs, lambda n: mse, direction=Direction.LOWER
    )
    assert stats.drop == pytest.approx(mse(quantized, refs) - mse(original, refs)) and stats.drop > 0
    assert 0 < stats.ci_low < stats.drop < stats.ci_high
    assert (stats.flips_to_wrong, stats.flips_to_right, stats.mcnemar_p, stats.flipped) == (None, None, None, False)
    assert stats.describe() == f"95% CI [{stats.ci_low:+.3f}, {stats.ci_high:+.3f}] (n=500)"
    higher = statistics.bootstrap_drops(Regression(), "mse", original, quantized, refs, lambda n: mse)
    lower = statistics.bootstrap_drops(
        Regression(), "mse", original, quantized, refs, lambda n: mse, direction=Direction.LOWER
    )
    np.testing.assert_allclose(lower, -higher)  # the same resamples, read the other way
    rescored = statistics.bootstrap_drops(
        Rescored(), "mse", original, quantized, refs, lambda n: mse, direction=Direction.LOWER
    )
    np.testing.assert_allclose(rescored, lower)


@pytest.mark.parametrize(("rise", "verdict"), [(0.0, Verdict.PASS), (0.3, Verdict.FAIL), (0.02, Verdict.INCONCLUSIVE)])
def test_the_confidence_gate_judges_the_interval_of_the_rise(rise: float, verdict: Verdict) -> None:
    original, quantized, refs = _errors(300, rise, seed=1)
    if rise == 0.0:
        quantized = original
    scores = {"mse": mse(original, refs)}, {"mse": mse(quantized, refs)}
    limit = 0.01 if verdict is not Verdict.INCONCLUSIVE else scores[1]["mse"] - scores[0]["mse"]
    gates = Thresholds.from_keys({"mse": Threshold(max_drop=limit, confidence=0.95)})
    v = judge(*scores, {"mse": 5.0}, gates, _pairs(Regression(), original, quantized, refs), directions=LOWER)
    assert v.verdict is verdict
    if verdict is Verdict.FAIL:
        assert "rise > max_drop 0.01 at 95% confidence" in v.line()
    if verdict is Verdict.INCONCLUSIVE:
        assert v.line().startswith("INCONCLUSIVE: mse rise ")


def test_a_fidelity_gate_the_task_does_not_measure_fails_with_one_line() -> None:
    gates = Thresholds(fidelity=(("agreement", Threshold(min=0.99)),))
    v = judge({}, {}, {}, gates, _pairs(Regression(), [0.0], [0.0], [0.0]))
    assert v.failures == ("agreement: the regression task does not measure it",)


def _case(passed: bool, collapse: bool, inconclusive: bool, **extra) -> CaseResult:
    report = QuantizationReport({"MatMul": 1}, 1, extra.pop("nothing", False))
    return CaseResult("s", "c", {}, passed, collapse, report, inconclusive=inconclusive, **extra)


@pytest.mark.parametrize(
    ("flags", "extra", "verdict", "status"),
    [
        ((True, False, False), {}, Verdict.PASS, "PASS"),
        ((False, False, False), {}, Verdict.FAIL, "FAIL"),
        ((False, True, False), {}, Verdict.COLLAPSE, "COLLAPSE"),
        ((False, True, True), {"expect": "collapse"}, Verdict.COLLAPSE, "COLLAPSE (expected)"),
        ((False, False, False), {"expect": "fail"}, Verdict.FAIL, "FAIL (expected)"),
        ((False, True, False), {"expect": "fail"}, Verdict.COLLAPSE, "COLLAPSE (expected)"),
        ((False, False, False), {"expect": "collapse"}, Verdict.FAIL, "FAIL"),  # not the failure foreseen
        ((True, False, False), {"expect": "fail"}, Verdict.PASS, "PASS"),
        ((True, False, True), {}, Verdict.INCONCLUSIVE, "INCONCLUSIVE (passed)"),
        ((False, False, True), {}, Verdict.INCONCLUSIVE, "INCONCLUSIVE"),
        ((True, False, False), {"nothing": True}, Verdict.PASS, "PASS (quantized nothing)"),
    ],
)
def test_a_case_verdict_is_an_enum_and_its_status_text_is_as_before(flags, extra, verdict, status) -> None:
    case = _case(*flags, **extra)
    assert case.verdict is verdict and case.status == status
    assert case.inconclusive_passed is (status == "INCONCLUSIVE (passed)")
    assert case.expected_failure is ("expected" in status)


def test_a_case_writes_its_verdict_and_line_and_old_files_still_read() -> None:
    case = dataclasses.replace(_case(False, True, False), line="COLLAPSE: accuracy 0.9 -> 0.5")
    data = serialize.dump(case)
    assert (data["verdict"], data["line"]) == ("COLLAPSE", "COLLAPSE: accuracy 0.9 -> 0.5")
    assert serialize.load(CaseResult, data) == case
    old = {**data, "verdict": "accuracy 0.911 -> 0.490 (drop 0.421): drop 0.421 > max_drop 0.01"}
    del old["line"]
    assert serialize.load(CaseResult, old).verdict is Verdict.COLLAPSE  # the old line under `verdict`


def test_a_lower_is_better_result_reads_its_rise_as_the_drop() -> None:
    r = MetricResult("mse", 0.1, 0.3, 0.25, direction=Direction.LOWER)
    assert r.drop == pytest.approx(0.2) and r.ratio == pytest.approx(1 / 3)
    data = serialize.dump(r)
    assert data["direction"] == "lower" and data["drop"] == pytest.approx(0.2)
    assert serialize.load(MetricResult, data) == r
    old = {k: v for k, v in data.items() if k != "direction"}
    assert serialize.load(MetricResult, old).direction is Direction.HIGHER  # files from before it was kept
