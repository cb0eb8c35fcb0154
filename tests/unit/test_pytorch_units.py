"""`framework: pytorch` without a run: static is refused at collection, builds get every core back
(the PyTorch rows of a run: tests/integration/test_pytorch.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FRAMEWORKS
from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite import load_suite


def test_pytorch_static_is_refused_at_collection(tmp_path: Path) -> None:
    path = tmp_path / "s.suite.yaml"
    path.write_text(
        FRAMEWORKS.replace("\n    ", "\n").replace("quantization_approach: dynamic", "quantization_approach: static")
    )
    with pytest.raises(SuiteError, match=r"benchmarked.framework: pytorch runs dynamic quantization only"):
        load_suite(path)


def test_builds_use_every_core_after_a_timing_case_pinned_one() -> None:
    """torch's thread count is process-wide: a PyTorch timing case sets it to 1, a later build must not train on
    one core (and must leave the setting as it found it)."""
    import os

    import torch

    from pytest_quantbench.zoo.training import every_core

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with every_core():
            assert torch.get_num_threads() == (os.cpu_count() or 1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
