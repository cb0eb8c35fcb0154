"""A run's results as typed records, read from a pytest-benchmark JSON file or built from the run itself.

pytest-benchmark's JSON holds the timings (one entry per latency case, with our `extra_info`). It knows
nothing of accuracy, so the plugin adds a top-level `quantbench` key (`records.RunRecord`): the suites, the
machine facts and every config's accuracy. Card, plot, compare and export read only the records below, never
pytest, and the rows (`rows.ConfigRow`) a `Run` builds once.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pytest_quantbench import serialize
from pytest_quantbench.records import CaseResult, MachineFacts, Shape, TimingResult
from pytest_quantbench.results.records import RunRecord, SuiteInfo, TimedCase, suite_info
from pytest_quantbench.results.rows import ConfigRow, config_rows
from pytest_quantbench.suite import QuantConfig, Suite

KEY = "quantbench"
LATEST = "latest"
SAVED_RUNS = "[0-9][0-9][0-9][0-9]_"  # pytest-benchmark's autosave names: 0001_<commit>_<date>.json


class RunFileError(Exception):
    """A saved run that cannot be found or was not written by pytest-quantbench."""


@dataclass(frozen=True)
class Run:
    source: str
    machine: MachineFacts | None
    commit: dict[str, Any]
    suites: tuple[SuiteInfo, ...]
    accuracy: tuple[CaseResult, ...]
    timings: tuple[TimedCase, ...]

    def accuracy_of(self, suite: str) -> dict[str, CaseResult]:
        return {r.config_id: r for r in self.accuracy if r.suite == suite}

    def timings_of(self, suite: str) -> list[TimedCase]:
        return [t for t in self.timings if t.record.suite == suite]

    def rows(self, suite: str) -> list[ConfigRow]:
        """A suite's report rows, built once for the run."""
        return self._rows.get(suite, [])

    def row(self, suite: str, config_id: str) -> ConfigRow | None:
        return next((r for r in self.rows(suite) if r.id == config_id), None)

    @functools.cached_property
    def _rows(self) -> dict[str, list[ConfigRow]]:
        return {s.name: config_rows(s, self.accuracy_of(s.name), self.timings_of(s.name)) for s in self.suites}

    def speedup_baseline(self, suite: str | None = None) -> str | None:
        """The one backend every speed-up (of a suite, or of the run) is against, None when they differ or
        none was timed: a table then names it once in its header, else in each speed-up cell."""
        found = {
            t.record.baseline for t in self.timings if t.record.speedup is not None and suite in (None, t.record.suite)
        }
        return found.pop() if len(found) == 1 else None

    def shapes(self, suite: str) -> list[Shape]:
        return sorted({t.record.shape for t in self.timings_of(suite)}, key=Shape.sort_key)


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


def parse_shape(text: str) -> Shape:
    """A shape as latency case ids write it (`records.Shape.parse`), as an argparse type."""
    try:
        return Shape.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --- writing: what the plugin adds to pytest-benchmark's JSON -------------------------------------------


def payload(
    suites: Iterable[Suite],
    accuracy: Iterable[CaseResult],
    machine: MachineFacts,
    reading: Callable[[Suite], str | None] = lambda suite: None,
) -> dict[str, Any]:
    """The `quantbench` key of a run's JSON; `reading`: how each suite's task read its model."""
    infos = tuple(suite_info(s, reading(s)) for s in suites)
    return serialize.dump(RunRecord(infos, machine, tuple(accuracy)))


# --- reading --------------------------------------------------------------------------------------------


def from_json(data: dict[str, Any], source: str) -> Run:
    """Typed records of a run's JSON (pytest-benchmark's layout with our `quantbench` key)."""
    ours = data.get(KEY)
    if not isinstance(ours, dict):
        raise RunFileError(f"{source}: no '{KEY}' results in it (not written by pytest-quantbench)")
    record = serialize.load(RunRecord, ours)
    named = {s.name: s for s in record.suites}
    timings = tuple(
        _timed(b["name"], serialize.load(TimingResult, b["extra_info"]), named)
        for b in data.get("benchmarks", [])
        if {"suite", "role"} <= b.get("extra_info", {}).keys()
    )
    timed = tuple(t for t in timings if t.record.latency is not None)  # a disabled benchmark timed nothing
    return Run(source, record.machine, data.get("commit_info", {}), record.suites, record.accuracy, timed)


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


def _timed(name: str, record: TimingResult, suites: dict[str, SuiteInfo]) -> TimedCase:
    suite = suites.get(record.suite)
    framework = suite.framework(record.config_id) if suite else record.config.get("framework") or QuantConfig.framework
    # files written before `baseline` was recorded timed each config against its own framework
    return TimedCase(name, replace(record, baseline=record.baseline or framework), framework)
