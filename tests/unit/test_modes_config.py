"""The suite vocabulary of weight-only, fp16 and 16-bit activations, and the quantized session's level."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite import WeightOnly, load_suite

BASE = "task: text-classification\nmodel_name_or_path: m\ndataset: {path: d}\n"


def suite(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.suite.yaml"
    path.write_text(BASE + text)
    return path


def test_weight_only_settings_and_ids(tmp_path: Path) -> None:
    cases = load_suite(
        suite(
            tmp_path,
            "fixed: {quantization_approach: weight_only}\nbenchmarked:\n  weight_only:\n"
            "    - {bits: 4, block_size: 32}\n    - {bits: 8, block_size: 128, algorithm: hqq, symmetric: false}\n"
            "    - {accuracy_level: 4}\n",
        )
    ).cases
    assert [c.id for c in cases] == ["w4-b32-rtn", "w8-b128-hqq-asym", "w4-b32-rtn-acc4"]
    assert cases[1].config.weight_only == WeightOnly(bits=8, block_size=128, symmetric=False, algorithm="hqq")


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("fixed: {quantization_approach: weight_only, weight_only: {bits: 3}}", "fixed.weight_only.bits",
         "unknown value 3"),
        ("fixed: {weight_only: {block_size: 48}}", "fixed.weight_only.block_size", "unknown value 48"),
        ("fixed: {quantization_approach: dynamic, activations_dtype: int16}", "fixed.activations_dtype",
         "16-bit activations need quantization_approach: static (QDQ)"),
        ("fixed: {framework: pytorch, quantization_approach: fp16}", "fixed.framework",
         "pytorch runs dynamic quantization only: fp16 configs need framework onnxruntime"),
        ("fixed: {framework_args: {quantized_optimization_level: 5}}",
         "fixed.framework_args.quantized_optimization_level", "unknown value 5"),
        ("fixed: {quantization_approach: static, format: qoperator, fp32_outputs: [MatMul]}", "fixed.fp32_outputs",
         "fp32 outputs need format: qdq"),
        ("fixed: {fp32_outputs: [Matmul]}", "fixed.fp32_outputs[0]", "unknown value 'Matmul'"),
        ("fixed: {quantization_approach: static, framework_args: {opset: 11}}\nbenchmarked: {per_channel: [false, true]}",
         "benchmarked.per_channel", "per-channel static QDQ needs opset >= 13 (DequantizeLinear's axis), got"),
        ("fixed: {calibration: {method: percentile, padding: none}}", "fixed.calibration",
         "method percentile with padding none: ONNX Runtime's histogram calibrators"),
    ],
)  # fmt: skip
def test_errors_name_the_field(tmp_path: Path, text: str, field: str, message: str) -> None:
    with pytest.raises(SuiteError) as err:
        load_suite(suite(tmp_path, text + "\n"))
    assert err.value.field == field and message in err.value.message


def test_the_quantized_level_is_its_own_id_token_but_not_the_baselines(tmp_path: Path) -> None:
    cases = load_suite(
        suite(
            tmp_path,
            "benchmarked:\n  framework_args: [{optimization_level: 1}, "
            "{optimization_level: 1, quantized_optimization_level: 99}]\n",
        )
    ).cases
    assert [c.id for c in cases] == ["O1-t1", "O1-Oq99-t1"]
    assert cases[0].baseline_id == cases[1].baseline_id == "fp32-O1-t1"
    assert [c.config.framework_args.quantized_level for c in cases] == [1, 99]


def test_fp32_outputs_ids_and_the_approaches_they_apply_to(tmp_path: Path) -> None:
    cases = load_suite(
        suite(
            tmp_path,
            "fixed: {quantization_approach: static}\nbenchmarked:\n  fp32_outputs: [[], [MatMul, Conv]]\n",
        )
    ).cases
    assert [c.id for c in cases] == ["int8-outputs", "fp32out-MatMul+Conv"]
    assert cases[1].config.fp32_outputs == ("MatMul", "Conv")
    dynamic = load_suite(suite(tmp_path, "fixed: {fp32_outputs: [MatMul]}\n")).cases[0]
    assert dynamic.config.fp32_outputs == ("MatMul",)  # no-op for dynamic int8, which never quantizes outputs
