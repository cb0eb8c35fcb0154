"""Pipeline pieces that need no model: word starts, the bundled metrics, chance levels (the pipeline on a
tiny model: tests/integration/test_pipeline.py)."""

from __future__ import annotations

import pytest

from pytest_quantbench.data.prepare import _word_starts
from pytest_quantbench.measure import accuracy as evaluation


def test_word_starts_pick_first_subtoken() -> None:
    assert _word_starts([None, 0, 0, 1, 2, 2, None, None]) == [1, 3, 4]


def test_bundled_metrics_load_offline() -> None:
    assert evaluation.score("text-classification", ("accuracy",), [1, 0, 1, 1], [1, 0, 0, 1]) == {"accuracy": 0.75}
    scores = evaluation.score(
        "token-classification",
        ("precision", "recall", "f1", "accuracy"),
        [["B-PER", "I-PER", "O"], ["O", "B-LOC"]],
        [["B-PER", "I-PER", "O"], ["O", "B-ORG"]],
    )
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["accuracy"] == pytest.approx(0.8)


def test_chance_levels() -> None:
    assert evaluation.chance_levels("text-classification", [0, 1, 1, 1]) == {"accuracy": 0.75}
    assert evaluation.chance_levels("token-classification", [["O", "O", "B-PER"], ["O"]]) == {"accuracy": 0.75}


def test_hub_metric_offline_is_unavailable() -> None:
    from pytest_quantbench.errors import SourceUnavailable

    with pytest.raises(SourceUnavailable, match="metric 'matthews_correlation' is not bundled"):
        evaluation.score("text-classification", ("matthews_correlation",), [1], [1])
