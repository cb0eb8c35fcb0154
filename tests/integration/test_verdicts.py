"""Verdicts a CI can trust, as users run them: paired evidence in the failure, confidence gates, label-free
fidelity gates, the speed gate and compare across int8 kernels, on the tiny built-in models."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tiny_models as tm

from conftest import ADD_MATMUL, SENTIMENT
from pytest_quantbench import serialize
from pytest_quantbench.records import TimingResult
from pytest_quantbench.suite import Threshold
from pytest_quantbench.verdicts.gates import speed_violation

STATIC = ADD_MATMUL + "    benchmarked: {quantization_approach: [static]}\n"  # collapses: the attention mask's Add


def _accuracy_rows(pytester) -> list[dict]:
    return json.loads((pytester.path / "out.json").read_text())["quantbench"]["accuracy"]


def test_a_collapse_fails_with_its_interval_flips_and_artifacts(suite_file, run, pytester) -> None:
    suite_file("s.suite.yaml", STATIC + "    thresholds: {accuracy: {max_drop: 0.01, confidence: 0.95}}\n")
    result = run("--benchmark-disable", "-k", "accuracy", "--quantbench-no-diagnose", "--benchmark-json=out.json")
    result.assert_outcomes(failed=1)
    line = next(ln for ln in result.stdout.lines if ln.startswith("s.suite.yaml::accuracy[static]: COLLAPSE:"))
    assert "drop > max_drop 0.01 at 95% confidence" in line
    found = re.search(r"95% CI \[\+(\d\.\d+), \+(\d\.\d+)\], flips (\d+) right->wrong / 0 wrong->right", line)
    assert found, line
    low, high, flips = float(found[1]), float(found[2]), int(found[3])
    assert 0.01 < low < high and flips > 0 and "McNemar p=" in line and "n=200" in line
    artifacts = line.split("; artifacts: ")[1]
    paths = re.findall(r"(?:quantized model|calibration ranges|predictions) (\S+?)(?:,|$)", artifacts)
    assert [Path(p).name for p in paths] == ["model_quantized.onnx", "ranges.json", "predictions.json"]
    assert all(Path(p).is_file() for p in paths)
    (row,) = _accuracy_rows(pytester)
    paired = row["metrics"]["accuracy"]["paired"]
    assert paired["ci_low"] == pytest.approx(low, abs=1e-3) and paired["flips_to_wrong"] == flips
    predictions = json.loads(Path(row["predictions"]["quantized"]).read_text())
    original = json.loads(Path(row["predictions"]["original"]).read_text())
    assert len(predictions) == len(original) == 200
    assert sum(a != b for a, b in zip(original, predictions, strict=True)) >= flips
    assert row["size"]["quantized_bytes"] < row["size"]["original_bytes"]


def test_a_tiny_eval_set_is_inconclusive_and_names_a_sample_size(suite_file, run, pytester) -> None:
    """On 20 samples the drop's interval straddles max_drop. The metric is a user's (half credit for a wrong
    answer), so the interval comes from rescoring resamples through the task, and it is no collapse."""
    pytester.makeconftest(
        """
        def pytest_quantbench_add_metrics(registry):
            def half_credit(predictions, references):
                return sum(1.0 if p == r else 0.5 for p, r in zip(predictions, references)) / len(references)

            registry.add_metric("half_credit", half_credit, tasks=["text-classification"])
        """
    )
    text = STATIC.replace("num_eval_samples: 200", "num_eval_samples: 20")
    thresholds = "{half_credit: {max_drop: 0.25, confidence: 0.95}}"
    suite_file("s.suite.yaml", text + f"    metrics: [half_credit]\n    thresholds: {thresholds}\n")
    result = run("--benchmark-disable", "-k", "accuracy", "--quantbench-no-diagnose", "--benchmark-json=out.json")
    result.assert_outcomes(failed=1)
    line = next(ln for ln in result.stdout.lines if ln.startswith("s.suite.yaml::accuracy[static]:"))
    found = re.search(
        r"accuracy\[static\]: INCONCLUSIVE: half_credit drop (\d\.\d+), 95% CI \[\+(\d\.\d+), \+(\d\.\d+)\] "
        r"straddles max_drop 0.25 on 20 samples; about (\d+) evaluation samples would decide it",
        line,
    )
    assert found, line
    drop, low, high, needed = float(found[1]), float(found[2]), float(found[3]), int(found[4])
    assert low <= 0.25 < high and needed > 20
    assert needed == -(-20 * ((high - low) / 2 / abs(drop - 0.25)) ** 2 // 1)  # the half-width as 1/sqrt(n)
    result.stdout.fnmatch_lines(["*static*INCONCLUSIVE*"])
    (row,) = _accuracy_rows(pytester)
    assert row["inconclusive"] and not row["passed"]


@pytest.fixture(scope="module")
def teacher_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A user's model folder and a csv labelled with that model's own fp32 answers: the original scores 1.0, and
    every sample int4 changes is a flip right -> wrong."""
    import datasets
    import torch
    import transformers

    root = tmp_path_factory.mktemp("teacher")
    model_dir = tm.text_model(root / "model", init_range=1.0)
    rows = tm.sentences(600, 3)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    encoded = tokenizer(
        [r["sentence"] for r in rows], padding=True, truncation=True, max_length=16, return_tensors="pt"
    )
    with torch.inference_mode():
        answers = model(**encoded).logits.argmax(-1).tolist()
    data = root / "validation.csv"
    datasets.Dataset.from_list([{**r, "label": a} for r, a in zip(rows, answers, strict=True)]).to_csv(str(data))
    return model_dir, data


