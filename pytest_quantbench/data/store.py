"""Each suite's data for the run: its splits, the model's processor, eval batches, calibration samples and
timing inputs, each prepared once (outside any timed call) and kept for every config of the suite.

The model folder and the data are checked (`check`) the first time a suite's data is asked for, before any
export or calibration: a mistake fails every case of the suite with the same line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pytest_quantbench import faults
from pytest_quantbench.artifacts import sources
from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.artifacts.model_check import check_model_dir
from pytest_quantbench.artifacts.sources import Models
from pytest_quantbench.data import head, prepare, validate
from pytest_quantbench.data.prepare import EvalData
from pytest_quantbench.errors import BuildError, InputError, ModelError, SourceUnavailable
from pytest_quantbench.memo import Memo
from pytest_quantbench.progress import Progress, say
from pytest_quantbench.suite import DatasetSpec, Suite
from pytest_quantbench.tasks import Task


class SuiteData:
    def __init__(self, suite: Suite, task: Task, models: Models, cache: ArtifactCache, progress: Progress) -> None:
        self.suite, self.task, self.models, self.cache, self.progress = suite, task, models, cache, progress
        self._memo = Memo()
        self._problem: InputError | None = None
        self._checked = False
        self.described: str | None = None  # how the task reads the model (an embedding's pooling), once checked

    def check(self) -> None:
        """Model folder, then data, against the suite and the model; the first problem is kept and raised again."""
        if not self._checked:
            try:
                self._check()
            except InputError as exc:
                self._problem = exc
            self._checked = True
        if self._problem is not None:
            raise self._problem

    def _check(self) -> None:
        suite, task, spec = self.suite, self.task, self.suite.dataset
        config = check_model_dir(
            suite.path, self.models.model_dir(suite), task.name, task.head_suffix, task.processor_files,
            suite.trust_remote_code,
        )  # fmt: skip
        problem = task.check_model(self.models.model_dir(suite))  # the task's own files (a pooling config)
        if problem:
            raise ModelError(suite.path, "model_name_or_path", problem)
        described = self.described = task.describe_model(self.models.model_dir(suite))
        if described:
            self.progress(f"{suite.path}: {described}")
        validate.check_lengths(suite, config)
        for note in self.lengths.notes:
            self.progress(note)
        id2label = self.models.id2label(suite)
        used = {spec.eval_split: prepare.eval_rows(spec, self.split(spec.eval_split))}
        static = [c.config.calibration for c in suite.cases if c.config.is_static]
        if static:
            most = max(c.num_calibration_samples for c in static)
            used[spec.calibration_split] = prepare.calibration_rows(self.split(spec.calibration_split), most)
        for name, rows in used.items():
            validate.check_columns(suite, rows, name)  # the rows used: empty only when the split is
            names = prepare.label_names(rows, spec.ref_keys[0]) if spec.ref_keys else None
            validate.check_rows(suite, task, rows, name, id2label, names)
        self._note_short_splits(static)

    def _note_short_splits(self, static: list[Any]) -> None:
        """Asking for more samples than a split has uses every row: said once, not an error."""
        spec = self.suite.dataset
        wanted = [("num_eval_samples", spec.eval_split, spec.num_eval_samples)]
        wanted += [("num_calibration_samples", spec.calibration_split, c.num_calibration_samples) for c in static]
        for field, name, count in dict.fromkeys(wanted):
            size = len(self.split(name))
            if count is not None and count > size:
                self.progress(f"{self.suite.path}: {field} {count} > {size} rows of split '{name}': using {size}")

    @property
    def lengths(self) -> validate.FittedLengths:
        """The suite's lengths for its model: what it gives, else the defaults cut to the model's positions."""
        return self._memo("lengths", lambda: validate.fitted_lengths(self.suite, self.models.config(self.suite)))

    @property
    def spec(self) -> DatasetSpec:
        """The suite's dataset with its `max_length` for this model: what every encoding reads."""
        return self._memo("spec", lambda: dataclasses.replace(self.suite.dataset, max_length=self.lengths.max_length))

    def timed_length(self, input_length: int | None) -> int | None:
        """The length a timing shape is timed at: as the suite gives it, else the default fitted to the model."""
        if input_length is None or self.suite.time.input_lengths is not None:
            return input_length
        return self.lengths.default_input_length

    @property
    def position_limit(self) -> int | None:
        """The longest input the model's positions take (None: not known, or a task without lengths)."""
        if not self.suite.timed_by_length:
            return None
        return self._memo("limit", lambda: validate.position_limit(self.models.config(self.suite)))

    @property
    def shapes(self) -> list[tuple[int, int | None]]:
        """The suite's timing shapes as they are timed (`Suite.shapes` names them as the ids do)."""
        return [(batch_size, self.timed_length(n)) for batch_size, n in self.suite.shapes]

    @property
    def processor(self) -> Any:
        def load() -> Any:
            model_dir = self.models.model_dir(self.suite)
            with faults.guard(f"{self.suite.path}: model_name_or_path", folder=model_dir):  # a corrupt tokenizer.json
                return self.task.load_processor(model_dir)

        return self._memo("processor", load)

    def split(self, name: str) -> Any:
        """A split as the suite reads it: the eval split of big local files, when no static config calibrates
        on it, only as its first `num_eval_samples` rows (`head.first_rows`: streamed, never converted whole)."""
        spec = self.suite.dataset
        calibrated = any(c.config.is_static and spec.calibration_split == name for c in self.suite.cases)
        streamed = name == spec.eval_split and not calibrated

        def load() -> Any:
            try:
                first = head.first_rows(spec, name, self.cache) if streamed else None
                return first if first is not None else prepare.load_split(spec, name, self.cache, self.progress)
            except SourceUnavailable as exc:  # already one line; a hub id might have been a folder
                if not sources.dataset_needs_hub(spec.path, self.suite.base_dir):
                    raise
                raise sources.tried_locally(exc, spec.path, self.suite.base_dir) from None
            except BuildError:  # already one line (a builtin recipe)
                raise
            except Exception as exc:  # a file datasets cannot read, a split that is not there
                raise validate.load_failure(self.suite, name, exc) from None

        return self._memo(("split", name), load)

    @property
    def eval(self) -> EvalData:
        spec = self.spec

        def make() -> EvalData:
            return prepare.eval_data(
                self.task, spec, self.split(spec.eval_split), self.processor, self.models.id2label(self.suite)
            )

        return self._memo("eval", make)

    def calibration(self, num_samples: int, padding: str) -> Any:
        spec = self.spec
        split = self.split(spec.calibration_split)
        return prepare.calibration_dataset(self.task, spec, split, self.processor, num_samples, padding)

    def timing_inputs(self, batch_size: int, input_length: int | None) -> dict[str, Any]:
        return self.inputs_at(batch_size, self.timed_length(input_length))

    def inputs_at(self, batch_size: int, length: int | None) -> dict[str, Any]:
        """Timing inputs of exactly `length` (a length as timed: a decoder's cache or prompt, fitted already)."""
        spec = self.spec

        def make() -> dict[str, Any]:
            return prepare.timing_inputs(
                self.task, spec, self.split(spec.eval_split), self.processor, batch_size, length
            )

        return self._memo(("feed", batch_size, length), make)


class DataStore:
    """`of(suite)`: the suite's `SuiteData`, one per suite file for the run."""

    def __init__(
        self, cache: ArtifactCache, models: Models, tasks: Mapping[str, Task], progress: Progress = say
    ) -> None:
        self.cache, self.models, self.tasks, self.progress = cache, models, tasks, progress
        self._memo = Memo()
        self._suites: dict[str, SuiteData] = {}

    def of(self, suite: Suite) -> SuiteData:
        task = self.tasks[suite.task]
        data = self._memo(str(suite.path), lambda: SuiteData(suite, task, self.models, self.cache, self.progress))
        self._suites[str(suite.path)] = data
        data.check()
        return data

    def described(self, suite: Suite) -> str | None:
        """How the task reads the suite's model (`Task.describe_model`), when its data has been checked this
        run; never checks it for this."""
        data = self._suites.get(str(suite.path))
        return data.described if data is not None else None
