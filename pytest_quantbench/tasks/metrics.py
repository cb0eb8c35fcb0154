"""Metrics by name: the bundled `evaluate` modules (offline), hub modules, and what each metric is.

`accuracy` and `seqeval` ship with the package and load with `evaluate.load(<local path>)`; any other
`evaluate` name loads from the hub when it answers. A user's metric is a plain function added through the
`pytest_quantbench_add_metrics` hook (see `registry.Registry`).

Every metric says which way is better (`records.MetricInfo`): the bundled and fidelity ones in `METRICS`;
a hub metric is lower-is-better when its name is in `LOWER_IS_BETTER` (errors, distances, perplexity, loss),
else higher-is-better; a user's metric or a task's own declare theirs (`Registry.add_metric`,
`Task.metric_infos`), higher-is-better when they do not.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts import hub, sources
from pytest_quantbench.errors import SourceUnavailable
from pytest_quantbench.records import Direction, MetricInfo
from pytest_quantbench.tasks.base import MetricFn

BUNDLED_METRICS = Path(__file__).parent / "metric_modules"
AVERAGED = {"f1", "precision", "recall"}  # macro-averaged so that multi-class tasks work
# `evaluate` asks the hub with its own 100 s limits; a metric script is a few KB, so an attempt is given up
# after this many times the hub time-out (`hub.load`).
METRIC_ATTEMPT_TIMEOUTS = 2
SHARE = (0.0, 1.0)
# What the bundled metrics (`accuracy`, seqeval's) and the fidelity gates measure.
METRICS: dict[str, MetricInfo] = {
    info.name: info
    for info in (
        MetricInfo("accuracy", Direction.HIGHER, "fraction", SHARE),
        MetricInfo("f1", Direction.HIGHER, "fraction", SHARE),
        MetricInfo("precision", Direction.HIGHER, "fraction", SHARE),
        MetricInfo("recall", Direction.HIGHER, "fraction", SHARE),
        MetricInfo("matthews_correlation", Direction.HIGHER, "", (-1.0, 1.0)),
        MetricInfo("agreement", Direction.HIGHER, "fraction", SHARE),  # top-1 agreement with the original
        MetricInfo("cosine", Direction.HIGHER, "", (-1.0, 1.0)),  # of the logits rows
    )
}
# Hub (`evaluate`) metrics and common names where a lower score is better; any other name is higher-is-better.
LOWER_IS_BETTER = ("mse", "mae", "rmse", "mape", "smape", "wer", "cer", "ter", "perplexity", "loss")


def metric_info(name: str) -> MetricInfo:
    """What a metric the package knows by name is: bundled, else one of the known lower-is-better names (an
    error or a distance: none below 0), else higher-is-better with no unit or range."""
    if name in METRICS:
        return METRICS[name]
    if name in LOWER_IS_BETTER:
        return MetricInfo(name, Direction.LOWER, "", (0.0, None))
    return MetricInfo(name)


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
