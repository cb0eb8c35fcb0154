"""How ONNX Runtime reads a config: its `framework_args` are this engine's session options.

The one declaration of each ONNX Runtime setting the package relies on. A leaf module (it imports no other
ONNX Runtime module of the package), so that the backend (`onnxruntime.py`), its hardware check
(`onnxruntime_hardware.py`) and its speed rules read the same values without importing one another.
"""

from __future__ import annotations

from typing import Any

from pytest_quantbench.records import Role
from pytest_quantbench.runtimes.base import check_role
from pytest_quantbench.suite import FrameworkArgs

X64_PRECISION_KEY = "session.x64quantprecision"  # U8U8 kernels instead of saturating U8S8 on x64 (no VNNI)
# From the extended level on, ONNX Runtime fuses QDQ pairs into integer kernels; on x64 those turn S8
# activations into U8 (U8S8 kernels), and unfused pairs run as QuantizeLinear/DequantizeLinear of their own.
QDQ_FUSION_LEVEL = 2
PROVIDERS = ["CPUExecutionProvider"]


def level(args: FrameworkArgs, role: Role) -> int:
    """A session's graph optimization level: the quantized model may have its own."""
    levels = {Role.ORIGINAL: args.optimization_level, Role.QUANTIZED: args.quantized_level}
    return levels[check_role(role)]


def threads(args: FrameworkArgs, override: int | None = None) -> int:
    """A session's intra-op threads: the config's, unless the caller runs it otherwise (evaluation, probes)."""
    return override or args.intra_op_num_threads


def session_options(args: FrameworkArgs, threads: int, level: int, profile_prefix: str | None = None) -> Any:
    """ONNX Runtime's `SessionOptions` for a config: its level, `threads` intra-op threads (one inter-op), the
    precision option; with `profile_prefix`, profiling into files of that prefix."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel(level)
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    if args.x64_quant_precision:
        options.add_session_config_entry(X64_PRECISION_KEY, "1")
    if profile_prefix is not None:
        options.enable_profiling, options.profile_file_prefix = True, profile_prefix
    return options
