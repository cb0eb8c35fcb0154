"""`framework: openvino`: NNCF's static int8 and weight compression run by OpenVINO, beside ONNX Runtime's rows of
the same configs, each int8 model paired with its own engine's fp32 model."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import SENTIMENT

pytest.importorskip("openvino")  # CI installs `.[all,test]`: skipped only where the extra is not installed
pytest.importorskip("nncf")


pytestmark = pytest.mark.usefixtures("nncf_backends_loaded")  # NNCF loads outside every pytester run


ENGINES = (
    SENTIMENT
    + """
    fixed:
      framework_args: {opset: 13, optimization_level: 1}
      calibration: {num_calibration_samples: 32}
      weight_only: {bits: 8, block_size: 32}
    benchmarked:
      framework: [onnxruntime, openvino]
      quantization_approach: [static, weight_only]
    time: {batch_sizes: [1], input_lengths: [16], rounds: 2, warmup_rounds: 0}
    thresholds: {accuracy: {max_drop: 0.05}}
"""
)


def test_openvino_rows_sit_beside_onnxruntime_rows(suite_file, run, pytester: pytest.Pytester) -> None:
    suite_file("engines.suite.yaml", ENGINES)
    result = run("-v", "--benchmark-json=out.json", "--quantbench-card=card.md", "--quantbench-diagnose")
    result.assert_outcomes(passed=4 + 2 + 4)  # accuracy of each config, each engine's fp32 row, each int8 row
    result.stdout.fnmatch_lines(
        ["*accuracy[[]openvino-static[]] PASSED*", "*latency[[]fp32-openvino-bs1-len16[]] PASSED*"]
    )
    data = json.loads((pytester.path / "out.json").read_text())
    ours = data["quantbench"]
    engines = {e["name"]: e for e in ours["machine"]["engines"]}
    assert sorted(engines) == ["onnxruntime", "openvino"]
    assert engines["openvino"]["version"].startswith("openvino ") and ", nncf " in engines["openvino"]["version"]
    accuracy = {row["config_id"]: row for row in ours["accuracy"]}
    assert sorted(accuracy) == [
        "onnxruntime-static", "onnxruntime-weight_only", "openvino-static", "openvino-weight_only",
    ]  # fmt: skip
    for config in ("openvino-static", "openvino-weight_only"):
        row = accuracy[config]
        assert row["passed"] and row["metrics"]["accuracy"]["quantized"] >= 0.9
        assert [e["name"] for e in row["machine"]["engines"]] == ["openvino"]
    assert accuracy["openvino-static"]["diagnosis"]["line"] == (
        "no diagnosis for framework: openvino (the sensitivity ranking and fallback search read ONNX graphs, not "
        "OpenVINO IRs)"
    )

    rows = {b["name"]: b["extra_info"] for b in data["benchmarks"]}
    static, weights = (
        rows["latency[int8-openvino-static-bs1-len16]"],
        rows["latency[int8-openvino-weight_only-bs1-len16]"],
    )
    assert static["config"]["framework"] == "openvino" and static["quantized_nothing"] is False
    assert static["baseline"] == "openvino" and weights["baseline"] == "openvino"  # each paired with its own fp32
    assert "speedup" in static and "speedup" in rows["latency[int8-onnxruntime-static-bs1-len16]"]
    card = (pytester.path / "card.md").read_text()
    assert f"**Backend:** `{engines['openvino']['line']}`" in card
    assert f"**Backend:** `{engines['onnxruntime']['line']}`" in card
    rows_of = [line for line in card.splitlines() if "`openvino`" in line and "`static`" in line]
    assert rows_of and "PASS" in rows_of[0]  # the engines' rows side by side in the card's tables


def test_accuracy_control_quantizes_within_the_drop_on_the_suites_metric(qb_cache: Path, tmp_path: Path) -> None:
    """NNCF validates on the suite's eval split and metric: int8 that keeps the tiny model's accuracy reverts
    nothing, and the report says so."""
    from pytest_quantbench.bench import Bench
    from pytest_quantbench.suite import load_suite

    path = tmp_path / "ac.suite.yaml"
    control = "nncf: {accuracy_control: {max_drop: 0.0}}, calibration: {num_calibration_samples: 16}"
    path.write_text(
        textwrap.dedent(SENTIMENT)
        + f"fixed: {{framework: openvino, quantization_approach: static, framework_args: {{opset: 13}}, {control}}}\n"
    )
    (case,) = load_suite(path).cases
    assert case.id == "static"
    bench = Bench(qb_cache)
    report = bench.quantized(case).report
    assert report.reverted_nodes == () and report.quantized_nodes["MatMul"] >= 8 and not report.quantized_nothing


def plant_value_outliers(model_dir: Path, out: Path, scale: float = 1000.0) -> Path:
    """A copy of the model whose attention values carry an outlier channel that fp32 cannot see: each layer's
    value projection scales channel 0 by `scale` and the attention output divides the weights reading it by as
    much, so fp32 answers as before while int8's per-tensor activations (the context the output dense reads)
    round every other channel to zero."""
    import shutil

    import torch
    from transformers import AutoModelForSequenceClassification

    shutil.copytree(model_dir, out)
    model = AutoModelForSequenceClassification.from_pretrained(out)
    with torch.no_grad():
        for layer in model.bert.encoder.layer:
            value, output = layer.attention.self.value, layer.attention.output.dense
            value.weight[0] *= scale
            value.bias[0] *= scale
            output.weight[:, 0] /= scale
    model.save_pretrained(out)
    return out


def test_accuracy_control_reverts_the_layers_of_a_collapsing_int8_until_the_gate_passes(
    qb_cache: Path, suite_file, run, pytester: pytest.Pytester
) -> None:
    """Full int8 of a model with planted activation outliers collapses to chance; NNCF's accuracy control puts
    layers back in fp32 until the drop is within max_drop, the gate passes, and the card and JSON name them."""
    from pytest_quantbench.bench import Bench
    from pytest_quantbench.suite import load_suite

    original = load_suite(suite_file("original.suite.yaml", SENTIMENT)).cases[0].suite
    plant_value_outliers(Bench(qb_cache).models.model_dir(original), pytester.path / "planted")
    suite_file(
        "control.suite.yaml",
        SENTIMENT.replace("builtin:tiny-bert-sentiment", "./planted")
        + """
    fixed:
      framework: openvino
      quantization_approach: static
      framework_args: {opset: 13}
      calibration: {num_calibration_samples: 32}
    benchmarked:
      nncf: [{}, {accuracy_control: {max_drop: 0.05}}]
    overrides:
      - when: {nncf: {}}
        expect: collapse
