"""`pytest -n 2`: the serial run's accuracy results, each artifact built once, timing refused (not skewed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import PER_CHANNEL_GRID
from pytest_quantbench.artifacts.cache import ArtifactCache


def _accuracy(path: Path) -> dict:
    rows = json.loads(path.read_text())["quantbench"]["accuracy"]
    return {r["config_id"]: r["metrics"] for r in rows}


def test_two_workers_match_the_serial_run(
    suite_file, pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite_file("sentiment.suite.yaml", PER_CHANNEL_GRID)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "summary.md"))
    cache = tmp_path / "fresh-cache"  # fresh, so that every build of this run is in its log
    common = ("-p", "no:cacheprovider", f"--quantbench-cache={cache}", "-W", "ignore::UserWarning")
    parallel = pytester.runpytest_subprocess(*common, "-n", "2", "--benchmark-json=parallel.json")
    parallel.assert_outcomes(passed=2 + 3)
    parallel.stdout.fnmatch_lines(["*quantbench*", "*tiny-sentiment*per_channel*PASS*"])
    assert (pytester.path / "summary.md").read_text().count("## quantbench") == 1  # the controller's, not the workers'
    built = [(b["kind"], b["key"]) for b in ArtifactCache(cache).builds()]
    assert len(built) == len(set(built))  # each artifact once across both workers
    assert sum(kind == "quantize" for kind, _ in built) == 2 and sum(kind == "export" for kind, _ in built) == 1

    serial = pytester.runpytest_subprocess(*common, "-m", "accuracy", "--benchmark-json=serial.json")
    serial.assert_outcomes(passed=2, deselected=3)
    assert len(ArtifactCache(cache).builds()) == len(built)  # the serial run reused everything
    assert _accuracy(pytester.path / "parallel.json") == _accuracy(pytester.path / "serial.json")
    timed = json.loads((pytester.path / "parallel.json").read_text())["benchmarks"]
    assert timed == []  # pytest-benchmark refuses to time under xdist: no skewed numbers are recorded
