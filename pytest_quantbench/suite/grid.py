"""The `benchmarked` grid (or each of a list of grids) expanded into cases: one per combination, with readable ids and its overrides.

Works on validated records only, and checks nothing: the rules a config must keep, and that each override
matches a config, are `build.py`'s.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from pytest_quantbench.suite.records import PRESET_KEY, Case, QuantConfig, Suite, with_preset
from pytest_quantbench.suite.thresholds import Thresholds
from pytest_quantbench.suite.vocabulary import PRESETS


@dataclass(frozen=True)
class Override:
    """One `overrides` entry: the benchmarked values it matches, and the thresholds and expectation it sets."""

    when: dict[str, Any]
    thresholds: Thresholds
    expect: str | None

    def matches(self, point: tuple[tuple[str, Any], ...]) -> bool:
        """Whether a config, given by its benchmarked values, has every value `when` names."""
        values = dict(point)
        return all(values.get(k) == v for k, v in self.when.items())


def grids(suite: Suite) -> tuple[tuple[tuple[str, tuple[Any, ...]], ...], ...]:
    """The suite's grids: those of a `benchmarked` list, else the one `benchmarked` mapping."""
    return suite.grids or (suite.benchmarked,)


def expand(suite: Suite, thresholds: Thresholds, overrides: list[Override]) -> tuple[Case, ...]:
    """The cases of every grid of the suite, grid after grid: a case's id is its own grid's values, so a
    suite of one grid keeps its ids when more grids join it as a list."""
    return tuple(case for values in grids(suite) for case in expand_grid(suite, values, thresholds, overrides))


def expand_grid(
    suite: Suite, grid: tuple[tuple[str, tuple[Any, ...]], ...], thresholds: Thresholds, overrides: list[Override]
) -> tuple[Case, ...]:
    """Every combination of one grid's values, on top of the fixed ones, each with the suite's
    thresholds and those of the overrides that match it (later ones over earlier ones)."""
    fixed, benchmarked = dict(suite.fixed), dict(grid)
    cases = []
    for values in itertools.product(*benchmarked.values()):
        point = tuple(zip(benchmarked, values, strict=True))
        config = QuantConfig(**with_preset({**fixed, **dict(point)}))
        case_thresholds, expect = thresholds, None
        for override in overrides:
            if override.matches(point):
                case_thresholds = case_thresholds.updated(override.thresholds)
                expect = override.expect or expect
        ident = "-".join(id_token(k, v) for k, v in point) or fixed.get(PRESET_KEY) or config.quantization_approach
        cases.append(
            Case(suite=suite, id=ident, config=config, point=point,
                 thresholds=case_thresholds, expect=expect)
        )  # fmt: skip
    return tuple(cases)


def place(case: Case, key: str) -> str:
    """Where a config's setting is in the suite file: in its grid when benchmarked there (`benchmarked`, or
    `benchmarked[i]` in a list of grids), else fixed."""
    point = dict(case.point)
    if key not in point:
        return f"fixed.{key}"
    if not case.suite.grids:
        return f"benchmarked.{key}"
    index = next(
        i
        for i, grid in enumerate(case.suite.grids)
        if set(dict(grid)) == set(point) and all(point[k] in values for k, values in grid)
    )
    return f"benchmarked[{index}].{key}"


def id_token(key: str, value: Any) -> str:
    """Readable id piece for one benchmarked value, usable in `-k` expressions."""
    if key == "per_channel":
        return "per_channel" if value else "per_tensor"
    if key == "reduce_range":
        return "reduce_range" if value else "full_range"
    if key == "operators_to_quantize":
        return "+".join(value) if value else "default-ops"  # optimum reads [] as its default operator set
    if key == "fp32_outputs":
        return "fp32out-" + "+".join(value) if value else "int8-outputs"
    if key == "node_exclusion":
        presets = [v for v in value if v in PRESETS]
        nodes = [f"{len(value) - len(presets)}nodes"] if len(value) > len(presets) else []
        return "excl-" + "+".join(presets + nodes) if value else "no-excl"
    if key == "nodes_to_exclude":
        return f"excl{len(value)}nodes" if value else "no-excl-nodes"
    if key == "calibration":
        pad = "" if value.padding == "max_length" else f"-pad_{value.padding}"
        return f"{value.method}{value.num_calibration_samples}{pad}"
    if key == "framework_args":
        parts = [f"opset{value.opset}" if value.opset else "", f"O{value.optimization_level}"]
        if value.quantized_optimization_level is not None:
            parts.append(f"Oq{value.quantized_optimization_level}")
        parts += [f"t{value.intra_op_num_threads}", "x64prec" if value.x64_quant_precision else ""]
        return "-".join(p for p in parts if p)
    if key == "weight_only":
        parts = [f"w{value.bits}", f"b{value.block_size}", value.algorithm, "" if value.symmetric else "asym"]
        parts.append("" if value.accuracy_level is None else f"acc{value.accuracy_level}")
        parts.append(f"keep8bit{len(value.keep_8bit)}" if value.keep_8bit else "")
        return "-".join(p for p in parts if p)
    if key == "nncf":
        parts = [value.preset, "" if value.model_type == "auto" else value.model_type]
        parts += ["" if value.fast_bias_correction else "bias_correction", f"{len(value.ignored_patterns)}patterns"]
        parts.append("" if value.ratio == 1.0 else f"ratio{value.ratio:g}")
        control = value.accuracy_control
        parts.append(f"ac{control.max_drop:g}{'' if control.drop_type == 'absolute' else 'rel'}" if control else "")
        parts += [{"awq": "awq", "scale_estimation": "se"}[name] for name in value.data_aware]
        return "-".join(p for p in parts if p and p != "0patterns")
    if isinstance(value, bool):
        return key if value else f"no-{key}"
    return re.sub(r"[^\w+.-]", "_", str(value))
