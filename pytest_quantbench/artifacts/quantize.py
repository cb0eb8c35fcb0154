"""Quantize with `ORTQuantizer` (dynamic or static, with calibration), weight-only (`weight_only.py`) or to fp16,
and report what was actually quantized."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts.cache import graph_hash
from pytest_quantbench.artifacts.export import ONNX_FILE, quiet
from pytest_quantbench.artifacts.weight_only import weight_only
from pytest_quantbench.errors import BuildError
from pytest_quantbench.records import QuantizationReport, RangeFinding
from pytest_quantbench.suite import QuantConfig

QUANTIZED_FILE = "model_quantized.onnx"
# Float op behind each integer op of ONNX Runtime's QOperator format.
INTEGER_OPS = {
    "MatMulInteger": "MatMul", "QLinearMatMul": "MatMul", "DynamicQuantizeMatMul": "MatMul",
    "QLinearAdd": "Add", "QLinearMul": "Mul", "QLinearConv": "Conv", "ConvInteger": "Conv", "QGemm": "Gemm",
    "QAttention": "Attention", "QLinearSoftmax": "Softmax", "QLinearConcat": "Concat",
    "QLinearLeakyRelu": "LeakyRelu", "QLinearSigmoid": "Sigmoid", "QLinearAveragePool": "AveragePool",
    "QLinearGlobalAveragePool": "GlobalAveragePool", "QLinearWhere": "Where",
    "QEmbedLayerNormalization": "EmbedLayerNormalization", "DynamicQuantizeLSTM": "LSTM",
    "MatMulNBits": "MatMul",
}  # fmt: skip
QDQ_OPS = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"}
# Bump when a quantized entry gains files or report fields (2: ranges.json, 3: graph_sha256, 4: excluded nodes
# no longer counted as quantized, 5: weight-only folds a stored weight's Transpose into the MatMul it feeds).
ARTIFACT_FORMAT = 5
RANGES_FILE = "ranges.json"
CALIBRATION_FILE = "calibration.json"  # ONNX Runtime's calibration result, shared by the static configs it fits


def _exclusion_passes(presets: tuple[str, ...]) -> list[Any]:
    """The node_exclusion presets of optimum's benchmark runs, as its quantization preprocessor passes."""
    from optimum.onnxruntime.preprocessors.passes import (
        ExcludeGeLUNodes,
        ExcludeLayerNormNodes,
        ExcludeNodeAfter,
        ExcludeNodeFollowedBy,
    )

    make = {
        "layernorm": ExcludeLayerNormNodes,
        "gelu": ExcludeGeLUNodes,
        "residual": lambda: ExcludeNodeAfter("Add", "Add"),
        "gather": lambda: ExcludeNodeAfter("Gather", "Add"),
        "softmax": lambda: ExcludeNodeFollowedBy("Add", "Softmax"),
    }
    return [make[p]() for p in presets]


def excluded_nodes(model_path: Path, node_exclusion: tuple[str, ...]) -> list[str]:
    """Node names of the exported graph that `node_exclusion` keeps in fp32: its presets, resolved, and its
    node names, checked against the graph (ONNX Runtime would silently ignore a misspelt one)."""
    from pytest_quantbench.suite import PRESETS

    presets = tuple(p for p in node_exclusion if p in PRESETS)
    names = [n for n in node_exclusion if n not in PRESETS]
    if names:
        import onnx

        known = {n.name for n in onnx.load(str(model_path), load_external_data=False).graph.node}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise BuildError(f"node_exclusion: no node named {', '.join(map(repr, unknown))} in the exported graph")
    if not presets:
        return names
    from optimum.onnxruntime.preprocessors import QuantizationPreprocessor

    preprocessor = QuantizationPreprocessor()
    for p in _exclusion_passes(presets):
        preprocessor.register_pass(p)
    _, exclude = preprocessor.collect(model_path)
    return sorted(exclude) + [n for n in names if n not in exclude]


def quant_format(config: QuantConfig) -> str:
    """The graph format the quantizer writes: the config's, else QDQ for static and QOperator for dynamic."""
    return config.format or ("qdq" if config.is_static else "qoperator")


def activations_dtype(config: QuantConfig) -> str:
    """The activations' type: the config's, else int8 for static (QDQ) and uint8 for dynamic."""
    return config.activations_dtype or ("int8" if config.is_static else "uint8")


def ort_quantization_config(config: QuantConfig, nodes_to_exclude: list[str]):
    from onnxruntime.quantization import QuantFormat, QuantizationMode, QuantType
    from optimum.onnxruntime.configuration import AutoQuantizationConfig, QuantizationConfig

    dtype = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8, "int16": QuantType.QInt16, "uint16": QuantType.QUInt16}
    static = config.is_static
    fmt = quant_format(config)
    operators = config.operators_to_quantize
    if operators is None:
        operators = AutoQuantizationConfig.avx512_vnni(is_static=static).operators_to_quantize
    return QuantizationConfig(
        is_static=static,
        format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
        mode=QuantizationMode.QLinearOps if static else QuantizationMode.IntegerOps,
        activations_dtype=dtype[activations_dtype(config)],
        weights_dtype=dtype[config.weights_dtype],
        activations_symmetric=config.activations_symmetric,
        weights_symmetric=config.weights_symmetric,
        per_channel=config.per_channel,
        reduce_range=config.reduce_range,
        operators_to_quantize=list(operators),
        nodes_to_exclude=[*nodes_to_exclude, *config.nodes_to_exclude],
    )


