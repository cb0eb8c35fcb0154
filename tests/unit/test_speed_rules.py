"""Each speed rule on its own (its detection and its words), and the order `explain` tries them in, on profiles
as ONNX Runtime's profiler reports them (ms per call by op type)."""

from __future__ import annotations

import dataclasses

from pytest_quantbench.records import Profile, QuantizationReport, SpeedDiagnosis
from pytest_quantbench.runtimes import onnxruntime_speed as ort
from pytest_quantbench.runtimes.onnxruntime import OnnxRuntime
from pytest_quantbench.runtimes.speed_rules import NothingQuantized, SpeedFacts, ThreadScaling
from pytest_quantbench.suite import FrameworkArgs, QuantConfig, WeightOnly
from pytest_quantbench.verdicts import speed

FP32 = Profile({"MatMul": 8.9, "Add": 1.0, "BiasGelu": 0.6, "LayerNormalization": 0.3, "Softmax": 0.2})
MATMUL = QuantizationReport({"MatMul": 4}, 4, False, ("MatMul",))
DYNAMIC = QuantConfig()
STATIC_U8 = QuantConfig(quantization_approach="static", activations_dtype="uint8")
STATIC_S8 = QuantConfig(quantization_approach="static")  # int8 activations by default
WEIGHT_ONLY = QuantConfig(quantization_approach="weight_only")
FP16 = QuantConfig(quantization_approach="fp16")

# The tiny BERT (`builtin:tiny-bert-sentiment`) at optimization level 1, bs1-len64, as profiled on one thread:
# fp32, dynamic `[MatMul]` and weight-only (4 bits, blocks of 32). Both were timed near x0.93 and told today
# that no op type stands out.
TINY_FP32 = Profile({
    "MatMul": 0.14, "Add": 0.125, "Div": 0.037, "Transpose": 0.037, "Mul": 0.037, "ReduceMean": 0.031, "Sub": 0.021,
    "Pow": 0.021, "Gather": 0.021, "Reshape": 0.02, "Softmax": 0.02, "Erf": 0.012, "Unsqueeze": 0.012, "Sqrt": 0.011,
    "Concat": 0.008, "Shape": 0.007, "Gemm": 0.007, "Slice": 0.004, "Cast": 0.003, "Tanh": 0.002,
})  # fmt: skip
TINY_DYNAMIC = Profile({
    "Mul": 0.135, "Add": 0.129, "MatMulInteger": 0.095, "DynamicQuantizeLinear": 0.066, "Cast": 0.049, "Div": 0.038,
    "Transpose": 0.036, "ReduceMean": 0.026, "Sub": 0.021, "Softmax": 0.02, "Pow": 0.02, "Reshape": 0.018,
    "Gather": 0.018, "Unsqueeze": 0.013, "Erf": 0.012, "Sqrt": 0.01, "Shape": 0.007, "Concat": 0.007, "Slice": 0.004,
    "Tanh": 0.002,
})  # fmt: skip
TINY_WEIGHT_ONLY = Profile({
    "Add": 0.125, "MatMulNBits": 0.121, "Mul": 0.039, "Div": 0.038, "Transpose": 0.035, "MatMul": 0.035,
    "ReduceMean": 0.027, "Pow": 0.021, "Sub": 0.02, "Softmax": 0.02, "Gather": 0.019, "Reshape": 0.018, "Erf": 0.013,
    "Unsqueeze": 0.011, "Sqrt": 0.01, "Shape": 0.007, "Concat": 0.007, "Gemm": 0.007, "Slice": 0.004, "Cast": 0.003,
    "Tanh": 0.002,
})  # fmt: skip


def facts(quantized: Profile, config: QuantConfig = DYNAMIC, **changes) -> SpeedFacts:
    base = SpeedFacts(config, MATMUL, FP32, quantized, quantized_level=99, shape="bs1-len64")
    return dataclasses.replace(base, **changes)


def cause(found: SpeedDiagnosis | None) -> str:
    assert found is not None
    return found.cause


class Found:
    """A rule that always finds its cause, to see which of several `explain` takes."""

    def __init__(self, name: str) -> None:
        self.name = name

    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis:
        return SpeedDiagnosis(self.name, "fix")


