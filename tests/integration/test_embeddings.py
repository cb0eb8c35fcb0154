"""Sentence embeddings end to end on tiny encoders in the sentence-transformers layout (written by the test):
an encoder whose int8 vectors keep their neighbours passes, one with a planted activation outlier loses them
and fails naming the cause, and each mistake in the layout or the data is one line before anything is built."""

from __future__ import annotations

import json

import tiny_models as tm

SUITE = """
    name: {name}
    task: {task}
    model_name_or_path: ./{model}
    dataset: {{path: "builtin:synthetic-sentiment", eval_split: validation, num_eval_samples: 120{extra}}}
    fixed:
      operators_to_quantize: [MatMul]
      framework_args: {{opset: 13, optimization_level: 1}}
    time: {{batch_sizes: [2], input_lengths: [16], rounds: 2, warmup_rounds: 0}}
    thresholds: {{cosine: {{min: 0.98}}, neighbours@5: {{min: 0.6}}}}
"""


def _suite(name: str, model: str, task: str = "feature-extraction", extra: str = "") -> str:
    return SUITE.format(name=name, model=model, task=task, extra=extra)


def test_int8_that_keeps_the_neighbours_passes_and_one_that_loses_them_fails(suite_file, run, pytester) -> None:
    tm.embedding_model(pytester.path / "kept")
    tm.embedding_model(pytester.path / "outlier", outlier=300.0)
    suite_file("kept.suite.yaml", _suite("kept", "kept", task="sentence-similarity"))
    suite_file("lost.suite.yaml", _suite("lost", "outlier"))
    result = run("--benchmark-json=out.json", "-k", "accuracy or kept")
    result.assert_outcomes(passed=3, failed=1)  # kept: accuracy and two latency cases (fp32, int8)
    line = next(ln for ln in result.stdout.lines if ln.startswith("lost.suite.yaml::accuracy["))
    assert "neighbours@5 1.000 -> 0." in line and "< min 0.6 (95% CI [" in line
    assert "cause: " in line and "fix: " in line  # the diagnosis names the nodes that move the vectors most
    rows = {r["suite"]: r for r in json.loads((pytester.path / "out.json").read_text())["quantbench"]["accuracy"]}
    kept = rows["kept"]["metrics"]
    assert set(kept) == {"cosine", "neighbours@5"} and kept["cosine"]["quantized"] >= 0.98
    assert kept["neighbours@5"]["quantized"] >= 0.6 and kept["neighbours@5"]["paired"]["n"] == 120
    assert rows["lost"]["metrics"]["neighbours@5"]["quantized"] < 0.6 and not rows["lost"]["passed"]


def test_each_mistake_is_one_line_naming_file_and_field(suite_file, run, pytester) -> None:
    tm.embedding_model(pytester.path / "median", pooling={"pooling_mode_median_tokens": True})
    missing = [dict(m) for m in tm.ST_MODULES]
    missing[1]["path"] = "1_Pool"
    tm.embedding_model(pytester.path / "missing", modules=missing)
    tm.embedding_model(pytester.path / "plain")
    suite_file("median.suite.yaml", _suite("median", "median"))
    suite_file("missing.suite.yaml", _suite("missing", "missing"))
    suite_file("column.suite.yaml", _suite("column", "plain", extra=", data_keys: {primary: text}"))
    result = run("--benchmark-disable", "-k", "accuracy")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "median.suite.yaml::accuracy[[]*[]]: *median.suite.yaml: model_name_or_path: */median/1_Pooling/"
            "config.json: pooling_mode_median_tokens: no such pooling mode (keys: *",
            "missing.suite.yaml::accuracy[[]*[]]: *missing.suite.yaml: model_name_or_path: */missing/modules.json:"
            " [[]1[]].path: '1_Pool' has no config.json in *",
            "column.suite.yaml::accuracy[[]*[]]: *column.suite.yaml: dataset.data_keys.primary: no column 'text'*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_the_fallback_search_judges_the_neighbours(suite_file, run, pytester) -> None:
    """The fp32-set search judges each trial on the fidelity gates too, against the original's vectors on the
    same rows (without them a label-free trial had nothing to fail and the first one "passed")."""
    tm.embedding_model(pytester.path / "outlier", outlier=300.0)
    suite_file("lost.suite.yaml", _suite("lost", "outlier"))
    result = run("--benchmark-disable", "-k", "accuracy", "--quantbench-fallback")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["fallback search:", "  1 nodes in fp32: neighbours@5 1.000 -> 0.* < min 0.6 (95% CI *"]
    )


def test_the_fallback_finds_the_nodes_that_move_the_vectors_and_keeping_them_passes(suite_file, run, pytester) -> None:
    """The planted outlier crushes the channels of the MatMul that reads it; its own output error is small beside
    the outlier, so the ranking puts it low and no prefix of the ranking passes. Measured alone, each node's
    quantization shows what moves the vectors: the search finds a set, and a suite keeping it in fp32 passes."""
    tm.embedding_model(pytester.path / "outlier", outlier=300.0)
    suite_file("lost.suite.yaml", _suite("lost", "outlier"))
    result = run("--benchmark-json=out.json", "-k", "accuracy", "--quantbench-fallback")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["fallback search:", "*by each node alone: *neighbours@5 1.000 -> 0.* (drop *"])
    (row,) = json.loads((pytester.path / "out.json").read_text())["quantbench"]["accuracy"]
    found = row["diagnosis"]["fallback"]
    assert found["passed"] and "/encoder/layer.0/intermediate/dense/MatMul" in found["nodes"]
    kept = _suite("kept", "outlier").replace("operators_to_quantize: [MatMul]", f"node_exclusion: {found['nodes']}")
    suite_file("kept.suite.yaml", kept.replace("fixed:", "fixed:\n      operators_to_quantize: [MatMul]"))
    run("--benchmark-disable", "-k", "accuracy and kept").assert_outcomes(passed=1)
