"""seqeval as an `evaluate` module shipped with pytest-quantbench, so it loads without the hub.

Same inputs and overall keys as the hub's `seqeval` metric (CoNLL entity-level precision, recall, f1,
and token accuracy), computed by the `seqeval` package.
"""

import datasets
import evaluate
from seqeval.metrics import accuracy_score, classification_report


class Seqeval(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="Entity-level precision, recall and F1 of IOB-tagged sequences, and token accuracy.",
            citation="",
            inputs_description="predictions and references: lists of lists of tag strings",
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string")),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
        )

    def _compute(self, predictions, references, zero_division="warn"):
        report = classification_report(
            y_true=references, y_pred=predictions, output_dict=True, zero_division=zero_division
        )
        report.pop("macro avg", None)
        report.pop("weighted avg", None)
        overall = report.pop("micro avg")
        scores = {
            name: {"precision": s["precision"], "recall": s["recall"], "f1": s["f1-score"], "number": s["support"]}
            for name, s in report.items()
        }
        scores["overall_precision"] = overall["precision"]
        scores["overall_recall"] = overall["recall"]
        scores["overall_f1"] = overall["f1-score"]
        scores["overall_accuracy"] = accuracy_score(y_true=references, y_pred=predictions)
        return scores