class Silent:
    def detect(self, facts: SpeedFacts) -> None:
        return None


def test_explain_takes_the_first_rule_that_finds_a_cause_else_none_found() -> None:
    some = facts(FP32)
    assert speed.explain(some, (Silent(), Found("first"), Found("second"))).cause == "first"
    assert speed.explain(some, (Silent(),)) == speed.NONE_FOUND
    assert speed.NONE_FOUND.line == "cause: no op type stands out in the profiles (see the op times); fix: none found"


def test_onnx_runtime_supplies_its_rules_in_their_order() -> None:
    assert OnnxRuntime.speed_rules is ort.RULES
    order = [type(rule) for rule in ort.RULES]
    assert order.index(ort.WeightOnlyBlocks) < order.index(ThreadScaling) < order.index(ort.LostFusions)
    assert order[-1] is ort.QuantizingOutweighsSavings  # the new cause is only named where none was before


def test_nothing_quantized_reads_the_report_alone() -> None:
    nothing = QuantizationReport({}, 0, True, ("Add",))
    empty = facts(Profile({}), report=nothing)
    assert NothingQuantized().detect(empty) == SpeedDiagnosis(
        "quantizing ['Add'] changed no node: both sessions run the same fp32 graph",
        "operators_to_quantize: [MatMul] (the ops that carry the weights)",
    )
    other = dataclasses.replace(empty, other_baseline=True)
    assert (
        cause(NothingQuantized().detect(other))
        == "quantizing ['Add'] changed no node: the int8 model runs the fp32 graph"
    )
    assert NothingQuantized().detect(facts(FP32)) is None


def test_float16_rules_tell_fp32_kernels_from_float16_ones() -> None:
    in_fp32 = Profile({"MatMul": 26.7, "Cast": 1.0}, {"float": 27.0, "float16": 0.7})
    native = Profile({"MatMul": 20.0, "Add": 2.0}, {"float16": 21.0, "float": 1.0})
    assert cause(ort.Float16RanInFp32().detect(facts(in_fp32, FP16))).startswith("float16 runs in fp32 on this CPU")
    assert ort.Float16RanInFp32().detect(facts(native, FP16)) is None
    assert ort.Float16RanInFp32().detect(facts(in_fp32, DYNAMIC)) is None
    assert cause(ort.Float16Kernels().detect(facts(native, FP16))).startswith("float16 kernels take 95% of the call")
    assert ort.Float16Kernels().detect(facts(native, DYNAMIC)) is None


def test_unfused_qdq_only_below_the_fusing_level() -> None:
    int8 = Profile({"MatMul": 8.0, "DequantizeLinear": 1.0, "QuantizeLinear": 0.5})  # 16% in Q/DQ
    assert cause(ort.UnfusedQdq().detect(facts(int8, quantized_level=1))).startswith("QDQ pairs left unfused at")
    assert ort.UnfusedQdq().detect(facts(int8, quantized_level=ort.QDQ_FUSION_LEVEL)) is None
    few = Profile({"MatMul": 9.5, "DequantizeLinear": 0.5})  # 5%
    assert ort.UnfusedQdq().detect(facts(few, quantized_level=1)) is None


def test_sixteen_bit_activations_are_named_from_the_config() -> None:
    int8 = Profile({"MatMulNBits": 9.0, "QuantizeLinear": 1.0})
    a16 = QuantConfig(quantization_approach="static", activations_dtype="int16")
    assert cause(ort.SixteenBitActivations().detect(facts(int8, a16))).startswith("int16 activations: ONNX Runtime")
    assert ort.SixteenBitActivations().detect(facts(int8, STATIC_U8)) is None


def test_signed_activations_need_static_int8_and_float_matmuls_left() -> None:
    int8 = Profile({"MatMul": 4.0, "QLinearMatMul": 2.0, "DequantizeLinear": 2.5, "QuantizeLinear": 1.5})
    assert cause(ort.SignedActivations().detect(facts(int8, STATIC_S8))).startswith("int8 (S8S8) activations")
    assert ort.SignedActivations().detect(facts(int8, STATIC_U8)) is None
    fused = Profile({"QLinearMatMul": 6.0, "DequantizeLinear": 2.5, "QuantizeLinear": 1.5})
    assert ort.SignedActivations().detect(facts(fused, STATIC_S8)) is None


