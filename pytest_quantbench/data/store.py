"""Each suite's data for the run: its splits, the model's processor, eval batches, calibration samples and
timing inputs, each prepared once (outside any timed call) and kept for every config of the suite."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.artifacts.sources import Models
from pytest_quantbench.data import prepare
from pytest_quantbench.data.prepare import EvalData
from pytest_quantbench.memo import Memo
from pytest_quantbench.progress import Progress, say
from pytest_quantbench.suite import Suite
from pytest_quantbench.tasks import Task


class SuiteData:
    def __init__(self, suite: Suite, task: Task, models: Models, cache: ArtifactCache, progress: Progress) -> None:
        self.suite, self.task, self.models, self.cache, self.progress = suite, task, models, cache, progress
        self._memo = Memo()

    @property
    def processor(self) -> Any:
        return self._memo("processor", lambda: self.task.load_processor(self.models.model_dir(self.suite)))

    def split(self, name: str) -> Any:
        return self._memo(
            ("split", name), lambda: prepare.load_split(self.suite.dataset, name, self.cache, self.progress)
        )

    @property
    def eval(self) -> EvalData:
        spec = self.suite.dataset

        def make() -> EvalData:
            split = self.split(spec.eval_split)
            return prepare.eval_data(self.task, spec, split, self.processor, self.models.id2label(self.suite))

        return self._memo("eval", make)

    def calibration(self, num_samples: int, padding: str) -> Any:
        spec = self.suite.dataset
        split = self.split(spec.calibration_split)
        return prepare.calibration_dataset(self.task, spec, split, self.processor, num_samples, padding)

    def timing_inputs(self, batch_size: int, input_length: int | None) -> dict[str, Any]:
        spec = self.suite.dataset

        def make() -> dict[str, Any]:
            split = self.split(spec.eval_split)
            return prepare.timing_inputs(self.task, spec, split, self.processor, batch_size, input_length)

        return self._memo(("feed", batch_size, input_length), make)


class DataStore:
    """`of(suite)`: the suite's `SuiteData`, one per suite file for the run."""

    def __init__(
        self, cache: ArtifactCache, models: Models, tasks: Mapping[str, Task], progress: Progress = say
    ) -> None:
        self.cache, self.models, self.tasks, self.progress = cache, models, tasks, progress
        self._memo = Memo()

    def of(self, suite: Suite) -> SuiteData:
        task = self.tasks[suite.task]
        return self._memo(str(suite.path), lambda: SuiteData(suite, task, self.models, self.cache, self.progress))
