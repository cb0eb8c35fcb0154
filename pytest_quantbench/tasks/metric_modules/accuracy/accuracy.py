"""Accuracy as an `evaluate` module shipped with pytest-quantbench, so it loads without the hub.

Same name, inputs and output as the hub's `accuracy` metric: {"accuracy": fraction of exact matches}.
"""

import datasets
import evaluate
import numpy as np


class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Fraction of predictions equal to their reference.",
            citation="",
            inputs_description="predictions and references: lists of integer labels",
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, normalize=True, sample_weight=None):
        hits = np.asarray(predictions) == np.asarray(references)
        weights = np.ones(len(hits)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        score = float((hits * weights).sum())
        return {"accuracy": score / weights.sum() if normalize else score}
