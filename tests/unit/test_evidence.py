"""Tasks that produce their own evidence: what the score cache keeps per sample, and evidence that needs both
models' outputs side by side (a divergence), computed batch by batch while both run and kept per sample only."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.data.prepare import EvalData
from pytest_quantbench.measure.accuracy import EVIDENCE_FILE, PAIRED_FILE, Scorer
from pytest_quantbench.records import Direction, MetricInfo, MetricResult
from pytest_quantbench.suite import Threshold, Thresholds
from pytest_quantbench.suite.vocabulary import TaskVocabulary
from pytest_quantbench.tasks import Encoded, Evidence, Task
from pytest_quantbench.tasks.text_classification import TextClassification
from pytest_quantbench.verdicts.gates import Pairs, judge

CLASSES, BATCHES, ROWS = 5, 4, 3  # 4 batches of 3 samples, 5 classes


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class Divergence(Task):
    """A classifier that keeps only its answers, and gates on the KL divergence of the quantized model's
    distribution from the original's: evidence neither model's outputs give alone."""

    name = "divergence"
    vocabulary = TaskVocabulary(("accuracy",), ("accuracy",), {"primary": "x"}, ("label",))
    pair_measures = ("kl",)
    metric_infos = (MetricInfo("kl", Direction.LOWER, "nats", (0.0, None)),)

    def encode(self, processor, spec, rows, padding=True, max_length=None) -> Encoded:
        return Encoded({"x": np.asarray(rows[spec.primary])})

    def predict(self, logits, alignments, references, id2label) -> list:
        return logits.argmax(-1).tolist()

    def pair_evidence(self, original, quantized, alignments, references) -> dict[str, Any]:
        p, q = softmax(original), softmax(quantized)
        return {"kl": (p * np.log(p / q)).sum(-1)}

    def fidelity(self, name, original, quantized, paired) -> MetricResult | None:
        if name != "kl":
            return None
        return MetricResult(name, 0.0, float(np.mean(paired["kl"])), direction=Direction.LOWER)


class Session:
    """Logits of a fixed random table row per input id; `noise` perturbs them (the quantized model)."""

    def __init__(self, noise: float) -> None:
        rng = np.random.default_rng(0)
        self.table = rng.normal(0, 2, (BATCHES * ROWS, CLASSES))
        self.table += np.random.default_rng(1).normal(0, noise, self.table.shape)
        self.batches: list[int] = []

    def get_inputs(self) -> list:
        return [SimpleNamespace(name="x")]

    def run(self, names, feed) -> list:
        self.batches.append(int(feed["x"][0]) // ROWS)
        return [self.table[feed["x"]]]


def scorer(tmp_path: Path, task: Task) -> tuple[Scorer, Any, EvalData]:
    data = EvalData([{"x": np.arange(b * ROWS, (b + 1) * ROWS)} for b in range(BATCHES)], [0] * BATCHES * ROWS)
    dataset = SimpleNamespace(
        eval_split="validation", num_eval_samples=None, max_length=8, ref_keys=("label",), stride=None
    )
    suite_data = SimpleNamespace(
        task=task, eval=data, spec=dataset, split=lambda name: SimpleNamespace(_fingerprint="split")
    )
    store = SimpleNamespace(of=lambda suite: suite_data)
    suite = SimpleNamespace(task=task.name, metrics=("accuracy",), dataset=dataset)

    def accuracy(p: list, r: list) -> float:
        return sum(a == b for a, b in zip(p, r, strict=True)) / len(r)

    labels = {i: str(i) for i in range(CLASSES)}
    made = Scorer(ArtifactCache(tmp_path), store, lambda name: accuracy, lambda s: labels, workers=2)  # type: ignore[arg-type]
    return made, suite, data


def test_pair_evidence_is_computed_batch_by_batch_while_both_models_run(tmp_path: Path) -> None:
    task = Divergence()
    made, suite, data = scorer(tmp_path, task)
    original, quantized = Session(0.0), Session(0.5)
    both = made.both(suite, ("fp32", lambda: original), ("int8", lambda: quantized), libraries=())

    # one pass: each model ran each batch once, and each batch's divergence came from both outputs of it
    assert sorted(original.batches) == sorted(quantized.batches) == list(range(BATCHES))
    p, q = softmax(original.table), softmax(quantized.table)
    np.testing.assert_allclose(both.paired["kl"], (p * np.log(p / q)).sum(-1))
    assert both.original.predictions == original.table.argmax(-1).tolist()
    assert both.quantized.scores == {"accuracy": float(np.mean(quantized.table.argmax(-1) == 0))}

    # what is kept: a number per sample for the pair, the answers per model; no output tensor
    (pair_entry,) = (tmp_path / "pairs").iterdir()
    with np.load(pair_entry / PAIRED_FILE) as kept:
        assert {k: kept[k].shape for k in kept.files} == {"kl": (BATCHES * ROWS,)}
    with np.load(both.quantized.entry / EVIDENCE_FILE) as kept:
        assert kept.files == []

    # the pass filled each model's own entry too: scoring them again runs nothing
    def never() -> Session:
        raise AssertionError("scored again")

    again, _, _ = scorer(tmp_path, task)
    assert again.scored("int8", suite, never, libraries=()).predictions == both.quantized.predictions
    assert (
        again.both(suite, ("fp32", never), ("int8", never), libraries=()).paired["kl"].tolist()
        == both.paired["kl"].tolist()
    )

    # the divergence gates as a lower-is-better fidelity measure
    pairs = Pairs(task, both.original.evidence, both.quantized.evidence, data.references, made.metric, both.paired)
    gate = Thresholds(fidelity=(("kl", Threshold(max_drop=0.01)),))
    v = judge(both.original.scores, both.quantized.scores, {}, gate, pairs)
    (kl,) = v.results
    assert kl.direction is Direction.LOWER and kl.drop == pytest.approx(float(np.mean(both.paired["kl"])))
    assert kl.drop > 0.01 and not v.passed
    assert v.line().startswith(f"kl 0.000 -> {kl.quantized:.3f} (rise {kl.drop:.3f}): rise {kl.drop:.3f} > max_drop")


def test_a_classifier_keeps_its_answers_and_logits_rows_and_runs_each_model_apart(tmp_path: Path) -> None:
    made, suite, _ = scorer(tmp_path, TextClassification())
    original, quantized = Session(0.0), Session(0.5)
    both = made.both(suite, ("fp32", lambda: original), ("int8", lambda: quantized), libraries=())
    assert both.paired == {} and not (tmp_path / "pairs").exists()
    assert both.quantized.evidence.predictions == quantized.table.argmax(-1).tolist()
    np.testing.assert_allclose(both.quantized.evidence.arrays["logits"], quantized.table.astype(np.float32))
    cosine = TextClassification().fidelity("cosine", both.original.evidence, both.quantized.evidence, {})
    assert cosine is not None and 0.5 < cosine.quantized < 1.0


def test_evidence_of_batches_joins_in_order() -> None:
    parts = [Evidence([1, 2], {"a": np.zeros((2, 3))}), Evidence([3], {"a": np.ones((1, 3))})]
    joined = Evidence.join(parts)
    assert joined.predictions == [1, 2, 3] and joined.arrays["a"].tolist() == [[0.0] * 3] * 2 + [[1.0] * 3]
    assert Evidence.join([]) == Evidence([], {})
