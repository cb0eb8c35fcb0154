"""`framework: onnxruntime, quantizer: nncf`: NNCF quantizes the ONNX export and ONNX Runtime runs the result.

A second quantizer for the same engine, so a suite can put ONNX Runtime's quantizer and NNCF's side by side on
one runtime. `static` is `nncf.quantize` of the ONNX `ModelProto` (QuantizeLinear/DequantizeLinear pairs) with an
`nncf.Dataset` of the suite's calibration feeds; `weight_only` is `nncf.compress_weights` of it (int8 per
channel as DequantizeLinear weights, int4 in groups as ONNX Runtime's `MatMulNBits`). It reads what NNCF reads
for OpenVINO (`nncf:` but accuracy control, the ignored scope, the calibration's sample count and padding,
`weight_only`'s bits, block size and symmetry); ONNX Runtime's quantizer settings are refused at collection.
Importing this module imports neither onnx nor nncf.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts.cache import library_versions
from pytest_quantbench.errors import InputError
from pytest_quantbench.extras import needs
from pytest_quantbench.records import QuantizationReport
from pytest_quantbench.runtimes.openvino_nncf import Scope, compression_options, guarded, setting
from pytest_quantbench.suite import Case, QuantConfig

QUANTIZER = "nncf"
# `node_exclusion` presets as op types of the exported ONNX graph (an opset-13 export spells LayerNorm and GELU
# out in elementwise ops: those presets match no node there, and say so)
PRESET_TYPES = {
    "layernorm": "LayerNormalization", "gelu": "Gelu", "residual": "Add", "gather": "Gather", "softmax": "Softmax",
}  # fmt: skip


def quantizes(config: QuantConfig) -> bool:
    """Whether NNCF, not ONNX Runtime's quantizer, builds the config's model."""
    return config.quantizer == QUANTIZER


def calibrated(config: QuantConfig) -> bool:
    """Whether the config's quantizer reads the calibration samples: static int8, and NNCF's data-aware weight
    compression."""
    return config.is_static or (quantizes(config) and bool(config.nncf.data_aware))


def versions() -> dict[str, str]:
    """NNCF's version (in the artifact's key); without the `openvino` extra, one line saying what to install."""
    with needs("openvino", "quantizer nncf"):
        return library_versions(("nncf",))


def quantize(source: Path, case: Case, target: Path, rows: Any) -> QuantizationReport:
    """NNCF's model of a config written to `target`, and what it quantized (counted as ONNX Runtime's are)."""
    import onnx

    from pytest_quantbench.artifacts import quantize as ort_quantize

    model = onnx.load(str(source))
    if case.config.quantization_approach == "weight_only":
        quantized = guarded(case, lambda: compress_weights(model, case, rows))
    else:
        quantized = guarded(case, lambda: quantize_static(model, case, rows))
    onnx.save(quantized, str(target))
    return ort_quantize.quantization_report(target)


def checked_scope(model: Any, case: Case) -> Any:
    """The config's `IgnoredScope`, every entry matching a node of the ONNX `model`, else one line naming it."""
    nodes = model.graph.node
    scope = Scope.of(case)
    missing = scope.unmatched_in({n.name for n in nodes}, {n.op_type for n in nodes}, case, PRESET_TYPES)
    if missing is not None:
        where, entry = missing
        raise InputError(case.suite.path, where, f"{entry} matches no node of the ONNX model")
    return scope.ignored_scope(PRESET_TYPES)


def calibration_dataset(model: Any, rows: Any) -> Any:
    """The calibration samples as an `nncf.Dataset` of feeds: one sample each, the graph's inputs only, each in
    its element type."""
    import nncf
    import numpy as np
    from onnx import helper

    dtypes = {i.name: helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type) for i in model.graph.input}

    def feed(row: dict[str, Any]) -> dict[str, Any]:
        return {name: np.asarray(row[name], dtype=dtype)[None] for name, dtype in dtypes.items()}

    return nncf.Dataset(rows, feed)


def quantize_static(model: Any, case: Case, rows: Any) -> Any:
    """NNCF's post-training int8 of the ONNX `model`, calibrated on `rows`."""
    import nncf

    settings, calibration = case.config.nncf, case.config.calibration
    transformer = settings.model_type == "transformer" or (
        settings.model_type == "auto" and any(n.op_type == "Softmax" for n in model.graph.node)
    )
    return nncf.quantize(
        model,
        calibration_dataset(model, rows),
        preset=nncf.QuantizationPreset(settings.preset),
        model_type=nncf.ModelType.TRANSFORMER if transformer else None,
        subset_size=calibration.num_calibration_samples,
        fast_bias_correction=settings.fast_bias_correction,
        ignored_scope=checked_scope(model, case),
    )


def compress_weights(model: Any, case: Case, rows: Any = None) -> Any:
    """NNCF's weight compression of the ONNX `model`: int8 per channel, or int4 in groups, data-free or
    corrected on the calibration `rows` (AWQ, scale estimation)."""
    import nncf

    weight_only = case.config.weight_only
    if (weight_only.bits, weight_only.symmetric) == (4, False):
        # NNCF writes an asymmetric int4 MatMulNBits' zero points as [N, groups], which ONNX Runtime refuses to load
        field = setting(case, "weight_only") + ".symmetric"
        raise InputError(case.suite.path, field, "NNCF's asymmetric int4 does not load in ONNX Runtime: use true")
    if case.config.nncf.data_aware:
        # NNCF 3.4's ONNX backend fails on an optimum export's MatMul inputs ("integer modulo by zero": it
        # finds no rank for them, with or without ONNX shape inference); its OpenVINO backend runs them
        field = setting(case, "nncf") + "." + case.config.nncf.data_aware[0]
        raise InputError(case.suite.path, field, "NNCF runs AWQ and scale estimation for OpenVINO only here: use "
                         "framework: openvino, or data-free weight compression with quantizer: nncf")  # fmt: skip
    options = compression_options(case, lambda: calibration_dataset(model, rows))
    return nncf.compress_weights(model, ignored_scope=checked_scope(model, case), **options)
