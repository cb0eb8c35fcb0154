"""The diagnosis' pure pieces: saturation decision and probe, range check, ranking, search sizes, messages."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from onnx import TensorProto, helper

from pytest_quantbench import serialize
from pytest_quantbench.artifacts import ranges
from pytest_quantbench.measure.machine import machine_facts
from pytest_quantbench.records import FallbackResult, NodeError, RangeFinding
from pytest_quantbench.runtimes import onnxruntime_hardware as hardware
from pytest_quantbench.runtimes import onnxruntime_sensitivity as sensitivity
from pytest_quantbench.suite import FrameworkArgs, QuantConfig
from pytest_quantbench.verdicts import fallback
from pytest_quantbench.verdicts.diagnosis import Diagnosis


def test_probe_operands_tell_a_saturating_kernel_from_an_exact_one() -> None:
    a, b = hardware.probe_operands()
    exact = a.astype(np.int64) @ b.astype(np.int64)
    saturated = hardware.vpmaddubsw_matmul(a, b)
    assert (saturated < exact).all()  # each pair sum 2 * 255 * 127 = 64770 is cut to 32767
    assert hardware.verdict(exact, a, b) == "exact"
    assert hardware.verdict(saturated, a, b) == "saturates"
    assert hardware.verdict(exact + 1, a, b) == "wrong"


def test_small_products_do_not_saturate() -> None:
    a = np.full((1, 8), 100, np.uint8)
    b = np.full((8, 1), 100, np.int8)
    assert hardware.verdict(hardware.vpmaddubsw_matmul(a, b), a, b) == "exact"


def test_probe_runs_onnx_runtime_for_real() -> None:
    kernels = hardware.probe()
    assert kernels.x64_quant_precision == "exact"  # the U8U8 path never saturates
    facts = machine_facts()
    if facts.vnni:
        assert kernels.default == "exact"
    elif "avx2" in facts.instructions:
        assert kernels.default == "saturates"  # MLAS's AVX2 U8S8 kernel uses VPMADDUBSW


def test_a_probe_that_cannot_run_says_why_instead_of_failing_the_case(monkeypatch) -> None:
    def broken(a, b, precise):
        raise RuntimeError("[ONNXRuntimeError] : 9 : NOT_IMPLEMENTED :\n Could not find an implementation")

    monkeypatch.setattr(hardware, "_run_matmul_integer", broken)
    hardware.probe.cache_clear()
    try:
        kernels = hardware.probe()
    finally:
        hardware.probe.cache_clear()
    assert (
        kernels.default == "unavailable ([ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : Could not find an implementation)"
    )
    assert kernels.x64_quant_precision.startswith("unavailable (")


def test_x64_quant_precision_knob_reaches_the_session(tmp_path) -> None:
    from onnx import numpy_helper

    from pytest_quantbench.runtimes.onnxruntime import X64_PRECISION_KEY, open_session
    from pytest_quantbench.suite import load_suite

    a, b = hardware.probe_operands()
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "p",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, list(a.shape))],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, None)], [numpy_helper.from_array(b, "B")],
    )  # fmt: skip
    model = tmp_path / "probe.onnx"
    model.write_bytes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8).SerializeToString()
    )
    suite = tmp_path / "s.suite.yaml"
    suite.write_text("task: text-classification\nmodel_name_or_path: m\ndataset: {path: d}\n"
                     "fixed: {framework_args: {x64_quant_precision: true}}\n")  # fmt: skip
    args = load_suite(suite).cases[0].config.framework_args
    precise = open_session(model, args, threads=1)
    assert precise.get_session_options().get_session_config_entry(X64_PRECISION_KEY) == "1"
    assert hardware.verdict(precise.run(None, {"A": a})[0], a, b) == "exact"
    default = open_session(model, dataclasses.replace(args, x64_quant_precision=False), threads=1)
    assert hardware.verdict(default.run(None, {"A": a})[0], a, b) == hardware.probe().default


MATMUL = {"MatMul": 12}


@pytest.mark.parametrize(
    ("config", "ops", "risky"),
    [
        (QuantConfig(), MATMUL, True),  # dynamic: uint8 activations x int8 weights, full range
        (QuantConfig(reduce_range=True), MATMUL, False),
        (QuantConfig(weights_dtype="uint8"), MATMUL, False),
        (QuantConfig(framework_args=FrameworkArgs(x64_quant_precision=True)), MATMUL, False),
        (QuantConfig(), {"Add": 3}, False),  # no integer GEMM
        (QuantConfig(), {}, False),  # quantized nothing
        (
            QuantConfig(quantization_approach="static", framework_args=FrameworkArgs(optimization_level=1)),
            MATMUL,
            False,
        ),
        (QuantConfig(quantization_approach="static"), MATMUL, True),  # QDQ fusions turn S8 into U8 on x64
        (QuantConfig(quantization_approach="static", activations_dtype="uint8"), {"Conv": 4}, True),
    ],
)
def test_saturation_risk_marks_exactly_the_u8s8_full_range_configs(config, ops, risky) -> None:
    assert hardware.saturation_risk(config, ops) is risky
    report = hardware.risk_report(config, ops, vnni=False)
    assert (report is not None) is risky
    if risky:
        assert report.hardware_dependent and "reduce_range: true" in report.remedies


def _attention_graph():
    """scores -> Div -> Add(+ mask) -> Softmax, the mask computed by a Mul: the shape of BERT's attention."""
    nodes = [
        helper.make_node("Div", ["scores", "d"], ["div_out"], name="/attn/Div"),
        helper.make_node("Mul", ["m", "minimum"], ["mask"], name="/bert/Mul"),
        helper.make_node("Add", ["div_out", "mask"], ["add_out"], name="/attn/Add"),
        helper.make_node("Softmax", ["add_out"], ["probs"], name="/attn/Softmax"),
    ]
    value = helper.make_tensor_value_info
    return helper.make_graph(
        nodes, "g", [value(n, TensorProto.FLOAT, [2, 4]) for n in ("scores", "d", "m", "minimum")],
        [value("probs", TensorProto.FLOAT, [2, 4])],
    )  # fmt: skip


