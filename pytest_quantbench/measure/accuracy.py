"""Batched evaluation of a session: the task reads predictions from the logits and scores them.

A model's scores are kept on disk under what the model computes (its backend's `model_id`) and what it is
scored on, so identical graphs are scored once and a warm rerun evaluates nothing again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts.cache import ArtifactCache, digest, library_versions
from pytest_quantbench.data.prepare import EvalData
from pytest_quantbench.data.store import DataStore
from pytest_quantbench.memo import Memo
from pytest_quantbench.runtimes.base import Session, inputs_of, run_checked
from pytest_quantbench.suite import Suite
from pytest_quantbench.tasks import MetricFn, Task

SCORE_LIBRARIES = ("onnx", "onnxruntime", "optimum", "optimum-onnx", "transformers", "torch")


def predict(session: Session, data: EvalData, task: Task, id2label: dict[int, str]) -> list[Any]:
    """The task's predictions for every eval sample, batch by batch."""
    predictions: list[Any] = []
    for batch in data.batches:
        logits = run_checked(session, inputs_of(session, batch))[0]
        lo, hi = len(predictions), len(predictions) + len(logits)
        predictions += task.predict(logits, data.alignments[lo:hi], data.references[lo:hi], id2label)
    return predictions


class Scorer:
    """Scores of sessions on their suite's eval split, through the task and the metrics `metric` looks up."""

    def __init__(
        self, cache: ArtifactCache, data: DataStore, metric: Callable[[str], MetricFn], id2label: Callable
    ) -> None:
        self.cache, self.data, self.metric, self.id2label = cache, data, metric, id2label
        self._memo = Memo()

    def evaluate(self, session: Session, suite: Suite, data: EvalData | None = None) -> dict[str, float]:
        """Scores of `session` on `data` (default: the suite's eval split), not cached."""
        suite_data = self.data.of(suite)
        data = data or suite_data.eval
        predictions = predict(session, data, suite_data.task, self.id2label(suite))
        return suite_data.task.score(suite.metrics, predictions, data.references, self.metric)

    def scores(self, model_id: str, suite: Suite, session: Callable[[], Session]) -> dict[str, float]:
        """A model's scores on the eval split, kept on disk under `model_id` and what it is scored on."""
        suite_data = self.data.of(suite)
        split = suite_data.split(suite.dataset.eval_split)
        spec = (suite.task, suite.metrics, suite.dataset.num_eval_samples, suite.dataset.max_length)
        key = digest("scores", model_id, split._fingerprint, spec, library_versions(SCORE_LIBRARIES))

        def build(out: Path) -> None:
            (out / "scores.json").write_text(json.dumps(self.evaluate(session(), suite)))

        return self._memo(
            ("scores", key), lambda: json.loads((self.cache.build("scores", key, build) / "scores.json").read_text())
        )

    def chance(self, suite: Suite) -> dict[str, float]:
        suite_data = self.data.of(suite)
        return suite_data.task.chance(suite_data.eval.references)