def _teacher_suite(model_dir: Path, data: Path, gate: str, extra: str = "") -> str:
    return (
        f"""
        name: user-model
        task: text-classification
        model_name_or_path: {model_dir}
        dataset:
          path: csv
          data_files: {{train: {data}, validation: {data}}}
          data_keys: {{primary: sentence}}
          ref_keys: [label]
          max_length: 16
        metrics: [accuracy]
        fixed: {{quantization_approach: weight_only, weight_only: {{block_size: 32}}}}
        benchmarked: {{operators_to_quantize: [[MatMul]]}}
        thresholds: {{accuracy: {gate}}}
        """
        + extra
    )


def test_a_few_flips_on_a_users_model_are_inconclusive_with_a_built_in_metric(
    teacher_data, suite_file, run, pytester
) -> None:
    """Int4 weights change a handful of a user's model's 600 answers: a drop near max_drop 0.01 whose interval
    straddles it. The gate says INCONCLUSIVE and how many samples would decide, rather than a verdict on noise."""
    suite_file("user.suite.yaml", _teacher_suite(*teacher_data, "{max_drop: 0.01, confidence: 0.95}"))
    result = run("--benchmark-disable", "-k", "accuracy", "--quantbench-no-diagnose", "--benchmark-json=out.json")
    result.assert_outcomes(failed=1)
    line = next(ln for ln in result.stdout.lines if ln.startswith("user.suite.yaml::accuracy["))
    found = re.search(
        r"INCONCLUSIVE: accuracy drop (\d\.\d+), 95% CI \[\+(\d\.\d+), \+(\d\.\d+)\] straddles max_drop 0.01 "
        r"on 600 samples; about (\d+) evaluation samples would decide it",
        line,
    )
    assert found, line
    low, high, needed = float(found[2]), float(found[3]), int(found[4])
    assert low <= 0.01 < high and needed > 600 and "COLLAPSE" not in line
    (row,) = _accuracy_rows(pytester)
    paired = row["metrics"]["accuracy"]["paired"]
    assert row["metrics"]["accuracy"]["original"] == 1.0
    assert paired["flips_to_wrong"] > 0 and paired["flips_to_right"] == 0  # the labels are the original's answers


def test_a_known_failure_that_turns_inconclusive_is_not_yet_fixed(teacher_data, suite_file, run) -> None:
    """`expect: fail` is a strict xfail that turns red once the failure is gone; an interval that no longer
    decides FAIL has not shown a PASS either, so it still counts as failing, even with `on_inconclusive: pass`."""
    gate = "{max_drop: 0.01, confidence: 0.95, on_inconclusive: pass}"
    rule = "overrides: [{when: {operators_to_quantize: [MatMul]}, expect: fail}]\n"
    suite_file("user.suite.yaml", _teacher_suite(*teacher_data, gate, rule))
    result = run("--benchmark-disable", "-k", "accuracy", "--quantbench-no-diagnose")
    result.assert_outcomes(xfailed=1)


