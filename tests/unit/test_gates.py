"""Gates: thresholds, the one-line verdict and collapse detection."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from pytest_quantbench.errors import CollapseFailure, GateFailure
from pytest_quantbench.records import ModelSize
from pytest_quantbench.suite import Threshold, Thresholds
from pytest_quantbench.tasks import Evidence
from pytest_quantbench.verdicts.gates import Judgement, Pairs, judge, speed_violation

T = Thresholds.from_keys  # a suite file's `thresholds:` mapping as the typed gates


def test_within_threshold_passes() -> None:
    v = judge({"accuracy": 0.911}, {"accuracy": 0.905}, {"accuracy": 0.509}, T({"accuracy": Threshold(max_drop=0.01)}))
    assert v.passed and not v.collapsed
    v.raise_for_failure()
    assert v.line() == "accuracy 0.911 -> 0.905 (drop +0.006)"


def test_seed_001_per_channel_collapse_is_named() -> None:
    v = judge({"accuracy": 0.911}, {"accuracy": 0.490}, {"accuracy": 0.509}, T({"accuracy": Threshold(max_drop=0.01)}))
    assert v.collapsed
    assert v.line() == (
        "COLLAPSE: accuracy 0.911 -> 0.490 (drop 0.421): drop 0.421 > max_drop 0.01, at chance level 0.509"
    )
    with pytest.raises(CollapseFailure):
        v.raise_for_failure()


def test_seed_002_static_ner_collapse_by_token_accuracy() -> None:
    metrics = ("precision", "recall", "f1", "accuracy")
    original = dict(zip(metrics, (0.936, 0.944, 0.940, 0.988), strict=True))
    quantized = dict(zip(metrics, (0.065, 0.243, 0.103, 0.357), strict=True))
    chance = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 0.83}
    v = judge(original, quantized, chance, T({m: Threshold(max_drop=0.01) for m in metrics}))
    assert v.collapsed
    assert len(v.failures) == 4


def test_drop_without_collapse_is_a_plain_failure() -> None:
    v = judge({"accuracy": 0.95}, {"accuracy": 0.90}, {"accuracy": 0.5}, T({"accuracy": Threshold(max_drop=0.01)}))
    assert not v.collapsed
    with pytest.raises(GateFailure) as info:
        v.raise_for_failure()
    assert not isinstance(info.value, CollapseFailure)
    assert "COLLAPSE" not in str(info.value)


@pytest.mark.parametrize(
    ("threshold", "passes", "message"),
    [
        (Threshold(min_ratio=0.99), False, "ratio 0.947 < min_ratio 0.99"),
        (Threshold(min_ratio=0.9), True, ""),
        (Threshold(min=0.95), False, "0.900 < min 0.95"),
        (Threshold(max_drop=0.06), True, ""),
    ],
)
def test_each_threshold_kind(threshold: Threshold, passes: bool, message: str) -> None:
    v = judge({"accuracy": 0.95}, {"accuracy": 0.90}, {"accuracy": 0.5}, T({"accuracy": threshold}))
    assert v.passed is passes
    assert message in v.line()


def _pairs(original: list[int], quantized: list[int], references: list[int]) -> Pairs:
    from pytest_quantbench.tasks.text_classification import TextClassification

    def accuracy(p: list, r: list) -> float:
        return sum(a == b for a, b in zip(p, r, strict=True)) / len(r)

    evidence = (Evidence(answers, {"logits": np.eye(2)[answers]}) for answers in (original, quantized))
    return Pairs(TextClassification(), *evidence, references, lambda name: accuracy)


def _judge(pairs: Pairs, threshold: Threshold, **extra) -> Judgement:
    original, answers, refs = pairs.original.predictions, pairs.quantized.predictions, pairs.references
    scores = {"accuracy": sum(a == r for a, r in zip(original, refs, strict=True)) / len(refs)}
    quantized = {"accuracy": sum(a == r for a, r in zip(answers, refs, strict=True)) / len(refs)}
    return judge(scores, quantized, {"accuracy": 0.5}, T({"accuracy": threshold, **extra}), pairs)


def _flipped(n: int, to_wrong: int) -> Pairs:
    """All `n` right in fp32, `to_wrong` of them wrong in int8; labels alternate 0/1."""
    refs = [i % 2 for i in range(n)]
    return _pairs(refs, [1 - r if i < to_wrong else r for i, r in enumerate(refs)], refs)


def test_confidence_gate_passes_when_the_whole_interval_is_within() -> None:
    v = _judge(_flipped(2000, 2), Threshold(max_drop=0.01, confidence=0.95))
    assert v.passed and not v.inconclusive
    paired = v.results[0].paired
    assert paired is not None and paired.ci_high <= 0.01 and paired.flips_to_wrong == 2


def test_confidence_gate_fails_when_the_whole_interval_is_beyond() -> None:
    v = _judge(_flipped(400, 40), Threshold(max_drop=0.01, confidence=0.95))
    assert not v.passed
    line = v.line()
    assert "drop > max_drop 0.01 at 95% confidence" in line
    assert "95% CI [+0.0" in line and "flips 40 right->wrong / 0 wrong->right" in line and "n=400" in line


def test_confidence_gate_straddling_the_limit_is_inconclusive_with_a_sample_size() -> None:
    v = _judge(_flipped(100, 1), Threshold(max_drop=0.01, confidence=0.95))
    assert not v.passed and v.inconclusive and not v.failures
    with pytest.raises(GateFailure) as info:
        v.raise_for_failure()
    message = str(info.value)
    assert message.startswith("INCONCLUSIVE: accuracy drop 0.010, 95% CI [+0.000, +0.0")
    assert "straddles max_drop 0.01 on 100 samples" in message
    v = _judge(_flipped(20, 1), Threshold(max_drop=0.01, confidence=0.95))
    paired = v.results[0].paired
    assert paired is not None
    needed = math.ceil(20 * ((paired.ci_high - paired.ci_low) / 2 / (paired.drop - 0.01)) ** 2)
    assert f"about {needed} evaluation samples would decide it" in v.line()


def test_on_inconclusive_pass_keeps_the_case_green_but_says_so() -> None:
    v = _judge(_flipped(20, 1), Threshold(max_drop=0.01, confidence=0.95, on_inconclusive="pass"))
    assert v.passed and v.inconclusive
    v.raise_for_failure()
    assert v.line().startswith("INCONCLUSIVE: ")


def test_without_confidence_the_point_gate_decides_and_the_interval_is_evidence() -> None:
    v = _judge(_flipped(100, 1), Threshold(max_drop=0.02))
    assert v.passed and not v.inconclusive and v.results[0].paired is not None


def test_fidelity_and_size_gates() -> None:
    pairs = _flipped(100, 5)
    size = ModelSize(1000, 400)
    thresholds = {"agreement": Threshold(min=0.99), "cosine": Threshold(min=0.9), "size": Threshold(max_ratio=0.35)}
    v = judge({}, {}, {}, T(thresholds), pairs, size)
    assert {r.name: r.quantized for r in v.results} == {"agreement": 0.95, "cosine": 0.95}
    assert v.failures == (
        "agreement 1.000 -> 0.950 (drop 0.050): 0.950 < min 0.99",
        "size ratio 0.400 > max_ratio 0.35",
    )
    assert judge({}, {}, {}, T(thresholds)).passed  # without pairs and size nothing is judged


def test_speed_gate_fails_only_below_the_whole_interval() -> None:
    from pytest_quantbench.records import MachineFacts, SpeedDiagnosis, TimingResult

    machine = MachineFacts("cpu", 2, (), False, "3.11")
    base = TimingResult("s", "t", "m", "int8", "c", {}, 1, 16, 1, machine, speedup=1.0, speedup_ci95_rel=0.05)
    line = speed_violation(base, Threshold(min=1.3))
    assert line == "speedup x1.00 (95% CI x0.95..x1.05) < min x1.3"
    assert speed_violation(dataclasses.replace(base, speedup_ci95_rel=0.4), Threshold(min=1.3)) is None
    slower = dataclasses.replace(base, speedup=0.8)
    assert slower.slower and "SLOWER than fp32" in (speed_violation(slower, Threshold(min=1.3)) or "")
    assert not base.slower
    why = SpeedDiagnosis(
        "QDQ pairs left unfused at optimization level 1", "framework_args: {quantized_optimization_level: 99}"
    )
    diagnosed = speed_violation(dataclasses.replace(slower, speed_diagnosis=why), Threshold(min=1.3))
    assert diagnosed == (
        "speedup x0.80 (95% CI x0.76..x0.84) < min x1.3, SLOWER than fp32; cause: QDQ pairs left unfused at "
        "optimization level 1; fix: framework_args: {quantized_optimization_level: 99}"
    )


def test_a_drop_to_chance_inside_noise_is_no_collapse() -> None:
    """An original a hair above chance (0.507 on 600, the majority 0.500) losing 8 of 600 answers both ways
    is noise: the interval of the drop straddles zero, so it is judged as any drop, here INCONCLUSIVE."""
    from pytest_quantbench.records import MetricResult, PairedStats
    from pytest_quantbench.verdicts.gates import collapsed

    noise = PairedStats("accuracy", 0.0067, -0.0017, 0.0167, 0.95, 6, 2, 0.29, 600)
    assert not collapsed(MetricResult("accuracy", 0.507, 0.500, 0.500, noise))
    real = dataclasses.replace(noise, drop=0.42, ci_low=0.38, ci_high=0.46)
    assert collapsed(MetricResult("accuracy", 0.911, 0.490, 0.509, real))
    assert collapsed(MetricResult("accuracy", 0.507, 0.500, 0.500))  # without pairs, the point rule alone


def test_memory_gate_reads_the_run_peaks_at_the_case_shape_and_skips_what_was_not_measured() -> None:
    from pytest_quantbench.records import MachineFacts, MemoryStats, TimingResult
    from pytest_quantbench.verdicts.gates import latency_violations

    machine = MachineFacts("cpu", 2, (), False, "3.11")
    fp32, int8 = (
        MemoryStats(90_000_000, 100_000_000, "bs1-len16", 1),
        MemoryStats(40_000_000, 70_000_000, "bs1-len16", 1),
    )
    row = TimingResult("s", "t", "m", "int8", "c", {}, 1, 16, 1, machine, memory=int8, fp32_memory=fp32)
    broken = latency_violations(row, T({"memory": Threshold(max_ratio=0.5), "accuracy": Threshold(max_drop=0.01)}))
    assert broken == ["memory run peak ratio 0.700 (70.0 MB / 100.0 MB at bs1-len16) > max_ratio 0.5"]
    assert latency_violations(row, T({"memory": Threshold(max_ratio=0.7)})) == []
    assert latency_violations(dataclasses.replace(row, fp32_memory=None), T({"memory": Threshold(max_ratio=0.5)})) == []
    assert judge({}, {}, {}, T({"memory": Threshold(max_ratio=0.5)})).passed  # not the accuracy case's gate


@pytest.mark.parametrize(
    ("score", "samples", "refused"),
    [
        (0.0, 200, True),  # every answer wrong on two balanced labels: swapped labels
        (0.1, 200, True),
        (0.55, 200, False),  # weak but honest
        (0.45, 200, False),  # worse than a coin, but not so far under chance that the labels must be wrong
        (0.24, 40, False),  # under half of chance, but 40 samples do not show it clearly
        (0.0, 8, False),  # eight samples wrong by bad luck: too few to refuse a model on
        (0.0, 40, True),
    ],
)
def test_an_original_below_chance_is_refused_only_when_clearly_so(score: float, samples: int, refused: bool) -> None:
    from pytest_quantbench.records import Direction
    from pytest_quantbench.verdicts.gates import mismatched_references

    line = mismatched_references({"accuracy": score}, {"accuracy": 0.5}, {"accuracy": Direction.HIGHER}, samples)
    assert (line is not None) is refused
    if refused:
        assert line == (
            f"the original model's accuracy {score:.3f} is below chance (0.500) on {samples} samples: the references "
            "probably do not match the model's labels (label order, label names, or the wrong column in "
            "dataset.ref_keys)"
        )


def test_below_chance_reads_only_higher_is_better_metrics_with_a_chance_level() -> None:
    from pytest_quantbench.records import Direction
    from pytest_quantbench.verdicts.gates import mismatched_references

    lower = {"mse": Direction.LOWER, "f1": Direction.HIGHER}
    assert mismatched_references({"mse": 0.0}, {"mse": 0.9}, lower, 1000) is None  # an error of 0: perfect
    assert mismatched_references({"f1": 0.0}, {}, lower, 1000) is None  # no chance level: nothing to be under


def test_chance_tail_bounds_the_binomial_tail() -> None:
    from pytest_quantbench.verdicts.gates import chance_tail

    for n, k, p in [(10, 0, 0.5), (40, 3, 0.25), (200, 30, 0.3)]:
        exact = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))
        assert exact <= chance_tail(k / n, p, n) <= 1.0
    assert chance_tail(0.6, 0.5, 100) == 1.0
