"""Why a quantized model is not faster: the profiles of both sessions, side by side, named in one line.

When a speed-up is below `SLOW`, a few calls of the original and the quantized session run under ONNX
Runtime's profiler (`runtimes.onnxruntime.profile_op_times`, cached) and the time per op type is compared.
Causes, most specific first: nothing was quantized; QDQ pairs left unfused at the quantized session's
optimization level; int8 (S8S8) activations that ONNX Runtime's x86 fusions only partly take; Q/DQ or
activation-quantization overhead that fusion did not remove; weight-only blocks dequantized at every call;
fusions the fp32 graph gets and the quantized one loses; fp32 compute that was never quantized. Against
another backend's fp32 (`baseline: pytorch`) the profiles still compare the config's own two models, and the
cause says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_quantbench.records import OpTime, QuantizationReport, SpeedDiagnosis
from pytest_quantbench.suite import QuantConfig

if TYPE_CHECKING:
    from pytest_quantbench.measure.timing import Measurement
    from pytest_quantbench.verdicts.pipeline import Pipeline

SLOW = 1.1  # speed-ups below this are diagnosed
PROFILED_CALLS = 5
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
QDQ_FUSION_LEVEL = 2  # ONNX Runtime fuses QDQ pairs into integer kernels from its extended level on
FUSED_OPS = (
    "Attention", "MultiHeadAttention", "SkipLayerNormalization", "SkipSimplifiedLayerNormalization",
    "EmbedLayerNormalization", "BiasGelu", "FastGelu", "Gelu", "QuickGelu", "BiasSoftmax", "LayerNormalization",
)  # fmt: skip
FP32_COMPUTE = ("MatMul", "FusedMatMul", "Gemm", "Conv")
TOP = 8


def _share(times: dict[str, float], ops: tuple[str, ...]) -> float:
    total = sum(times.values())
    return sum(times.get(op, 0.0) for op in ops) / total if total else 0.0


def explain(
    config: QuantConfig,
    report: QuantizationReport,
    original: dict[str, float],
    quantized: dict[str, float],
    quantized_level: int,
    shape: str,
) -> tuple[str, str]:
    """(cause, fix) from the op times (ms per call, by op type) of the original and the quantized session."""
    ops = list(report.operators_to_quantize or ())
    qdq = _share(quantized, QDQ_OPS)
    nbits = _share(quantized, ("MatMulNBits",))
    if qdq >= 0.10 and quantized_level < QDQ_FUSION_LEVEL:
        return (
            f"QDQ pairs left unfused at optimization level {quantized_level}: QuantizeLinear/DequantizeLinear take "
            f"{qdq:.0%} of the quantized call",
            "framework_args: {quantized_optimization_level: 99}",
        )
    signed = config.is_static and (config.activations_dtype or "int8") == "int8"
    if qdq >= 0.20 and signed and quantized.get("MatMul"):
        return (
            f"int8 (S8S8) activations: ONNX Runtime leaves part of the QDQ MatMuls unfused on this CPU, and "
            f"QuantizeLinear/DequantizeLinear take {qdq:.0%} of the quantized call",
            "activations_dtype: uint8 (U8S8 kernels; exact on VNNI CPUs, see the hardware risk without VNNI)",
        )
    if qdq >= 0.20:
        fix = (
            "operators_to_quantize: [MatMul] (quantized Adds bring Q/DQ pairs and block fusions)"
            if "Add" in ops
            else "node_exclusion for the nodes between Q/DQ pairs, or dynamic quantization"
        )
        return f"QuantizeLinear/DequantizeLinear still take {qdq:.0%} of the quantized call after fusion", fix
    dynamic = _share(quantized, ("DynamicQuantizeLinear",))
    if dynamic >= 0.15:
        return (
            f"activation quantization (DynamicQuantizeLinear) takes {dynamic:.0%} of the quantized call at {shape}",
            "larger batches or inputs amortise it; static quantization removes it",
        )
    if nbits >= 0.30:
        return (
            f"MatMulNBits takes {nbits:.0%} of the quantized call: weight-only quantization dequantizes its blocks "
            "at every call, so it shrinks the model but buys compute only where a call is bound by reading weights",
            "weight_only: {accuracy_level: 4} (int8 compute), or dynamic int8 for speed",
        )
    lost = [op for op in FUSED_OPS if original.get(op) and not quantized.get(op)]
    if lost:
        fix = (
            "framework_args: {quantized_optimization_level: 99}"
            if quantized_level < 99
            else "node_exclusion: [layernorm, gelu] keeps the fused subgraphs in fp32"
        )
        return f"fusions lost: {', '.join(lost)} run fused in the fp32 graph only", fix
    fp32 = _share(quantized, FP32_COMPUTE)
    if fp32 >= 0.30:
        return (
            f"fp32 {'/'.join(op for op in FP32_COMPUTE if quantized.get(op))} still takes {fp32:.0%} of the quantized "
            "call: those nodes were not quantized",
            "operators_to_quantize: [MatMul] (or drop the node_exclusion that keeps them in fp32)",
        )
    return "no op type stands out in the profiles (see the op times)", "none found"


def op_times(original: dict[str, float], quantized: dict[str, float]) -> tuple[OpTime, ...]:
    rows = [OpTime(op, original.get(op, 0.0), quantized.get(op, 0.0)) for op in {*original, *quantized}]
    return tuple(sorted(rows, key=lambda r: -max(r.original_ms, r.quantized_ms))[:TOP])


def diagnose(bench: Pipeline, m: Measurement, feed: dict[str, Any], speedup: float | None) -> SpeedDiagnosis | None:
    """The speed diagnosis of an int8 latency case whose speed-up is below `SLOW`, else None."""
    case = m.case
    if speedup is None or speedup >= SLOW:
        return None
    report = bench.quantized(case).report
    own, baseline = case.config.framework, case.baseline
    # against another backend's fp32 (`baseline:`) the profiles still compare the config's own fp32 and int8
    note = "" if baseline == own else f" (profiled: {own} fp32 vs int8; the speed-up is vs {baseline} fp32)"
    if report.quantized_nothing:
        ops = list(report.operators_to_quantize or ())
        same = f"the int8 model runs the fp32 graph{note}" if note else "both sessions run the same fp32 graph"
        return SpeedDiagnosis(
            f"quantizing {ops} changed no node: {same}",
            "operators_to_quantize: [MatMul] (the ops that carry the weights)",
        )
    if not bench.backend(case).reads_onnx:
        return None
    onnx = bench.onnxruntime
    original = onnx.profile(case, "original", feed, PROFILED_CALLS)
    quantized = onnx.profile(case, "quantized", feed, PROFILED_CALLS)
    cause, fix = explain(case.config, report, original, quantized, onnx.level(case, "quantized"), m.shape_id)
    return SpeedDiagnosis(cause + note, fix, op_times(original, quantized))