def test_absurd_ranges() -> None:
    assert ranges.absurd(-3.4e38, 45.0)
    assert ranges.absurd(0.0, float("inf"))
    assert ranges.absurd(float("nan"), 1.0)
    assert not ranges.absurd(-1e29, 1e29)


def test_range_check_names_the_quantized_node_and_what_it_feeds() -> None:
    found = ranges.check_ranges(
        {"div_out": (-5.0, 5.0), "mask": (-3.4e38, 0.0), "add_out": (-3.4e38, 45.0)},
        _attention_graph(),
        quantized_ops={"Add", "MatMul"},
        excluded=set(),
    )
    assert [f.tensor for f in found] == ["add_out", "mask"]  # the quantized producer first: the cause
    assert found[0].describe() == "calibration range of Add /attn/Add (feeds Softmax) is [-3.4e+38, 45]"
    assert found[1].node == "/bert/Mul" and found[1].exclude == ("/attn/Add",)  # Mul is not quantized
    assert serialize.load(RangeFinding, json.loads(json.dumps(serialize.dump(found[0])))) == found[0]


def test_range_check_ignores_excluded_nodes() -> None:
    found = ranges.check_ranges({"add_out": (-3.4e38, 45.0)}, _attention_graph(), {"Add"}, excluded={"/attn/Add"})
    assert found[0].exclude == ()


def test_compare_leaves_mask_values_out() -> None:
    fp32 = np.array([-3.4e38, 2.0, -1.0, 4.0])
    assert sensitivity.compare(fp32, np.array([-3.3e38, 2.0, -1.0, 4.0])) == (sensitivity.CAP_DB, 0.0)
    sqnr, rel = sensitivity.compare(fp32, np.array([-3.4e38, 0.0, 0.0, 0.0]))
    assert sqnr == pytest.approx(0.0) and rel == pytest.approx(1.0)


def test_compare_sees_a_bulk_flattened_under_outliers() -> None:
    """An outlier of 194 owns the tensor's norm; a scale that rounds every other entry to zero must still
    read as a large error (MiniLM's FFN outputs under uint8 QDQ)."""
    rng = np.random.default_rng(0)
    fp32 = rng.normal(scale=0.3, size=1000)
    fp32[::100] = 194.0
    flattened = np.where(np.abs(fp32) > 100, fp32, 0.0)
    sqnr, rel = sensitivity.compare(fp32, flattened)
    assert sqnr > 20  # the whole-tensor view calls this a small error...
    assert rel == pytest.approx(1.0)  # ...the bulk's says nothing of the bulk is left
    noisy = fp32 + rng.normal(scale=0.003, size=1000)  # uniform 1% noise: the two views agree it is small
    assert sensitivity.compare(fp32, noisy)[1] < 0.02


