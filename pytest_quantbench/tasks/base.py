"""What a task is: how it encodes rows, turns logits into predictions, scores them and states chance level.

A task is one module with one `Task` subclass; `tasks.TASKS` maps the suite's `task:` name to it. Nothing
outside a task module asks which task it is: data preparation, evaluation, runtimes and timing call these
methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pytest_quantbench.suite import DatasetSpec, TaskVocabulary

# A metric as `score` uses it: predictions and references in, one number out.
MetricFn = Callable[[list[Any], list[Any]], float]


@dataclass
class Encoded:
    """Model inputs of some rows (name -> numpy array) and, per row, what `predict` needs to read the logits
    back (token classification: the position of each word's first sub-token)."""

    inputs: dict[str, Any]
    alignments: list[Any] = field(default_factory=list)


class Task(ABC):
    """One kind of model and dataset: text, token or image classification, or a user's own."""

    name: ClassVar[str]
    vocabulary: ClassVar[TaskVocabulary]  # what a suite of this task may say: metrics, dataset defaults
    model_class: ClassVar[str]  # the transformers auto class of its models
    export_task: ClassVar[str]  # the task optimum's ONNX exporter knows it by
    sort_by_length: ClassVar[bool] = False  # eval batches of like lengths pad less

    def load_processor(self, model_dir: Path) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(model_dir)

    @abstractmethod
    def encode(
        self, processor: Any, spec: DatasetSpec, rows: dict[str, list], padding: bool | str = True,
        max_length: int | None = None,
    ) -> Encoded:  # fmt: skip
        """Model inputs for `rows` (a column -> values mapping, as `datasets` slices give them)."""

    def lengths(self, processor: Any, spec: DatasetSpec, rows: dict[str, list]) -> list[int]:
        """Input length per row after truncation (what a batch of them pads to); used when `sort_by_length`."""
        return [0] * len(rows[spec.primary])

    def references(self, values: list[Any], label_names: list[str] | None, id2label: dict[int, str]) -> list[Any]:
        """The dataset's reference column as `score` compares it with predictions."""
        label2id = {v.lower(): k for k, v in id2label.items()}
        if label_names and all(n.lower() in label2id for n in label_names):
            return [label2id[label_names[r].lower()] for r in values]  # align dataset and model label ids
        return list(values)

    def predict(self, logits: Any, alignments: list[Any], references: list[Any], id2label: dict[int, str]) -> list:
        """Predictions of one batch, comparable with its references: label ids by default."""
        return logits.argmax(-1).tolist()

    def score(
        self, metrics: tuple[str, ...], predictions: list[Any], references: list[Any], metric: Callable[[str], MetricFn]
    ) -> dict[str, float]:
        """Each metric of the suite; `metric(name)` gives the scoring function (bundled, hub or a user's)."""
        return {name: metric(name)(predictions, references) for name in metrics}

    def sample_counts(self, metric: str, predictions: list[Any], references: list[Any]) -> tuple[Any, Any] | None:
        """Per sample a numerator and a denominator whose sums' ratio is `metric`, so a bootstrap resamples
        arrays instead of rescoring; None when the metric does not split so (it is then rescored)."""
        import numpy as np

        if metric != "accuracy":
            return None
        right = np.array([p == r for p, r in zip(predictions, references, strict=True)], dtype=float)
        return right, np.ones_like(right)

    def logit_rows(self, logits: Any, alignments: list[Any]) -> Any:
        """The logits a prediction is read from, one row per flat unit (sample, or word): what cosine compares."""
        return logits.reshape(len(logits), -1)

    def chance(self, references: list[Any]) -> dict[str, float]:
        """What always answering the most frequent label scores: the floor a collapse falls to."""
        labels = self.flat_labels(references)
        majority = Counter(labels).most_common(1)[0][1] / len(labels) if labels else 0.0
        return {"accuracy": majority}  # other metrics: a constant answer scores (about) zero

    def flat_labels(self, references: list[Any]) -> list[Any]:
        return list(references)
