"""Evaluation-throughput benchmark (not a test): our evaluation against `evaluate.evaluator` with a pipeline.

Both score the fp32 ONNX export of the minilm-sentiment suite on the same first `SAMPLES` sentences of its
eval split (a subset, to stay within seconds), on every core, at the suite's optimization level. Ours is
what the `Scorer` runs below its on-disk cache: encoding the rows into length-sorted batches
(`prepare.eval_data`, as the pipeline tokenizes), then `Scorer.evaluate`, one batch per core side by side on
a one-thread session, as `Bench.evaluate` runs. Theirs is `evaluate.evaluator("text-classification")` over a
transformers pipeline of optimum's `ORTModelForSequenceClassification` loaded from the same export folder
(one sentence per call, the pipeline's default, on `os.cpu_count()` intra-op threads), scored with the same
bundled accuracy module. Each round is a pair, the evaluator's call run in pytest-benchmark's untimed `setup`
right before ours, so both see the same moment of a shared machine; the ratio is that of the two median
throughputs.

Prints the throughput ratio; the goal is >= 2. Nothing is asserted on it (timings belong in benchmarks,
never in pass/fail); that both paths score the same accuracy is asserted.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

from pytest_quantbench.data import prepare
from pytest_quantbench.measure.accuracy import EVAL_SESSION_THREADS
from pytest_quantbench.plugin.benchmark import Timer
from pytest_quantbench.suite import load_suite
from pytest_quantbench.tasks.metrics import load_metric

SUITE = Path(__file__).parent / "minilm-sentiment.suite.yaml"
SAMPLES = 120  # a subset: the ratio, not the split, is measured (and the whole run stays within its warm budget)
WARMUP_SAMPLES = 16
ROUNDS = 3


def evaluator_pipeline(model_dir: Path, level: int, threads: int, max_length: int) -> Any:
    """A text-classification pipeline over optimum's ORT model of `model_dir`, with our session settings."""
    import onnxruntime as ort
    from optimum.onnxruntime import ORTModelForSequenceClassification
    from transformers import AutoTokenizer, pipeline

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel(level)
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    model = ORTModelForSequenceClassification.from_pretrained(
        model_dir, session_options=options, provider="CPUExecutionProvider"
    )
    tokenizer = AutoTokenizer.from_pretrained(model_dir, model_max_length=max_length)  # truncates as we do
    return pipeline("text-classification", model=model, tokenizer=tokenizer)


def test_eval_throughput(benchmark, quantbench, capsys) -> None:
    import datasets
    import evaluate

    suite = load_suite(SUITE)
    case = next(c for c in suite.cases if c.config.framework == "onnxruntime")
    threads, level = os.cpu_count() or 1, case.config.framework_args.optimization_level
    data, id2label = quantbench.data.of(suite), quantbench.models.id2label(suite)
    split = data.split(suite.dataset.eval_split)
    session = quantbench.original_session(case, EVAL_SESSION_THREADS)  # as `Bench.evaluate`: batches side by side
    export = quantbench.backends["onnxruntime"].original(case).parent  # what optimum's evaluator loads
    pipe = evaluator_pipeline(export, level, threads, data.spec.max_length)
    evaluator, accuracy = evaluate.evaluator("text-classification"), load_metric("accuracy")
    label2id = {name: i for i, name in id2label.items()}
    column, ref = suite.dataset.primary, suite.dataset.ref_keys[0]

    def ours(rows: Any) -> float:
        eval_data = prepare.eval_data(data.task, data.spec, rows, data.processor, id2label)
        return quantbench.scorer.evaluate(session, suite, eval_data)["accuracy"]

    def theirs(rows: Any) -> float:
        labels = data.task.references(list(rows[ref]), prepare.label_names(rows, ref), id2label)
        dataset = datasets.Dataset.from_dict({column: list(rows[column]), "label": labels})
        scores = evaluator.compute(
            model_or_pipeline=pipe, data=dataset, metric=accuracy, input_column=column, label_column="label",
            label_mapping=label2id,
        )  # fmt: skip
        return float(scores["accuracy"])

    warm = split.select(range(WARMUP_SAMPLES))
    ours(warm), theirs(warm)  # first calls: session arenas, the pipeline's lazy set-up
    rows = split.select(range(min(SAMPLES, len(split))))
    evaluator_s: list[float] = []
    evaluator_scores: list[float] = []

    def evaluator_round() -> None:
        start = time.perf_counter()
        evaluator_scores.append(theirs(rows))
        evaluator_s.append(time.perf_counter() - start)

    timer = Timer(benchmark, group="evaluation throughput")
    our_accuracy = timer.pedantic(ours, args=(rows,), setup=evaluator_round, rounds=ROUNDS, iterations=1)
    assert set(evaluator_scores) == {our_accuracy}, f"accuracy: ours {our_accuracy}, evaluator {evaluator_scores}"
    times = timer.times()
    if times is None:
        return
    n = len(rows)
    ours_per_s, theirs_per_s = n / statistics.median(times), n / statistics.median(evaluator_s)
    ratio = ours_per_s / theirs_per_s
    timer.record({
        "samples": n, "threads": threads, "samples_per_s": ours_per_s, "evaluator_samples_per_s": theirs_per_s,
        "throughput_ratio": ratio,
    })  # fmt: skip
    with capsys.disabled():
        print(
            f"\nevaluation throughput: quantbench {ours_per_s:.0f} samples/s vs evaluate.evaluator "
            f"{theirs_per_s:.0f} samples/s: ratio {ratio:.2f} (goal >= 2)"
        )
