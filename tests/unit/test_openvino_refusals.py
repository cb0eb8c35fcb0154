"""Bad inputs for OpenVINO, each one line naming the suite file and the field: a graph it cannot convert, and a
setting placed under its grid when the suite lists several (the ignored scope and accuracy control without
labels: tests/unit/test_openvino_units.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from malformed_suites import BASE

from pytest_quantbench.errors import InputError
from pytest_quantbench.suite import load_suite

pytest.importorskip("openvino")


def unconvertible(path: Path) -> Path:
    """An ONNX graph with an op no ONNX frontend knows."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("FluxCapacitor", ["x"], ["y"], name="flux")], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ("fixed: {framework: openvino, quantization_approach: static}\n", "fixed.framework"),
        ("benchmarked:\n  - {framework: [onnxruntime]}\n  - {framework: [openvino], quantization_approach: [static]}\n",
         "benchmarked[1].framework"),
    ],
)  # fmt: skip
def test_a_graph_openvino_cannot_convert_is_one_line_naming_the_framework(
    tmp_path: Path, settings: str, field: str
) -> None:
    from pytest_quantbench.runtimes.openvino import convert

    suite_file = tmp_path / "ov.suite.yaml"
    suite_file.write_text(BASE + settings)
    case = next(c for c in load_suite(suite_file).cases if c.config.framework == "openvino")
    with pytest.raises(InputError) as info:
        convert(unconvertible(tmp_path / "model.onnx"), tmp_path, case)
    message = str(info.value)
    assert message.startswith(f"{suite_file}: {field}: OpenVINO cannot convert the exported model model.onnx: ")
    assert "FluxCapacitor" in message
    assert "\n" not in message


def test_an_ignored_scope_in_a_list_of_grids_names_its_grid(tmp_path: Path) -> None:
    from pytest_quantbench.runtimes.openvino_nncf import setting

    suite_file = tmp_path / "ov.suite.yaml"
    suite_file.write_text(
        BASE + "benchmarked:\n  - {framework: [onnxruntime], per_channel: [true]}\n"
        "  - {framework: [openvino], quantization_approach: [static], node_exclusion: [[softmax]]}\n"
    )
    ort, ov = load_suite(suite_file).cases
    assert setting(ov, "node_exclusion") == "benchmarked[1].node_exclusion"
    assert setting(ov, "nncf") == "fixed.nncf"
    assert setting(ort, "per_channel") == "benchmarked[0].per_channel"


def test_nncf_int4_asymmetric_for_onnxruntime_is_one_line(tmp_path: Path) -> None:
    """NNCF writes asymmetric int4 MatMulNBits zero points that ONNX Runtime refuses to load: refused before."""
    import onnx

    from pytest_quantbench.runtimes.onnxruntime_nncf import compress_weights

    suite_file = tmp_path / "ort.suite.yaml"
    suite_file.write_text(
        BASE + "fixed: {quantization_approach: weight_only, quantizer: nncf}\n"
        "benchmarked: {weight_only: [{bits: 4, symmetric: false}]}\n"
    )
    (case,) = load_suite(suite_file).cases
    with pytest.raises(InputError) as info:
        compress_weights(onnx.load(unconvertible(tmp_path / "m.onnx")), case)
    assert str(info.value) == (
        f"{suite_file}: benchmarked.weight_only.symmetric: NNCF's asymmetric int4 does not load in ONNX Runtime: "
        "use true"
    )


def test_an_ignored_scope_matching_no_onnx_node_is_one_line(tmp_path: Path) -> None:
    import onnx

    from pytest_quantbench.runtimes.onnxruntime_nncf import checked_scope

    suite_file = tmp_path / "ort.suite.yaml"
    suite_file.write_text(
        BASE + "fixed: {quantization_approach: static, quantizer: nncf, node_exclusion: [layernorm]}\n"
    )
    (case,) = load_suite(suite_file).cases
    with pytest.raises(InputError) as info:
        checked_scope(onnx.load(unconvertible(tmp_path / "m.onnx")), case)
    assert str(info.value) == (
        f"{suite_file}: fixed.node_exclusion: preset layernorm (op type LayerNormalization) matches no node of the "
        "ONNX model"
    )