def _calibration_config(config: QuantConfig, dataset: Any):
    from optimum.onnxruntime.configuration import AutoCalibrationConfig

    cal = config.calibration
    if cal.method == "entropy":
        return AutoCalibrationConfig.entropy(dataset)
    if cal.method == "percentile":
        return AutoCalibrationConfig.percentiles(dataset, percentile=cal.percentile)
    return AutoCalibrationConfig.minmax(dataset)


def quantize(
    fp32_dir: Path, config: QuantConfig, out: Path, calibration_data: Any = None, calibration: Any = None
) -> QuantizationReport:
    """Quantize `fp32_dir/model.onnx` into `out/model_quantized.onnx`; return the quantization report. A static
    config is calibrated on `calibration_data`, or takes the shared `calibration` (`read_calibration`)."""
    if config.quantization_approach == "weight_only":
        return weight_only(fp32_dir / ONNX_FILE, config, out / QUANTIZED_FILE, calibration_data)
    if config.quantization_approach == "fp16":
        return to_fp16(fp32_dir / ONNX_FILE, config, out / QUANTIZED_FILE)
    return _int8(fp32_dir, config, out, calibration_data, calibration)


def to_fp16(source: Path, config: QuantConfig, target: Path) -> QuantizationReport:
    """float16 weights and compute, fp32 inputs and outputs (`keep_io_types`), so feeds stay as they are."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    excluded = excluded_nodes(source, config.node_exclusion) + list(config.nodes_to_exclude)
    with quiet():
        try:
            model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True, node_block_list=excluded)
        except Exception as exc:
            raise BuildError(f"fp16 conversion failed: {exc}") from exc
    onnx.save(model, str(target))
    counts = Counter(n.op_type for n in model.graph.node if n.op_type != "Cast" and n.name not in excluded)
    total = sum(counts.values())
    return QuantizationReport(
        quantized_nodes=dict(sorted(counts.items())), total_quantized=total, quantized_nothing=total == 0,
        graph_sha256=graph_hash(model.graph), excluded_nodes=len(excluded),
    )  # fmt: skip


def calibrate(fp32_dir: Path, config: QuantConfig, calibration_data: Any, out: Path) -> None:
    """ONNX Runtime's calibration (`ORTQuantizer.fit`) of `fp32_dir/model.onnx` for `config`, written to
    `out/CALIBRATION_FILE`. It reads the model, the rows, the method and the operators (which tensors it
    observes), not the exclusions, the weights' settings or the format: the static configs of a grid that
    differ only there share one calibration."""
    import json

    ranges = _fit(fp32_dir, config, calibration_data, out)
    (out / CALIBRATION_FILE).write_text(json.dumps(ranges.to_dict(), default=_calibration_json))


def read_calibration(entry: Path) -> Any:
    """The calibration `calibrate` wrote, as ONNX Runtime's `TensorsData` (its own `from_dict`)."""
    import json

    from onnxruntime.quantization.calibrate import TensorsData

    return TensorsData.from_dict(json.loads((entry / CALIBRATION_FILE).read_text()))


def _calibration_json(value: Any) -> Any:
    """What `TensorsData.to_dict` leaves for JSON, in the form its `from_dict` reads back."""
    import numpy as np

    if isinstance(value, np.ndarray | np.generic):
        return {"CLS": "numpy.array", "data": np.asarray(value).tolist(), "dtype": str(value.dtype)}
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return {"CLS": type(value).__name__, "value": str(value)}  # the calibration method (an Enum)


def _fit(fp32_dir: Path, config: QuantConfig, calibration_data: Any, out: Path) -> Any:
    from optimum.onnxruntime import ORTQuantizer

    source = fp32_dir / ONNX_FILE
    qconfig = ort_quantization_config(config, [])
    calibration_data = _model_inputs_only(source, calibration_data)
    with quiet():
        quantizer = ORTQuantizer.from_pretrained(fp32_dir, file_name=ONNX_FILE)
        try:
            return quantizer.fit(
                dataset=calibration_data,
                calibration_config=_calibration_config(config, calibration_data),
                onnx_augmented_model_name=out / "augmented.onnx",
                operators_to_quantize=qconfig.operators_to_quantize,
                batch_size=1 if config.calibration.padding == "none" else 8,  # unpadded rows differ in length
            )
        except Exception as exc:
            raise BuildError(f"{config.calibration.method} calibration failed: {exc}") from exc
        finally:
            (out / "augmented.onnx").unlink(missing_ok=True)


