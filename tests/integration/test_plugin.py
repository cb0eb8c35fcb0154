"""The plugin as users run it: pytest sessions driven with `pytester` on tiny built-in models."""

from __future__ import annotations

import json

import pytest

from conftest import ADD_MATMUL, SENTIMENT
from pytest_quantbench.artifacts.cache import ArtifactCache

GRID = (
    ADD_MATMUL
    + """
    benchmarked:
      quantization_approach: [dynamic, static]
      per_channel: [false, true]
    time: {batch_sizes: [1], input_lengths: [16, 32], rounds: 2, warmup_rounds: 0}
"""
)


def test_collects_readable_ids_and_k_selects(suite_file, run) -> None:
    suite_file("sentiment.suite.yaml", GRID)
    result = run("--co", "-q")
    lines = result.stdout.lines
    for nodeid in (
        "sentiment.suite.yaml::accuracy[dynamic-per_tensor]",
        "sentiment.suite.yaml::accuracy[dynamic-per_channel]",
        "sentiment.suite.yaml::accuracy[static-per_tensor]",
        "sentiment.suite.yaml::accuracy[static-per_channel]",
        "sentiment.suite.yaml::latency[fp32-bs1-len16]",
        "sentiment.suite.yaml::latency[int8-dynamic-per_tensor-bs1-len16]",
        "sentiment.suite.yaml::latency[int8-static-per_channel-bs1-len32]",
    ):
        assert nodeid in lines
    assert "14 tests collected" in result.stdout.str()
    assert result.stdout.str().count("latency[fp32-") == 2  # once per shape, not once per config
    result = run("--co", "-q", "-k", "static and not latency")
    assert [ln for ln in result.stdout.lines if "::" in ln] == [
        "sentiment.suite.yaml::accuracy[static-per_tensor]",
        "sentiment.suite.yaml::accuracy[static-per_channel]",
    ]
    result = run("--co", "-q", "-k", "per_channel")
    assert "6/14 tests" in result.stdout.str()
    result = run("--co", "-q", "-m", "not latency")
    assert "4/14 tests" in result.stdout.str()
    result = run("--co", "-q", "-k", "tiny-sentiment and accuracy")
    assert "4/14 tests" in result.stdout.str()


