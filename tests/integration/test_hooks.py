"""The extension hooks, each driven from a user's `conftest.py` the way docs/extending.md shows."""

from __future__ import annotations

import json

from conftest import SENTIMENT

SUITE = SENTIMENT + "    fixed: {operators_to_quantize: [MatMul], framework_args: {opset: 13, optimization_level: 1}}\n"
ACCURACY_ONLY = ("-m", "accuracy", "--benchmark-disable", "--benchmark-json=out.json")


def accuracy_rows(pytester) -> list[dict]:
    return json.loads((pytester.path / "out.json").read_text())["quantbench"]["accuracy"]


def test_a_custom_metric_is_scored_and_gated(suite_file, run, pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_quantbench_add_metrics(registry):
            def error_rate(predictions, references):
                return sum(p != r for p, r in zip(predictions, references)) / len(references)

            registry.add_metric("error_rate", error_rate, tasks=["text-classification"])
        """
    )
    suite_file(
        "s.suite.yaml", SUITE + "    metrics: [accuracy, error_rate]\n    thresholds: {error_rate: {max_drop: 1}}\n"
    )
    result = run(*ACCURACY_ONLY)
    result.assert_outcomes(passed=1)
    (row,) = accuracy_rows(pytester)
    assert set(row["metrics"]) == {"accuracy", "error_rate"}
    assert row["metrics"]["error_rate"]["original"] == 1 - row["metrics"]["accuracy"]["original"]


def test_a_custom_metric_is_refused_for_another_task(suite_file, run, pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_quantbench_add_metrics(registry):
            registry.add_metric("error_rate", lambda p, r: 0.0, tasks=["image-classification"])
        """
    )
    suite_file("s.suite.yaml", SUITE + "    metrics: [error_rate]\n")
    result = run(*ACCURACY_ONLY)
    result.stdout.fnmatch_lines(["*s.suite.yaml: metrics[[]0[]]: unknown value 'error_rate'*"])


def test_a_custom_task_runs_through_the_pipeline(suite_file, run, pytester) -> None:
    pytester.makeconftest(
        """
        import dataclasses

        from pytest_quantbench.tasks.text_classification import TextClassification

        class Polarity(TextClassification):
            '''Sentiment read as words: the task decides what a prediction is.'''

            name = "polarity"
            metrics = ("accuracy", "positive_share")
            vocabulary = dataclasses.replace(TextClassification.vocabulary, metrics=metrics, default_metrics=metrics)

            def references(self, values, label_names, id2label):
                return ["pos" if v else "neg" for v in values]

            def predict(self, logits, alignments, references, id2label):
                return ["pos" if i else "neg" for i in logits.argmax(-1)]

            def score(self, metrics, predictions, references, metric):
                hits = sum(p == r for p, r in zip(predictions, references)) / len(references)
                share = predictions.count("pos") / len(predictions)
                return {"accuracy": hits, "positive_share": share}

        def pytest_quantbench_add_tasks(registry):
            registry.add_task(Polarity())
        """
    )
    suite_file("s.suite.yaml", SUITE.replace("task: text-classification", "task: polarity"))
    result = run(*ACCURACY_ONLY)
    result.assert_outcomes(passed=1)
    (row,) = accuracy_rows(pytester)
    assert row["metrics"]["accuracy"]["original"] >= 0.95
    assert 0.2 < row["metrics"]["positive_share"]["original"] < 0.8


def test_a_case_result_can_be_extended_before_it_is_stored(suite_file, run, pytester) -> None:
    pytester.makeconftest(
        """
        import dataclasses

        def pytest_quantbench_case_result(case, result):
            return dataclasses.replace(result, extra={"owner": "team-a", "nodes": result.quantization.total_quantized})
        """
    )
    suite_file("s.suite.yaml", SUITE)
    run(*ACCURACY_ONLY).assert_outcomes(passed=1)
    (row,) = accuracy_rows(pytester)
    assert row["extra"]["owner"] == "team-a" and row["extra"]["nodes"] > 0


def test_the_summary_and_the_card_can_be_changed(suite_file, run, pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_quantbench_summary(run, lines):
            lines.append(f"reviewed: {len(run.accuracy)} configs")

        def pytest_quantbench_card(run, card):
            return card + "\\nSigned off by the QA team.\\n"
        """
    )
    suite_file("s.suite.yaml", SUITE)
    result = run(*ACCURACY_ONLY, "--quantbench-card=card.md")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*quantbench*", "reviewed: 1 configs"])
    assert (pytester.path / "card.md").read_text().endswith("Signed off by the QA team.\n")
