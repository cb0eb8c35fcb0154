"""Pins what `plugin.benchmark` reads of pytest-benchmark beyond its documented API: a release that moves
one of these fails here, not in a user's run."""

from __future__ import annotations

import inspect

from pytest_benchmark import fixture, session, stats, utils
from pytest_benchmark.storage import file


def test_fixture_attributes_the_timer_reads() -> None:
    init = inspect.signature(fixture.BenchmarkFixture.__init__).parameters
    assert "disabled" in init
    source = inspect.getsource(fixture.BenchmarkFixture)
    for attribute in ("self.disabled", "self.extra_info", "self.group", "self.stats", "def pedantic"):
        assert attribute in source
    assert "data" in inspect.getsource(stats.Stats)  # `stats.stats.data`: the recorded rounds


def test_session_attributes_the_reports_read() -> None:
    source = inspect.getsource(session.BenchmarkSession)
    for attribute in ("self.benchmarks", "self.storage", "self.json", "self.save", "self.autosave",
                      "def get_machine_info", "def save_json", "self.disabled", "self.skip"):  # fmt: skip
        assert attribute in source
    assert "def as_dict" in inspect.getsource(stats.Metadata) and "has_error" in inspect.getsource(stats.Metadata)


def test_storage_and_helpers() -> None:
    assert {"logger", "default_machine_id"} <= set(inspect.signature(file.FileStorage.__init__).parameters)
    assert callable(file.FileStorage.query) and callable(file.FileStorage.save)
    assert callable(utils.safe_dumps) and callable(utils.get_machine_id)


def test_the_session_hangs_on_the_config() -> None:
    from pytest_benchmark import plugin

    assert "config._benchmarksession" in inspect.getsource(plugin)
