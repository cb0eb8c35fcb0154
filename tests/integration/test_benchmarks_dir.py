"""The shipped suites: they parse, mirror the seed cards' grids, and hub suites stay out of the default run."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_quantbench.suite import load_suite

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize(
    ("name", "configs", "shapes"),
    [("vit-beans", 6, 3), ("distilbert-sst2", 8, 9), ("distilbert-conll", 8, 9)],
)
def test_hub_suites_carry_the_seed_grids(name: str, configs: int, shapes: int) -> None:
    suite = load_suite(BENCHMARKS / "hub" / f"{name}.suite.yaml")
    assert len(suite.cases) == configs
    assert len(suite.shapes) == shapes
    assert "hub" in suite.markers


@pytest.mark.parametrize(
    ("name", "model", "configs", "shapes"),
    [
        ("vit-mnist", "builtin:dinov2-vit-s14-mnist", 6, 2),
        ("minilm-sentiment", "builtin:minilm-sentiment", 8, 2),
        ("minilm-sentiment-static", "builtin:minilm-sentiment", 2, 2),
        ("minilm-conll", "builtin:minilm-ner", 8, 2),
    ],
)
def test_default_suites_run_real_models_offline(name: str, model: str, configs: int, shapes: int) -> None:
    suite = load_suite(BENCHMARKS / f"{name}.suite.yaml")
    assert suite.model_name_or_path == model
    assert suite.dataset.path.startswith("builtin:")
    assert len(suite.cases) == configs
    assert len(suite.shapes) == shapes
    assert not suite.markers


def test_hub_suites_are_deselected_unless_asked(pytester: pytest.Pytester) -> None:
    default = pytester.runpytest(str(BENCHMARKS), "--co", "-q", "-p", "no:cacheprovider")
    assert "benchmarks/hub/" not in default.stdout.str()
    assert "benchmarks/vit-mnist.suite.yaml::accuracy" in default.stdout.str()
    asked = pytester.runpytest(str(BENCHMARKS), "--co", "-q", "-m", "hub", "-p", "no:cacheprovider")
    assert "hub/vit-beans.suite.yaml::accuracy[Add+MatMul-per_tensor]" in asked.stdout.str()
    vit = pytester.runpytest(str(BENCHMARKS), "--co", "-q", "-k", "vit", "-p", "no:cacheprovider")
    ids = [line for line in vit.stdout.lines if "::" in line]
    assert ids and all("vit-mnist.suite.yaml" in line for line in ids)
