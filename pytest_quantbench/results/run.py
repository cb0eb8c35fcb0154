"""A run's results as typed records, read from a pytest-benchmark JSON file or built from the run itself.

pytest-benchmark's JSON holds the timings (one entry per latency case, with our `extra_info`). It knows
nothing of accuracy, so the plugin adds a top-level `quantbench` key: the suites, the machine facts and
every config's accuracy. Card, plot, compare and export read only the records below, never pytest.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_quantbench import serialize
from pytest_quantbench.records import CaseResult, MachineFacts, SpeedDiagnosis, TimingResult
from pytest_quantbench.suite import Suite, TimeSpec, jsonable

KEY = "quantbench"
LATEST = "latest"
SAVED_RUNS = "[0-9][0-9][0-9][0-9]_"  # pytest-benchmark's autosave names: 0001_<commit>_<date>.json


class RunFileError(Exception):
    """A saved run that cannot be found or was not written by pytest-quantbench."""


@dataclass(frozen=True)
class TimingRow:
    """One latency case: a model (fp32 baseline or a config's int8 model) at one shape."""

    suite: str
    name: str  # pytest-benchmark's name, the same across runs
    role: str
    config_id: str
    batch_size: int
    input_length: int | None
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    speedup: float | None
    paired_fp32: TimingRow | None = None  # an int8 case's fp32 calls, interleaved with its own
    result: TimingResult | None = None  # everything the case recorded
    baseline: str = "onnxruntime"  # the backend of the fp32 model timed (fp32) or paired with it (int8)
    framework: str = "onnxruntime"  # the config's own backend: a baseline other than it was chosen by the suite

    @property
    def shape(self) -> tuple[int, int | None]:
        return (self.batch_size, self.input_length)

    @property
    def shape_id(self) -> str:
        return f"bs{self.batch_size}" + (f"-len{self.input_length}" if self.input_length else "")

    @property
    def throughput(self) -> float:
        """Samples per second."""
        return self.batch_size / self.mean_ms * 1e3


@dataclass(frozen=True)
class ConfigInfo:
    id: str
    settings: dict[str, Any]
    baseline_id: str
    expect: str | None


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

    @property
    def dataset_path(self) -> str:
        return str(self.dataset["path"])

    @property
    def num_eval_samples(self) -> int | None:
        return self.dataset.get("num_eval_samples")

    def config(self, config_id: str) -> ConfigInfo | None:
        return next((c for c in self.configs if c.id == config_id), None)

    def framework(self, config_id: str) -> str:
        """The backend of a config, or of the configs of an fp32 baseline id."""
        config = self.config(config_id) or next((c for c in self.configs if c.baseline_id == config_id), None)
        return (config.settings if config else {}).get("framework") or self.fixed.get("framework") or "onnxruntime"


@dataclass(frozen=True)
class Run:
    source: str
    machine: MachineFacts | None
    commit: dict[str, Any]
    suites: tuple[SuiteInfo, ...]
    accuracy: tuple[CaseResult, ...]
    timings: tuple[TimingRow, ...]

    def accuracy_of(self, suite: str) -> dict[str, CaseResult]:
        return {r.config_id: r for r in self.accuracy if r.suite == suite}

    def timings_of(self, suite: str) -> list[TimingRow]:
        return [t for t in self.timings if t.suite == suite]

    def speed_diagnoses(self, suite: str) -> list[tuple[TimingRow, SpeedDiagnosis]]:
        """Each config's first diagnosed shape (its cause is the same at the others, or close)."""
        found: dict[str, tuple[TimingRow, SpeedDiagnosis]] = {}
        for t in self.timings_of(suite):
            if t.result is not None and t.result.speed_diagnosis is not None:
                found.setdefault(t.config_id, (t, t.result.speed_diagnosis))
        return list(found.values())

    def speedup_baseline(self, suite: str | None = None) -> str | None:
        """The one backend every speed-up (of a suite, or of the run) is against, None when they differ or
        none was timed: a table then names it once in its header, else in each speed-up cell."""
        found = {t.baseline for t in self.timings if t.speedup is not None and suite in (None, t.suite)}
        return found.pop() if len(found) == 1 else None

    def shapes(self, suite: str) -> list[tuple[int, int | None]]:
        return sorted({t.shape for t in self.timings_of(suite)}, key=lambda s: (s[0], s[1] or 0))


def merge(runs: list[Run]) -> Run:
    """One run from the JSON files of the shards of a CI matrix (`--quantbench-shard K/N`): every shard timed
    its suites against its own fp32 baselines, so rows are concatenated, never recomputed."""
    if len(runs) == 1:
        return runs[0]
    suites = {s.name: s for run in runs for s in run.suites}
    return Run(
        source=" + ".join(r.source for r in runs),
        machine=runs[0].machine,
        commit=runs[0].commit,
        suites=tuple(suites.values()),
        accuracy=tuple(a for r in runs for a in r.accuracy),
        timings=tuple(t for r in runs for t in r.timings),
    )


def parse_shape(text: str) -> tuple[int, int | None]:
    """A shape as latency case ids write it: `bs8-len128`, or `bs8` for image tasks; an argparse type."""
    match = re.fullmatch(r"bs(\d+)(?:-len(\d+))?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a shape such as bs1-len128 or bs4")
    return int(match[1]), int(match[2]) if match[2] else None


# --- writing: what the plugin adds to pytest-benchmark's JSON -------------------------------------------


def suite_payload(suite: Suite) -> dict[str, Any]:
    dataset = {k: v for k, v in jsonable(suite.dataset).items() if v is not None and k != "base_dir"}
    dataset["data_keys"] = dict(suite.dataset.data_keys)
    return {
        "name": suite.name,
        "path": str(suite.path),
        "task": suite.task,
        "model": suite.model_name_or_path,
        "dataset": dataset,
        "metrics": list(suite.metrics),
        "fixed": {k: jsonable(v) for k, v in suite.fixed},
        "benchmarked": {k: [jsonable(v) for v in values] for k, values in suite.benchmarked},
        "time": dataclasses.asdict(suite.time),
        "baseline": suite.baseline,
        "configs": [
            {"id": c.id, "settings": c.settings(), "baseline_id": c.baseline_id, "expect": c.expect}
            for c in suite.cases
        ],
    }


def payload(suites: Iterable[Suite], accuracy: Iterable[CaseResult], machine: MachineFacts) -> dict[str, Any]:
    """The `quantbench` key of a run's JSON: everything the card needs that pytest-benchmark does not hold."""
    return {
        "suites": [suite_payload(s) for s in suites],
        "machine": serialize.dump(machine),
        "accuracy": [serialize.dump(a) for a in accuracy],
    }


# --- reading --------------------------------------------------------------------------------------------


def from_json(data: dict[str, Any], source: str) -> Run:
    """Typed records of a run's JSON (pytest-benchmark's layout with our `quantbench` key)."""
    ours = data.get(KEY)
    if not isinstance(ours, dict):
        raise RunFileError(f"{source}: no '{KEY}' results in it (not written by pytest-quantbench)")
    suites = tuple(_suite(s) for s in ours.get("suites", []))
    accuracy = tuple(serialize.load(CaseResult, a) for a in ours.get("accuracy", []))
    named = {s.name: s for s in suites}
    timings = tuple(
        _timing(b, named.get(b["extra_info"]["suite"]))
        for b in data.get("benchmarks", [])
        if {"suite", "role"} <= b["extra_info"].keys()
    )
    machine = serialize.load(MachineFacts, ours["machine"]) if ours.get("machine") else None
    return Run(source, machine, data.get("commit_info", {}), suites, accuracy, timings)


def load(path: str | Path) -> Run:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFileError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise RunFileError(f"{path}: not a saved run (its JSON is a {type(data).__name__}, not an object)")
    return from_json(data, path.name)


def resolve(spec: str, storage: Any) -> Path:
    """A saved run: a file path, 'latest' (the newest autosaved run) or a run number/name prefix, as
    `pytest-benchmark compare` takes it. `storage` is pytest-benchmark's `FileStorage`, which does the globbing."""
    if Path(spec).is_file():
        return Path(spec)
    try:
        found = storage.query(SAVED_RUNS if spec == LATEST else spec)
    except ValueError:  # a path that is not a file (pytest-benchmark takes it for a malformed glob)
        found = []
    if not found:
        raise RunFileError(f"no saved run matches {spec!r} in {storage}")
    return found[-1]


def _suite(raw: dict[str, Any]) -> SuiteInfo:
    return serialize.load(SuiteInfo, raw)


def _timing(bench: dict[str, Any], suite: SuiteInfo | None) -> TimingRow:
    info = serialize.load(TimingResult, bench["extra_info"])
    framework = suite.framework(info.config_id) if suite else info.config.get("framework") or "onnxruntime"
    row = TimingRow(
        suite=info.suite,
        name=bench["name"],
        role=info.role,
        config_id=info.config_id,
        batch_size=info.batch_size,
        input_length=info.input_length,
        mean_ms=bench["stats"]["mean"] * 1e3,
        p50_ms=info.latency_p50_ms or 0.0,
        p90_ms=info.latency_p90_ms or 0.0,
        p99_ms=info.latency_p99_ms or 0.0,
        speedup=info.speedup,
        result=info,
        baseline=info.baseline or framework,  # files written before it was recorded: the config's own framework
        framework=framework,
    )
    paired = info.paired_fp32
    if paired is None:
        return row
    fp32 = dataclasses.replace(
        row, role="fp32", mean_ms=paired.latency_mean_ms, speedup=None, p50_ms=paired.latency_p50_ms,
        p90_ms=paired.latency_p90_ms, p99_ms=paired.latency_p99_ms,
    )  # fmt: skip
    return dataclasses.replace(row, paired_fp32=fp32)  # the fp32 calls an int8 case interleaved with its own