def test_qdq_left_after_fusion_blames_quantized_adds_only_when_there_are_some() -> None:
    int8 = Profile({"QLinearMatMul": 6.0, "DequantizeLinear": 2.5, "QuantizeLinear": 1.5})
    with_adds = facts(int8, STATIC_U8, report=QuantizationReport({"Add": 4, "MatMul": 4}, 8, False, ("Add", "MatMul")))
    assert ort.QdqLeftAfterFusion().detect(with_adds) == SpeedDiagnosis(
        "QuantizeLinear/DequantizeLinear still take 40% of the quantized call after fusion",
        "operators_to_quantize: [MatMul] (quantized Adds bring Q/DQ pairs and block fusions)",
    )
    assert ort.QdqLeftAfterFusion().detect(facts(int8, STATIC_U8)) == SpeedDiagnosis(
        "QuantizeLinear/DequantizeLinear still take 40% of the quantized call after fusion",
        "node_exclusion for the nodes between Q/DQ pairs, or dynamic quantization",
    )
    assert ort.QdqLeftAfterFusion().detect(facts(Profile({"QLinearMatMul": 9.0, "QuantizeLinear": 1.0}))) is None


def test_activation_quantization_names_its_share_at_the_shape() -> None:
    int8 = Profile({"MatMulInteger": 6.0, "DynamicQuantizeLinear": 2.0})
    assert cause(ort.ActivationQuantization().detect(facts(int8, shape="bs8-len16"))) == (
        "activation quantization (DynamicQuantizeLinear) takes 25% of the quantized call at bs8-len16"
    )
    assert (
        ort.ActivationQuantization().detect(facts(Profile({"MatMulInteger": 9.0, "DynamicQuantizeLinear": 1.0})))
        is None
    )


def test_weight_only_blocks_need_a_large_share() -> None:
    int8 = Profile({"MatMulNBits": 4.0, "Add": 6.0})
    int8_compute = QuantConfig(quantization_approach="weight_only", weight_only=WeightOnly(accuracy_level=4))
    assert "dequantizes its blocks at every call" in cause(ort.WeightOnlyBlocks().detect(facts(int8, WEIGHT_ONLY)))
    assert "even with int8 compute" in cause(ort.WeightOnlyBlocks().detect(facts(int8, int8_compute)))
    assert ort.WeightOnlyBlocks().detect(facts(Profile({"MatMulNBits": 2.0, "Add": 8.0}), WEIGHT_ONLY)) is None


def test_thread_scaling_needs_int8_ahead_on_one_thread() -> None:
    four = QuantConfig(framework_args=FrameworkArgs(intra_op_num_threads=4))
    fp32_4, int8_4 = Profile({"MatMul": 2.4, "Add": 0.3}), Profile({"MatMulInteger": 2.2, "Add": 0.3})
    fp32_1, int8_1 = Profile({"MatMul": 8.9, "Add": 1.0}), Profile({"MatMulInteger": 4.0, "Add": 1.0})
    threaded = facts(int8_4, four, original=fp32_4, one_thread=(fp32_1, int8_1))
    assert cause(ThreadScaling().detect(threaded)).startswith("thread scaling: the quantized kernels gain less from 4")
    assert ThreadScaling().detect(dataclasses.replace(threaded, one_thread=None)) is None
    assert ThreadScaling().detect(dataclasses.replace(threaded, one_thread=(fp32_1, Profile({"MatMul": 10.0})))) is None


def test_thread_scaling_comes_before_lost_fusions() -> None:
    four = QuantConfig(framework_args=FrameworkArgs(intra_op_num_threads=4))
    fused, unfused = Profile({"MatMul": 2.4, "BiasGelu": 0.3}), Profile({"MatMulInteger": 2.2, "Erf": 0.3})
    one_thread = (Profile({"MatMul": 8.9}), Profile({"MatMulInteger": 4.0}))
    both = facts(unfused, four, original=fused, one_thread=one_thread)
    assert ort.LostFusions().detect(both) is not None
    assert speed.explain(both, ort.RULES).cause.startswith("thread scaling")


