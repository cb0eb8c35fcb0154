"""The `benchmarked` grid expanded into cases: one per combination, with readable ids and its overrides.

Works on validated records only; every error is a `SuiteError` naming the file and the field.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite.records import Case, QuantConfig, Suite, Thresholds
from pytest_quantbench.suite.vocabulary import PRESETS, BackendVocabulary

MAX_CONFIGS = 4096  # a grid beyond this is a typo, not a benchmark; it would stall collection


@dataclass(frozen=True)
class Rule:
    """One `overrides` entry: the benchmarked values it matches, and the thresholds and expectation it sets."""

    when: dict[str, Any]
    thresholds: Thresholds
    expect: str | None


def check_size(suite: Suite) -> None:
    """Refuse a grid too big to collect before anything is done per config."""
    size = math.prod(len(v) for _, v in suite.benchmarked)
    if size > MAX_CONFIGS:
        raise SuiteError(
            suite.path, "benchmarked", f"the grid has {size} configs, more than {MAX_CONFIGS}: split it into suites"
        )


def expand(
    suite: Suite, thresholds: Thresholds, rules: list[Rule], backends: Mapping[str, BackendVocabulary]
) -> tuple[Case, ...]:
    """Every combination of the benchmarked values, on top of the fixed ones; each rule must match one, and
    each config's backend must run its quantization approach."""
    fixed, benchmarked = dict(suite.fixed), dict(suite.benchmarked)
    matched = [False] * len(rules)
    cases = []
    for values in itertools.product(*benchmarked.values()):
        point = tuple(zip(benchmarked, values, strict=True))
        config = QuantConfig(**{**fixed, **dict(point)})
        approach = config.quantization_approach

        def where(key: str) -> str:
            return f"benchmarked.{key}" if key in benchmarked else f"fixed.{key}"

        if approach not in backends[config.framework].approaches:
            runs = " and ".join(backends[config.framework].approaches)
            others = " or ".join(name for name, b in backends.items() if approach in b.approaches)
            msg = f"{config.framework} runs {runs} quantization only: {approach} configs need framework {others}"
            raise SuiteError(suite.path, where("framework"), msg)
        if (config.activations_dtype or "").endswith("16") and not config.is_static:
            msg = "16-bit activations need quantization_approach: static (QDQ)"
            raise SuiteError(suite.path, where("activations_dtype"), msg)
        if config.fp32_outputs and config.is_static and config.format == "qoperator":
            raise SuiteError(
                suite.path, where("fp32_outputs"), "fp32 outputs need format: qdq (QLinear ops output int8)"
            )
        opset = config.framework_args.opset
        if (
            config.per_channel
            and config.is_static
            and config.format != "qoperator"
            and opset is not None
            and opset < 13
        ):
            msg = (
                f"per-channel static QDQ needs opset >= 13 (DequantizeLinear's axis), got framework_args.opset {opset}"
            )
            raise SuiteError(suite.path, where("per_channel"), msg)
        case_thresholds, expect = thresholds, None
        for i, rule in enumerate(rules):
            if all(dict(point).get(k) == v for k, v in rule.when.items()):
                matched[i] = True
                case_thresholds = case_thresholds.updated(rule.thresholds)
                expect = rule.expect or expect
        ident = "-".join(id_token(k, v) for k, v in point) or config.quantization_approach
        cases.append(
            Case(suite=suite, id=ident, config=config, point=point,
                 thresholds=case_thresholds, expect=expect)
        )  # fmt: skip
    for i, hit in enumerate(matched):
        if not hit:
            raise SuiteError(suite.path, f"overrides[{i}].when", "matches no config of the benchmarked grid")
    return tuple(cases)


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
        return "-".join(p for p in parts if p)
    if isinstance(value, bool):
        return key if value else f"no-{key}"
    return re.sub(r"[^\w+.-]", "_", str(value))
