"""Weight-only quantization: ONNX Runtime's `MatMulNBitsQuantizer` (RTN, HQQ, k-quant, GPTQ), with named
MatMuls kept at 8 bits beside the config's bit width.

ONNX Runtime 1.32 takes one bit width per call on its RTN and HQQ paths (`DefaultWeightOnlyQuantConfig`,
`HQQWeightOnlyQuantConfig`), so `keep_8bit` runs two passes: the named MatMuls at 8 bits (round to nearest, the
config's block size, symmetry and accuracy level: at 8 bits the algorithm hardly matters), then the rest with the
config's algorithm (the first pass's nodes are MatMulNBits by then, which no pass touches again). Its k-quant path
reads a bit width per node (`customized_weight_config`) and writes 4 bits for a node it is not given, so every
MatMul is given its width there and one pass does both. GPTQ writes MatMulNBits at 4 bits only; it runs the
model on the calibration rows (a decoder's with its masked one-position cache, `Task.calibration_rows`) once per
distinct MatMul input to build each weight's Hessian.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections import Counter
from collections.abc import Collection
from pathlib import Path
from typing import Any

from pytest_quantbench.errors import BuildError
from pytest_quantbench.records import QuantizationReport
from pytest_quantbench.suite import QuantConfig, WeightOnly

KEEP_BITS = 8
GLOB = set("*?[")  # a keep_8bit entry with one of these is a pattern over node names, else a name
PAIRED_ZERO_POINTS = ("k_quant", "gptq")  # ONNX Runtime's neural-compressor writer of MatMulNBits


class SettingError(BuildError):
    """A `weight_only` setting the exported graph cannot take (`field`, under `weight_only`)."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"weight_only.{field}: {message}")


def fold_weight_transposes(model: Any, excluded: Collection[str] = ()) -> int:
    """A MatMul whose weight is a Transpose of a stored one reads the transposed weight stored instead; returns
    how many were folded. An export that ties the LM head to the token embedding (GPT-2) transposes the shared
    matrix at run time, and MatMulNBits only quantizes a MatMul whose weight is stored: the head (GPT-2's only
    MatMul with a weight; its other layers are Gemms) would stay fp32 and weight-only would quantize nothing."""
    import numpy as np
    from onnx import numpy_helper

    stored = {w.name: w for w in model.graph.initializer}
    # only for MatMuls that will be quantized: an excluded one would keep a second, transposed fp32 copy
    weight_inputs = {
        n.input[1] for n in model.graph.node if n.op_type == "MatMul" and len(n.input) > 1 and n.name not in excluded
    }
    folded = [
        n for n in model.graph.node
        if n.op_type == "Transpose" and n.input and n.input[0] in stored and n.output[0] in weight_inputs
    ]  # fmt: skip
    for node in folded:
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
        array = np.transpose(numpy_helper.to_array(stored[node.input[0]]), perm)
        model.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array), node.output[0]))
        model.graph.node.remove(node)
    return len(folded)


def weighted_matmuls(model: Any) -> list[str]:
    """The MatMuls MatMulNBits can take: those whose second input is a stored 2-D weight."""
    shapes = {w.name: len(w.dims) for w in model.graph.initializer}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and shapes.get(n.input[1]) == 2]


def kept_at_8bit(entries: tuple[str, ...], matmuls: list[str]) -> list[str]:
    """The MatMuls `keep_8bit` names, by name or glob pattern, in graph order; an entry that matches none of
    them is refused (ONNX Runtime would quietly quantize the node it meant at the config's bits)."""

    def matches(entry: str) -> list[str]:
        return fnmatch.filter(matmuls, entry) if GLOB & set(entry) else [n for n in matmuls if n == entry]

    unmatched = [e for e in entries if not matches(e)]
    if unmatched:
        raise SettingError(
            "keep_8bit", f"{', '.join(map(repr, unmatched))} matches no MatMul with a stored weight in the exported "
            f"graph (names look like {matmuls[0]!r})" if matmuls else "the exported graph has no MatMul with a weight"
        )  # fmt: skip
    wanted = {n for e in entries for n in matches(e)}
    return [n for n in matmuls if n in wanted]


def odd_blocks(model: Any, w: WeightOnly, quantized: Collection[str]) -> None:
    """ONNX Runtime 1.32's k-quant and GPTQ pack 4-bit zero points two by two across a weight's columns, which
    is only right (and only reshapes) when each column holds an even number of blocks: refuse the block size
    otherwise."""
    if w.algorithm not in PAIRED_ZERO_POINTS or w.bits != 4:
        return
    rows = {i.name: i.dims[0] for i in model.graph.initializer if len(i.dims) == 2}
    for node in (n for n in model.graph.node if n.name in quantized):
        blocks = -(-rows[node.input[1]] // w.block_size)
        if blocks % 2:
            raise SettingError(
                "block_size", f"{w.algorithm} at 4 bits needs an even number of blocks per weight column: {node.name} has "
                f"{rows[node.input[1]]} rows, {blocks} blocks of {w.block_size} (ONNX Runtime packs zero points in pairs)"
            )  # fmt: skip


class Batches:
    """The calibration rows as ONNX Runtime's `CalibrationDataReader` reads them: one feed a row, typed as the
    graph declares its inputs (GPTQ deep-copies the reader and iterates it)."""

    def __init__(self, rows: Any, dtypes: dict[str, Any]) -> None:
        import numpy as np

        columns = [c for c in rows.column_names if c in dtypes]
        self.feeds = [{c: np.asarray([row[c]], dtype=dtypes[c]) for c in columns} for row in rows]
        self.position = 0

    def get_next(self) -> dict[str, Any] | None:
        self.position += 1
        return self.feeds[self.position - 1] if self.position <= len(self.feeds) else None

    def __iter__(self) -> Any:
        return iter(self.feeds)


def calibration_reader(model: Any, calibration: Any) -> Batches:
    from onnx.helper import tensor_dtype_to_np_dtype

    declared = {i.name: tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type) for i in model.graph.input}
    return Batches(calibration, declared)


