"""Hooks a `conftest.py` or plugin implements to extend pytest-quantbench (registered with `pytest_addhooks`).

Each hook receives plain records from `pytest_quantbench.records` and `pytest_quantbench.results`; see the
documentation's *Extending* page (docs/extending.md) for one example of each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from pytest_quantbench.records import CaseResult
    from pytest_quantbench.registry import Registry
    from pytest_quantbench.results.run import Run
    from pytest_quantbench.suite import Case

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_quantbench_add_metrics(registry: Registry) -> None:
    """Add metrics a suite can list in `metrics:` and gate on: `registry.add_metric(name, fn, tasks=None)`,
    with `fn(predictions, references) -> float` (predictions as the task makes them: label ids, tag lists).

    Say which way is better with `direction="lower"` (an error, a distance; default `"higher"`), and
    optionally its `unit` and `range`, e.g.
    `registry.add_metric("mse", mse, tasks=["regression"], direction="lower", range=(0.0, None))`."""


@hookspec
def pytest_quantbench_add_tasks(registry: Registry) -> None:
    """Add tasks a suite can name in `task:`: `registry.add_task(MyTask())`, a `pytest_quantbench.tasks.Task`
    (a classifier: a `pytest_quantbench.tasks.ClassifierTask`, or one of the built-in tasks, subclassed).

    A task's `vocabulary` names its metrics; the metrics its own `score` computes say which way is better in
    its `metric_infos` (`pytest_quantbench.records.MetricInfo`); its `chance` says what a model that knows
    nothing scores (the level a collapse falls, or rises, to)."""


@hookspec
def pytest_quantbench_add_backends(registry: Registry) -> None:
    """Add backends a config can pick with `framework:`: `registry.add_backend(MyBackend)`, a
    `pytest_quantbench.runtimes.base.Backend` subclass with a `name`, a `vocabulary` and its `libraries`, that
    implements `quantized`, `session` and `model_id` (each taking a `records.Role`). What it does not
    implement (profiles, graph inspection) the diagnoses report as "<name> cannot ..."; its `engine_info()`
    is the card's engine line (see `runtimes/base.py`)."""


@hookspec(firstresult=True)
def pytest_quantbench_case_result(case: Case, result: CaseResult) -> CaseResult | None:
    """Called before an accuracy case's result is stored (terminal table, card, JSON). Return a changed copy
    (e.g. `dataclasses.replace(result, extra={...})`) to store that instead; None keeps it."""


@hookspec
def pytest_quantbench_summary(run: Run, lines: list[str]) -> None:
    """Change the end-of-run `quantbench` terminal section: edit `lines` in place."""


@hookspec(firstresult=True)
def pytest_quantbench_card(run: Run, card: str) -> str | None:
    """Change the Markdown card written by `--quantbench-card`: return the new text, None keeps it."""
