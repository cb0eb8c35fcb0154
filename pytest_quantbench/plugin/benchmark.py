"""The one place that touches pytest-benchmark beyond its documented fixture API.

pytest-benchmark has no public API for what a plugin riding on it needs: the session's timed results,
its storage, its JSON encoder, or a fixture's recorded rounds. Everything of that kind goes through here,
and `tests/unit/test_benchmark_adapter.py` pins each attribute this module reads, so a pytest-benchmark
release that moves one fails that test rather than a user's run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


class Timer:
    """`measure.timing.Timer` over the `benchmark` fixture."""

    def __init__(self, fixture: Any, group: str) -> None:
        self.fixture = fixture
        fixture.group = group  # read when pedantic creates the stats

    @property
    def disabled(self) -> bool:
        return bool(self.fixture.disabled)

    def pedantic(self, target: Any, **kwargs: Any) -> Any:
        return self.fixture.pedantic(target, **kwargs)

    def times(self) -> list[float] | None:
        stats = self.fixture.stats  # None until pedantic ran, and when benchmarks are disabled
        return list(stats.stats.data) if stats is not None else None

    def record(self, info: dict[str, Any]) -> None:
        self.fixture.extra_info.update(info)


def session(config: pytest.Config) -> Any | None:
    """pytest-benchmark's `BenchmarkSession`, or None when the plugin is not active."""
    return getattr(config, "_benchmarksession", None)


def timing_disabled(config: pytest.Config) -> bool:
    """Whether latency cases time nothing this run (`--benchmark-disable`, `--benchmark-skip`, xdist, no plugin)."""
    bench = session(config)
    return bench is None or bool(bench.disabled or bench.skip)


def storage(config: pytest.Config) -> Any:
    bench = session(config)
    if bench is None:
        raise pytest.UsageError("--quantbench-compare needs pytest-benchmark's storage: do not disable the plugin")
    return bench.storage


def file_storage(path: str | Path) -> Any:
    """pytest-benchmark's storage of saved runs at `path` (`--benchmark-storage`), as `compare` reads it."""
    from pytest_benchmark.storage.file import FileStorage
    from pytest_benchmark.utils import get_machine_id

    return FileStorage(str(path), logger=None, default_machine_id=get_machine_id())


def timed_results(config: pytest.Config) -> list[dict[str, Any]]:
    """The run's timed cases as a saved file holds them (pytest-benchmark's JSON layout, no raw rounds)."""
    from pytest_benchmark.utils import safe_dumps

    bench = session(config)
    timed = [b.as_dict(include_data=False) for b in (bench.benchmarks if bench else []) if not b.has_error]
    return json.loads(safe_dumps(timed))


def save_untimed(config: pytest.Config, extra: dict[str, Any]) -> None:
    """pytest-benchmark writes no file when nothing was timed (`--benchmark-disable`, `-m accuracy`); write
    one where `--benchmark-json` / `--benchmark-autosave` asked, in its layout, with `extra` keys added."""
    bench = session(config)
    if bench is None or bench.benchmarks:
        return
    save = bench.save or bench.autosave
    if not (bench.json or save):
        return
    hook = config.hook
    commit = hook.pytest_benchmark_generate_commit_info(config=config)
    hook.pytest_benchmark_update_commit_info(config=config, commit_info=commit)
    output = hook.pytest_benchmark_generate_json(
        config=config, benchmarks=[], include_data=False, machine_info=bench.get_machine_info(), commit_info=commit
    )
    output.update(extra)
    if bench.json:
        bench.save_json(output)
    if save:
        bench.storage.save(output, save)
