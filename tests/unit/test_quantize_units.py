"""Static QDQ quantization of a hand-built graph: which tensors get Q/DQ pairs, and what the report counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from pytest_quantbench.artifacts import quantize
from pytest_quantbench.artifacts.export import ONNX_FILE
from pytest_quantbench.suite import Calibration, QuantConfig


def _dense_relu(folder: Path) -> Path:
    """x -> MatMul -> Relu -> y: the MatMul's only reader computes in fp32 (as a bias Add kept in fp32 does)."""
    weight = numpy_helper.from_array(np.random.default_rng(0).normal(size=(8, 8)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["mm"], name="/fc/MatMul"),
         helper.make_node("Relu", ["mm"], ["y"], name="/act/Relu")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])], [weight],
    )  # fmt: skip
    folder.mkdir()
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(folder / ONNX_FILE))
    return folder


def _quantized_inputs(model: Path) -> set[str]:
    """The float tensors a QuantizeLinear reads."""
    graph = onnx.load(str(model)).graph
    return {n.input[0] for n in graph.node if n.op_type == "QuantizeLinear"}


@pytest.mark.parametrize(("fp32_outputs", "quantized"), [((), {"x", "mm"}), (("MatMul",), {"x"})])
def test_fp32_outputs_keep_a_matmul_output_out_of_int8(tmp_path: Path, fp32_outputs, quantized) -> None:
    import datasets

    source = _dense_relu(tmp_path / "fp32")
    rows = np.random.default_rng(1).normal(size=(16, 8)).astype(np.float32)
    calibration = datasets.Dataset.from_dict({"x": [list(map(float, r)) for r in rows]})
    config = QuantConfig(
        quantization_approach="static", operators_to_quantize=("MatMul",), activations_dtype="uint8",
        fp32_outputs=fp32_outputs, calibration=Calibration(num_calibration_samples=16),
    )  # fmt: skip
    out = tmp_path / "int8"
    out.mkdir()
    report = quantize.quantize(source, config, out, calibration)
    assert _quantized_inputs(out / quantize.QUANTIZED_FILE) == quantized  # the MatMul's input stays int8
    assert report.quantized_nodes == {"MatMul": 1}


def test_the_extra_options_reach_onnx_runtime_for_one_call_only() -> None:
    from optimum.onnxruntime import quantization as optimum_quantization

    factory = optimum_quantization.QDQQuantizer
    with quantize.qdq_extra_options({"OpTypesToExcludeOutputQuantization": ["MatMul"]}):
        assert optimum_quantization.QDQQuantizer is not factory  # optimum looks the class up at call time
    assert optimum_quantization.QDQQuantizer is factory
    assert quantize._extra_options(QuantConfig(quantization_approach="dynamic", fp32_outputs=("MatMul",))) == {}


def test_an_excluded_node_that_reads_a_dequantized_tensor_is_not_counted(tmp_path: Path) -> None:
    scale = numpy_helper.from_array(np.array(0.1, np.float32), "s")
    zero = numpy_helper.from_array(np.array(0, np.uint8), "z")
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["a", "s", "z"], ["a_q"]),
         helper.make_node("DequantizeLinear", ["a_q", "s", "z"], ["a_dq"]),
         helper.make_node("Add", ["a_dq", "b"], ["bias_out"], name="/dense/Add"),
         helper.make_node("Add", ["a_dq", "bias_out"], ["y"], name="/residual/Add")],
        "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, [4]) for n in ("a", "b")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [scale, zero],
    )  # fmt: skip
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    assert quantize.quantization_report(path, ["Add"]).quantized_nodes == {"Add": 2}
    assert quantize.quantization_report(path, ["Add"], {"/residual/Add"}).quantized_nodes == {"Add": 1}


def test_a_head_tied_to_the_embedding_is_quantized_weight_only(tmp_path: Path) -> None:
    """GPT-2's export reads the token embedding by Gather and, transposed at run time, as the LM head's weight."""
    import onnxruntime

    rng = np.random.default_rng(0)
    table = rng.standard_normal((64, 32)).astype(np.float32)  # vocabulary x hidden
    nodes = [
        helper.make_node("Gather", ["wte", "ids"], ["h"], name="embed"),
        helper.make_node("Transpose", ["wte"], ["wte_t"], name="tie"),
        helper.make_node("MatMul", ["h", "wte_t"], ["logits"], name="lm_head"),
    ]
    graph = helper.make_graph(
        nodes, "tied", [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4, 64])], [numpy_helper.from_array(table, "wte")],
    )  # fmt: skip
    source = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), source)
    config = QuantConfig(quantization_approach="weight_only")
    report = quantize.weight_only(source, config, tmp_path / "q.onnx")
    assert report.quantized_nodes == {"MatMul": 1} and not report.quantized_nothing
    ids = {"ids": np.array([[1, 2, 3, 4]], dtype=np.int64)}
    fp32, int4 = (
        onnxruntime.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, ids)[0]
        for p in (source, tmp_path / "q.onnx")
    )
    assert np.corrcoef(fp32.ravel(), int4.ravel())[0, 1] > 0.95  # the same head, in 4 bits
    # kept in fp32, the head is left as it was: no second, transposed fp32 copy of the embedding
    kept = quantize.weight_only(source, QuantConfig(quantization_approach="weight_only", nodes_to_exclude=("lm_head",)),
                                tmp_path / "kept.onnx")  # fmt: skip
    assert (
        kept.quantized_nothing
        and [n.op_type for n in onnx.load(tmp_path / "kept.onnx").graph.node].count("Transpose") == 1
    )
