"""Why a quantized model is not faster: the profiles of both sessions, side by side, named in one line.

When a speed-up is below `SLOW` (or the speed gate's `min`), a few calls of the original and the quantized
session run under the backend's profiler (`Backend.profile`, cached; a backend that cannot profile says so as
the cause), and the time per op type, and per element type the kernels take, is compared. Causes, most specific first: nothing was
quantized; float16 that ONNX Runtime ran in fp32 on this CPU; QDQ pairs left unfused at the quantized
session's optimization level; 16-bit activations, which no integer kernel takes; int8 (S8S8) activations
that ONNX Runtime's x86 fusions only partly take; Q/DQ or activation-quantization overhead that fusion did
not remove; weight-only blocks dequantized at every call; quantized kernels that gain less from several
intra-op threads than fp32's (profiled again on one thread); fusions the fp32 graph gets and the quantized one
loses; fp32 compute that was never quantized. Against another backend's fp32 (`baseline: pytorch`) the
profiles still compare the config's own two models, and the cause says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_quantbench.records import OpTime, Profile, QuantizationReport, Role, SpeedDiagnosis
from pytest_quantbench.runtimes.base import Unsupported
from pytest_quantbench.runtimes.onnxruntime_settings import QDQ_FUSION_LEVEL  # its one declaration
from pytest_quantbench.suite import QuantConfig

if TYPE_CHECKING:
    from pytest_quantbench.measure.timing import Measurement
    from pytest_quantbench.runtimes.base import Backend
    from pytest_quantbench.suite import Case
    from pytest_quantbench.verdicts.pipeline import Pipeline

SLOW = 1.1  # speed-ups below this are diagnosed
PROFILED_CALLS = 5
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
FUSED_OPS = (
    "Attention", "MultiHeadAttention", "SkipLayerNormalization", "SkipSimplifiedLayerNormalization",
    "EmbedLayerNormalization", "BiasGelu", "FastGelu", "Gelu", "QuickGelu", "BiasSoftmax", "LayerNormalization",
)  # fmt: skip
FP32_COMPUTE = ("MatMul", "FusedMatMul", "Gemm", "Conv")
SIXTEEN_BIT = ("int16", "uint16")
TOP = 8


def explain(
    config: QuantConfig,
    report: QuantizationReport,
    original: Profile,
    quantized: Profile,
    quantized_level: int,
    shape: str,
    one_thread: tuple[Profile, Profile] | None = None,
) -> tuple[str, str]:
    """(cause, fix) from the profiles (ms per call by op type and input type) of the original and quantized
    session; `one_thread`, the same two on one intra-op thread, where the config runs on several."""
    ops = list(report.operators_to_quantize or ())
    qdq, nbits = quantized.share(*QDQ_OPS), quantized.share("MatMulNBits")
    if config.quantization_approach == "fp16":
        in_float = quantized.type_share("float")
        if in_float >= 0.5:
            return (
                f"float16 runs in fp32 on this CPU: ONNX Runtime's CPU kernels for "
                f"{'/'.join(op for op in FP32_COMPUTE if quantized.op_ms.get(op)) or 'most ops'} take float, so "
                f"it inserted Casts ({quantized.share('Cast'):.0%} of the call) and {in_float:.0%} of the call "
                "computes in fp32",
                "fp16 pays on GPU execution providers or CPUs with fp16 arithmetic (ARM64); for speed here, "
                "quantization_approach: dynamic",
            )
        return (
            f"float16 kernels take {quantized.type_share('float16'):.0%} of the call and are no faster than fp32 "
            "on this CPU",
            "quantization_approach: dynamic (int8 kernels)",
        )
    if qdq >= 0.10 and quantized_level < QDQ_FUSION_LEVEL:
        return (
            f"QDQ pairs left unfused at optimization level {quantized_level}: QuantizeLinear/DequantizeLinear take "
            f"{qdq:.0%} of the quantized call",
            "framework_args: {quantized_optimization_level: 99}",
        )
    if config.is_static and config.activations_dtype in SIXTEEN_BIT:
        return (
            f"{config.activations_dtype} activations: ONNX Runtime has no integer kernels that take them, so the "
            f"int8 weights are dequantized into float MatMuls (MatMulNBits/MatMul take "
            f"{quantized.share('MatMulNBits', *FP32_COMPUTE):.0%} of the call) and QuantizeLinear/DequantizeLinear "
            f"take {qdq:.0%}",
            "16-bit activations buy accuracy, not speed: activations_dtype: uint8 with the sensitive nodes in fp32 "
            "(node_exclusion; the accuracy diagnosis ranks them)",
        )
    signed = config.is_static and (config.activations_dtype or "int8") == "int8"
    if qdq >= 0.20 and signed and quantized.op_ms.get("MatMul"):
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
    dynamic = quantized.share("DynamicQuantizeLinear")
    if dynamic >= 0.15:
        return (
            f"activation quantization (DynamicQuantizeLinear) takes {dynamic:.0%} of the quantized call at {shape}",
            "larger batches or inputs amortise it; static quantization removes it",
        )
    if nbits >= 0.30:
        int8_compute = config.weight_only.accuracy_level == 4
        return (
            f"MatMulNBits takes {nbits:.0%} of the quantized call: weight-only quantization dequantizes its blocks "
            + ("even with int8 compute (accuracy_level 4) " if int8_compute else "at every call ")
            + "and shrinks the model, but buys time only where a call is bound by reading weights",
            "quantization_approach: dynamic for speed"
            if int8_compute
            else "weight_only: {accuracy_level: 4} (int8 compute, CPU-dependent), or quantization_approach: dynamic",
        )
    if one_thread is not None and quantized.total_ms and one_thread[1].total_ms:
        threads = config.framework_args.intra_op_num_threads
        alone = one_thread[0].total_ms / one_thread[1].total_ms
        together = original.total_ms / quantized.total_ms
        if alone >= SLOW > together:
            return (
                f"thread scaling: the quantized kernels gain less from {threads} intra-op threads than the fp32 "
                f"ones (profiled x{alone:.2f} on one thread, x{together:.2f} on {threads})",
                "framework_args: {intra_op_num_threads: 1} with requests served side by side (a session per "
                "core), or larger batches",
            )
    lost = [op for op in FUSED_OPS if original.op_ms.get(op) and not quantized.op_ms.get(op)]
    if lost:
        fix = (
            "framework_args: {quantized_optimization_level: 99}"
            if quantized_level < 99
            else "node_exclusion: [layernorm, gelu] keeps the fused subgraphs in fp32"
        )
        return f"fusions lost: {', '.join(lost)} run fused in the fp32 graph only", fix
    fp32 = quantized.share(*FP32_COMPUTE)
    if fp32 >= 0.30:
        return (
            f"fp32 {'/'.join(op for op in FP32_COMPUTE if quantized.op_ms.get(op))} still takes {fp32:.0%} of the "
            "quantized call: those nodes were not quantized",
            "operators_to_quantize: [MatMul] (or drop the node_exclusion that keeps them in fp32)",
        )
    return "no op type stands out in the profiles (see the op times)", "none found"


def op_times(original: Profile, quantized: Profile) -> tuple[OpTime, ...]:
    ops = {*original.op_ms, *quantized.op_ms}
    rows = [OpTime(op, original.op_ms.get(op, 0.0), quantized.op_ms.get(op, 0.0)) for op in ops]
    return tuple(sorted(rows, key=lambda r: -max(r.original_ms, r.quantized_ms))[:TOP])


def diagnose(bench: Pipeline, m: Measurement, feed: dict[str, Any], speedup: float | None) -> SpeedDiagnosis | None:
    """The speed diagnosis of an int8 latency case whose speed-up is below `SLOW` or its speed gate's `min`,
    else None."""
    case = m.case
    gate = case.thresholds.speedup
    if speedup is None or speedup >= max(SLOW, gate.min if gate is not None and gate.min is not None else 0.0):
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
    backend = bench.backend(case)
    try:
        original, quantized, one_thread = _profiles(backend, case, feed)
    except Unsupported as exc:
        return SpeedDiagnosis(f"{backend.name} cannot profile: {exc.reason}", "none found")
    level = case.config.framework_args.quantized_level
    cause, fix = explain(case.config, report, original, quantized, level, m.shape_id, one_thread)
    return SpeedDiagnosis(cause + note, fix, op_times(original, quantized))


def _profiles(
    backend: Backend, case: Case, feed: dict[str, Any]
) -> tuple[Profile, Profile, tuple[Profile, Profile] | None]:
    """Both models' profiles with the case's settings, and on one intra-op thread where it runs on several (does
    int8 lose to fp32 only on several threads?)."""
    original = backend.profile(case, Role.ORIGINAL, feed, PROFILED_CALLS)
    quantized = backend.profile(case, Role.QUANTIZED, feed, PROFILED_CALLS)
    if case.config.framework_args.intra_op_num_threads <= 1:
        return original, quantized, None
    alone = (
        backend.profile(case, Role.ORIGINAL, feed, PROFILED_CALLS, threads=1),
        backend.profile(case, Role.QUANTIZED, feed, PROFILED_CALLS, threads=1),
    )
    return original, quantized, alone
