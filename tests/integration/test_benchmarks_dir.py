"""The shipped suites: they parse, mirror the seed cards' grids, and hub suites stay out of the default run."""

from __future__ import annotations

from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_hub_suites_are_deselected_unless_asked(pytester: pytest.Pytester) -> None:
    default = pytester.runpytest(str(BENCHMARKS), "--co", "-q", "-p", "no:cacheprovider")
    assert "benchmarks/hub/" not in default.stdout.str()
    assert "benchmarks/vit-mnist.suite.yaml::accuracy" in default.stdout.str()
    asked = pytester.runpytest(str(BENCHMARKS), "--co", "-q", "-m", "hub", "-p", "no:cacheprovider")
    assert "hub/vit-beans.suite.yaml::accuracy[Add+MatMul-per_tensor]" in asked.stdout.str()
    vit = pytester.runpytest(str(BENCHMARKS), "--co", "-q", "-k", "vit", "-p", "no:cacheprovider")
    ids = [line for line in vit.stdout.lines if "::" in line]
    assert ids and all("vit-mnist.suite.yaml" in line for line in ids)


def test_extended_suites_run_only_when_asked_by_marker_or_path(pytester: pytest.Pytester) -> None:
    default = pytester.runpytest(str(BENCHMARKS), "--co", "-q", "-p", "no:cacheprovider").stdout.str()
    extended = (
        "smollm2-dynamic.suite", "smollm-kquant.suite", "smollm-b128.suite", "smollm-hqq.suite", "smollm-int4-head.suite"
    )  # fmt: skip
    assert all(name not in default for name in extended)
    assert "benchmarks/smollm.suite.yaml::accuracy" in default
    asked = pytester.runpytest(str(BENCHMARKS), "--co", "-q", "-m", "extended", "-p", "no:cacheprovider").stdout
    ids = [line for line in asked.lines if "::" in line]
    assert {line.split("::")[0].rsplit("/", 1)[-1] for line in ids} == {
        "smollm2-dynamic.suite.yaml", "smollm-kquant.suite.yaml", "smollm-b128.suite.yaml", "smollm-hqq.suite.yaml",
        "smollm-int4-head.suite.yaml",
    }  # fmt: skip
    by_path = pytester.runpytest(str(BENCHMARKS / "smollm2-dynamic.suite.yaml"), "--co", "-q", "-p", "no:cacheprovider")
    assert "smollm2-dynamic.suite.yaml::accuracy[MatMul]" in by_path.stdout.str()
