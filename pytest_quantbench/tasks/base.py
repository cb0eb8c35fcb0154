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
    head_suffix: ClassVar[str] = ""  # what config.json's `architectures` of its models end with ("": any)
    processor_files: ClassVar[tuple[str, ...]] = ()  # globs; a model folder needs one of them to encode rows

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

    def check_input(self, value: Any) -> str | None:
        """Why one value of the input column cannot be encoded (`is null`), or None: named with its row."""
        return None

    def check_references(
        self, values: list[Any], label_names: list[str] | None, id2label: dict[int, str]
    ) -> str | None:
        """Why the reference column cannot be scored against this model's labels, or None.

        Default: one label per row, an id below the model's label count or a name of its `label2id`.
        """
        if not id2label:
            return None
        if label_names and len(label_names) > len(id2label):
            return (
                f"the dataset has {len(label_names)} classes ({', '.join(label_names)}) but the model's head has "
                f"{len(id2label)} ({', '.join(id2label.values())})"
            )
        label2id = {v.lower(): k for k, v in id2label.items()}
        for row, value in enumerate(values):
            if isinstance(value, str):
                if value.lower() not in label2id:
                    unknown = sorted({v for v in values if isinstance(v, str) and v.lower() not in label2id})
                    return (
                        f"labels the model's label2id lacks: {', '.join(map(repr, unknown))} "
                        f"(model labels: {', '.join(id2label.values())})"
                    )
            elif isinstance(value, bool) or not isinstance(value, int):
                return f"row {row}: label {value!r} is neither a label id nor a label name"
            elif not 0 <= value < len(id2label):
                return f"row {row}: label {value} is outside the model's {len(id2label)} labels (0-{len(id2label) - 1})"
        return None

    def references(self, values: list[Any], label_names: list[str] | None, id2label: dict[int, str]) -> list[Any]:
        """The dataset's reference column as `score` compares it with predictions: the model's label ids."""
        label2id = {v.lower(): k for k, v in id2label.items()}
        if label_names and all(n.lower() in label2id for n in label_names):
            return [label2id[label_names[r].lower()] for r in values]  # align dataset and model label ids
        return [label2id[v.lower()] if isinstance(v, str) else v for v in values]

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
