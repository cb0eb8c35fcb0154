"""Gates: thresholds, the one-line verdict and collapse detection."""

from __future__ import annotations

import pytest

from pytest_quantbench.errors import CollapseFailure, GateFailure
from pytest_quantbench.suite import Threshold
from pytest_quantbench.verdicts.gates import judge


def test_within_threshold_passes() -> None:
    v = judge({"accuracy": 0.911}, {"accuracy": 0.905}, {"accuracy": 0.509}, {"accuracy": Threshold(max_drop=0.01)})
    assert v.passed and not v.collapsed
    v.raise_for_failure()
    assert v.line() == "accuracy 0.911 -> 0.905 (drop +0.006)"


def test_seed_001_per_channel_collapse_is_named() -> None:
    v = judge({"accuracy": 0.911}, {"accuracy": 0.490}, {"accuracy": 0.509}, {"accuracy": Threshold(max_drop=0.01)})
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
    v = judge(original, quantized, chance, {m: Threshold(max_drop=0.01) for m in metrics})
    assert v.collapsed
    assert len(v.failures) == 4


def test_drop_without_collapse_is_a_plain_failure() -> None:
    v = judge({"accuracy": 0.95}, {"accuracy": 0.90}, {"accuracy": 0.5}, {"accuracy": Threshold(max_drop=0.01)})
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
    v = judge({"accuracy": 0.95}, {"accuracy": 0.90}, {"accuracy": 0.5}, {"accuracy": threshold})
    assert v.passed is passes
    assert message in v.line()
