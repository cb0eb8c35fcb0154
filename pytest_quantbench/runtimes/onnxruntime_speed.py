"""Why an ONNX Runtime int8 model is not faster: the rules that read its profiles, in the order they are tried.

`RULES` is `OnnxRuntime.speed_rules`: most specific first, the engine-neutral thread rule
(`speed_rules.ThreadScaling`) in its place among them. Each rule is a detection (op types' shares of the
quantized call, the config) and its words; each threshold is a named constant above the rule that uses it.
Causes: float16 that ONNX Runtime ran in fp32 on this CPU, or float16 kernels no faster than fp32; QDQ pairs
left unfused at the quantized session's optimization level; 16-bit activations, which no integer kernel
takes; int8 (S8S8) activations that ONNX Runtime's x86 fusions only partly take; Q/DQ or activation
quantization overhead that fusion did not remove; weight-only blocks dequantized at every call; thread
scaling; fusions the fp32 graph gets and the quantized one loses; fp32 compute that was never quantized;
and quantized kernels that, with the ops quantizing and rescaling around them, cost what the fp32 compute
they replace did (small MatMuls).
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_quantbench.records import Phase, Profile, Shape, SpeedDiagnosis
from pytest_quantbench.runtimes.onnxruntime_settings import QDQ_FUSION_LEVEL  # its one declaration
from pytest_quantbench.runtimes.speed_rules import SLOW, SpeedFacts, SpeedRule, ThreadScaling

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")

FUSED_OPS = (
    "Attention", "MultiHeadAttention", "SkipLayerNormalization", "SkipSimplifiedLayerNormalization",
    "EmbedLayerNormalization", "BiasGelu", "FastGelu", "Gelu", "QuickGelu", "BiasSoftmax", "LayerNormalization",
)  # fmt: skip
FP32_COMPUTE = ("MatMul", "FusedMatMul", "Gemm", "Conv")
SIXTEEN_BIT = ("int16", "uint16")
# the kernels a quantized MatMul, Gemm or Conv runs as (dynamic, static QOperator or fused QDQ, weight-only)
QUANTIZED_KERNELS = (
    "MatMulInteger", "MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QLinearMatMul", "QGemm", "QAttention",
    "ConvInteger", "QLinearConv", "MatMulNBits",
)  # fmt: skip
QUANTIZE_OPS = (*QDQ_OPS, "DynamicQuantizeLinear")
# unfused dynamic MatMuls cast their int32 result to float and multiply it by both scales
RESCALE_OPS = ("Mul", "Cast")


def names(profile: Profile, ops: tuple[str, ...]) -> str:
    """The ops of `ops` the profile ran, joined by `/`."""
    return "/".join(op for op in ops if profile.op_ms.get(op))


# Half the call in float kernels: most of the compute ran in fp32, with Casts around it.
FP16_IN_FLOAT_SHARE = 0.5


@dataclass(frozen=True)
class Float16RanInFp32:
    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        quantized = facts.quantized
        in_float = quantized.type_share("float")
        if facts.config.quantization_approach != "fp16" or in_float < FP16_IN_FLOAT_SHARE:
            return None
        return SpeedDiagnosis(
            f"float16 runs in fp32 on this CPU: ONNX Runtime's CPU kernels for "
            f"{names(quantized, FP32_COMPUTE) or 'most ops'} take float, so "
            f"it inserted Casts ({quantized.share('Cast'):.0%} of the call) and {in_float:.0%} of the call "
            "computes in fp32",
            "fp16 pays on GPU execution providers or CPUs with fp16 arithmetic (ARM64); for speed here, "
            "quantization_approach: dynamic",
        )


@dataclass(frozen=True)
class Float16Kernels:
    """Tried after `Float16RanInFp32`: the float16 kernels ran, and were no faster."""

    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        if facts.config.quantization_approach != "fp16":
            return None
        return SpeedDiagnosis(
            f"float16 kernels take {facts.quantized.type_share('float16'):.0%} of the call and are no faster than "
            "fp32 on this CPU",
            "quantization_approach: dynamic (int8 kernels)",
        )


# A tenth of the call in Q/DQ below the fusing level: raising the level turns most of it into integer kernels.
UNFUSED_QDQ_SHARE = 0.10


@dataclass(frozen=True)
class UnfusedQdq:
    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        qdq = facts.quantized.share(*QDQ_OPS)
        if qdq < UNFUSED_QDQ_SHARE or facts.quantized_level >= QDQ_FUSION_LEVEL:
            return None
        return SpeedDiagnosis(
            f"QDQ pairs left unfused at optimization level {facts.quantized_level}: QuantizeLinear/DequantizeLinear "
            f"take {qdq:.0%} of the quantized call",
            "framework_args: {quantized_optimization_level: 99}",
        )


@dataclass(frozen=True)
class SixteenBitActivations:
    """Named from the config alone: 16-bit activations turn into float MatMuls, whatever the shares."""

    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        config, quantized = facts.config, facts.quantized
        if not config.is_static or config.activations_dtype not in SIXTEEN_BIT:
            return None
        return SpeedDiagnosis(
            f"{config.activations_dtype} activations: ONNX Runtime has no integer kernels that take them, so the "
            f"int8 weights are dequantized into float MatMuls (MatMulNBits/MatMul take "
            f"{quantized.share('MatMulNBits', *FP32_COMPUTE):.0%} of the call) and QuantizeLinear/DequantizeLinear "
            f"take {quantized.share(*QDQ_OPS):.0%}",
            "16-bit activations buy accuracy, not speed: activations_dtype: uint8 with the sensitive nodes in fp32 "
            "(node_exclusion; the accuracy diagnosis ranks them)",
        )


# A fifth of the call still in Q/DQ at a fusing level: more than the few pairs fusion always leaves (the
# model's inputs and outputs), enough to cost the speed-up on its own.
QDQ_LEFT_SHARE = 0.20


@dataclass(frozen=True)
class SignedActivations:
    """Static int8 activations with float MatMuls left beside the Q/DQ pairs: the S8S8 fusions fell short."""

    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        config, quantized = facts.config, facts.quantized
        qdq = quantized.share(*QDQ_OPS)
        signed = config.is_static and (config.activations_dtype or "int8") == "int8"
        if qdq < QDQ_LEFT_SHARE or not signed or not quantized.op_ms.get("MatMul"):
            return None
        return SpeedDiagnosis(
            f"int8 (S8S8) activations: ONNX Runtime leaves part of the QDQ MatMuls unfused on this CPU, and "
            f"QuantizeLinear/DequantizeLinear take {qdq:.0%} of the quantized call",
            "activations_dtype: uint8 (U8S8 kernels; exact on VNNI CPUs, see the hardware risk without VNNI)",
        )


@dataclass(frozen=True)
class QdqLeftAfterFusion:
    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        qdq = facts.quantized.share(*QDQ_OPS)
        if qdq < QDQ_LEFT_SHARE:
            return None
        fix = (
            "operators_to_quantize: [MatMul] (quantized Adds bring Q/DQ pairs and block fusions)"
            if "Add" in (facts.report.operators_to_quantize or ())
            else "node_exclusion for the nodes between Q/DQ pairs, or dynamic quantization"
        )
        return SpeedDiagnosis(
            f"QuantizeLinear/DequantizeLinear still take {qdq:.0%} of the quantized call after fusion", fix
        )


# Quantizing the activations at every call costs as much as a fair share of the integer MatMuls it feeds.
DYNAMIC_QUANTIZE_SHARE = 0.15


@dataclass(frozen=True)
class ActivationQuantization:
    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        dynamic = facts.quantized.share("DynamicQuantizeLinear")
        if dynamic < DYNAMIC_QUANTIZE_SHARE:
            return None
        return SpeedDiagnosis(
            f"activation quantization (DynamicQuantizeLinear) takes {dynamic:.0%} of the quantized call at "
            f"{facts.shape}",
            "larger batches or inputs amortise it; static quantization removes it",
        )


# Weight-only kernels on close to a third of the call: they, not the rest of the graph, decide its speed.
NBITS_SHARE = 0.30
INT8_COMPUTE_LEVEL = 4  # MatMulNBits' accuracy_level that computes in int8


# A decoder's phase (its shape id's prefix) says what bounds a call: weight-only int4 shrinks the weights a call
# reads, which decides decode (one token per read of every weight: memory-bound), not prefill (a whole prompt
# per read: compute-bound), where its dequantization is paid and its smaller read barely counts.
PHASE_BOUNDS: dict[Phase, tuple[str, str]] = {  # phase: (what bounds it, the fix there)
    Phase.PREFILL: (
        "prefill is compute-bound (the whole prompt per read of the weights), where smaller weights save little",
        "judge weight-only by its decode phase (memory-bound, where int4 pays); for prefill weight_only: "
        "{accuracy_level: 4} (int8 compute) or quantization_approach: dynamic",
    ),
    Phase.DECODE: (
        "decode is memory-bound (every weight read for one token), where int4 should pay: here dequantizing "
        "the blocks costs more than the smaller read saves",
        "weight_only: {accuracy_level: 4} (int8 compute, CPU-dependent), or a larger block_size",
    ),
    Phase.GENERATE: (
        "a generation is mostly decode steps (memory-bound), where int4 should pay: dequantizing the blocks "
        "costs more than the smaller read saves",
        "weight_only: {accuracy_level: 4} (int8 compute, CPU-dependent), or a larger block_size",
    ),
}


def phase_of(shape: str) -> Phase | None:
    """The decoder phase a shape id names, None for other shapes."""
    try:
        return Shape.parse(shape).phase
    except ValueError:
        return None


# Algorithms whose MatMulNBits carry float zero points (HQQ's own search of scales and zero points): ONNX Runtime
# 1.32 computes those on its dequantizing path whatever accuracy_level says (SmolLM2's HQQ int4 decoded 5x
# slower than fp32, and ran the same outputs at the same speed with accuracy_level 4 set on every node).
FLOAT_ZERO_POINT_ALGORITHMS = ("hqq",)


@dataclass(frozen=True)
class FloatZeroPoints:
    """MatMulNBits decides the call and its zero points are floats, which the int8-compute kernels do not take."""

    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        nbits = facts.quantized.share("MatMulNBits")
        algorithm = facts.config.weight_only.algorithm
        if nbits < NBITS_SHARE or algorithm not in FLOAT_ZERO_POINT_ALGORITHMS:
            return None
        return SpeedDiagnosis(
            f"MatMulNBits takes {nbits:.0%} of the quantized call: {algorithm} writes float zero points, which ONNX "
            "Runtime's int8-compute kernels do not take, so every call dequantizes its blocks to fp32 whatever "
            "accuracy_level says",
            "weight_only: {algorithm: rtn or k_quant, accuracy_level: 4} (integer zero points) for speed; "
            f"{algorithm} for the quality it keeps at that size",
        )


@dataclass(frozen=True)
class WeightOnlyBlocks:
    """MatMulNBits decides the call. Without `accuracy_level: 4` its blocks are dequantized to float at every
    call (onnxruntime/mobius#402: 2.3x slower decode); at a decoder's phase, the words say what bounds it."""

    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        nbits = facts.quantized.share("MatMulNBits")
        if nbits < NBITS_SHARE:
            return None
        int8_compute = facts.config.weight_only.accuracy_level == INT8_COMPUTE_LEVEL
        cause = (
            f"MatMulNBits takes {nbits:.0%} of the quantized call: weight-only quantization dequantizes its blocks "
            + ("even with int8 compute (accuracy_level 4) " if int8_compute else "at every call ")
            + "and shrinks the model, but buys time only where a call is bound by reading weights"
        )
        fix = (
            "quantization_approach: dynamic for speed"
            if int8_compute
            else "weight_only: {accuracy_level: 4} (int8 compute, CPU-dependent), or quantization_approach: dynamic"
        )
        phase = phase_of(facts.shape)
        if phase is None:
            return SpeedDiagnosis(cause, fix)
        bound, phase_fix = PHASE_BOUNDS[phase]
        return SpeedDiagnosis(f"{cause}; {bound}", fix if int8_compute and phase is not Phase.PREFILL else phase_fix)


@dataclass(frozen=True)
class LostFusions:
    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        lost = [op for op in FUSED_OPS if facts.original.op_ms.get(op) and not facts.quantized.op_ms.get(op)]
        if not lost:
            return None
        fix = (
            "framework_args: {quantized_optimization_level: 99}"
            if facts.quantized_level < 99
            else "node_exclusion: [layernorm, gelu] keeps the fused subgraphs in fp32"
        )
        return SpeedDiagnosis(f"fusions lost: {', '.join(lost)} run fused in the fp32 graph only", fix)


# Close to a third of the call in float MatMul/Gemm/Conv: int8 cannot speed up what it never reached.
FP32_LEFT_SHARE = 0.30


@dataclass(frozen=True)
class Fp32ComputeLeft:
    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        fp32 = facts.quantized.share(*FP32_COMPUTE)
        if fp32 < FP32_LEFT_SHARE:
            return None
        return SpeedDiagnosis(
            f"fp32 {names(facts.quantized, FP32_COMPUTE)} still takes {fp32:.0%} of the quantized call: those "
            "nodes were not quantized",
            "operators_to_quantize: [MatMul] (or drop the node_exclusion that keeps them in fp32)",
        )


def ms(profile: Profile, ops: tuple[str, ...]) -> float:
    return sum(profile.op_ms.get(op, 0.0) for op in ops)


# An op's added time under 1% of the quantized call is the profiler's noise, not work the quantizer added.
NOISE_SHARE = 0.01


def quantizing_ms(original: Profile, quantized: Profile) -> dict[str, float]:
    """Time per call, by op type, that quantizing, dequantizing and rescaling add: all of the quantize ops',
    and the Mul and Cast time beyond the fp32 graph's own."""
    added = {op: quantized.op_ms.get(op, 0.0) - original.op_ms.get(op, 0.0) for op in (*QUANTIZE_OPS, *RESCALE_OPS)}
    return {op: t for op, t in added.items() if t > NOISE_SHARE * quantized.total_ms}


# The quantized side must run the fp32 compute it replaced at least as much faster as the whole call must
# (`SLOW`): with less gained there, only other ops getting faster could make the call fast enough.
MIN_KERNEL_GAIN = SLOW


@dataclass(frozen=True)
class QuantizingOutweighsSavings:
    """The quantized kernels, with the ops that quantize, dequantize and rescale around them, cost about what
    the fp32 MatMuls they replace did: on small MatMuls integer arithmetic saves less than quantizing costs.
    Tried last, when no op type stands out on its own."""

    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        original, quantized = facts.original, facts.quantized
        replaced = ms(original, FP32_COMPUTE) - ms(quantized, FP32_COMPUTE)  # the fp32 compute int8 took over
        kernels = ms(quantized, QUANTIZED_KERNELS)
        added = quantizing_ms(original, quantized)
        if replaced <= 0 or not kernels or replaced >= MIN_KERNEL_GAIN * (kernels + sum(added.values())):
            return None
        around = (
            f", and the ops that quantize, dequantize and rescale around them ({'/'.join(added)}) add "
            f"{sum(added.values()):.3g} ms ({sum(added.values()) / quantized.total_ms:.0%} of the call)"
            if added
            else ""
        )
        return SpeedDiagnosis(
            f"the model's MatMuls are too small for int8 to pay: the quantized kernels "
            f"({names(quantized, QUANTIZED_KERNELS)}) take {kernels:.3g} ms per call against the {replaced:.3g} ms "
            f"of fp32 {names(original, FP32_COMPUTE)} they replace{around}",
            "keep a model this small in fp32 (int8 pays on larger MatMuls), or quantize only its largest MatMuls "
            "(node_exclusion for the rest)",
        )


RULES: tuple[SpeedRule, ...] = (
    Float16RanInFp32(),
    Float16Kernels(),
    UnfusedQdq(),
    SixteenBitActivations(),
    SignedActivations(),
    QdqLeftAfterFusion(),
    ActivationQuantization(),
    FloatZeroPoints(),
    WeightOnlyBlocks(),
    ThreadScaling(),
    LostFusions(),
    Fp32ComputeLeft(),
    QuantizingOutweighsSavings(),
)
