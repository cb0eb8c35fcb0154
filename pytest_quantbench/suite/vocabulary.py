"""The words a suite may use that depend on what the package can measure: tasks and their metrics.

Plain data on purpose: a later registry of tasks and metrics (extended through hooks) only has to build a
`Vocabulary`; the schema checks a suite against whichever one it is given.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

# Metrics each task can gate on. `accuracy` and `seqeval` ship with the package; the others are hub modules.
CLASSIFICATION_METRICS = ("accuracy", "f1", "precision", "recall", "matthews_correlation")
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "text-classification": CLASSIFICATION_METRICS,
    "image-classification": CLASSIFICATION_METRICS,
    "token-classification": ("precision", "recall", "f1", "accuracy"),
}
DEFAULT_METRICS = {"text-classification": ("accuracy",), "image-classification": ("accuracy",)}
# Node exclusion presets, resolved by optimum's quantization preprocessor (also read by the build and the ids).
PRESETS = ("layernorm", "gelu", "residual", "gather", "softmax")


@dataclass(frozen=True)
class TaskVocabulary:
    """What a suite of one task may gate on, and what it reads from the dataset when the file does not say."""

    metrics: tuple[str, ...]
    default_metrics: tuple[str, ...]
    default_data_keys: Mapping[str, str]
    default_ref_keys: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    """The tasks a suite may name, each with its metrics and dataset defaults."""

    tasks: dict[str, TaskVocabulary]

    @classmethod
    @functools.cache
    def default(cls) -> Vocabulary:
        """What the package measures itself: today's three tasks."""
        return cls(
            tasks={
                task: TaskVocabulary(
                    metrics=metrics,
                    default_metrics=DEFAULT_METRICS.get(task, metrics),
                    default_data_keys={"primary": "image" if task == "image-classification" else "sentence"},
                    default_ref_keys=("ner_tags",) if task == "token-classification" else ("label",),
                )
                for task, metrics in TASK_METRICS.items()
            }
        )
