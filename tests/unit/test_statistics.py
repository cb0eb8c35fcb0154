"""Paired statistics: flips, the exact McNemar test, the seeded paired bootstrap and the sample-size hint."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_quantbench.tasks.text_classification import TextClassification
from pytest_quantbench.tasks.token_classification import TokenClassification
from pytest_quantbench.verdicts import statistics


def accuracy(predictions: list, references: list) -> float:
    return sum(p == r for p, r in zip(predictions, references, strict=True)) / len(references)


def metric(name: str):
    assert name == "accuracy"
    return accuracy


class Rescored(TextClassification):
    """No per-sample counts: every resample goes through `score`, as a user's metric does."""

    def sample_counts(self, metric: str, predictions: list, references: list) -> None:
        return None


def pairs(n: int, p_right: float, p_to_wrong: float, p_to_right: float, seed: int = 0):
    """Synthetic labels: the original right with `p_right`, the quantized flipping each way at the given rates."""
    rng = np.random.default_rng(seed)
    refs = rng.integers(0, 2, n)
    right_o = rng.random(n) < p_right
    flip = np.where(right_o, rng.random(n) < p_to_wrong, rng.random(n) < p_to_right)
    right_q = right_o ^ flip
    original = np.where(right_o, refs, 1 - refs)
    quantized = np.where(right_q, refs, 1 - refs)
    return original.tolist(), quantized.tolist(), refs.tolist()


@pytest.mark.parametrize(
    ("to_wrong", "to_right", "p"),
    [(11, 0, 2 / 2**11), (5, 3, 0.7265625), (0, 0, 1.0), (1, 0, 1.0), (7, 7, 1.0), (30, 12, 0.0079158973)],
)
def test_exact_mcnemar_p_values(to_wrong: int, to_right: int, p: float) -> None:
    assert statistics.mcnemar_p(to_wrong, to_right) == pytest.approx(p, rel=1e-6)


def test_flips_per_sample_and_per_token() -> None:
    text = TextClassification()
    assert statistics.flips(text, [1, 1, 0, 0], [0, 1, 1, 0], [1, 1, 1, 1]) == (1, 1)
    tokens = TokenClassification()
    refs = [["B-PER", "O"], ["O", "B-LOC", "O"]]
    original = [["B-PER", "O"], ["O", "O", "O"]]
    quantized = [["O", "O"], ["O", "B-LOC", "B-LOC"]]
    assert statistics.flips(tokens, original, quantized, refs) == (2, 1)  # B-PER and the last O lost, B-LOC won


def test_bootstrap_interval_holds_the_true_drop_and_is_seeded() -> None:
    original, quantized, refs = pairs(1000, 0.9, 0.05, 0.1)  # true drop: 0.9 * 0.05 - 0.1 * 0.1 = 0.035
    stats = statistics.paired_stats(TextClassification(), "accuracy", original, quantized, refs, metric)
    assert stats.ci_low < 0.035 < stats.ci_high
    assert stats.ci_low < stats.drop < stats.ci_high and stats.n == 1000 and stats.confidence == 0.95
    assert stats.drop == pytest.approx(accuracy(original, refs) - accuracy(quantized, refs))
    assert stats.flips_to_wrong > stats.flips_to_right and stats.mcnemar_p < 1e-3
    again = statistics.paired_stats(TextClassification(), "accuracy", original, quantized, refs, metric)
    assert again == stats
    other = statistics.paired_stats(TextClassification(), "accuracy", original, quantized, refs, metric, seed=1)
    assert (other.ci_low, other.ci_high) != (stats.ci_low, stats.ci_high)
    wider = statistics.paired_stats(TextClassification(), "accuracy", original, quantized, refs, metric, 0.99)
    assert wider.ci_low <= stats.ci_low and wider.ci_high >= stats.ci_high


def test_counts_resample_exactly_as_rescoring_does() -> None:
    original, quantized, refs = pairs(100, 0.8, 0.1, 0.1)
    fast = statistics.bootstrap_drops(TextClassification(), "accuracy", original, quantized, refs, metric, 200)
    slow = statistics.bootstrap_drops(Rescored(), "accuracy", original, quantized, refs, metric, 200)
    np.testing.assert_allclose(fast, slow)


def test_identical_predictions_have_a_zero_interval() -> None:
    original, _, refs = pairs(200, 0.9, 0.0, 0.0)
    stats = statistics.paired_stats(TextClassification(), "accuracy", original, original, refs, metric)
    assert (stats.drop, stats.ci_low, stats.ci_high, stats.flips_to_wrong, stats.mcnemar_p) == (0, 0, 0, 0, 1.0)


@pytest.mark.parametrize("name", ["precision", "recall", "f1", "accuracy"])
def test_seqeval_counts_reproduce_its_scores(name: str) -> None:
    task = TokenClassification()
    refs = [["B-PER", "I-PER", "O"], ["O", "B-LOC"], ["B-ORG", "O", "B-PER"], ["O"]]
    preds = [["B-PER", "O", "O"], ["O", "B-LOC"], ["B-ORG", "O", "O"], ["B-LOC"]]
    counts = task.sample_counts(name, preds, refs)
    assert counts is not None
    num, den = counts
    score = task.score((name,), preds, refs, lambda m: accuracy)[name]
    assert num.sum() / den.sum() == pytest.approx(score)


def test_agreement_and_cosine() -> None:
    from pytest_quantbench.tasks import Evidence
    from pytest_quantbench.tasks.classification import mean_cosine

    def agreement(task, original, quantized):
        return task.fidelity("agreement", Evidence(original), Evidence(quantized), {})

    task = TokenClassification()
    assert agreement(task, [["O", "B-PER"], ["O"]], [["O", "O"], ["O"]]).quantized == pytest.approx(2 / 3)
    assert agreement(TextClassification(), [1, 1, 1, 0], [1, 1, 1, 0]).chance == 0.75
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    assert mean_cosine(a, a * 3) == pytest.approx(1.0)
    assert mean_cosine(a, np.array([[0.0, 1.0], [0.0, 1.0]])) == pytest.approx(0.5)


def test_samples_to_decide_scales_the_half_width_as_one_over_sqrt_n() -> None:
    # half-width 0.03 at n=100, 0.01 between the drop and the limit: 9 times the samples
    assert statistics.samples_to_decide(0.02, -0.01, 0.05, 0.01, 100) == 900
    assert statistics.samples_to_decide(0.01, -0.01, 0.03, 0.01, 100) is None
