"""The run's state in `config.stash`: the registry the hooks filled, the cache folder, and the `Bench`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_quantbench.registry import Registry
from pytest_quantbench.suite import Suite, load_suite

if TYPE_CHECKING:
    from pytest_quantbench.bench import Bench
    from pytest_quantbench.records import CaseResult, TimingResult
    from pytest_quantbench.suite import Vocabulary
    from pytest_quantbench.verdicts.diagnosis import DiagnoseOptions

BENCH = pytest.StashKey["Bench"]()
PROGRESS = pytest.StashKey[Callable[[str], None]]()
REGISTRY = pytest.StashKey[Registry]()
VOCABULARY: pytest.StashKey[Vocabulary] = pytest.StashKey()
CACHE = pytest.StashKey[Path]()
# the keys of the cases some selected latency case times: their memory is probed beside the accuracy cases
TIMED_CASES = pytest.StashKey[frozenset[str]]()
# a case's typed record on its item, for per-test reports of other plugins (pytest-html's rows)
CASE_RECORD: pytest.StashKey[CaseResult | TimingResult] = pytest.StashKey()


def params_of(item: pytest.Item) -> dict[str, Any]:
    """A collected item's parametrization (a case's `quantbench_case` or `quantbench_measurement`), else {}."""
    return getattr(getattr(item, "callspec", None), "params", {})


def registry(config: pytest.Config) -> Registry:
    """The run's tasks and metrics, the users' hooks included."""
    return config.stash[REGISTRY]


def read_suite(config: pytest.Config, path: Path) -> Suite:
    """A suite file, checked against the run's tasks and metrics (a user's hooks may add some)."""
    if VOCABULARY not in config.stash:
        config.stash[VOCABULARY] = registry(config).vocabulary()
    return load_suite(path, config.stash[VOCABULARY])


def bench(config: pytest.Config) -> Bench:
    """The run's pipeline, made when a case first needs it (so collection imports no ML library)."""
    if BENCH not in config.stash:
        from pytest_quantbench.bench import Bench

        lock_timeout = config.getoption("quantbench_lock_timeout")
        config.stash[BENCH] = Bench(config.stash[CACHE], config.stash[PROGRESS], registry(config), lock_timeout)
    return config.stash[BENCH]


def release(config: pytest.Config) -> None:
    """The run's sessions and in-memory models let go, where a pipeline was made at all (`Bench.release`)."""
    if BENCH in config.stash:
        config.stash[BENCH].release()


def diagnose_options(config: pytest.Config) -> DiagnoseOptions:
    from pytest_quantbench.verdicts.diagnosis import DiagnoseOptions

    return DiagnoseOptions(
        always=config.getoption("quantbench_diagnose"),
        never=config.getoption("quantbench_no_diagnose"),
        fallback=config.getoption("quantbench_fallback"),
    )