def test_collapse_fails_exactly_that_case_with_one_line(suite_file, run) -> None:
    suite_file("sentiment.suite.yaml", GRID)
    result = run("--benchmark-disable", "-k", "accuracy")
    result.assert_outcomes(passed=2, failed=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*accuracy[[]static-per_tensor[]]: COLLAPSE: accuracy 1.000 -> 0.* (drop 0.*): drop 0.* > max_drop 0.01, at chance level 0.5*"
        ]
    )
    assert "Traceback" not in out and "def accuracy" not in out
    result.stdout.fnmatch_lines(["*quantbench*", "*dynamic-per_tensor*PASS*", "*static-per_tensor*COLLAPSE*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_expect_collapse_is_a_strict_xfail(suite_file, run) -> None:
    suite_file(
        "sentiment.suite.yaml",
        GRID
        + """
    overrides:
      - when: {quantization_approach: static}
        expect: collapse
      - when: {quantization_approach: dynamic, per_channel: true}
        expect: collapse
""",
    )
    result = run("--benchmark-disable", "-k", "accuracy", "-rfx")
    result.assert_outcomes(passed=1, xfailed=2, failed=1)
    lines = result.stdout.lines
    assert "XFAIL sentiment.suite.yaml::accuracy[static-per_tensor] - known collapse (expect: collapse)" in lines
    assert "[XPASS(strict)] known collapse (expect: collapse)" in lines
    assert any(
        ln.startswith("FAILED sentiment.suite.yaml::accuracy[dynamic-per_channel] - [XPASS(strict)]") for ln in lines
    )


def test_benchmark_json_holds_throughput_speedup_and_accuracy(suite_file, run, pytester) -> None:
    suite_file("sentiment.suite.yaml", GRID)
    result = run("-k", "dynamic or fp32", "--benchmark-json", "out.json")
    result.assert_outcomes(passed=2 + 2 + 4)
    data = json.loads((pytester.path / "out.json").read_text())
    by_name = {b["name"]: b for b in data["benchmarks"]}
    fp32 = by_name["latency[fp32-bs1-len16]"]
    int8 = by_name["latency[int8-dynamic-per_tensor-bs1-len16]"]
    assert fp32["group"] == int8["group"] == "tiny-sentiment batch_size=1 input_length=16"
    info = int8["extra_info"]
    assert info["role"] == "quantized" and info["batch_size"] == 1 and info["input_length"] == 16
    assert info["samples_per_s"] == pytest.approx(1 / int8["stats"]["mean"])
    paired = info["paired_fp32"]  # the fp32 call before each int8 round, whose ratios give the speed-up
    assert paired["rounds"] == int8["stats"]["rounds"] and info["speedup"] > 0
    assert paired["p50_ms"] <= paired["p90_ms"] <= paired["p99_ms"]
    assert info["accuracy"]["accuracy"]["original"] >= 0.95
    assert info["config"] == {"quantization_approach": "dynamic", "per_channel": False}
    assert {"cpu", "instructions", "vnni", "engines"} <= info["machine"].keys()
    assert [e["name"] for e in info["machine"]["engines"]] == ["onnxruntime"]  # the engine the case ran on
    assert fp32["extra_info"]["speedup"] is None  # every record field is written, null when not measured


def test_benchmark_disable_still_runs_accuracy(suite_file, run) -> None:
    suite_file("sentiment.suite.yaml", GRID)
    result = run("--benchmark-disable", "-k", "dynamic")
    result.assert_outcomes(passed=2 + 4)


def test_identical_graphs_are_scored_once_per_session_setting(suite_file, pytester, tmp_path) -> None:
    """`[Add]` quantizes nothing, so per_channel makes no difference to the graph: one evaluation serves both.
    The optimization level can change results, so each level is scored on its own."""
    suite_file(
        "add.suite.yaml",
        SENTIMENT
        + """
    fixed: {quantization_approach: dynamic, operators_to_quantize: [Add]}
    benchmarked:
      per_channel: [false, true]
      framework_args: [{opset: 13, optimization_level: 1}, {opset: 13, optimization_level: 0}]
""",
    )
    cache = tmp_path / "fresh-cache"  # fresh, so that every build of this run is in its log
    result = pytester.runpytest("-p", "no:cacheprovider", f"--quantbench-cache={cache}", "-m", "accuracy")
    result.assert_outcomes(passed=4)
    built = [b["kind"] for b in ArtifactCache(cache).builds()]
    assert built.count("quantize") == 2  # per_channel off and on
    assert built.count("scores") == 4  # fp32 and the shared int8 graph, at each of the two levels


def test_pytest_benchmark_compare_reads_two_saved_runs(suite_file, run, pytester) -> None:
    suite_file("sentiment.suite.yaml", GRID)
    for _ in range(2):
        run("-m", "latency", "-k", "dynamic-per_tensor or fp32", "--benchmark-autosave", "--benchmark-storage=store")
    saved = sorted((pytester.path / "store").rglob("*.json"))
    assert len(saved) == 2
    result = pytester.run("pytest-benchmark", "--storage", "store", "compare", "0001", "0002", "--group-by=group")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*latency[[]int8-dynamic-per_tensor-bs1-len16[]] (0001*", "*(0002*"])


def test_bad_suite_is_one_line_error_and_others_still_collect(suite_file, run) -> None:
    suite_file("good.suite.yaml", SENTIMENT)
    suite_file("bad.suite.yaml", SENTIMENT + "    benchmarked: {node_exclusion: [[layernorm, softmaxx]]}\n")
    result = run("--co", "-q")
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*bad.suite.yaml: benchmarked.node_exclusion[[]0[]][[]1[]]: unknown value 'softmaxx' (did you mean 'softmax'?*"
        ]
    )
    assert "good.suite.yaml::accuracy[dynamic]" in out
    assert "Traceback" not in out
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_other_yaml_files_are_left_alone(suite_file, run) -> None:
    suite_file("config.yaml", "just: data\n")
    result = run("--co", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_hub_model_skips_offline_with_reason(suite_file, run) -> None:
    suite_file(
        "hub.suite.yaml",
        """
        task: text-classification
        model_name_or_path: distilbert-base-uncased-finetuned-sst-2-english
        dataset: {path: glue, name: sst2, eval_split: validation}
        time: {batch_sizes: [1], input_lengths: [8]}
    """,
    )
    result = run("-rs")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(["*not in the local cache and the Hugging Face hub is disabled (HF_HUB_OFFLINE*"])


def test_user_test_over_suite_configs_with_public_fixtures(suite_file, pytester, run) -> None:
    suite_file("sentiment.suite.yaml", GRID)
    pytester.makepyfile(
        test_mine="""
        import numpy as np
        import pytest

        @pytest.mark.quantbench("sentiment.suite.yaml")
        def test_outputs_agree(quantbench_case, original_session, quantized_session, quantbench):
            feed = quantbench.timing_inputs(quantbench_case.suite, 2, 16)
            names = [i.name for i in original_session.get_inputs()]
            a = original_session.run(None, {k: feed[k] for k in names})[0]
            b = quantized_session.run(None, {k: feed[k] for k in names})[0]
            assert a.shape == b.shape == (2, 2)
            if quantbench_case.config.quantization_approach == "dynamic":
                assert (a.argmax(-1) == b.argmax(-1)).all()
    """
    )
    result = run("test_mine.py", "-v")
    result.stdout.fnmatch_lines(["*test_outputs_agree[[]static-per_channel[]] PASSED*"])
    result.assert_outcomes(passed=4)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "tiny-ner.suite.yaml",
            """
            task: token-classification
            model_name_or_path: builtin:tiny-bert-ner
            dataset: {path: "builtin:synthetic-ner", data_keys: {primary: tokens}, ref_keys: [ner_tags]}
            thresholds: {f1: {max_drop: 0.05}, precision: {max_drop: 0.05}, recall: {max_drop: 0.05},
                         accuracy: {max_drop: 0.05}}
        """,
        ),
        (
            "tiny-vit.suite.yaml",
            """
            task: image-classification
            model_name_or_path: builtin:tiny-vit-shapes
            dataset: {path: "builtin:synthetic-shapes", data_keys: {primary: image}, ref_keys: [label]}
            benchmarked: {per_channel: [false, true]}
            thresholds: {accuracy: {max_drop: 0.05}}
            time: {batch_sizes: [1, 2], input_lengths: [999]}
        """,
        ),
    ],
)
def test_token_and_image_suites_run(suite_file, run, name: str, text: str) -> None:
    suite_file(name, text)
    result = run("--benchmark-disable", "-v", "-p", "no:randomly")
    result.assert_outcomes(passed=len(result.stdout.str().split("PASSED")) - 1)
    assert result.ret == pytest.ExitCode.OK
    if "vit" in name:
        result.stdout.fnmatch_lines(["*latency[[]fp32-bs2[]] PASSED*"])  # images ignore input length


def test_local_model_dir_and_csv_data_files(suite_file, run, pytester, qb_cache) -> None:
    import csv

    from pytest_quantbench.artifacts.cache import ArtifactCache
    from pytest_quantbench.zoo import builtins

    cache = ArtifactCache(qb_cache)
    model = builtins.model_dir("tiny-bert-sentiment", cache)
    source = builtins.dataset_dir("synthetic-sentiment", cache)
    (pytester.path / "data").mkdir()
    for split in ("train", "validation"):
        rows = [json.loads(line) for line in (source / f"{split}.jsonl").read_text().splitlines()][:120]
        with open(pytester.path / "data" / f"{split}.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["text", "stars"])
            writer.writeheader()
            writer.writerows({"text": r["sentence"], "stars": r["label"]} for r in rows)
    suite_file(
        "local.suite.yaml",
        f"""
        task: text-classification
        model_name_or_path: {model}
        dataset:
          path: csv
          data_files: {{train: data/train.csv, validation: data/validation.csv}}
          data_keys: {{primary: text}}
          ref_keys: [stars]
        fixed: {{quantization_approach: static, operators_to_quantize: [MatMul],
                calibration: {{num_calibration_samples: 20}}}}
    """,
    )
    result = run("--benchmark-disable", "-k", "accuracy", "-v")
    result.assert_outcomes(passed=1)