def test_rank_blames_the_node_that_adds_the_error_not_its_consumers() -> None:
    graph = _attention_graph()
    rng = np.random.default_rng(0)
    scores = rng.normal(size=8)
    mask = np.where(np.arange(8) % 4 == 3, -3.4e38, 0.0)
    probs = np.exp(scores) / np.exp(scores).sum()
    fp32 = {"div_out": scores, "mask": mask, "add_out": scores + mask, "probs": probs}
    int8 = {
        "div_out_dq": scores + 0.01,  # QDQ copy with a little noise
        "mask_dq": mask,
        "add_out_dq": np.where(mask < 0, -3.4e38, 0.0),  # every score rounded to zero
        "probs": np.full(8, 1 / 8),
    }
    views = {"div_out": "div_out_dq", "mask": "mask_dq", "add_out": "add_out_dq"}
    ranking = sensitivity.rank(graph, fp32, int8, views, candidates={"/attn/Div", "/attn/Add", "/attn/Softmax"})
    by_node = {e.node: e for e in ranking}
    assert ranking[0].node == "/attn/Add"
    assert ranking[0].added_error > 0.9 and ranking[0].sqnr_db == pytest.approx(0.0)
    assert by_node["/attn/Softmax"].sqnr_db < 20  # its output is wrong too...
    assert by_node["/attn/Softmax"].added_error <= 0  # ...but only inherited from the Add
    assert 0 < by_node["/attn/Div"].added_error < 0.1


def test_quantized_views_follow_quantize_dequantize_pairs() -> None:
    graph = helper.make_graph(
        [
            helper.make_node("QuantizeLinear", ["t", "s", "z"], ["t_q"]),
            helper.make_node("DequantizeLinear", ["t_q", "s", "z"], ["t_dq"]),
            helper.make_node("DequantizeLinear", ["w_q", "s", "z"], ["w_dq"]),
        ],
        "q", [], [],
    )  # fmt: skip
    assert sensitivity.quantized_views(graph) == {"t": "t_dq"}


def test_fallback_sizes_double_then_take_all() -> None:
    assert fallback.sizes(0) == []
    assert fallback.sizes(1) == [1]
    assert fallback.sizes(5) == [1, 2, 4, 5]
    assert fallback.sizes(200, limit=8) == [1, 2, 4, 8]


def _diagnosis(**kwargs) -> Diagnosis:
    base = dict(config_exclusion=("gelu",), findings=[], ranking=[], hardware=None, softmax_preset=[])
    return Diagnosis(**{**base, **kwargs})


def test_message_names_range_cause_and_a_ready_exclusion() -> None:
    finding = RangeFinding("add_out", -3.4e38, 45.0, "/attn/Add", "Add", ("Softmax",), ("/attn/Add",))
    line = _diagnosis(findings=[finding], softmax_preset=["/attn/Add"]).line()
    assert line == (
        "cause: calibration range of Add /attn/Add (feeds Softmax) is [-3.4e+38, 45]; "
        "fix: node_exclusion: [gelu, /attn/Add] (the softmax preset) or calibration padding: none"
    )


def test_a_range_no_quantized_node_uses_is_not_the_cause() -> None:
    mask = RangeFinding("mask", -3.4e38, 0.0, "/bert/Mul", "Mul", ("Add",), ())  # the softmax preset kept its Adds
    errors = [NodeError("/ffn/MatMul", "MatMul", 3.0, 0.5, 0.4)]
    line = _diagnosis(findings=[mask], ranking=errors).line()
    assert line == (
        "cause: largest quantization error at MatMul /ffn/MatMul (SQNR 3.0 dB); fix: node_exclusion: [gelu, /ffn/MatMul]"
    )
    assert "range check" in _diagnosis(findings=[mask], ranking=errors).text()  # still shown as evidence


def test_message_for_saturation_gives_the_remedies() -> None:
    report = hardware.risk_report(QuantConfig(), MATMUL, vnni=False)
    line = _diagnosis(hardware=report, precise="accuracy 0.91 -> 0.91 (drop +0.000)").line()
    assert "saturate int16 pair sums" in line and "fix: reduce_range: true or weights_dtype: uint8 or" in line


def test_message_without_a_known_cause_names_top_offenders() -> None:
    errors = [NodeError(f"/fc{i}", "MatMul", 3.0 + i, 0.5, 0.4 - i / 10) for i in range(4)]
    line = _diagnosis(ranking=errors).line()
    assert line.startswith("cause: largest quantization error at MatMul /fc0 (SQNR 3.0 dB)")
    assert line.endswith("fix: node_exclusion: [gelu, /fc0, /fc1, /fc2]")
    result = FallbackResult(("gelu", "/fc0"), ("/fc0",), True, {"accuracy": 0.9}, {"accuracy": 0.89}, latency_cost=1.1)
    line = dataclasses.replace(_diagnosis(ranking=errors), fallback=result).line()
    assert line.endswith("fix: node_exclusion: [gelu, /fc0] (fallback search: accuracy 0.890, latency x1.10)")