""",
    )
    (pytester.path / "original.suite.yaml").unlink()
    result = run("-v", "-k", "accuracy", "--benchmark-json=out.json", "--quantbench-card=card.md")
    result.assert_outcomes(passed=1, xfailed=1)  # without control: the known collapse; with it: PASS
    result.stdout.fnmatch_lines(["*accuracy[[]performance[]] XFAIL*", "*accuracy[[]performance-ac0.05[]] PASSED*"])
    accuracy = {row["config_id"]: row for row in json.loads((pytester.path / "out.json").read_text())["quantbench"][
        "accuracy"]}  # fmt: skip
    collapsed, controlled = accuracy["performance"], accuracy["performance-ac0.05"]
    assert collapsed["collapse"] and collapsed["quantization"]["reverted_nodes"] == []
    assert controlled["passed"] and not controlled["collapse"]
    reverted = controlled["quantization"]["reverted_nodes"]
    assert reverted and all("attention" in node for node in reverted), reverted  # where the outliers are
    metric = controlled["metrics"]["accuracy"]
    assert metric["original"] - metric["quantized"] <= 0.05
    card = (pytester.path / "card.md").read_text()
    assert "Reverted to fp32 by accuracy control:" in card
    assert "* `performance-ac0.05`: " + ", ".join(f"`{node}`" for node in reverted) in card


@pytest.mark.parametrize("framework", ["openvino"])
def test_data_aware_weight_compression_fits_the_int4_weights_to_the_calibration_samples(
    qb_cache: Path, tmp_path: Path, framework: str
) -> None:
    """AWQ and scale estimation run offline on the suite's calibration samples: a model of its own (its own
    artifact), whose int4 weights differ from the data-free ones, and it keeps the tiny model's accuracy."""
    from pytest_quantbench.bench import Bench
    from pytest_quantbench.suite import load_suite

    quantizer = ", quantizer: nncf" if framework == "onnxruntime" else ""
    path = tmp_path / "awq.suite.yaml"
    path.write_text(
        textwrap.dedent(SENTIMENT)
        + f"fixed: {{framework: {framework}{quantizer}, quantization_approach: weight_only, framework_args: "
        "{opset: 13}, calibration: {num_calibration_samples: 16}, weight_only: {bits: 4, block_size: 32}}\n"
        "benchmarked: {nncf: [{}, {scale_estimation: true}, {awq: true, scale_estimation: true}]}\n"
    )
    plain, fitted, both = load_suite(path).cases
    assert [c.id for c in (plain, fitted, both)] == ["performance", "performance-se", "performance-awq-se"]
    bench = Bench(qb_cache)
    models = [bench.quantized(case) for case in (plain, fitted, both)]
    assert len({m.path.parent for m in models}) == 3  # each config its own artifact
    weights = [m.path.with_suffix(".bin") if framework == "openvino" else m.path for m in models]
    assert weights[0].read_bytes() != weights[1].read_bytes()  # the fitted scales are not round-to-nearest's
    assert all(m.report.quantized_nodes.get("MatMul", 0) >= 4 for m in models)
    evaluation = bench.evaluate(fitted)
    assert evaluation.quantized["accuracy"] >= evaluation.original["accuracy"] - 0.05


def test_data_aware_weight_compression_for_onnxruntime_is_one_line_naming_the_setting(
    qb_cache: Path, tmp_path: Path
) -> None:
    """NNCF 3.4's ONNX backend cannot run AWQ or scale estimation on an optimum export: refused, naming the field."""
    from pytest_quantbench.bench import Bench
    from pytest_quantbench.errors import InputError
    from pytest_quantbench.suite import load_suite

    path = tmp_path / "awq.suite.yaml"
    path.write_text(
        textwrap.dedent(SENTIMENT)
        + "fixed: {framework: onnxruntime, quantizer: nncf, quantization_approach: weight_only, framework_args: "
        "{opset: 13}, weight_only: {bits: 4, block_size: 32}}\n"
        "benchmarked: {nncf: [{scale_estimation: true}]}\n"
    )
    with pytest.raises(InputError) as found:
        Bench(qb_cache).quantized(load_suite(path).cases[0])
    assert str(found.value).startswith(f"{path}: benchmarked.nncf.scale_estimation: NNCF runs AWQ")
