"""`framework: openvino` in the suite vocabulary, refused without its extra, and NNCF's settings read from a
config (its run beside ONNX Runtime: tests/integration/test_openvino.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import Any

import pytest
from malformed_suites import BASE

from pytest_quantbench.errors import InputError, SuiteError
from pytest_quantbench.records import EngineInfo
from pytest_quantbench.runtimes import openvino as backend
from pytest_quantbench.runtimes.openvino_settings import element, properties
from pytest_quantbench.suite import Case, load_suite


def cases(tmp_path: Path, extra: str) -> tuple[Case, ...]:
    path = tmp_path / "ov.suite.yaml"
    path.write_text(BASE + textwrap.dedent(extra))
    return load_suite(path).cases


def refusal(tmp_path: Path, extra: str) -> str:
    with pytest.raises(SuiteError) as info:
        cases(tmp_path, extra)
    return str(info.value)


def test_openvino_runs_nncf_static_and_weight_compression_not_dynamic(tmp_path: Path) -> None:
    """OpenVINO has no dynamic int8 of its own: the default approach is refused in one line naming the field."""
    path = tmp_path / "ov.suite.yaml"
    assert refusal(tmp_path, "fixed: {framework: openvino}\n") == (
        f"{path}: fixed.framework: openvino runs static and weight_only quantization only: dynamic configs need "
        "framework onnxruntime or pytorch"
    )
    ids = [
        c.id
        for c in cases(
            tmp_path, "fixed: {framework: openvino}\nbenchmarked: {quantization_approach: [static, weight_only]}\n"
        )
    ]
    assert ids == ["static", "weight_only"]


def test_an_openvino_config_is_refused_at_collection_without_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nncf" else found(name, *a))
    path = tmp_path / "ov.suite.yaml"
    grid = "fixed: {quantization_approach: static}\nbenchmarked: {framework: [onnxruntime, openvino]}\n"
    assert refusal(tmp_path, grid) == (
        f"{path}: benchmarked.framework: framework openvino needs nncf, which is not installed: "
        "pip install 'pytest-quantbench[openvino]'"
    )
    assert [c.id for c in cases(tmp_path, grid.replace(", openvino", ""))] == ["onnxruntime"]  # the others load


def test_the_backend_module_imports_neither_openvino_nor_nncf() -> None:
    """The registry lists the backend in every run: a plain install without the extra must still load it."""
    code = (
        "import sys; from pytest_quantbench.registry import Registry; Registry().vocabulary(); "
        "import pytest_quantbench.runtimes.openvino; print(sorted({'openvino', 'nncf'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_without_the_extra_the_engine_says_it_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(names: Any) -> dict[str, str]:
        raise PackageNotFoundError("openvino")

    monkeypatch.setattr(backend, "library_versions", absent)
    assert backend.OpenVino.engine_info() == EngineInfo("openvino", "not installed", "openvino (not installed)")


@pytest.mark.parametrize(
    ("nncf", "ident"),
    [
        ("{}", "performance"),
        ("{preset: mixed, fast_bias_correction: false}", "mixed-bias_correction"),
        ("{model_type: transformer, ratio: 0.8, ignored_patterns: ['.*attention.*']}", "performance-transformer-1patterns-ratio0.8"),
    ],
)  # fmt: skip
def test_nncf_settings_are_a_benchmarked_section_with_readable_ids(tmp_path: Path, nncf: str, ident: str) -> None:
    (case,) = cases(
        tmp_path, f"fixed: {{framework: openvino, quantization_approach: static}}\nbenchmarked: {{nncf: [{nncf}]}}\n"
    )
    assert case.id == ident and case.config.nncf.preset in ("performance", "mixed")


def test_a_bad_nncf_setting_is_one_line_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "ov.suite.yaml"
    assert refusal(tmp_path, "fixed: {nncf: {preset: fast}}\n").startswith(f"{path}: fixed.nncf.preset: ")
    assert refusal(tmp_path, "fixed: {nncf: {ratio: 1.5}}\n").startswith(f"{path}: fixed.nncf.ratio: ")


def test_the_cpu_plugin_runs_the_config_threads_for_latency_in_fp32() -> None:
    assert properties(3) == {
        "INFERENCE_NUM_THREADS": 3, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1, "INFERENCE_PRECISION_HINT": "f32",
    }  # fmt: skip
    assert properties(1, perf_count=True)["PERF_COUNT"] is True


@pytest.mark.parametrize(
    ("exec_type", "named"),
    [("brgemm_avx512_I8", "int8"), ("jit_avx2_FP32", "float"), ("ref_any_I64", "int64"), ("undef", "?")],
)
def test_a_kernels_element_type_is_named_as_onnx_runtime_names_it(exec_type: str, named: str) -> None:
    assert element(exec_type) == named


def tiny_model() -> Any:
    """x @ W -> Softmax: one MatMul with a constant 32 x 32 weight, and attention's Softmax."""
    ov = pytest.importorskip("openvino")
    import numpy as np
    from openvino import opset13 as ops

    x = ops.parameter([1, 32], np.float32, name="x")
    weight = ops.constant(np.random.default_rng(0).normal(size=(32, 32)).astype(np.float32))
    matmul = ops.matmul(x, weight, False, False, name="dense/MatMul")
    return ov.Model([ops.softmax(matmul, 1, name="probs")], [x], "tiny")