def test_node_exclusion_takes_node_names_and_still_catches_preset_typos(tmp_path) -> None:
    from pytest_quantbench.errors import SuiteError
    from pytest_quantbench.suite import load_suite

    suite = tmp_path / "s.suite.yaml"
    base = "task: text-classification\nmodel_name_or_path: m\ndataset: {path: d}\n"
    suite.write_text(base + "benchmarked: {node_exclusion: [[softmax, /bert/encoder/layer.0/attention/self/Add]]}\n")
    case = load_suite(suite).cases[0]
    assert case.config.node_exclusion == ("softmax", "/bert/encoder/layer.0/attention/self/Add")
    assert case.id == "excl-softmax+1nodes"
    suite.write_text(base + "fixed: {node_exclusion: [sofmax]}\n")
    with pytest.raises(SuiteError, match=r"fixed.node_exclusion\[0\]: unknown value 'sofmax' \(did you mean 'softmax'"):
        load_suite(suite)


def test_unknown_node_names_are_a_build_error(tmp_path) -> None:
    from pytest_quantbench.artifacts.quantize import excluded_nodes
    from pytest_quantbench.errors import BuildError

    model = tmp_path / "m.onnx"
    model.write_bytes(helper.make_model(_attention_graph()).SerializeToString())
    assert excluded_nodes(model, ("/attn/Add",)) == ["/attn/Add"]
    with pytest.raises(BuildError, match=r"node_exclusion: no node named '/attn/Ad' in the exported graph"):
        excluded_nodes(model, ("/attn/Add", "/attn/Ad"))


def _two_matmuls() -> object:
    """A projection with a constant weight feeding a MatMul of two activations (as attention scores are)."""
    from onnx import numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((32, 32)).astype(np.float32), "W")
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["h"], name="proj"),
        helper.make_node("MatMul", ["h", "y"], ["z"], name="scores"),
    ]
    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in (("x", [1, 32]), ("y", [32, 4]))]
    output = helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph(nodes, "g", inputs, [output], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("approach", ["weight_only", "dynamic"])
def test_nodes_the_quantizer_left_alone_are_not_ranked(approach, tmp_path) -> None:
    import onnx
    from onnxruntime.quantization import quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    fp32 = _two_matmuls()
    if approach == "weight_only":  # 4-bit blocks of 32
        quantizer = MatMulNBitsQuantizer(onnx.ModelProto.FromString(fp32.SerializeToString()), block_size=32)
        quantizer.process()
        quantized = quantizer.model.model
    else:
        onnx.save(fp32, tmp_path / "f.onnx")
        quantize_dynamic(tmp_path / "f.onnx", tmp_path / "q.onnx")
        quantized = onnx.load(tmp_path / "q.onnx")
    left = sensitivity.untouched(fp32.graph, quantized.graph)
    assert "proj" not in left and "scores" in left  # neither quantizes a MatMul without a constant weight


def test_activations_stop_at_their_byte_budget_and_both_models_see_the_same_samples(tmp_path) -> None:
    import onnx
    from onnx import numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((32, 32)).astype(np.float32), "W")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"], name="proj"), helper.make_node("Relu", ["h"], ["z"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 32])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["n", 32])], [weight],
    )  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "m.onnx")
    feeds = [{"x": rng.standard_normal((6, 32)).astype(np.float32)}]
    assert len(sensitivity.samples(feeds)) == 6 and sensitivity.samples(feeds)[2]["x"].shape == (1, 32)
    everything, used = sensitivity.activations(tmp_path / "m.onnx", feeds, budget=None)
    assert used == 6 and everything["h"].size == 6 * 32
    one_sample = sum(v.nbytes for v in everything.values()) // 6
    capped, used = sensitivity.activations(tmp_path / "m.onnx", feeds, budget=2 * one_sample + 1)
    assert used == 2 and capped["h"].size == 2 * 32  # a third sample would pass the budget
    assert sensitivity.activations(tmp_path / "m.onnx", feeds, budget=1)[1] == 1  # at least one sample


def test_a_weight_only_model_ranks_every_matmul_not_only_the_one_that_writes_the_output(tmp_path) -> None:
    """onnx cannot type a MatMulNBits' output: unless it is declared, nothing after the first one is saved."""
    import onnx
    import tiny_models as tm

    rng = np.random.default_rng(0)
    fp32 = tm.matmul_chain()
    onnx.save(fp32, tmp_path / "f.onnx")
    onnx.save(tm.weight_only(fp32), tmp_path / "q.onnx")
    feeds = [{"x": rng.standard_normal((2, 64)).astype(np.float32)}]
    quantized, _ = sensitivity.activations(tmp_path / "q.onnx", feeds, budget=None)
    assert {"h", "r"} <= set(quantized)  # after the first MatMulNBits
    ranking = sensitivity.analyse(tmp_path / "f.onnx", tmp_path / "q.onnx", feeds, {"first", "second"})
    assert {e.node for e in ranking} == {"first", "second"}
    assert all(e.rel_error > 0 for e in ranking)  # 4-bit weights: both outputs moved
