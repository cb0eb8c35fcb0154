"""A lower-is-better metric added through the hooks alone: a tiny regression head scored by mean squared error.

The `conftest.py` adds a regression task (`pytest_quantbench_add_tasks`) and its metric
(`pytest_quantbench_add_metrics`, `direction="lower"`); the package is not changed. The model is a tiny random
BERT with a one-output head, built here; the targets are its own fp32 answers plus noise, so its MSE is the
noise's. One word embedding no sentence uses ([MASK]) holds an outlier: quantizing the embedding table
(`Gather`, one scale per tensor) rounds every other embedding to zero, so that int8 model answers one constant
for every sentence (all have six words): its MSE rises to what always answering the mean scores, a COLLAPSE.
Quantizing `MatMul` alone raises it a little.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest
import tiny_models as tm

from pytest_quantbench import cli

SAMPLES, NOISE = 200, 0.1
CONFTEST = """
import numpy as np

from pytest_quantbench.suite.vocabulary import TaskVocabulary
from pytest_quantbench.tasks import Encoded, Task


class Regression(Task):
    '''One number per sentence, read from the head's single output.'''

    name = "regression"
    vocabulary = TaskVocabulary(("mse",), ("mse",), {"primary": "sentence"}, ("target",))
    model_class = "AutoModelForSequenceClassification"
    export_task = "text-classification"
    head_suffix = "ForSequenceClassification"
    processor_files = ("vocab.txt",)

    def encode(self, processor, spec, rows, padding=True, max_length=None):
        encoded = processor(
            rows[spec.primary], padding=padding, truncation=True, max_length=max_length or spec.max_length,
            return_tensors="np",
        )
        return Encoded({k: np.asarray(v, dtype=np.int64) for k, v in encoded.items()})

    def predict(self, logits, alignments, references, id2label):
        return logits[:, 0].astype(float).tolist()

    def chance(self, references):
        targets = np.asarray(references, dtype=float)
        return {"mse": float(np.mean((targets - targets.mean()) ** 2))}  # always answering the mean


def pytest_quantbench_add_tasks(registry):
    registry.add_task(Regression())


def pytest_quantbench_add_metrics(registry):
    def mse(predictions, references):
        return float(np.mean((np.asarray(predictions) - np.asarray(references)) ** 2))

    registry.add_metric("mse", mse, tasks=["regression"], direction="lower", range=(0.0, None))
