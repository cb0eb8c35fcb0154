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
