"""Metrics by name: the bundled `evaluate` modules (offline), hub modules, and a user's own functions.

`accuracy` and `seqeval` ship with the package and load with `evaluate.load(<local path>)`; any other
`evaluate` name loads from the hub when it answers. A user's metric is a plain function added through the
`pytest_quantbench_add_metrics` hook (see `registry.Registry`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts import hub, sources
from pytest_quantbench.errors import SourceUnavailable
from pytest_quantbench.tasks.base import MetricFn

BUNDLED_METRICS = Path(__file__).parent / "metric_modules"
AVERAGED = {"f1", "precision", "recall"}  # macro-averaged so that multi-class tasks work
# `evaluate` asks the hub with its own 100 s limits; a metric script is a few KB, so an attempt is given up
# after this many times the hub time-out (`hub.load`).
METRIC_ATTEMPT_TIMEOUTS = 2


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
    limit = METRIC_ATTEMPT_TIMEOUTS * hub.settings().timeout
    return hub.load(f"metric '{name}'", lambda: evaluate.load(name), give_up_after=limit)


def evaluate_metric(name: str) -> MetricFn:
    """An `evaluate` module as a scoring function."""
    kwargs = {"average": "macro"} if name in AVERAGED else {}

    def compute(predictions: list[Any], references: list[Any]) -> float:
        return float(load_metric(name).compute(predictions=predictions, references=references, **kwargs)[name])

    return compute
