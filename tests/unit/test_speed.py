"""The speed diagnosis's rules, on op times as ONNX Runtime's profiler reports them (ms per call by op type)."""

from __future__ import annotations

from pytest_quantbench.records import Profile, QuantizationReport
from pytest_quantbench.runtimes.onnxruntime import OnnxRuntime
from pytest_quantbench.runtimes.speed_rules import NothingQuantized, SpeedFacts
from pytest_quantbench.suite import FrameworkArgs, QuantConfig, WeightOnly
from pytest_quantbench.verdicts import speed

FP32 = Profile({"MatMul": 8.9, "Add": 1.0, "BiasGelu": 0.6, "LayerNormalization": 0.3, "Softmax": 0.2})


DYNAMIC, STATIC = QuantConfig(), QuantConfig(quantization_approach="static", activations_dtype="uint8")


def report(*ops: str) -> QuantizationReport:
    return QuantizationReport({op: 4 for op in ops}, 4 * len(ops), False, ops)


def explain(
    config: QuantConfig,
    report: QuantizationReport,
    original: Profile,
    quantized: Profile,
    quantized_level: int,
    shape: str,
    one_thread: tuple[Profile, Profile] | None = None,
) -> tuple[str, str]:
    """(cause, fix) as the diagnosis finds them for an ONNX Runtime config: its rules, in their order."""
    facts = SpeedFacts(config, report, original, quantized, quantized_level, shape, one_thread)
    found = speed.explain(facts, (NothingQuantized(), *OnnxRuntime.speed_rules))
    return found.cause, found.fix


def test_unfused_qdq_at_a_low_level_asks_for_the_quantized_level() -> None:
    int8 = Profile({"MatMul": 8.0, "DequantizeLinear": 4.6, "QuantizeLinear": 1.7, "Add": 0.8})
    cause, fix = explain(DYNAMIC, report("MatMul"), FP32, int8, quantized_level=1, shape="bs1-len64")
    assert cause.startswith("QDQ pairs left unfused at optimization level 1: QuantizeLinear/DequantizeLinear take 42%")
    assert fix == "framework_args: {quantized_optimization_level: 99}"


def test_qdq_left_after_fusion_blames_quantized_adds() -> None:
    int8 = Profile({"MatMul": 4.4, "DequantizeLinear": 2.5, "QLinearMatMul": 1.4, "QuantizeLinear": 1.1, "Add": 0.7})
    cause, fix = explain(STATIC, report("Add", "MatMul"), FP32, int8, quantized_level=99, shape="bs1-len64")
    assert cause == "QuantizeLinear/DequantizeLinear still take 36% of the quantized call after fusion"
    assert fix.startswith("operators_to_quantize: [MatMul]")


def test_activation_quantization_overhead_names_the_shape() -> None:
    int8 = Profile({"MatMulInteger": 3.0, "DynamicQuantizeLinear": 1.5, "Add": 0.5, "BiasGelu": 0.5})
    cause, _ = explain(DYNAMIC, report("MatMul"), FP32, int8, quantized_level=99, shape="bs1-len16")
    assert cause == "activation quantization (DynamicQuantizeLinear) takes 27% of the quantized call at bs1-len16"


def test_lost_fusions_are_named() -> None:
    int8 = Profile({"MatMulInteger": 3.0, "Add": 1.0, "Erf": 0.5, "Mul": 0.4})
    cause, fix = explain(DYNAMIC, report("MatMul"), FP32, int8, quantized_level=1, shape="bs1-len64")
    assert cause == "fusions lost: BiasGelu, LayerNormalization run fused in the fp32 graph only"
    assert fix == "framework_args: {quantized_optimization_level: 99}"


def test_fp32_compute_left_says_it_was_not_quantized() -> None:
    int8 = Profile({"MatMul": 6.0, "BiasGelu": 0.6, "LayerNormalization": 0.3, "MatMulInteger": 1.0})
    cause, _ = explain(DYNAMIC, report("Add"), FP32, int8, quantized_level=99, shape="bs1-len64")
    assert cause == "fp32 MatMul still takes 76% of the quantized call: those nodes were not quantized"


def test_op_times_side_by_side_largest_first() -> None:
    rows = speed.op_times(Profile({"MatMul": 8.0, "Add": 1.0}), Profile({"MatMul": 4.0, "DequantizeLinear": 2.0}))
    assert [(r.op_type, r.original_ms, r.quantized_ms) for r in rows] == [
        ("MatMul", 8.0, 4.0), ("DequantizeLinear", 0.0, 2.0), ("Add", 1.0, 0.0),
    ]  # fmt: skip


def test_signed_static_activations_ask_for_uint8() -> None:
    int8 = Profile({"MatMul": 4.4, "DequantizeLinear": 2.5, "QLinearMatMul": 1.4, "QuantizeLinear": 1.1})
    signed = QuantConfig(quantization_approach="static")
    cause, fix = explain(signed, report("MatMul"), FP32, int8, quantized_level=99, shape="bs1-len64")
    assert cause.startswith("int8 (S8S8) activations: ONNX Runtime leaves part of the QDQ MatMuls unfused")
    assert fix.startswith("activations_dtype: uint8")


