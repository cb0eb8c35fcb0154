"""ONNX Runtime's hardware risk: int8 results that depend on whether the CPU's U8S8 kernels saturate.

On x86 CPUs without AVX512-VNNI/AVX-VNNI, ONNX Runtime's U8S8 matmul kernels multiply with `VPMADDUBSW`,
which saturates the sum of two uint8 x int8 products at int16 (seed 001: DistilBERT 0.911 -> 0.490). The
same model is exact on a VNNI CPU, so such a config's accuracy is a fact about the machine as much as the
model. A small probe with a known answer tells whether this machine's kernels saturate, and the precision
option (`x64_quant_precision`: U8U8 kernels) gives the same case on exact kernels, to confirm the cause.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from pytest_quantbench.artifacts.quantize import activations_dtype, quant_format
from pytest_quantbench.records import HardwareRisk, KernelProbe, Role
from pytest_quantbench.runtimes.base import one_line
from pytest_quantbench.runtimes.onnxruntime_settings import PROVIDERS, QDQ_FUSION_LEVEL, X64_PRECISION_KEY, level
from pytest_quantbench.suite import Case, QuantConfig

INTEGER_GEMM_OPS = {"MatMul", "Gemm", "Conv", "Attention"}
PROBE_DEPTH = 64
REMEDIES = ("reduce_range: true", "weights_dtype: uint8", "framework_args: {x64_quant_precision: true}")


def saturation_risk(config: QuantConfig, quantized_ops: dict[str, int]) -> bool:
    """Whether the config runs integer GEMMs as U8S8 with full-range int8 weights.

    Dynamic quantization feeds uint8 activations to MatMulInteger; static QDQ with int8 activations gets
    converted to U8S8 by ONNX Runtime's graph fusions on x64. Reduced-range (7-bit) weights keep a pair sum
    within int16, uint8 weights use U8U8 kernels, and the precision option asks for U8U8 as well.
    """
    if config.quantization_approach not in ("dynamic", "static"):  # MatMulNBits and fp16 run no U8S8 GEMM
        return False
    if config.weights_dtype != "int8" or config.reduce_range or config.framework_args.x64_quant_precision:
        return False
    if not INTEGER_GEMM_OPS & {op for op, n in quantized_ops.items() if n}:
        return False
    fused = quant_format(config) == "qdq" and level(config.framework_args, Role.QUANTIZED) >= QDQ_FUSION_LEVEL
    return activations_dtype(config) == "uint8" or fused


def with_exact_kernels(case: Case) -> Case:
    """The case with the precision option: U8U8 kernels, which never saturate."""
    args = dataclasses.replace(case.config.framework_args, x64_quant_precision=True)
    return dataclasses.replace(case, config=dataclasses.replace(case.config, framework_args=args))


def vpmaddubsw_matmul(a: Any, b: Any) -> Any:
    """What a saturating U8S8 kernel computes: int16-saturated sums of adjacent products, then int32 sums."""
    import numpy as np

    products = a.astype(np.int32)[:, :, None] * b.astype(np.int32)[None, :, :]  # (m, k, n)
    pairs = products.reshape(a.shape[0], -1, 2, b.shape[1]).sum(axis=2)
    return np.clip(pairs, -32768, 32767).sum(axis=1)


def probe_operands() -> tuple[Any, Any]:
    """uint8 255 x int8 127: each pair sums to 64770, twice what int16 holds."""
    import numpy as np

    return np.full((2, PROBE_DEPTH), 255, np.uint8), np.full((PROBE_DEPTH, 4), 127, np.int8)


def verdict(got: Any, a: Any, b: Any) -> str:
    """`exact`, `saturates` (matches the saturating kernel) or `wrong` (neither: a different fault)."""
    import numpy as np

    if np.array_equal(got, a.astype(np.int64) @ b.astype(np.int64)):
        return "exact"
    return "saturates" if np.array_equal(got, vpmaddubsw_matmul(a, b)) else "wrong"


def _run_matmul_integer(a: Any, b: Any, precise: bool) -> Any:
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "B"], ["Y"])],
        "saturation_probe",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, list(a.shape))],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [a.shape[0], b.shape[1]])],
        [numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    options = ort.SessionOptions()
    if precise:
        options.add_session_config_entry(X64_PRECISION_KEY, "1")
    session = ort.InferenceSession(model.SerializeToString(), options, providers=PROVIDERS)
    return session.run(None, {"A": a})[0]


@functools.cache
def probe() -> KernelProbe:
    """This machine's U8S8 kernels, by default and with the precision option: `exact` or `saturates`."""
    a, b = probe_operands()

    def kernels(precise: bool) -> str:
        try:
            return verdict(_run_matmul_integer(a, b, precise=precise), a, b)
        except Exception as exc:  # a build without the kernel: the risk stays named, the probe says why it is unknown
            return f"unavailable ({one_line(exc)})"

    return KernelProbe(default=kernels(False), x64_quant_precision=kernels(True))


def risk_report(config: QuantConfig, quantized_ops: dict[str, int], vnni: bool) -> HardwareRisk | None:
    """The hardware-risk record of a result: None for configs that carry no saturation risk."""
    if not saturation_risk(config, quantized_ops):
        return None
    kernels = probe()
    return HardwareRisk(
        risk="u8s8-saturation",
        hardware_dependent=True,
        affects="x86 CPUs without AVX512-VNNI/AVX-VNNI",
        vnni=vnni,
        this_machine_saturates=kernels.default == "saturates",
        probe=kernels,
        remedies=REMEDIES,
    )
