"""The shipped suites parse and mirror the seed cards' grids (that hub suites stay out of the default run is
checked through pytest in tests/integration/test_benchmarks_dir.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_quantbench.suite import load_suite

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


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
        ("vit-mnist", "builtin:dinov2-vit-s14-mnist", 6, 1),
        ("minilm-sentiment", "builtin:minilm-sentiment", 8, 1),
        ("minilm-sentiment-static", "builtin:minilm-sentiment", 2, 1),
        ("minilm-conll", "builtin:minilm-ner", 8, 1),
        ("minilm-embed", "builtin:all-minilm-l6-v2", 4, 1),
        ("minilm-embed-vs-pytorch", "builtin:all-minilm-l6-v2", 3, 1),
    ],
)
def test_default_suites_run_real_models_offline(name: str, model: str, configs: int, shapes: int) -> None:
    suite = load_suite(BENCHMARKS / f"{name}.suite.yaml")
    assert suite.model_name_or_path == model
    assert suite.dataset.path.startswith("builtin:")
    assert len(suite.cases) == configs
    assert len(suite.shapes) == shapes
    assert not suite.markers
