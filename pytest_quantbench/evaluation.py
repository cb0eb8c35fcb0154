"""Batched evaluation of an ONNX Runtime session: numpy in, argmax out, scored by `evaluate` metrics."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

from .data import EvalData

BUNDLED_METRICS = Path(__file__).parent / "metrics"
METRIC_MODULE = {
    "text-classification": "accuracy",
    "image-classification": "accuracy",
    "token-classification": "seqeval",
}


@functools.cache
def load_metric(name: str):
    """The bundled module when there is one (works offline), else `evaluate.load(name)` (hub or path)."""
    import evaluate

    local = BUNDLED_METRICS / name
    return evaluate.load(str(local) if local.is_dir() else name)


def predict(session: Any, data: EvalData, task: str, id2label: dict[int, str]) -> list[Any]:
    """Predicted label ids (classification) or tag names per word (token classification)."""
    wanted = {i.name for i in session.get_inputs()}
    predictions: list[Any] = []
    for batch in data.batches:
        ids = session.run(None, {k: v for k, v in batch.items() if k in wanted})[0].argmax(-1)
        if task != "token-classification":
            predictions += ids.tolist()
            continue
        for row in ids:
            n = len(predictions)
            tags = [id2label[int(row[pos])] for pos in data.word_starts[n]]
            missing = len(data.references[n]) - len(tags)  # words cut by truncation count as "O"
            predictions.append(tags + ["O"] * missing)
    return predictions


def score(task: str, predictions: list[Any], references: list[Any]) -> dict[str, float]:
    result = load_metric(METRIC_MODULE[task]).compute(predictions=predictions, references=references)
    if task == "token-classification":
        return {k: float(result[f"overall_{k}"]) for k in ("precision", "recall", "f1", "accuracy")}
    return {k: float(v) for k, v in result.items()}


def chance_levels(task: str, references: list[Any]) -> dict[str, float]:
    """What a model that always answers the most frequent label scores: the floor a collapse falls to."""
    labels = [t for tags in references for t in tags] if task == "token-classification" else list(references)
    majority = Counter(labels).most_common(1)[0][1] / len(labels) if labels else 0.0
    if task == "token-classification":
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": majority}
    return {"accuracy": majority}


def evaluate_session(session: Any, data: EvalData, task: str, id2label: dict[int, str]) -> dict[str, float]:
    return score(task, predict(session, data, task, id2label), data.references)
