"""What every classifier shares: label ids read by argmax, labels right or wrong, and the majority label.

`ClassifierTask` keeps of each batch its predictions and the logits rows they come from (one per sample, or
per word for token classification): the rows cosine compares. Flips and agreement compare labels per
`flat_labels` unit; a collapse falls to what always answering the most frequent label scores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from pytest_quantbench.records import ChangedAnswer, Direction, InputKind, MetricResult
from pytest_quantbench.tasks.base import CHANGED_ANSWERS, Task
from pytest_quantbench.tasks.evidence import Evidence

LOGITS = "logits"  # the evidence array of logits rows
TEXT_SHOWN = 240  # characters of an input text a report shows


def agreement(original: list[Any], quantized: list[Any]) -> float:
    """Share of units whose quantized label is the original's (1.0 when there are none)."""
    return sum(a == b for a, b in zip(original, quantized, strict=True)) / len(original) if original else 1.0


def majority_share(labels: list[Any]) -> float:
    """What a constant answer agrees with: the most frequent label's share (0.0 when there are none)."""
    if not labels:
        return 0.0
    return Counter(str(x) for x in labels).most_common(1)[0][1] / len(labels)


def mean_cosine(original: Any, quantized: Any) -> float:
    """Mean cosine similarity of the logits rows (one per sample, or per word for token classification)."""
    import numpy as np

    if len(original) == 0:
        return 1.0
    norms = np.linalg.norm(original, axis=1) * np.linalg.norm(quantized, axis=1)
    dots = (original * quantized).sum(axis=1)
    return float(np.mean(np.divide(dots, norms, out=np.ones_like(dots), where=norms > 0)))


class ClassifierTask(Task):
    """A task whose model answers one of its labels per unit (sample, or word)."""

    def check_references(
        self, values: list[Any], label_names: list[str] | None, id2label: dict[int, str]
    ) -> str | None:
        """One label per row: an id below the model's label count or a name of its `label2id`."""
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
        """The model's label ids of the dataset's labels (ids or names)."""
        label2id = {v.lower(): k for k, v in id2label.items()}
        if label_names and all(n.lower() in label2id for n in label_names):
            return [label2id[label_names[r].lower()] for r in values]  # align dataset and model label ids
        return [label2id[v.lower()] if isinstance(v, str) else v for v in values]

    def predict(self, logits: Any, alignments: list[Any], references: list[Any], id2label: dict[int, str]) -> list:
        """Label ids, by argmax."""
        return logits.argmax(-1).tolist()

    def logit_rows(self, logits: Any, alignments: list[Any]) -> Any:
        """The logits a prediction is read from, one row per flat unit (sample, or word): what cosine compares."""
        return logits.reshape(len(logits), -1)

    def evidence(self, logits: Any, alignments: list[Any], references: list[Any], id2label: dict[int, str]) -> Evidence:
        """The predictions, and the logits rows they come from."""
        import numpy as np

        rows = np.asarray(self.logit_rows(logits, alignments), dtype=np.float32)
        return Evidence(self.predict(logits, alignments, references, id2label), {LOGITS: rows})

    def flat_labels(self, references: list[Any]) -> list[Any]:
        """Labels per unit that flips and agreement count (a sample's label; token classification: each tag)."""
        return list(references)

    def sample_counts(self, metric: str, predictions: list[Any], references: list[Any]) -> tuple[Any, Any] | None:
        """Accuracy: per sample one if right, of one."""
        import numpy as np

        if metric != "accuracy":
            return None
        right = np.array([p == r for p, r in zip(predictions, references, strict=True)], dtype=float)
        return right, np.ones_like(right)

    def flips(self, original: list[Any], quantized: list[Any], references: list[Any]) -> tuple[int, int] | None:
        import numpy as np

        ref = self.flat_labels(references)
        o, q = self.flat_labels(original), self.flat_labels(quantized)
        right_o = np.array([a == r for a, r in zip(o, ref, strict=True)], dtype=bool)
        right_q = np.array([b == r for b, r in zip(q, ref, strict=True)], dtype=bool)
        return int((right_o & ~right_q).sum()), int((~right_o & right_q).sum())

    def changed_answers(
        self, original: Evidence, quantized: Evidence, references: list[Any], inputs: Callable[[int], Any],
        id2label: dict[int, str], limit: int = CHANGED_ANSWERS,
    ) -> tuple[ChangedAnswer, ...]:  # fmt: skip
        """The first samples whose answer changed, those it made wrong first (the flips that cost accuracy)."""
        o, q = original.predictions, quantized.predictions
        differ = [i for i, (a, b) in enumerate(zip(o, q, strict=True)) if a != b]
        differ.sort(key=lambda i: not (o[i] == references[i] and q[i] != references[i]))  # stable: in eval order
        out = []
        for i in differ[:limit]:
            value = inputs(i)
            if value is None:
                continue
            kind, shown = self.shown_input(value)
            answers = self.shown_answers(value, o[i], q[i], references[i], id2label)
            out.append(ChangedAnswer(i, kind, shown, *answers))
        return tuple(out)

    def shown_input(self, value: Any) -> tuple[InputKind, str]:
        """An input as a report shows it (default: its text, cut short)."""
        text = str(value)
        return InputKind.TEXT, text if len(text) <= TEXT_SHOWN else text[: TEXT_SHOWN - 1] + "…"

    def shown_answers(
        self, value: Any, original: Any, quantized: Any, reference: Any, id2label: dict[int, str]
    ) -> tuple[str, str, str | None]:
        """Both models' answers and the reference as a report shows them (default: label names)."""

        def name(label: Any) -> str:
            return id2label.get(label, str(label)) if isinstance(label, int) else str(label)

        return name(original), name(quantized), None if reference is None else name(reference)

    def fidelity(
        self, name: str, original: Evidence, quantized: Evidence, paired: Mapping[str, Any]
    ) -> MetricResult | None:
        """`agreement`: top-1 agreement per unit, falling to the original's majority answer's share;
        `cosine`: the mean cosine similarity of the logits rows."""
        if name == "agreement":
            labels = self.flat_labels(original.predictions)
            shared = agreement(labels, self.flat_labels(quantized.predictions))
            return MetricResult(name, 1.0, shared, majority_share(labels), direction=Direction.HIGHER)
        if name == "cosine":
            cosine = mean_cosine(original.arrays[LOGITS], quantized.arrays[LOGITS])
            return MetricResult(name, 1.0, cosine, direction=Direction.HIGHER)
        return None

    def chance(self, references: list[Any]) -> dict[str, float]:
        """Accuracy of always answering the most frequent label; other metrics of a constant answer score
        (about) zero."""
        labels = self.flat_labels(references)
        majority = Counter(labels).most_common(1)[0][1] / len(labels) if labels else 0.0
        return {"accuracy": majority}