def _int8(
    fp32_dir: Path, config: QuantConfig, out: Path, calibration_data: Any, calibration: Any = None
) -> QuantizationReport:
    """Dynamic or static int8 (16-bit activations for static QDQ) with optimum's `ORTQuantizer`; a static
    config is calibrated on `calibration_data` unless its `calibration` (`read_calibration`) is given."""
    from optimum.onnxruntime import ORTQuantizer

    source = fp32_dir / ONNX_FILE
    excluded = excluded_nodes(source, config.node_exclusion)
    qconfig = ort_quantization_config(config, excluded)
    ranges = calibration
    if config.is_static and ranges is None:
        ranges = _fit(fp32_dir, config, calibration_data, out)
    with quiet():
        quantizer = ORTQuantizer.from_pretrained(fp32_dir, file_name=ONNX_FILE)
        try:
            with qdq_extra_options(_extra_options(config)):
                quantizer.quantize(qconfig, save_dir=out, calibration_tensors_range=ranges)
        except Exception as exc:
            raise BuildError(f"quantization failed: {exc}") from exc
    produced = out / f"{Path(ONNX_FILE).stem}_quantized.onnx"
    if produced.name != QUANTIZED_FILE:
        produced.rename(out / QUANTIZED_FILE)
    report = quantization_report(out / QUANTIZED_FILE, qconfig.operators_to_quantize, set(qconfig.nodes_to_exclude))
    found = () if ranges is None else _range_check(source, ranges, qconfig, out / RANGES_FILE)
    return dataclasses.replace(report, excluded_nodes=len(qconfig.nodes_to_exclude), range_check=found)


def _extra_options(config: QuantConfig) -> dict[str, Any]:
    """ONNX Runtime QDQ options that optimum's `QuantizationConfig` has no field for."""
    if not (config.is_static and config.fp32_outputs):
        return {}  # dynamic (QOperator) int8 never quantizes a node's outputs
    return {"OpTypesToExcludeOutputQuantization": list(config.fp32_outputs)}


@contextmanager
def qdq_extra_options(options: dict[str, Any]) -> Iterator[None]:
    """Add `options` to the extra options `ORTQuantizer.quantize` builds for ONNX Runtime's `QDQQuantizer`.

    optimum passes a fixed set; it looks the quantizer class up in its module at call time, so a wrapper
    there for the duration of one call adds ours (tests/unit/test_quantize_units.py pins this).
    """
    if not options:
        yield
        return
    from optimum.onnxruntime import quantization as optimum_quantization

    factory = optimum_quantization.QDQQuantizer

    def with_options(*args: Any, **kwargs: Any) -> Any:
        kwargs["extra_options"] = {**(kwargs.get("extra_options") or {}), **options}
        return factory(*args, **kwargs)

    optimum_quantization.QDQQuantizer = with_options
    try:
        yield
    finally:
        optimum_quantization.QDQQuantizer = factory


def _model_inputs_only(source: Path, calibration_data: Any) -> Any:
    """The calibration columns the graph takes: a tokenizer may give more (DistilBERT's no `token_type_ids`)."""
    import onnx

    wanted = {i.name for i in onnx.load(str(source), load_external_data=False).graph.input}
    return calibration_data.remove_columns([c for c in calibration_data.column_names if c not in wanted])


def _range_check(source: Path, calibration: Any, qconfig: Any, ranges_file: Path) -> tuple[RangeFinding, ...]:
    """Keep the calibration ranges with the artifact and flag the ones no int8 scale can represent."""
    import json

    import onnx

    from pytest_quantbench.artifacts import ranges

    plain = ranges.plain_ranges(calibration)
    ranges_file.write_text(json.dumps(plain))
    graph = onnx.load(str(source), load_external_data=False).graph
    found = ranges.check_ranges(plain, graph, set(qconfig.operators_to_quantize), set(qconfig.nodes_to_exclude))
    return tuple(found)


def quantization_report(
    model_path: Path, operators: list[str] | None = None, excluded: set[str] | None = None
) -> QuantizationReport:
    """How many nodes of each float op type run quantized: QOperator integer ops and QDQ-wrapped nodes.

    With `operators`, a QDQ-adjacent node counts only when its op type was asked for: a LayerNorm that
    reads a dequantized tensor still computes in fp32, and so does an `excluded` residual Add that reads one.
    """
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    dq_outputs = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    dq_inputs = {i for n in graph.node if n.op_type == "DequantizeLinear" for i in n.input}
    counts: Counter[str] = Counter()
    for node in graph.node:
        if node.op_type in QDQ_OPS or node.name in (excluded or ()):
            continue
        if node.op_type in INTEGER_OPS:
            counts[INTEGER_OPS[node.op_type]] += 1
        elif (operators is None or node.op_type in operators) and (
            any(i in dq_outputs for i in node.input) or any(o in dq_inputs for o in node.output)
        ):
            counts[node.op_type] += 1
    total = sum(counts.values())
    return QuantizationReport(
        quantized_nodes=dict(sorted(counts.items())),
        total_quantized=total,
        quantized_nothing=total == 0,
        operators_to_quantize=None if operators is None else tuple(operators),
        graph_sha256=graph_hash(graph),
    )
