"""`framework: onnxruntime, quantizer: nncf`: NNCF quantizes the ONNX export and ONNX Runtime runs it, beside
ONNX Runtime's own quantizer on the same runtime and configs."""

from __future__ import annotations

import json

import pytest

from conftest import SENTIMENT

pytest.importorskip("nncf")


pytestmark = pytest.mark.usefixtures("nncf_backends_loaded")  # NNCF loads outside every pytester run


QUANTIZERS = (
    SENTIMENT
    + """
    fixed:
      framework_args: {opset: 13, optimization_level: 1}
      calibration: {num_calibration_samples: 32}
      weight_only: {bits: 8, block_size: 32}
      nncf: {preset: mixed}
    benchmarked:
      quantization_approach: [static, weight_only]
      quantizer: [onnxruntime, nncf]
    time: {batch_sizes: [1], input_lengths: [16], rounds: 2, warmup_rounds: 0}
    thresholds: {accuracy: {max_drop: 0.05}}
"""
)


def test_nncf_and_onnxruntimes_quantizer_side_by_side_on_onnxruntime(suite_file, run, pytester) -> None:
    suite_file("quantizers.suite.yaml", QUANTIZERS)
    result = run("-v", "--benchmark-json=out.json", "--quantbench-card=card.md")
    result.assert_outcomes(passed=4 + 1 + 4)  # accuracy of each config, ONNX Runtime's one fp32 row, each int8 row
    data = json.loads((pytester.path / "out.json").read_text())
    accuracy = {row["config_id"]: row for row in data["quantbench"]["accuracy"]}
    assert sorted(accuracy) == [
        "static-nncf", "static-onnxruntime", "weight_only-nncf", "weight_only-onnxruntime",
    ]  # fmt: skip
    for config in ("static-nncf", "weight_only-nncf"):
        row = accuracy[config]
        assert row["passed"] and row["metrics"]["accuracy"]["quantized"] >= 0.9
        assert [e["name"] for e in row["machine"]["engines"]] == ["onnxruntime"]  # ONNX Runtime runs NNCF's model
        assert row["quantization"]["quantized_nodes"].get("MatMul", 0) >= 4, row["quantization"]
    # NNCF's graph is not ONNX Runtime's quantizer's: two models, each scored
    graphs = {accuracy[c]["quantization"]["graph_sha256"] for c in ("static-nncf", "static-onnxruntime")}
    assert len(graphs) == 2
    rows = {b["name"]: b["extra_info"] for b in data["benchmarks"]}
    nncf_row = rows["latency[int8-static-nncf-bs1-len16]"]
    assert nncf_row["baseline"] == "onnxruntime" and nncf_row["quantized_nothing"] is False
    card = (pytester.path / "card.md").read_text()
    assert "quantizer" in card and any("`nncf`" in line and "`static`" in line for line in card.splitlines())
