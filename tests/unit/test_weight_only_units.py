"""Weight-only quantization's own pieces: named MatMuls kept at 8 bits beside the config's bits (by name or glob
pattern, refused when they match nothing), k-quant, and what the report counts of each width."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from pytest_quantbench.artifacts import weight_only as wo
from pytest_quantbench.suite import QuantConfig, WeightOnly

LAYERS = ("/model/layers.0/mlp/MatMul", "/model/layers.1/mlp/MatMul", "/lm_head/MatMul")


def _chain(tmp_path: Path) -> Path:
    """x -> three MatMuls with stored 64 x 64 weights (one carrying an outlier per column) -> y, and an attention-like
    MatMul of two activations that MatMulNBits cannot take."""
    rng = np.random.default_rng(0)
    weights = []
    for i in range(len(LAYERS)):
        w = rng.normal(size=(64, 64)).astype(np.float32) * 0.1
        w[i, :] = 4.0  # an outlier per column: 4 bits in its block round the rest coarsely
        weights.append(numpy_helper.from_array(w, f"w{i}"))
    names = ["x", "h0", "h1", "h2"]
    nodes = [helper.make_node("MatMul", [names[i], f"w{i}"], [names[i + 1]], name=n) for i, n in enumerate(LAYERS)]
    nodes.append(helper.make_node("MatMul", ["h2", "x_t"], ["y"], name="/attn/MatMul"))
    nodes.insert(0, helper.make_node("Transpose", ["x"], ["x_t"], name="/t", perm=[1, 0]))
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "batch"])], weights,
    )  # fmt: skip
    path = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _widths(path: Path) -> dict[str, int]:
    """Each MatMulNBits node's bits, by the MatMul it replaced (ONNX Runtime names it `<name>_Q<bits>`)."""
    nodes = onnx.load(str(path)).graph.node
    return {n.name.rsplit("_Q", 1)[0]: next(a.i for a in n.attribute if a.name == "bits")
            for n in nodes if n.op_type == "MatMulNBits"}  # fmt: skip


def _outputs(*paths: Path) -> list[np.ndarray]:
    import onnxruntime

    x = {"x": np.random.default_rng(1).normal(size=(4, 64)).astype(np.float32)}  # 4 rows
    return [onnxruntime.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, x)[0] for p in paths]


def test_keep_8bit_takes_names_and_glob_patterns_of_matmuls_with_weights() -> None:
    matmuls = list(LAYERS)
    assert wo.kept_at_8bit(("/lm_head/MatMul",), matmuls) == ["/lm_head/MatMul"]
    assert wo.kept_at_8bit(("/model/layers.1/*", "/lm_head/MatMul"), matmuls) == list(LAYERS[1:])
    assert wo.kept_at_8bit(("*",), matmuls) == matmuls
    assert wo.kept_at_8bit((), matmuls) == []


def test_a_keep_8bit_entry_that_matches_no_matmul_is_refused_in_one_line() -> None:
    with pytest.raises(wo.SettingError) as info:
        wo.kept_at_8bit(("/lm_head/MatMul", "lm_head", "/model/layers.9/*"), list(LAYERS))
    assert info.value.field == "keep_8bit" and "\n" not in str(info.value)
    assert info.value.message == (
        "'lm_head', '/model/layers.9/*' matches no MatMul with a stored weight in the exported graph "
        "(names look like '/model/layers.0/mlp/MatMul')"
    )


@pytest.mark.parametrize("algorithm", ["rtn", "k_quant", "hqq"])
def test_named_matmuls_are_quantized_at_8_bits_and_the_rest_at_4(tmp_path: Path, algorithm: str) -> None:
    source = _chain(tmp_path)
    plain, kept = tmp_path / "int4.onnx", tmp_path / "kept.onnx"
    config = QuantConfig(
        quantization_approach="weight_only", weight_only=WeightOnly(block_size=16, algorithm=algorithm)
    )
    four = wo.weight_only(source, config, plain)
    with_8bit = WeightOnly(block_size=16, algorithm=algorithm, keep_8bit=("/lm_head/MatMul", "/model/layers.0/*"))
    report = wo.weight_only(source, QuantConfig(quantization_approach="weight_only", weight_only=with_8bit), kept)
    assert four.weight_bits == {"4": 3} and report.weight_bits == {"4": 1, "8": 2}
    assert report.quantized_nodes == {"MatMul": 3}  # the activations' MatMul stays fp32 either way
    assert _widths(kept) == {LAYERS[0]: 8, LAYERS[1]: 4, LAYERS[2]: 8}
    every = dataclasses.replace(with_8bit, keep_8bit=("*",))
    wo.weight_only(source, QuantConfig(quantization_approach="weight_only", weight_only=every), tmp_path / "all8.onnx")
    assert set(_widths(tmp_path / "all8.onnx").values()) == {8}
    fp32, int4, int8 = _outputs(source, plain, tmp_path / "all8.onnx")
    assert np.abs(int8 - fp32).mean() < np.abs(int4 - fp32).mean()  # the model runs, and 8 bits err less


