"""Batched evaluation of an ONNX Runtime session: numpy in, argmax out, scored by `evaluate` metrics."""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts import sources
from pytest_quantbench.data.prepare import EvalData
from pytest_quantbench.errors import SourceUnavailable

BUNDLED_METRICS = Path(__file__).parent / "metric_modules"
AVERAGED = {"f1", "precision", "recall"}  # hub modules; macro-averaged so multi-class tasks work


@functools.cache
def load_metric(name: str):
    """The bundled module when there is one (works offline), else `evaluate.load(name)` from the hub."""
    import evaluate

    local = BUNDLED_METRICS / name
    if local.is_dir():
        return evaluate.load(str(local))
    reason = sources.hub_unreachable_reason()
    if reason:
        raise SourceUnavailable(f"metric '{name}' is not bundled and {reason}")
    return evaluate.load(name)


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


def score(task: str, metrics: tuple[str, ...], predictions: list[Any], references: list[Any]) -> dict[str, float]:
    if task == "token-classification":
        result = load_metric("seqeval").compute(predictions=predictions, references=references)
        return {k: float(result[f"overall_{k}"]) for k in metrics}
    scores = {}
    for name in metrics:
        kwargs = {"average": "macro"} if name in AVERAGED else {}
        scores[name] = float(load_metric(name).compute(predictions=predictions, references=references, **kwargs)[name])
    return scores


def chance_levels(task: str, references: list[Any]) -> dict[str, float]:
    """What a model that always answers the most frequent label scores: the floor a collapse falls to."""
    labels = [t for tags in references for t in tags] if task == "token-classification" else list(references)
    majority = Counter(labels).most_common(1)[0][1] / len(labels) if labels else 0.0
    return {"accuracy": majority}  # other metrics: a constant answer scores (about) zero


def evaluate_session(
    session: Any, data: EvalData, task: str, metrics: tuple[str, ...], id2label: dict[int, str]
) -> dict[str, float]:
    return score(task, metrics, predict(session, data, task, id2label), data.references)
