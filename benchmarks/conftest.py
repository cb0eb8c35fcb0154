"""Benchmarks conftest: hub suites (marker `hub`) run only when asked for.

`pytest benchmarks` stays offline-green; `pytest benchmarks/hub` or `pytest benchmarks -m hub` runs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HUB_DIR = Path(__file__).parent / "hub"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hub: needs the Hugging Face hub (seed-card suites in benchmarks/hub)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    asked = "hub" in (config.option.markexpr or "") or any(
        Path(arg.split("::")[0]).resolve().is_relative_to(HUB_DIR) for arg in config.args
    )
    if asked:
        return
    kept = [item for item in items if item.get_closest_marker("hub") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