@pytest.mark.parametrize(
    ("fixed", "field", "message"),
    [
        ("node_exclusion: [dense/MatMul, nowhere/MatMul]", "fixed.node_exclusion", "node 'nowhere/MatMul'"),
        ("nodes_to_exclude: [nowhere]", "fixed.nodes_to_exclude", "node 'nowhere'"),
        ("node_exclusion: [gelu]", "fixed.node_exclusion", "preset gelu (op type Gelu)"),
        ("nncf: {ignored_patterns: ['dense/.*', 'encoder\\.']}", "fixed.nncf.ignored_patterns", "pattern 'encoder\\\\.'"),
    ],
)  # fmt: skip
def test_an_ignored_scope_that_matches_nothing_is_one_line_naming_the_field(
    tmp_path: Path, fixed: str, field: str, message: str
) -> None:
    from pytest_quantbench.runtimes.openvino_nncf import checked_scope

    model = tiny_model()
    (case,) = cases(tmp_path, f"fixed: {{framework: openvino, quantization_approach: static, {fixed}}}\n")
    with pytest.raises(InputError) as info:
        checked_scope(model, case)
    assert str(info.value) == f"{case.suite.path}: {field}: {message} matches no node of the OpenVINO model"


def test_an_ignored_scope_of_the_models_nodes_keeps_them(tmp_path: Path) -> None:
    from pytest_quantbench.runtimes.openvino_nncf import checked_scope

    model = tiny_model()
    given = "node_exclusion: [softmax, dense/MatMul], nncf: {ignored_patterns: ['dense/']}"
    (case,) = cases(tmp_path, f"fixed: {{framework: openvino, quantization_approach: static, {given}}}\n")
    scope = checked_scope(model, case)
    assert (scope.names, scope.types, scope.patterns) == (["dense/MatMul"], ["Softmax"], ["dense/"])


def test_the_transformer_model_type_is_asked_for_or_found_by_attention(tmp_path: Path) -> None:
    from pytest_quantbench.runtimes.openvino_nncf import is_transformer

    model = tiny_model()
    by_type = {t: cases(tmp_path, f"fixed: {{framework: openvino, nncf: {{model_type: {t}}}, quantization_approach: static}}\n")[0] for t in ("auto", "generic", "transformer")}  # fmt: skip
    assert [is_transformer(model, by_type[t]) for t in ("auto", "generic", "transformer")] == [True, False, True]


@pytest.mark.parametrize(("bits", "symmetric"), [(8, "true"), (4, "false")])
def test_weight_compression_reports_the_matmuls_it_compressed(tmp_path: Path, bits: int, symmetric: str) -> None:
    pytest.importorskip("nncf")
    from pytest_quantbench.runtimes import openvino_nncf

    model = tiny_model()
    weight_only = f"weight_only: {{bits: {bits}, block_size: 16, symmetric: {symmetric}}}"
    (case,) = cases(tmp_path, f"fixed: {{framework: openvino, quantization_approach: weight_only, {weight_only}}}\n")
    report = openvino_nncf.report(openvino_nncf.quantize(model, case, None), case)
    assert report.quantized_nodes == {"MatMul": 1} and not report.quantized_nothing
    assert openvino_nncf.report(tiny_model(), case).quantized_nothing  # the fp32 model: nothing compressed


def test_accuracy_control_is_static_only_and_named_in_the_id(tmp_path: Path) -> None:
    path = tmp_path / "ov.suite.yaml"
    control = "nncf: {accuracy_control: {max_drop: 0.02, drop_type: relative}}"
    assert refusal(tmp_path, f"fixed: {{framework: openvino, quantization_approach: weight_only, {control}}}\n") == (
        f"{path}: fixed.nncf: accuracy_control needs quantization_approach: static (NNCF reverts int8 layers of a "
        "calibrated model)"
    )
    grid = "benchmarked: {nncf: [{}, {accuracy_control: {max_drop: 0.02}}, {accuracy_control: {drop_type: relative}}]}"
    ids = [c.id for c in cases(tmp_path, f"fixed: {{framework: openvino, quantization_approach: static}}\n{grid}\n")]
    assert ids == ["performance", "performance-ac0.02", "performance-ac0.01rel"]


def test_accuracy_control_needs_a_metric_to_validate_on(tmp_path: Path) -> None:
    from pytest_quantbench.runtimes.openvino_accuracy import validation

    unlabelled = BASE.replace("ref_keys: [label]", "ref_keys: []")
    path = tmp_path / "ov.suite.yaml"
    path.write_text(
        unlabelled + "fixed: {framework: openvino, quantization_approach: static, nncf: {accuracy_control: {}}}\n"
    )
    (case,) = load_suite(path).cases
    with pytest.raises(InputError) as info:
        validation(None, case, {})  # type: ignore[arg-type]  # refused before the data is read
    assert str(info.value) == (
        f"{path}: fixed.nncf.accuracy_control: needs a metric to validate on: the dataset has ref_keys: []"
    )


def test_the_reverted_nodes_are_read_from_nncfs_closing_message() -> None:
    import logging

    from pytest_quantbench.runtimes.openvino_accuracy import Collected

    log = Collected()
    assert log.reverted() == ()  # the gate held at once: nothing reverted, nothing said

    def said(message: str) -> None:
        log.emit(logging.LogRecord("nncf", logging.INFO, __file__, 1, message, None, None))

    said("Reverted 1 operations to the floating-point precision: \n\t/encoder/MatMul")
    said("2 out of 28 were reverted back to the floating-point precision:\n\t/encoder/MatMul\n\t/pooler/Gemm")
    assert log.reverted() == ("/encoder/MatMul", "/pooler/Gemm")
