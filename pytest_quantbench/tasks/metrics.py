"""Metrics by name: the bundled `evaluate` modules (offline), hub modules, and a user's own functions.

`accuracy` and `seqeval` ship with the package and load with `evaluate.load(<local path>)`; any other
`evaluate` name loads from the hub when it answers. A user's metric is a plain function added through the
`pytest_quantbench_add_metrics` hook (see `registry.Registry`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts import sources
from pytest_quantbench.errors import SourceUnavailable
from pytest_quantbench.tasks.base import MetricFn

BUNDLED_METRICS = Path(__file__).parent / "metric_modules"
AVERAGED = {"f1", "precision", "recall"}  # macro-averaged so that multi-class tasks work


@functools.cache
def load_metric(name: str) -> Any:
    """The bundled module when there is one (works offline), else `evaluate.load(name)` from the hub."""
    import evaluate

    local = BUNDLED_METRICS / name
    if local.is_dir():
        return evaluate.load(str(local))
    reason = sources.hub_unreachable_reason()
    if reason:
        raise SourceUnavailable(f"metric '{name}' is not bundled and {reason}")
    return evaluate.load(name)


def evaluate_metric(name: str) -> MetricFn:
    """An `evaluate` module as a scoring function."""
    kwargs = {"average": "macro"} if name in AVERAGED else {}

    def compute(predictions: list[Any], references: list[Any]) -> float:
        return float(load_metric(name).compute(predictions=predictions, references=references, **kwargs)[name])

    return compute