"""
SUITES = {
    # MatMul passes (its rise's whole interval is under 0.05); Gather collapses to the mean's level
    "regression.suite.yaml": """
        name: regression
        task: regression
        model_name_or_path: {model}
        dataset: {dataset}
        fixed:
          quantization_approach: dynamic
          framework_args: {{opset: 13, optimization_level: 1}}
        benchmarked:
          operators_to_quantize: [[MatMul], [Gather]]
        thresholds: {{mse: {{max_drop: 0.05, confidence: 0.95}}}}
        time: {{batch_sizes: [1], input_lengths: [8], rounds: 2, warmup_rounds: 0}}
    """,
    # the same MatMul model against a limit its small rise breaks
    "strict.suite.yaml": """
        name: strict
        task: regression
        model_name_or_path: {model}
        dataset: {dataset}
        fixed:
          quantization_approach: dynamic
          operators_to_quantize: [MatMul]
          framework_args: {{opset: 13, optimization_level: 1}}
        thresholds: {{mse: {{max_drop: 0.0001}}}}
        time: {{batch_sizes: [1], input_lengths: [8], rounds: 2, warmup_rounds: 0}}
    """,
}


def regression_head(root: Path) -> tuple[Path, list[dict]]:
    """The tiny BERT regression model (with the unused outlier embedding) and its rows: six-word sentences,
    targets its fp32 answers plus Gaussian noise."""
    import torch
    import transformers

    model = root / "model"
    model.mkdir(parents=True)
    tm.word_tokenizer(model)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model)
    config = transformers.BertConfig(
        vocab_size=len(tokenizer), max_position_embeddings=tm.POSITIONS, **tm.SMALL, num_labels=1,
        problem_type="regression", initializer_range=0.5,
    )  # fmt: skip
    torch.manual_seed(0)
    head = transformers.AutoModelForSequenceClassification.from_config(config).eval()
    with torch.no_grad():
        head.bert.embeddings.word_embeddings.weight[tokenizer.mask_token_id, 0] = 1e4
    head.save_pretrained(model)
    rng = random.Random(0)
    sentences = [" ".join(rng.choices(tm.WORDS, k=6)) for _ in range(SAMPLES)]
    with torch.no_grad():
        answers = head(**tokenizer(sentences, return_tensors="pt", padding=True)).logits[:, 0].numpy()
    noise = np.random.default_rng(0).normal(0.0, NOISE, SAMPLES)
    return model, [{"sentence": s, "target": float(a + e)} for s, a, e in zip(sentences, answers, noise, strict=True)]


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[float]]:
    """The model folder, the suites' `dataset:` mapping and the eval targets."""
    root = tmp_path_factory.mktemp("regression")
    model, rows = regression_head(root)
    lines = "".join(json.dumps(row) + "\n" for row in rows)
    for split in ("train", "validation"):
        (root / f"{split}.jsonl").write_text(lines)
    files = {split: str(root / f"{split}.jsonl") for split in ("train", "validation")}
    dataset = f"{{path: json, data_files: {json.dumps(files)}, ref_keys: [target], num_eval_samples: {SAMPLES}}}"
    return model, dataset, [row["target"] for row in rows]


