"""Benchmarks conftest: hub suites (marker `hub`) and extended suites (marker `extended`) run only when asked for.

`pytest benchmarks` stays offline-green and within its budget (cold <= 10 min, warm <= 2 min, <= 6 GB on 2
cores); `pytest benchmarks/hub` or `pytest benchmarks -m hub` runs the hub suites, `pytest benchmarks -m
extended` (or a path to one) the shipped rows that alone would cost a large share of that budget: SmolLM2's
k-quant (30 s to quantize), dynamic int8 (a 3 GB quantization peak) and the diagnosed int4 rows (45-60 s each).
"""

from __future__ import annotations

from pathlib import Path

import pytest

HUB_DIR = Path(__file__).parent / "hub"


OPT_IN = ("hub", "extended")  # markers whose suites run only when asked for by marker or path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hub: needs the Hugging Face hub (seed-card suites in benchmarks/hub)")
    config.addinivalue_line("markers", "extended: shipped rows outside the default run's budget (-m extended)")


def _asked(config: pytest.Config, marker: str, item: pytest.Item) -> bool:
    """Asked for by the marker expression, or by a path: the hub folder, or the suite file itself."""
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    named = any(path.is_relative_to(HUB_DIR) for path in paths) if marker == "hub" else Path(item.path) in paths
    return marker in (config.option.markexpr or "") or named


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept = [
        item for item in items
        if not any(item.get_closest_marker(m) is not None and not _asked(config, m, item) for m in OPT_IN)
    ]  # fmt: skip
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
