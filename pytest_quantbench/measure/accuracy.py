"""Batched evaluation of a session: the task reads predictions from the logits and scores them.

A model's scores are kept on disk under what the model computes (its backend's `model_id`) and what it is
scored on, so identical graphs are scored once and a warm rerun evaluates nothing again. Beside the scores
lie the per-sample predictions and the logits rows they were read from: the paired statistics, the fidelity
gates and a failing case's evidence need them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pytest_quantbench.artifacts.cache import ArtifactCache, digest, library_versions
from pytest_quantbench.data.prepare import EVAL_BATCH_SIZE, EvalData
from pytest_quantbench.data.store import DataStore
from pytest_quantbench.memo import Memo
from pytest_quantbench.runtimes.base import Session, inputs_of, run_checked
from pytest_quantbench.suite import Suite
from pytest_quantbench.tasks import MetricFn, Task

SCORE_LIBRARIES = ("onnx", "onnxruntime", "optimum", "optimum-onnx", "transformers", "torch")
ENTRY_LAYOUT = 2  # scores.json, predictions.json, logits.npy
PREDICTIONS_FILE = "predictions.json"
# Evaluation runs batches side by side, each on one intra-op thread: at eval shapes (8 short sentences) ONNX
# Runtime's intra-op threads idle through a good part of each call, and data parallelism wastes none of a core.
EVAL_SESSION_THREADS = 1


def eval_workers() -> int:
    """Batches evaluated at once: one per core."""
    return os.cpu_count() or 1


def predict_with_logits(
    session: Session, data: EvalData, task: Task, id2label: dict[int, str], workers: int = 1
) -> tuple[list[Any], np.ndarray]:
    """The task's predictions for every eval sample, and the logits rows they come from; `workers` batches run
    at once (a session's `run` is thread-safe, and releases the GIL), and their outputs are read in order."""

    def logits_of(batch: dict[str, Any]) -> Any:
        return run_checked(session, inputs_of(session, batch))[0]

    predictions: list[Any] = []
    rows = []
    with ThreadPoolExecutor(max(1, workers)) as pool:
        outputs = list(pool.map(logits_of, data.batches)) if workers > 1 else map(logits_of, data.batches)
        for logits in outputs:
            lo, hi = len(predictions), len(predictions) + len(logits)
            predictions += task.predict(logits, data.alignments[lo:hi], data.references[lo:hi], id2label)
            rows.append(np.asarray(task.logit_rows(logits, data.alignments[lo:hi]), dtype=np.float32))
    return predictions, (np.concatenate(rows) if rows else np.zeros((0, 0), np.float32))


def predict(session: Session, data: EvalData, task: Task, id2label: dict[int, str], workers: int = 1) -> list[Any]:
    """The task's predictions for every eval sample."""
    return predict_with_logits(session, data, task, id2label, workers)[0]


@dataclass(frozen=True)
class Scored:
    """A model's scores on the eval split, its per-sample predictions and logits rows, and their cache entry."""

    scores: dict[str, float]
    predictions: list[Any]
    logits: np.ndarray
    entry: Path

    @property
    def predictions_path(self) -> Path:
        return self.entry / PREDICTIONS_FILE


class Scorer:
    """Scores of sessions on their suite's eval split, through the task and the metrics `metric` looks up; the
    sessions are opened with `EVAL_SESSION_THREADS`, and `workers` batches run at once."""

    def __init__(
        self,
        cache: ArtifactCache,
        data: DataStore,
        metric: Callable[[str], MetricFn],
        id2label: Callable,
        workers: int | None = None,
    ) -> None:
        self.cache, self.data, self.metric, self.id2label = cache, data, metric, id2label
        self.workers = workers or eval_workers()
        self._memo = Memo()

    def evaluate(self, session: Session, suite: Suite, data: EvalData | None = None) -> dict[str, float]:
        """Scores of `session` on `data` (default: the suite's eval split), not cached."""
        suite_data = self.data.of(suite)
        data = data or suite_data.eval
        predictions = predict(session, data, suite_data.task, self.id2label(suite), self.workers)
        return suite_data.task.score(suite.metrics, predictions, data.references, self.metric)

    def _key(self, model_id: str, suite: Suite) -> str:
        """Where a model's scores lie in the cache: what it computes and what it is scored on."""
        split = self.data.of(suite).split(suite.dataset.eval_split)
        dataset = suite.dataset
        spec = (
            suite.task,
            suite.metrics,
            dataset.num_eval_samples,
            dataset.max_length,
            dataset.ref_keys,
            EVAL_BATCH_SIZE,
        )
        return digest("scores", ENTRY_LAYOUT, model_id, split._fingerprint, spec, library_versions(SCORE_LIBRARIES))

    def is_cached(self, model_id: str, suite: Suite) -> bool:
        """Whether `scored` would read a model's scores from the cache rather than compute them."""
        return self.cache.get("scores", self._key(model_id, suite)) is not None

    def scored(self, model_id: str, suite: Suite, session: Callable[[], Session]) -> Scored:
        """A model's scores, predictions and logits on the eval split, kept on disk under `model_id` and what
        it is scored on."""
        suite_data = self.data.of(suite)
        key = self._key(model_id, suite)

        def build(out: Path) -> None:
            data, task = suite_data.eval, suite_data.task
            predictions, logits = predict_with_logits(session(), data, task, self.id2label(suite), self.workers)
            scores = task.score(suite.metrics, predictions, data.references, self.metric)
            (out / "scores.json").write_text(json.dumps(scores))
            (out / PREDICTIONS_FILE).write_text(json.dumps(predictions))
            np.save(out / "logits.npy", logits)

        def load() -> Scored:
            entry = self.cache.build("scores", key, build)
            return Scored(
                json.loads((entry / "scores.json").read_text()),
                json.loads((entry / PREDICTIONS_FILE).read_text()),
                np.load(entry / "logits.npy"),
                entry,
            )

        return self._memo(("scores", key), load)

    def chance(self, suite: Suite) -> dict[str, float]:
        """Chance level per metric; none without references."""
        suite_data = self.data.of(suite)
        if not suite.dataset.ref_keys:
            return {}
        return suite_data.task.chance(suite_data.eval.references)
