"""The domain pieces without pytest: export, quantization report, presets, data and evaluation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.artifacts.quantize import excluded_nodes
from pytest_quantbench.bench import Bench
from pytest_quantbench.suite import load_suite
from pytest_quantbench.zoo import builtins
from pytest_quantbench.zoo.ner_corpus import CONLL_LABELS


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory: pytest.TempPathFactory, qb_cache: Path):
    path = tmp_path_factory.mktemp("suite") / "s.suite.yaml"
    path.write_text(
        textwrap.dedent("""
        task: text-classification
        model_name_or_path: builtin:tiny-bert-sentiment
        dataset: {path: "builtin:synthetic-sentiment", num_eval_samples: 100}
        fixed: {framework_args: {opset: 13, optimization_level: 1}}
        benchmarked:
          operators_to_quantize: [[Add], [MatMul], [Add, MatMul]]
          quantization_approach: [dynamic, static]
    """)
    )
    suite = load_suite(path)
    return Bench(qb_cache), {c.id: c for c in suite.cases}


def test_dynamic_add_quantizes_nothing_and_says_so(sentiment) -> None:
    harness, cases = sentiment
    report = harness.quantized(cases["Add-dynamic"]).report
    assert report.quantized_nothing is True
    assert report.total_quantized == 0


def test_matmul_nodes_are_counted(sentiment) -> None:
    harness, cases = sentiment
    dynamic = harness.quantized(cases["MatMul-dynamic"]).report
    static = harness.quantized(cases["MatMul-static"]).report
    assert dynamic.quantized_nodes["MatMul"] >= 8  # 2 layers x (q, k, v, out, 2 ffn) and attention matmuls
    assert static.quantized_nodes["MatMul"] >= 8
    assert not dynamic.quantized_nothing


def test_artifacts_are_cached_on_disk(sentiment, qb_cache: Path) -> None:
    harness, cases = sentiment
    first = harness.quantized(cases["MatMul-dynamic"]).path
    again = Bench(qb_cache).quantized(cases["MatMul-dynamic"]).path
    assert first == again
    assert first.is_relative_to(qb_cache / "quantize")


def test_softmax_preset_names_the_attention_mask_add(sentiment) -> None:
    harness, cases = sentiment
    fp32 = harness.backends["onnxruntime"].original(cases["Add-dynamic"])
    softmax = excluded_nodes(fp32, ("softmax",))
    assert softmax and all(name.endswith("/Add") or "Add" in name for name in softmax)
    assert len(excluded_nodes(fp32, ("layernorm", "gelu", "residual", "gather", "softmax"))) > len(softmax)


def test_static_padded_calibration_collapses_and_dynamic_holds(sentiment) -> None:
    harness, cases = sentiment
    static = harness.evaluate(cases["Add+MatMul-static"])
    dynamic = harness.evaluate(cases["Add+MatMul-dynamic"])
    assert static.original["accuracy"] >= 0.95
    assert static.verdict.collapsed
    assert dynamic.verdict.passed


def test_fp32_baseline_evaluated_once_per_export(sentiment) -> None:
    harness, cases = sentiment
    a = harness.evaluate(cases["Add-dynamic"])
    b = harness.evaluate(cases["MatMul-dynamic"])
    assert a.original is b.original


def test_generated_data_splits_are_sound(qb_cache: Path) -> None:
    import json

    cache = ArtifactCache(qb_cache)
    root = builtins.dataset_dir("synthetic-ner", cache)
    rows = {s: [json.loads(x) for x in (root / f"{s}.jsonl").read_text().splitlines()] for s in ("train", "validation")}
    for split_rows in rows.values():
        for row in split_rows:
            tags = [CONLL_LABELS[t] for t in row["ner_tags"]]
            assert len(tags) == len(row["tokens"])
            for prev, tag in zip(["O", *tags], tags, strict=False):
                assert not tag.startswith("I-") or prev[2:] == tag[2:]  # valid BIO
    train = {" ".join(r["tokens"]) for r in rows["train"]}
    assert not train & {" ".join(r["tokens"]) for r in rows["validation"]}
    sentiment = builtins.dataset_dir("synthetic-sentiment", cache)
    labels = [json.loads(x)["label"] for x in (sentiment / "validation.jsonl").read_text().splitlines()]
    assert labels.count(0) == labels.count(1)


def test_cli_build_warms_the_cache(tmp_path: Path, qb_cache: Path, capsys) -> None:
    from pytest_quantbench.cli import main

    suite = tmp_path / "s.suite.yaml"
    suite.write_text(
        "task: text-classification\nmodel_name_or_path: builtin:tiny-bert-sentiment\n"
        "dataset: {path: 'builtin:synthetic-sentiment'}\nbenchmarked: {operators_to_quantize: [[Add]]}\n"
    )
    (tmp_path / "bad.suite.yaml").write_text("task: nope\n")
    assert main(["build", str(tmp_path), "--cache", str(qb_cache)]) == 1
    out, err = capsys.readouterr()
    assert "s::Add: 0 nodes quantized" in out
    assert "bad.suite.yaml: model_name_or_path: is required" in err
    assert main(["build", str(suite), "--cache", str(qb_cache), "--evaluate"]) == 0
    assert "accuracy 1.000 -> 1.000" in capsys.readouterr().out


def test_unpadded_calibration_does_not_collapse(sentiment, tmp_path: Path) -> None:
    """The fix the diagnosis suggests besides excluding the mask Add: calibrate without padding."""
    harness, _ = sentiment
    path = tmp_path / "unpadded.suite.yaml"
    path.write_text(
        textwrap.dedent("""
        task: text-classification
        model_name_or_path: builtin:tiny-bert-sentiment
        dataset: {path: "builtin:synthetic-sentiment", num_eval_samples: 100}
        fixed:
          quantization_approach: static
          operators_to_quantize: [Add, MatMul]
          calibration: {method: minmax, num_calibration_samples: 50, padding: none}
          framework_args: {opset: 13, optimization_level: 1}
    """)
    )
    (case,) = load_suite(path).cases
    result = harness.evaluate(case)
    assert not result.verdict.collapsed and result.quantized["accuracy"] >= 0.9
    assert result.report.total_quantized > 0