def test_weight_only_blocks_are_named() -> None:
    int8 = Profile({"MatMulNBits": 6.0, "Add": 1.0, "BiasGelu": 0.6, "LayerNormalization": 0.3})
    weight_only = QuantConfig(quantization_approach="weight_only")
    cause, fix = explain(weight_only, report("MatMul"), FP32, int8, quantized_level=99, shape="bs4-len64")
    assert cause.startswith("MatMulNBits takes 76% of the quantized call")
    assert fix.startswith("weight_only: {accuracy_level: 4}")


def test_weight_only_with_int8_compute_already_set_is_not_told_to_set_it() -> None:
    int8 = Profile({"MatMulNBits": 6.0, "Add": 1.0, "BiasGelu": 0.6, "LayerNormalization": 0.3})
    weight_only = QuantConfig(quantization_approach="weight_only", weight_only=WeightOnly(accuracy_level=4))
    cause, fix = explain(weight_only, report("MatMul"), FP32, int8, quantized_level=99, shape="bs4-len64")
    assert "even with int8 compute (accuracy_level 4)" in cause
    assert fix == "quantization_approach: dynamic for speed"


def test_float16_that_ran_in_fp32_says_so_from_the_kernels_input_types() -> None:
    # ONNX Runtime's x86 CPU provider has no float16 MatMul: it casts around it, and the kernels take float
    fp16 = Profile(
        {"MatMul": 26.7, "Add": 2.5, "Cast": 1.0, "Transpose": 0.6},
        {"float": 29.2, "float16": 1.6},
    )
    config = QuantConfig(quantization_approach="fp16")
    cause, fix = explain(config, report(), FP32, fp16, quantized_level=99, shape="bs4-len64")
    assert cause == (
        "float16 runs in fp32 on this CPU: ONNX Runtime's CPU kernels for MatMul take float, so it inserted "
        "Casts (3% of the call) and 95% of the call computes in fp32"
    )
    assert fix.endswith("quantization_approach: dynamic")
    native = Profile({"MatMul": 20.0, "Add": 2.0}, {"float16": 21.0, "float": 1.0})
    cause, _ = explain(config, report(), FP32, native, quantized_level=99, shape="bs4-len64")
    assert cause.startswith("float16 kernels take 95% of the call")


def test_sixteen_bit_activations_are_named_before_the_matmulnbits_they_turn_into() -> None:
    # no integer kernel takes uint16: ONNX Runtime turns DQ(int8 weight) + MatMul into a float MatMulNBits
    a16 = Profile(
        {"MatMulNBits": 23.0, "QuantizeLinear": 3.8, "DequantizeLinear": 2.1, "Add": 1.2},
        {"float": 25.0, "uint16": 5.1},
    )
    config = QuantConfig(quantization_approach="static", activations_dtype="uint16")
    cause, fix = explain(config, report("MatMul"), FP32, a16, quantized_level=99, shape="bs4-len64")
    assert cause == (
        "uint16 activations: ONNX Runtime has no integer kernels that take them, so the int8 weights are "
        "dequantized into float MatMuls (MatMulNBits/MatMul take 76% of the call) and QuantizeLinear/DequantizeLinear "
        "take 20%"
    )
    assert fix.startswith("16-bit activations buy accuracy, not speed: activations_dtype: uint8")


def test_int8_that_loses_only_on_several_threads_is_a_thread_scaling_cause() -> None:
    """Profiled again on one thread, the same two models show int8 ahead: the threads are the cause."""
    config = QuantConfig(framework_args=FrameworkArgs(intra_op_num_threads=4))
    fp32_4, int8_4 = Profile({"MatMul": 2.4, "Add": 0.3}), Profile({"MatMulInteger": 2.2, "Add": 0.3})
    fp32_1, int8_1 = Profile({"MatMul": 8.9, "Add": 1.0}), Profile({"MatMulInteger": 4.0, "Add": 1.0})
    cause, fix = explain(config, report("MatMul"), fp32_4, int8_4, 99, "bs1-len64", (fp32_1, int8_1))
    assert cause == (
        "thread scaling: the quantized kernels gain less from 4 intra-op threads than the fp32 ones "
        "(profiled x1.98 on one thread, x1.08 on 4)"
    )
    assert fix.startswith("framework_args: {intra_op_num_threads: 1}")
    slow_alone = (fp32_1, Profile({"MatMulInteger": 9.0, "Add": 1.0}))  # slow on one thread too: not the threads
    cause, _ = explain(config, report("MatMul"), fp32_4, int8_4, 99, "bs1-len64", slow_alone)
    assert not cause.startswith("thread scaling")
