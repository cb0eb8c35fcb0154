"""What a run can use by name: tasks, metrics and backends, built in or added by a user's hooks.

One `Registry` per run (the plugin builds it at configure time from the `pytest_quantbench_add_tasks`,
`pytest_quantbench_add_metrics` and `pytest_quantbench_add_backends` hooks); plain-Python users call
`add_task` / `add_metric` / `add_backend`. The suite reader takes its `vocabulary()` from here, so a suite may
name a user's task, metric or backend; the scorer and the gates take `metric_info()` from here, so every
metric says which way is better; the machine facts take the run's `engines_of(cases)` from here.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_quantbench.records import Direction, MetricInfo
from pytest_quantbench.suite.vocabulary import Vocabulary
from pytest_quantbench.tasks import BUILTIN, MetricFn, Task

if TYPE_CHECKING:
    from pytest_quantbench.records import EngineInfo
    from pytest_quantbench.runtimes.base import Backend
    from pytest_quantbench.suite import Case


def _builtin_backends() -> dict[str, type[Backend]]:
    from pytest_quantbench.runtimes.onnxruntime import OnnxRuntime
    from pytest_quantbench.runtimes.openvino import OpenVino  # imports neither openvino nor nncf
    from pytest_quantbench.runtimes.pytorch import PyTorch

    return {b.name: b for b in (OnnxRuntime, PyTorch, OpenVino)}


@functools.cache
def _engine_info(backend: type[Backend]) -> EngineInfo:
    """Asked once a run per backend: it may read library versions from disk."""
    return backend.engine_info()


@dataclass
class Registry:
    tasks: dict[str, Task] = field(default_factory=lambda: {t.name: t for t in BUILTIN})
    metrics: dict[str, MetricFn] = field(default_factory=dict)  # a user's, by name
    metric_tasks: dict[str, tuple[str, ...] | None] = field(default_factory=dict)  # None: every task
    metric_infos: dict[str, MetricInfo] = field(default_factory=dict)  # a user's metrics: which way is better
    backends: dict[str, type[Backend]] = field(default_factory=_builtin_backends)  # by `framework:` value

    def task(self, name: str) -> Task:
        return self.tasks[name]

    def add_task(self, task: Task) -> None:
        self.tasks[task.name] = task

    def add_backend(self, backend: type[Backend]) -> None:
        """A `runtimes.base.Backend` subclass, picked by configs whose `framework:` is its `name`."""
        self.backends[backend.name] = backend

    def engines(self, names: Iterable[str] | None = None) -> tuple[EngineInfo, ...]:
        """How the backends of `names` (default: every one) describe their engines, for the machine facts."""
        chosen = self.backends if names is None else dict.fromkeys(n for n in names if n in self.backends)
        return tuple(_engine_info(self.backends[name]) for name in chosen)

    def engines_of(self, cases: Iterable[Case]) -> tuple[EngineInfo, ...]:
        """The engines `cases` ran on: each config's backend and its fp32 baseline's, in order of first use."""
        return self.engines(name for case in cases for name in (case.config.framework, case.baseline))

    def add_metric(
        self,
        name: str,
        fn: MetricFn,
        tasks: Iterable[str] | None = None,
        direction: Direction | str = Direction.HIGHER,
        unit: str = "",
        range: tuple[float | None, float | None] = (None, None),
    ) -> None:
        """A metric a suite can list in `metrics:` and gate on; `fn(predictions, references) -> float`.

        `direction`: `"higher"` (the default) or `"lower"` is better (an error, a distance: a rise is then
        what `max_drop` bounds); `unit` and `range` (low, high; None where unbounded) describe its values."""
        self.metrics[name] = fn
        self.metric_tasks[name] = tuple(tasks) if tasks is not None else None
        self.metric_infos[name] = MetricInfo(name, Direction(direction), unit, range)

    def metric_info(self, name: str, task: str | None = None) -> MetricInfo:
        """What a metric is: a user's as added, else as `task` declares it (`Task.metric_infos`), else the
        bundled table or the hub's known lower-is-better names (`tasks.metrics.metric_info`)."""
        from pytest_quantbench.tasks.metrics import metric_info

        declared = self.tasks[task].metric_info(name) if task in self.tasks else None
        return self.metric_infos.get(name) or declared or metric_info(name)

    def metric(self, name: str) -> MetricFn:
        """The scoring function of `name`: a user's, else the `evaluate` module of that name."""
        from pytest_quantbench.tasks.metrics import evaluate_metric

        return self.metrics.get(name) or evaluate_metric(name)

    def metrics_of(self, task: str) -> tuple[str, ...]:
        """What a suite of `task` may gate on: the task's own metrics, then the users' that apply to it."""
        extra = [m for m, tasks in self.metric_tasks.items() if tasks is None or task in tasks]
        return tuple(dict.fromkeys([*self.tasks[task].vocabulary.metrics, *extra]))

    def vocabulary(self) -> Vocabulary:
        """What a suite file may say: these tasks (each with its metrics and dataset defaults) and backends."""
        return Vocabulary(
            tasks={
                name: dataclasses.replace(task.vocabulary, metrics=self.metrics_of(name))
                for name, task in self.tasks.items()
            },
            backends={name: backend.vocabulary for name, backend in self.backends.items()},
        )
