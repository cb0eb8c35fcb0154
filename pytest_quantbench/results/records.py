"""What a run's JSON keeps besides pytest-benchmark's own layout, as typed records.

The plugin adds one top-level key, `quantbench`, to every JSON file pytest-benchmark writes: `RunRecord`, the
suites (`SuiteInfo`, their settings as the card prints them, and their configs), the machine facts and every
config's accuracy. `serialize.dump` writes it and `serialize.load` reads it back, so writer and reader share
one type. Each latency case rides in pytest-benchmark's `extra_info` as a `records.TimingResult`; a saved
run's cases are read into `TimedCase`s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pytest_quantbench import serialize
from pytest_quantbench.records import CaseResult, MachineFacts, TimingResult
from pytest_quantbench.suite import QuantConfig, Suite, TimeSpec


@dataclass(frozen=True)
class ConfigInfo:
    id: str
    settings: dict[str, Any]  # the benchmarked values of this config, as the card prints them
    baseline_id: str  # the id of the fp32 model it is compared with
    expect: str | None = None
    framework: str | None = None  # its backend; None in files written before it was recorded


@dataclass(frozen=True)
class SuiteInfo:
    """A suite as a run's JSON keeps it: its settings as the card prints them, and its configs."""

    name: str
    task: str
    model: str
    dataset: dict[str, Any]  # the `dataset:` settings given, printed as they are
    metrics: tuple[str, ...]
    fixed: dict[str, Any]
    benchmarked: dict[str, list[Any]]
    time: TimeSpec
    configs: tuple[ConfigInfo, ...]
    baseline: str | None = None  # the suite's `baseline:` (None: each config's own framework)
    path: str | None = None  # the suite file
    reading: str | None = None  # how the task reads the model (an embedding's pooling: `Task.describe_model`)

    @property
    def dataset_path(self) -> str:
        return str(self.dataset["path"])

    @property
    def num_eval_samples(self) -> int | None:
        return self.dataset.get("num_eval_samples")

    def config(self, config_id: str) -> ConfigInfo | None:
        return next((c for c in self.configs if c.id == config_id), None)

    def framework(self, config_id: str) -> str:
        """The backend of a config, or of the configs of an fp32 baseline id. Files written before configs
        recorded it name it where the suite set it, else it is the suite vocabulary's default."""
        config = self.config(config_id) or next((c for c in self.configs if c.baseline_id == config_id), None)
        if config is not None and config.framework:
            return config.framework
        given = (config.settings if config else {}).get("framework") or self.fixed.get("framework")
        return given or QuantConfig.framework


@dataclass(frozen=True)
class RunRecord:
    """The `quantbench` key of a run's JSON: everything the card needs that pytest-benchmark does not hold."""

    suites: tuple[SuiteInfo, ...] = ()
    machine: MachineFacts | None = None
    accuracy: tuple[CaseResult, ...] = ()


@dataclass(frozen=True)
class TimedCase:
    """One latency case of a saved run: pytest-benchmark's name for it (the same across runs), its record (with
    `baseline` resolved for files written before it was recorded), and its config's own backend."""

    name: str
    record: TimingResult
    framework: str


def suite_info(suite: Suite, reading: str | None = None) -> SuiteInfo:
    """What a run's JSON keeps of a suite; `reading`: how its task read the model, when the run said."""
    dataset = {k: v for k, v in serialize.dump(suite.dataset).items() if v is not None and k != "base_dir"}
    dataset["data_keys"] = dict(suite.dataset.data_keys)
    return SuiteInfo(
        name=suite.name,
        path=str(suite.path),
        task=suite.task,
        model=suite.model_name_or_path,
        dataset=dataset,
        metrics=suite.metrics,
        fixed={k: serialize.dump(v) for k, v in suite.fixed},
        benchmarked={k: [serialize.dump(v) for v in values] for k, values in suite.benchmarked},
        time=suite.time,
        baseline=suite.baseline,
        reading=reading,
        configs=tuple(ConfigInfo(c.id, c.settings(), c.baseline_id, c.expect, c.config.framework) for c in suite.cases),
    )
