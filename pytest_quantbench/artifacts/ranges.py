"""Static range check: calibration ranges that no int8 scale can represent, named by node.

A minmax calibration on padded batches gives the attention-mask `Add` a range of about (-3.4e38, 45): its
int8 scale becomes ~1e36 and every attention score rounds to zero (seed 002). The ranges come from
`ORTQuantizer.fit`; this module maps each absurd tensor to the node that produces it, the nodes it feeds and
the quantized nodes that keep it as an int8 tensor, which are the ones to exclude.
"""

from __future__ import annotations

import math
from typing import Any

from pytest_quantbench.records import RangeFinding

ABSURD_RANGE = 1e30


def plain_ranges(calibration: Any) -> dict[str, tuple[float, float]]:
    """`ORTQuantizer.fit`'s result (ONNX Runtime `TensorsData` or name -> (min, max)) as plain floats."""
    import numpy as np

    out = {}
    for name, value in calibration.items():
        low, high = getattr(value, "range_value", value)
        out[name] = (float(np.min(low)), float(np.max(high)))
    return out


def absurd(low: float, high: float) -> bool:
    return not (math.isfinite(low) and math.isfinite(high)) or max(abs(low), abs(high)) > ABSURD_RANGE


def check_ranges(
    ranges: dict[str, tuple[float, float]], graph: Any, quantized_ops: set[str], excluded: set[str]
) -> list[RangeFinding]:
    """Findings for every absurd range; those a quantized node produces come first (they are the cause)."""
    producers = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def quantized(node: Any) -> bool:
        return node.op_type in quantized_ops and node.name not in excluded

    findings = []
    for tensor, (low, high) in ranges.items():
        if not absurd(low, high):
            continue
        producer = producers.get(tensor)
        readers = consumers.get(tensor, [])
        touching = ([producer] if producer is not None else []) + readers
        findings.append(
            RangeFinding(
                tensor=tensor, low=low, high=high,
                node=producer.name if producer is not None else tensor,
                op_type=producer.op_type if producer is not None else "input",
                feeds=tuple(dict.fromkeys(n.op_type for n in readers)),
                exclude=tuple(dict.fromkeys(n.name for n in touching if quantized(n))),
            )
        )  # fmt: skip
    findings.sort(key=lambda f: (f.node not in f.exclude, f.node))
    return findings
