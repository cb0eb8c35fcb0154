"""How NNCF quantizes an OpenVINO model for a config, and what it did.

`quantization_approach: static` is `nncf.quantize` (post-training int8: FakeQuantize nodes) calibrated on the
suite's calibration samples; `weight_only` is `nncf.compress_weights` (int8 or int4 weights, data-free, or with
AWQ and scale estimation on the calibration samples). The
config's `nncf:` section holds NNCF's own knobs; the shared fields it reads are `node_exclusion` and
`nodes_to_exclude` (NNCF's `IgnoredScope`), the calibration's sample count and padding, and `weight_only`'s
bits, block size and symmetry. Every entry of the ignored scope must match a node of the model: one that
matches nothing is one line naming the suite file and the field.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pytest_quantbench.errors import InputError
from pytest_quantbench.records import QuantizationReport
from pytest_quantbench.runtimes.base import one_line
from pytest_quantbench.suite import Case, grid
from pytest_quantbench.suite.vocabulary import PRESETS

T = TypeVar("T")
# `node_exclusion` presets as OpenVINO op types (after conversion a LayerNormalization is an MVN); a residual
# connection is an Add, and NNCF quantizes an Add only where it joins two branches.
PRESET_TYPES = {"layernorm": "MVN", "gelu": "Gelu", "residual": "Add", "gather": "Gather", "softmax": "Softmax"}
assert set(PRESET_TYPES) == set(PRESETS), "every node_exclusion preset has its OpenVINO op type"
# (bits, symmetric) -> NNCF's weight compression mode
WEIGHT_MODES = {(8, True): "INT8_SYM", (8, False): "INT8_ASYM", (4, True): "INT4_SYM", (4, False): "INT4_ASYM"}
# Ops whose weights NNCF compresses, and those a FakeQuantize of NNCF's feeds, are counted by type in the report.
LOW_BIT_WEIGHTS = ("i8", "u8", "i4", "u4")


def setting(case: Case, key: str) -> str:
    """Where a config's setting is in the suite file: in its grid when it is benchmarked, else fixed."""
    return grid.place(case, key)


@dataclass(frozen=True)
class Scope:
    """What a config keeps in fp32, by NNCF's three kinds of entry: node names, op types (`node_exclusion`'s
    presets) and name patterns."""

    names: tuple[str, ...] = ()
    presets: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    @classmethod
    def of(cls, case: Case) -> Scope:
        config = case.config
        exclusion = config.node_exclusion
        names = tuple(n for n in exclusion if n not in PRESET_TYPES) + config.nodes_to_exclude
        presets = tuple(n for n in exclusion if n in PRESET_TYPES)
        return cls(names, presets, config.nncf.ignored_patterns)

    def unmatched(self, model: Any, case: Case) -> tuple[str, str] | None:
        """The field of the first entry that matches no node of the OpenVINO `model`, and what it says."""
        ops = model.get_ops()
        return self.unmatched_in({op.get_friendly_name() for op in ops}, {op.get_type_name() for op in ops}, case)

    def unmatched_in(
        self, names: set[str], types: set[str], case: Case, preset_types: dict[str, str] | None = None
    ) -> tuple[str, str] | None:
        """The field of the first entry that matches none of a model's node `names` and op `types` (a pattern
        matches a name's start, as in NNCF; a preset by its op type in `preset_types`), and what it says; None
        when every entry matches."""
        preset_types = preset_types or PRESET_TYPES
        given = case.config.nodes_to_exclude

        def field(key: str) -> str:
            return setting(case, key)

        checks = [
            *((field("nodes_to_exclude" if n in given else "node_exclusion"), f"node {n!r}", n in names)
              for n in self.names),
            *((field("node_exclusion"), f"preset {p} (op type {preset_types[p]})", preset_types[p] in types)
              for p in self.presets),
            *((f"{field('nncf')}.ignored_patterns", f"pattern {p!r}", any(re.match(p, n) for n in names))
              for p in self.patterns),
        ]  # fmt: skip
        return next(((where, entry) for where, entry, found in checks if not found), None)

    def ignored_scope(self, preset_types: dict[str, str] | None = None) -> Any:
        import nncf

        types = [(preset_types or PRESET_TYPES)[p] for p in self.presets]
        return nncf.IgnoredScope(names=list(self.names), types=types, patterns=list(self.patterns))


def checked_scope(model: Any, case: Case) -> Any:
    """The config's `IgnoredScope`, every entry matching a node of `model`, else one line naming the field."""
    missing = Scope.of(case).unmatched(model, case)
    if missing is not None:
        where, entry = missing
        raise InputError(case.suite.path, where, f"{entry} matches no node of the OpenVINO model")
    return Scope.of(case).ignored_scope()


def is_transformer(model: Any, case: Case) -> bool:
    """NNCF's transformer model type: asked for, or (`auto`) a graph with attention's Softmax."""
    model_type = case.config.nncf.model_type
    if model_type != "auto":
        return model_type == "transformer"
    return any(op.get_type_name() == "Softmax" for op in model.get_ops())