def test_lost_fusions_fix_depends_on_the_quantized_level() -> None:
    int8 = Profile({"MatMulInteger": 3.0, "Erf": 0.5})
    assert ort.LostFusions().detect(facts(int8, quantized_level=99)) == SpeedDiagnosis(
        "fusions lost: BiasGelu, LayerNormalization run fused in the fp32 graph only",
        "node_exclusion: [layernorm, gelu] keeps the fused subgraphs in fp32",
    )
    assert ort.LostFusions().detect(facts(FP32)) is None


def test_fp32_compute_left_needs_a_large_share() -> None:
    assert cause(ort.Fp32ComputeLeft().detect(facts(Profile({"Gemm": 4.0, "MatMulInteger": 6.0})))) == (
        "fp32 Gemm still takes 40% of the quantized call: those nodes were not quantized"
    )
    assert ort.Fp32ComputeLeft().detect(facts(Profile({"Gemm": 1.0, "MatMulInteger": 9.0}))) is None


def test_quantizing_a_tiny_model_costs_more_than_its_integer_kernels_save() -> None:
    found = ort.QuantizingOutweighsSavings().detect(facts(TINY_DYNAMIC, original=TINY_FP32))
    assert found == SpeedDiagnosis(
        "the model's MatMuls are too small for int8 to pay: the quantized kernels (MatMulInteger) take 0.095 ms per "
        "call against the 0.147 ms of fp32 MatMul/Gemm they replace, and the ops that quantize, dequantize and "
        "rescale around them (DynamicQuantizeLinear/Mul/Cast) add 0.21 ms (29% of the call)",
        "keep a model this small in fp32 (int8 pays on larger MatMuls), or quantize only its largest MatMuls "
        "(node_exclusion for the rest)",
    )
    # at the test suites' level 1 every earlier rule finds nothing: this one names it, not `none found`
    tiny = facts(TINY_DYNAMIC, original=TINY_FP32, quantized_level=1)
    assert speed.explain(tiny, ort.RULES) == found


def test_weight_only_kernels_slower_than_the_fp32_matmuls_they_replace() -> None:
    """No quantize op to blame (MatMulNBits dequantizes inside), and Mul's 2 µs more is profiler noise."""
    tiny = facts(TINY_WEIGHT_ONLY, WEIGHT_ONLY, original=TINY_FP32, quantized_level=1)
    assert ort.WeightOnlyBlocks().detect(tiny) is None  # 21% of the call: below its share
    assert speed.explain(tiny, ort.RULES).cause == (
        "the model's MatMuls are too small for int8 to pay: the quantized kernels (MatMulNBits) take 0.121 ms per "
        "call against the 0.105 ms of fp32 MatMul/Gemm they replace"
    )


def test_integer_kernels_that_pay_are_not_blamed() -> None:
    int8 = Profile(
        {"MatMulInteger": 3.0, "DynamicQuantizeLinear": 1.0, "Add": 1.0, "Mul": 0.4}
    )  # 8.9 ms of fp32 MatMul
    assert ort.QuantizingOutweighsSavings().detect(facts(int8)) is None
    assert ort.QuantizingOutweighsSavings().detect(facts(Profile({"Add": 1.0}))) is None  # no quantized kernel


def test_hqqs_float_zero_points_are_named_before_the_blocks() -> None:
    int8 = Profile({"MatMulNBits": 9.0, "Add": 1.0})
    hqq = QuantConfig(quantization_approach="weight_only", weight_only=WeightOnly(algorithm="hqq", accuracy_level=4))
    found = ort.FloatZeroPoints().detect(facts(int8, hqq))
    assert found is not None and "hqq writes float zero points" in found.cause
    assert found.fix.startswith("weight_only: {algorithm: rtn or k_quant, accuracy_level: 4}")
    assert ort.FloatZeroPoints().detect(facts(int8, WEIGHT_ONLY)) is None  # RTN's zero points are integers
    assert ort.FloatZeroPoints().detect(facts(Profile({"MatMulNBits": 2.0, "Add": 8.0}), hqq)) is None
    order = [type(rule) for rule in ort.RULES]
    assert order.index(ort.FloatZeroPoints) < order.index(ort.WeightOnlyBlocks)
