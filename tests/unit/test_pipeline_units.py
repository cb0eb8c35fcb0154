"""Pipeline pieces that need no model: word starts, the bundled metrics, chance levels (the pipeline on a
tiny model: tests/integration/test_pipeline.py)."""

from __future__ import annotations

import pytest

from pytest_quantbench.registry import Registry
from pytest_quantbench.tasks.token_classification import first_subtokens


def test_word_starts_pick_first_subtoken() -> None:
    assert first_subtokens([None, 0, 0, 1, 2, 2, None, None]) == [1, 3, 4]


def test_bundled_metrics_load_offline() -> None:
    registry = Registry()
    text, token = registry.task("text-classification"), registry.task("token-classification")
    assert text.score(("accuracy",), [1, 0, 1, 1], [1, 0, 0, 1], registry.metric) == {"accuracy": 0.75}
    scores = token.score(
        ("precision", "recall", "f1", "accuracy"),
        [["B-PER", "I-PER", "O"], ["O", "B-LOC"]],
        [["B-PER", "I-PER", "O"], ["O", "B-ORG"]],
        registry.metric,
    )
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["accuracy"] == pytest.approx(0.8)


def test_chance_levels() -> None:
    registry = Registry()
    assert registry.task("text-classification").chance([0, 1, 1, 1]) == {"accuracy": 0.75}
    assert registry.task("token-classification").chance([["O", "O", "B-PER"], ["O"]]) == {"accuracy": 0.75}


def test_hub_metric_offline_is_unavailable() -> None:
    from pytest_quantbench.errors import SourceUnavailable

    with pytest.raises(SourceUnavailable, match="metric 'matthews_correlation' is not bundled"):
        Registry().metric("matthews_correlation")([1], [1])


def test_a_registered_backend_is_a_framework_suites_may_name(tmp_path) -> None:
    from pytest_quantbench.errors import SuiteError
    from pytest_quantbench.runtimes.pytorch import PyTorch
    from pytest_quantbench.suite import load_suite
    from pytest_quantbench.suite.vocabulary import BackendVocabulary

    class Static(PyTorch):
        name = "torch-static"
        vocabulary = BackendVocabulary(("static",))

    registry = Registry()
    suite = tmp_path / "s.suite.yaml"
    suite.write_text("task: text-classification\nmodel_name_or_path: m\ndataset: {path: d}\n"
                     "fixed: {framework: torch-static, quantization_approach: dynamic}\n")  # fmt: skip
    with pytest.raises(SuiteError, match=r"fixed\.framework: unknown value 'torch-static'"):
        load_suite(suite, registry.vocabulary())
    registry.add_backend(Static)
    with pytest.raises(SuiteError, match="torch-static runs static quantization only: dynamic configs need "
                                         "framework onnxruntime or pytorch"):  # fmt: skip
        load_suite(suite, registry.vocabulary())
    suite.write_text(suite.read_text().replace("dynamic", "static"))
    assert load_suite(suite, registry.vocabulary()).cases[0].config.framework == "torch-static"


def test_batches_evaluated_side_by_side_come_back_in_order() -> None:
    """The Scorer runs a batch per core at once; a batch that finishes first must not move its answers."""
    import threading
    import time

    import numpy as np

    from pytest_quantbench.data.prepare import EvalData
    from pytest_quantbench.measure.accuracy import evidence_of
    from pytest_quantbench.tasks.text_classification import TextClassification

    class Session:
        """Batch i answers label i % 2; earlier batches are slower, so they finish last."""

        def __init__(self) -> None:
            self.threads: set[int] = set()

        def get_inputs(self) -> list:
            return [type("Input", (), {"name": "input_ids"})()]

        def run(self, names, feed):
            self.threads.add(threading.get_ident())
            i = int(feed["input_ids"][0, 0])
            time.sleep(0.02 * (6 - i))
            return [np.tile(np.array([[1.0, 0.0]] if i % 2 == 0 else [[0.0, 1.0]]), (2, 1))]

    batches = [{"input_ids": np.full((2, 3), i)} for i in range(6)]
    data = EvalData(batches, [0] * 12, [None] * 12)
    task, labels = TextClassification(), {0: "neg", 1: "pos"}
    serial = evidence_of(Session(), data, task, labels)
    parallel_session = Session()
    parallel = evidence_of(parallel_session, data, task, labels, workers=3)
    assert serial.predictions == parallel.predictions == [0, 0, 1, 1] * 3
    assert np.array_equal(serial.arrays["logits"], parallel.arrays["logits"])
    assert len(parallel_session.threads) > 1  # really side by side


def test_eval_head_counts_samples_in_whole_batches() -> None:
    """The fallback search's first slice is a number of samples, so it does not move with the batch size."""
    import numpy as np

    from pytest_quantbench.data.prepare import EvalData

    batches = [{"input_ids": np.zeros((n, 3))} for n in (4, 4, 4, 2)]
    data = EvalData(batches, list(range(14)), list(range(14)), ["a"])
    head = data.head(6)
    assert len(head.batches) == 2 and head.references == list(range(8)) and head.alignments == list(range(8))
    assert head.label_names == ["a"]
    assert data.head(100).references == list(range(14))
    assert data.head(4).references == list(range(4))