def run_suites(regression, suite_file, run, pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    model, dataset, _ = regression
    pytester.makeconftest(CONFTEST)
    for name, text in SUITES.items():
        suite_file(name, text.format(model=model, dataset=dataset))
    return run("--benchmark-json=run.json", *args)


def rows_by_id(pytester: pytest.Pytester) -> dict[tuple[str, str], dict]:
    data = json.loads((pytester.path / "run.json").read_text())["quantbench"]
    return {(row["suite"], row["config_id"]): row for row in data["accuracy"]}


def test_a_rise_of_a_lower_is_better_metric_is_worse_everywhere(regression, suite_file, run, pytester) -> None:
    result = run_suites(regression, suite_file, run, pytester, "--quantbench-card=card.md", "--quantbench-plot=p.png")
    # 3 accuracy cases (MatMul passes, Gather collapses, strict fails) and 5 latency cases, all timed
    result.assert_outcomes(passed=1 + 5, failed=2)
    rows = rows_by_id(pytester)
    matmul, gather, strict = (
        rows["regression", "MatMul"],
        rows["regression", "Gather"],
        next(row for (suite, _), row in rows.items() if suite == "strict"),
    )

    # JSON: every mse says lower is better, and its drop is the rise (quantized - original) > 0
    for row in (matmul, gather, strict):
        mse = row["metrics"]["mse"]
        assert mse["direction"] == "lower"
        assert mse["drop"] == pytest.approx(mse["quantized"] - mse["original"]) and mse["drop"] > 0
    assert (matmul["verdict"], gather["verdict"], strict["verdict"]) == ("PASS", "COLLAPSE", "FAIL")
    assert matmul["passed"] and not gather["passed"] and gather["collapse"] and not strict["collapse"]

    # the interval is of the rise: around it, within max_drop for MatMul, all above zero for the collapse
    small, collapse = matmul["metrics"]["mse"], gather["metrics"]["mse"]
    assert small["paired"]["ci_low"] <= small["drop"] <= small["paired"]["ci_high"] <= 0.05
    assert 0.05 < collapse["paired"]["ci_low"] <= collapse["drop"] <= collapse["paired"]["ci_high"]
    assert collapse["paired"]["flips_to_wrong"] is None  # a regression's answers are not right or wrong

    # COLLAPSE: the int8 error rose to what always answering the mean scores (the targets' variance)
    targets = np.asarray(regression[2])
    assert collapse["chance"] == pytest.approx(float(np.var(targets)), rel=1e-6)
    assert collapse["quantized"] >= 0.9 * collapse["chance"] > 10 * collapse["original"]

    # the failure lines say "rise", and the terminal summary shows each verdict with the rise signed +
    result.stdout.fnmatch_lines(
        [
            "*regression.suite.yaml::accuracy[[]Gather[]]: COLLAPSE: mse 0.0* -> 0.* (rise 0.*): rise > max_drop "
            "0.05 at 95% confidence, at chance level 0.*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*strict.suite.yaml::accuracy*: mse 0.0* -> 0.0* (rise 0.0*): rise 0.0* > max_drop 0.0001*"]
    )
    summary = result.stdout.str().split("= quantbench =")[-1]  # the section (cache paths say quantbench too)
    assert re.search(r"regression +Gather .*mse .*\+0\.\d+.*COLLAPSE", summary)
    assert re.search(r"regression +MatMul .*mse .*\+0\.\d+.*PASS", summary)
    assert re.search(r"strict .*mse .*\+0\.\d+.*FAIL", summary)

    # the card: each suite's table holds the same verdicts beside the same scores
    card = (pytester.path / "card.md").read_text()
    sections = {part.split("\n", 1)[0]: part for part in re.split(r"^# ", card, flags=re.MULTILINE)[1:]}
    for row in (matmul, gather, strict):
        mse = row["metrics"]["mse"]
        scores = f"| {mse['original']:.3f} | {mse['quantized']:.3f} |"
        table = [" ".join(line.split()) for line in sections[row["suite"]].splitlines()]
        assert any(scores in line and line.endswith(f"| {row['verdict']} |") for line in table)
    assert (pytester.path / "p.png").read_bytes().startswith(b"\x89PNG")


def test_compare_reads_a_rise_as_worse(regression, suite_file, run, pytester, tmp_path) -> None:
    """The MatMul config's mse rising by 0.1 against the saved run breaks `--fail mse:0.05`; falling does not."""
    run_suites(regression, suite_file, run, pytester, "-k", "regression.suite.yaml", "-m", "accuracy")
    saved = pytester.path / "run.json"
    for change, code in ((0.1, 1), (-0.1, 0)):
        moved = json.loads(saved.read_text())
        for row in moved["quantbench"]["accuracy"]:
            if row["config_id"] == "MatMul":
                row["metrics"]["mse"]["quantized"] += change
        now = tmp_path / f"now{change}.json"
        now.write_text(json.dumps(moved))
        assert cli.main(["compare", str(saved), str(now), "--fail", "mse:0.05"]) == code


def test_the_plot_front_holds_the_lowest_error(regression, suite_file, run, pytester) -> None:
    """The lowest mse is the best value, so its point is on the Pareto front even when it is the slowest (the
    measured latencies are replaced by ranks, slowest for the lowest error, so the check does not hang on
    timing noise)."""
    from pytest_quantbench.reports.plot import pareto_front, points
    from pytest_quantbench.results.run import load

    run_suites(regression, suite_file, run, pytester, "-k", "regression.suite.yaml")
    saved = load(pytester.path / "run.json")
    suite = saved.suites[0]
    plotted, _ = points(saved, suite, saved.shapes(suite.name)[0])
    ranked = sorted(plotted, key=lambda p: p.value)  # the lowest error first
    assert len(ranked) == 3  # the fp32 original, MatMul and Gather
    timed = [dataclasses.replace(p, latency_ms=float(len(ranked) - i)) for i, p in enumerate(ranked)]
    direction = saved.rows(suite.name)[0].result.metrics["mse"].direction  # as the plot reads it
    assert timed[0] in pareto_front(timed, direction)