def test_k_quant_writes_8_bits_when_the_config_says_8() -> None:
    """ONNX Runtime's k-quant path writes 4 bits for a node it is given no width for: every MatMul gets its own."""
    algo = wo._algorithm(WeightOnly(bits=8, algorithm="k_quant"), 8, {"/a/MatMul": 8})
    assert algo.customized_weight_config == {"/a/MatMul": {"bits": 8}}


def test_an_excluded_node_named_by_keep_8bit_stays_fp32(tmp_path: Path) -> None:
    source = _chain(tmp_path)
    config = QuantConfig(
        quantization_approach="weight_only", nodes_to_exclude=("/lm_head/MatMul",),
        weight_only=WeightOnly(block_size=16, keep_8bit=("/lm_head/MatMul",)),
    )  # fmt: skip
    report = wo.weight_only(source, config, tmp_path / "q.onnx")
    assert report.weight_bits == {"4": 2} and LAYERS[2] not in _widths(tmp_path / "q.onnx")


def test_keep_8bit_is_in_the_case_id_and_in_the_artifact_key_only_when_given() -> None:
    from pytest_quantbench.suite import grid

    given = WeightOnly(keep_8bit=("/lm_head/MatMul",))
    assert grid.id_token("weight_only", given) == "w4-b32-rtn-keep8bit1"
    assert grid.id_token("weight_only", WeightOnly()) == "w4-b32-rtn"
    # the artifact key hashes the config's repr: a config without keep_8bit keeps the key it had before
    assert (
        repr(WeightOnly()) == "WeightOnly(bits=4, block_size=32, symmetric=True, accuracy_level=None, algorithm='rtn')"
    )
    assert given != WeightOnly()


def test_k_quant_refuses_a_block_size_that_leaves_an_odd_number_of_blocks(tmp_path: Path) -> None:
    source = _chain(tmp_path)  # 64 rows: blocks of 128 make one block per column
    config = QuantConfig(
        quantization_approach="weight_only", weight_only=WeightOnly(block_size=128, algorithm="k_quant")
    )
    with pytest.raises(wo.SettingError) as info:
        wo.weight_only(source, config, tmp_path / "q.onnx")
    assert info.value.field == "block_size" and info.value.message.startswith(
        "k_quant at 4 bits needs an even number of blocks per weight column: /model/layers.0/mlp/MatMul has 64 rows, "
        "1 blocks of 128"
    )
    kept = dataclasses.replace(config.weight_only, keep_8bit=("*",))  # 8 bits packs one zero point a byte
    report = wo.weight_only(source, dataclasses.replace(config, weight_only=kept), tmp_path / "q8.onnx")
    assert report.weight_bits == {"8": 3}


def test_gptq_quantizes_on_the_calibration_rows_and_keeps_excluded_nodes(tmp_path: Path) -> None:
    import datasets

    source = _chain(tmp_path)
    rows = np.random.default_rng(2).normal(size=(8, 64)).astype(np.float32)
    calibration = datasets.Dataset.from_dict({"x": [list(map(float, r)) for r in rows], "unused": list(range(8))})
    config = QuantConfig(
        quantization_approach="weight_only", nodes_to_exclude=(LAYERS[1],),
        weight_only=WeightOnly(block_size=16, algorithm="gptq", keep_8bit=("/lm_head/MatMul",)),
    )  # fmt: skip
    report = wo.weight_only(source, config, tmp_path / "gptq.onnx", calibration)
    assert _widths(tmp_path / "gptq.onnx") == {LAYERS[0]: 4, LAYERS[2]: 8}  # ONNX Runtime's GPTQ would take LAYERS[1]
    assert report.weight_bits == {"4": 1, "8": 1} and config.is_calibrated
    (out,) = _outputs(tmp_path / "gptq.onnx")
    assert np.isfinite(out).all()
    eight = dataclasses.replace(config, weight_only=WeightOnly(bits=8, algorithm="gptq"))
    with pytest.raises(wo.SettingError, match="gptq writes MatMulNBits at 4 bits only"):
        wo.weight_only(source, eight, tmp_path / "g8.onnx", calibration)


def test_a_suite_reads_keep_8bit_and_the_new_algorithms(tmp_path: Path) -> None:
    from pytest_quantbench.errors import SuiteError
    from pytest_quantbench.suite import load_suite

    path = tmp_path / "s.suite.yaml"
    base = "task: text-generation\nmodel_name_or_path: m\ndataset: {path: d}\n"
    path.write_text(
        base + "fixed: {quantization_approach: weight_only}\nbenchmarked:\n  weight_only:\n"
        "    - {algorithm: k_quant, keep_8bit: [/lm_head/MatMul, '/model/layers.0/*']}\n    - {algorithm: gptq}\n"
    )
    kquant, gptq = load_suite(path).cases
    assert (kquant.id, gptq.id) == ("w4-b32-k_quant-keep8bit2", "w4-b32-gptq")
    assert kquant.config.weight_only.keep_8bit == ("/lm_head/MatMul", "/model/layers.0/*")
    assert gptq.config.is_calibrated and not kquant.config.is_calibrated  # GPTQ's artifact keys its calibration
    path.write_text(base + "fixed: {weight_only: {keep_8bit: ['']}}\n")
    with pytest.raises(SuiteError, match=r"fixed\.weight_only\.keep_8bit\[0\]"):
        load_suite(path)