def calibration_dataset(model: Any, rows: Any) -> Any:
    """The suite's calibration samples (a `datasets.Dataset` of encoded inputs) as an `nncf.Dataset` of one
    sample per item, each input in the model's element type."""
    import nncf
    import numpy as np

    dtypes = {port.get_any_name(): port.get_element_type().to_dtype() for port in model.inputs}

    def feed(row: dict[str, Any]) -> dict[str, Any]:
        return {name: np.asarray(row[name], dtype=dtype)[None] for name, dtype in dtypes.items()}

    return nncf.Dataset(rows, feed)


def quantize_static(model: Any, case: Case, rows: Any) -> Any:
    """NNCF's post-training int8 of `model`, calibrated on `rows`."""
    import nncf

    settings, calibration = case.config.nncf, case.config.calibration
    return nncf.quantize(
        model,
        calibration_dataset(model, rows),
        preset=nncf.QuantizationPreset(settings.preset),
        model_type=nncf.ModelType.TRANSFORMER if is_transformer(model, case) else None,
        subset_size=calibration.num_calibration_samples,
        fast_bias_correction=settings.fast_bias_correction,
        ignored_scope=checked_scope(model, case),
    )


def compression_options(case: Case, dataset: Callable[[], Any]) -> dict[str, Any]:
    """`nncf.compress_weights`' options of a config, on any backend: the mode, int4's groups and ratio, and
    the data-aware corrections with the calibration samples (`dataset()`: only built when one is set)."""
    import nncf

    weight_only, settings = case.config.weight_only, case.config.nncf
    options: dict[str, Any] = {
        "mode": getattr(nncf.CompressWeightsMode, WEIGHT_MODES[(weight_only.bits, weight_only.symmetric)])
    }
    if weight_only.bits == 4:
        options |= {"group_size": weight_only.block_size, "ratio": settings.ratio}
    if settings.data_aware:
        options |= {name: True for name in settings.data_aware}
        options |= {"dataset": dataset(), "subset_size": case.config.calibration.num_calibration_samples}
    return options


def compress_weights(model: Any, case: Case, rows: Any = None) -> Any:
    """NNCF's weight compression: int8 per channel, or int4 in groups of `block_size` (the `ratio` of the
    weights; the rest int8), data-free or corrected on the calibration `rows` (AWQ, scale estimation)."""
    import nncf

    weight_only = case.config.weight_only
    if weight_only.algorithm != "rtn":
        field = setting(case, "weight_only") + ".algorithm"
        raise InputError(case.suite.path, field, f"{weight_only.algorithm} is ONNX Runtime's; OpenVINO runs rtn")
    if weight_only.keep_8bit:
        field = setting(case, "weight_only") + ".keep_8bit"
        raise InputError(case.suite.path, field, "is ONNX Runtime's; with OpenVINO, nncf.ratio keeps a share in int8")
    options = compression_options(case, lambda: calibration_dataset(model, rows))
    return nncf.compress_weights(model, ignored_scope=checked_scope(model, case), **options)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """NNCF's progress bars and INFO tables stay out of the user's terminal (the progress line says what runs);
    its warnings still show."""
    from nncf.common.logging import nncf_logger

    level = nncf_logger.level
    nncf_logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # rich's bars write to the current sys.stdout
            yield
    finally:
        nncf_logger.setLevel(level)


def guarded(case: Case, quantizer: Callable[[], T]) -> T:
    """`quantizer()` run quietly; NNCF's own errors as one line naming the config's approach."""
    try:
        with quiet():
            return quantizer()
    except InputError:
        raise
    except Exception as exc:  # nncf's own errors: one line naming the config's approach
        field = setting(case, "quantization_approach")
        raise InputError(case.suite.path, field, f"NNCF failed: {one_line(exc)}") from exc


def quantize(model: Any, case: Case, rows: Any) -> Any:
    """The config's quantized model: static int8 (calibrated on `rows`) or weight compression."""
    if case.config.quantization_approach == "weight_only":
        return guarded(case, lambda: compress_weights(model, case, rows))
    return guarded(case, lambda: quantize_static(model, case, rows))


def _low_bit_constant(op: Any) -> bool:
    return op.get_type_name() == "Constant" and op.get_output_element_type(0).get_type_name() in LOW_BIT_WEIGHTS


def _fed_by(op: Any, found: Any, depth: int) -> bool:
    """Whether `found` holds of a node at most `depth` inputs up from `op` (the weights' Convert, Subtract,
    Multiply and Reshape sit between a compressed constant and its MatMul)."""
    parents = [value.get_node() for value in op.input_values()]
    return any(found(p) or (depth > 1 and _fed_by(p, found, depth - 1)) for p in parents)


def report(model: Any, case: Case) -> QuantizationReport:
    """What NNCF did, by op type: the ops a FakeQuantize feeds (static) or whose weights are compressed."""
    if case.config.quantization_approach == "weight_only":
        counts = Counter(
            op.get_type_name()
            for op in model.get_ops()
            if op.get_type_name() in ("MatMul", "Gather", "Convolution") and _fed_by(op, _low_bit_constant, 5)
        )
    else:
        counts = Counter(
            op.get_type_name()
            for op in model.get_ops()
            if op.get_type_name() != "FakeQuantize"
            and any(v.get_node().get_type_name() == "FakeQuantize" for v in op.input_values())
        )
    total = sum(counts.values())
    return QuantizationReport(
        quantized_nodes=dict(counts.most_common()), total_quantized=total, quantized_nothing=total == 0
    )