def _algorithm(w: WeightOnly, bits: int, node_bits: dict[str, int], calibration: Any = None) -> Any:
    """ONNX Runtime's config of the algorithm `w` names, at `bits` (k-quant: at `node_bits`, per node; GPTQ: on
    the `calibration` reader)."""
    from onnxruntime.quantization import matmul_nbits_quantizer as nbits

    if w.algorithm == "gptq":
        return nbits.GPTQWeightOnlyQuantConfig(calibration_data_reader=calibration)
    if w.algorithm == "hqq":
        return nbits.HQQWeightOnlyQuantConfig(block_size=w.block_size, bits=bits)
    if w.algorithm == "k_quant":
        return nbits.KQuantWeightOnlyQuantConfig(
            customized_weight_config={n: {"bits": b} for n, b in node_bits.items()}
        )
    return nbits.DefaultWeightOnlyQuantConfig(
        block_size=w.block_size, is_symmetric=w.symmetric, accuracy_level=w.accuracy_level, bits=bits
    )


def _one_pass(model: Any, w: WeightOnly, bits: int, skipped: Collection[str], algo: Any) -> Any:
    """`model` with its MatMuls but `skipped` quantized by `algo` at `bits`."""
    from onnxruntime.quantization import matmul_nbits_quantizer as nbits

    from pytest_quantbench.artifacts.export import quiet

    with quiet():
        try:
            quantizer = nbits.MatMulNBitsQuantizer(
                model, bits=bits, block_size=w.block_size, is_symmetric=w.symmetric,
                accuracy_level=w.accuracy_level, nodes_to_exclude=list(skipped), algo_config=algo,
            )  # fmt: skip
            if w.algorithm == "gptq":  # ONNX Runtime 1.32 drops nodes_to_exclude on its GPTQ path: mark them fp32
                configs = quantizer._generate_q4_node_config
                quantizer._generate_q4_node_config = lambda: {**configs(), **dict.fromkeys(skipped, "fp32")}
            quantizer.process()
        except Exception as exc:
            raise BuildError(f"weight-only quantization failed: {exc}") from exc
    return quantizer.model.model if hasattr(quantizer.model, "model") else quantizer.model


def quantize_weights(model: Any, w: WeightOnly, excluded: list[str], calibration: Any = None) -> Any:
    """`model` in MatMulNBits: the `keep_8bit` MatMuls at 8 bits, the others but `excluded` at `w.bits`."""
    matmuls = weighted_matmuls(model)
    keep = [n for n in kept_at_8bit(w.keep_8bit, matmuls) if n not in excluded]
    if w.algorithm == "gptq":
        if w.bits != 4:
            raise SettingError("bits", "gptq writes MatMulNBits at 4 bits only (ONNX Runtime 1.32): use rtn for 8")
        odd_blocks(model, w, [n for n in matmuls if n not in keep and n not in excluded])
        calibration = calibration_reader(model, calibration)
    if w.algorithm == "k_quant":
        widths = {n: KEEP_BITS if n in keep else w.bits for n in matmuls if n not in excluded}
        odd_blocks(model, w, [n for n, bits in widths.items() if bits == 4])
        return _one_pass(model, w, w.bits, excluded, _algorithm(w, w.bits, widths))
    if keep and w.bits != KEEP_BITS:
        first = dataclasses.replace(w, algorithm="rtn")
        others = [n for n in matmuls if n not in keep]
        model = _one_pass(model, first, KEEP_BITS, [*excluded, *others], _algorithm(first, KEEP_BITS, {}))
    return _one_pass(model, w, w.bits, excluded, _algorithm(w, w.bits, {}, calibration))


def weight_bits(model: Any) -> dict[str, int]:
    """How many MatMulNBits nodes hold weights of each bit width (`{"4": 210, "8": 1}`)."""
    widths = Counter(
        str(next((a.i for a in n.attribute if a.name == "bits"), 4)) for n in model.graph.node
        if n.op_type == "MatMulNBits"
    )  # fmt: skip
    return dict(sorted(widths.items()))


def weight_only(source: Path, config: QuantConfig, target: Path, calibration: Any = None) -> QuantizationReport:
    """Blockwise 4/8-bit MatMul weights with ONNX Runtime's `MatMulNBitsQuantizer` (RTN, HQQ, k-quant, or GPTQ
    on the `calibration` rows)."""
    import onnx

    from pytest_quantbench.artifacts.quantize import excluded_nodes, quantization_report

    excluded = excluded_nodes(source, config.node_exclusion) + list(config.nodes_to_exclude)
    fp32 = onnx.load(str(source))
    fold_weight_transposes(fp32, set(excluded))
    model = quantize_weights(fp32, config.weight_only, excluded, calibration)
    onnx.save(model, str(target))
    report = quantization_report(target, ["MatMul"])
    return dataclasses.replace(report, excluded_nodes=len(excluded), weight_bits=weight_bits(model))