def test_on_inconclusive_pass_keeps_it_green(suite_file, run, pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_quantbench_add_metrics(registry):
            registry.add_metric(
                "half_credit", lambda p, r: sum(1.0 if a == b else 0.5 for a, b in zip(p, r)) / len(r),
                tasks=["text-classification"],
            )
        """
    )
    text = STATIC.replace("num_eval_samples: 200", "num_eval_samples: 20")
    gate = "{half_credit: {max_drop: 0.25, confidence: 0.95, on_inconclusive: pass}}"
    suite_file("s.suite.yaml", text + f"    metrics: [half_credit]\n    thresholds: {gate}\n")
    result = run("--benchmark-disable", "-k", "accuracy", "--quantbench-no-diagnose")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*static*INCONCLUSIVE (passed)*"])


def test_a_suite_without_labels_gates_on_agreement(suite_file, run, pytester) -> None:
    text = ADD_MATMUL.replace("num_eval_samples: 200}", "num_eval_samples: 50, ref_keys: []}")
    suite_file(
        "free.suite.yaml",
        text + "    benchmarked: {quantization_approach: [dynamic, static]}\n"
        "    thresholds: {agreement: {min: 0.99}, cosine: {min: 0.9}}\n",
    )
    result = run(
        "--benchmark-disable", "-k", "accuracy", "--quantbench-no-diagnose", "--benchmark-json=out.json",
        "--quantbench-card=card.md",
    )  # fmt: skip
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*accuracy[[]static[]]: COLLAPSE: agreement 1.000 -> 0.* < min 0.99*"])
    rows = {r["config_id"]: r for r in _accuracy_rows(pytester)}
    assert set(rows["dynamic"]["metrics"]) == {"agreement", "cosine"}
    assert rows["dynamic"]["metrics"]["agreement"]["quantized"] >= 0.99
    assert rows["static"]["metrics"]["agreement"]["quantized"] < 0.99
    card = (pytester.path / "card.md").read_text()
    assert "metrics: []" in card and "agreement (quantized)" in card and "**References:** none" in card


def test_the_speed_gate_fails_a_config_that_quantizes_nothing(suite_file, run, pytester) -> None:
    """`[Add]` dynamic quantizes nothing: its speed-up is about 1. Whether its interval reaches 1.3 depends on
    the machine's noise, so the test checks that the case fails exactly when the recorded ratio and interval
    are all below 1.3, and the message form when it does."""
    suite_file(
        "speed.suite.yaml",
        SENTIMENT
        + """
    fixed:
      operators_to_quantize: [Add]
      framework_args: {opset: 13, optimization_level: 1}
    time: {batch_sizes: [1], input_lengths: [16], rounds: 5, warmup_rounds: 1}
    thresholds: {speedup: {min: 1.3}}
""",
    )
    result = run("-k", "latency", "--benchmark-json=out.json", "-W", "ignore::UserWarning")
    data = json.loads((pytester.path / "out.json").read_text())
    info = next(b["extra_info"] for b in data["benchmarks"] if b["extra_info"]["role"] == "quantized")
    timing = serialize.load(TimingResult, info)
    expected = speed_violation(timing, Threshold(min=1.3))
    assert timing.speedup is not None and timing.speedup_ci95_rel is not None
    if expected is None:
        result.assert_outcomes(passed=2)
        return
    result.assert_outcomes(passed=1, failed=1)
    line = next(ln for ln in result.stdout.lines if ln.startswith("speed.suite.yaml::latency[int8-"))
    assert line.endswith(expected)
    assert re.search(r"speedup x\d\.\d\d \(95% CI x\d\.\d\d\.\.x\d\.\d\d\) < min x1.3", line)


def test_compare_across_vnni_warns_and_refuses_speed(suite_file, run, pytester) -> None:
    suite_file("s.suite.yaml", ADD_MATMUL + "    time: {batch_sizes: [1], input_lengths: [16], rounds: 2}\n")
    run("--benchmark-json=saved.json", "-W", "ignore::UserWarning").assert_outcomes(passed=3)
    saved = json.loads((pytester.path / "saved.json").read_text())
    vnni = not saved["quantbench"]["machine"]["vnni"]
    saved["quantbench"]["machine"]["vnni"] = vnni
    (pytester.path / "saved.json").write_text(json.dumps(saved))
    result = run("--quantbench-compare=saved.json", "-W", "ignore::UserWarning")
    result.assert_outcomes(passed=3)
    yes = {True: "yes", False: "no"}
    result.stdout.fnmatch_lines(
        [
            "*= quantbench compare =*",
            f"warning: saved run saved.json ran other int8 kernels (VNNI {yes[vnni]} -> {yes[not vnni]})*",
            "quantized metrics against saved run saved.json (the int8 kernels differ):",
            "*speed not compared: the int8 kernels differ (force it with --quantbench-compare-force)*",
        ]
    )
    forced = run("--quantbench-compare=saved.json", "--quantbench-compare-force", "-W", "ignore::UserWarning")
    forced.stdout.fnmatch_lines(["latency against saved run saved.json:"])
