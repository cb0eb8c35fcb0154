"""The real cause behind a .bin transformers cannot read, and the summary line of skipped cases."""

from __future__ import annotations

import fractions
from pathlib import Path

import pytest

from pytest_quantbench.artifacts.model_check import BIN_READER, bin_weights_problem
from pytest_quantbench.plugin.strict import Outcome, summary_line


def test_a_pickle_torch_refuses_is_named_with_torchs_reason(tmp_path: Path) -> None:
    import torch

    torch.save({"w": torch.zeros(2), "extra": fractions.Fraction(1, 3)}, tmp_path / "pytorch_model.bin")
    assert bin_weights_problem(tmp_path) == (
        f"{tmp_path / 'pytorch_model.bin'}: {BIN_READER}: Unsupported global: GLOBAL fractions.Fraction was not an "
        "allowed global by default (if you trust the file, load it and save_pretrained it: model.safetensors)"
    )


def test_a_git_lfs_pointer_is_named(tmp_path: Path) -> None:
    (tmp_path / "pytorch_model.bin").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\n")
    assert bin_weights_problem(tmp_path) == (
        f"{tmp_path / 'pytorch_model.bin'}: a Git LFS pointer, not the weights: run git lfs pull in the model folder"
    )


def test_readable_weights_have_no_problem(tmp_path: Path) -> None:
    import torch

    torch.save({"w": torch.zeros(2)}, tmp_path / "pytorch_model.bin")
    assert bin_weights_problem(tmp_path) is None
    (tmp_path / "pytorch_model.bin").write_bytes(b"garbage")
    (tmp_path / "model.safetensors").write_bytes(b"")  # transformers reads safetensors first: not the .bin's fault
    assert bin_weights_problem(tmp_path) is None


OFFLINE = "model 'm' is not in the local cache and the Hugging Face hub is disabled (HF_HUB_OFFLINE is set)"


@pytest.mark.parametrize(
    ("outcomes", "line"),
    [
        ([Outcome(), Outcome()], None),
        ([Outcome(True, "benchmark tests skipped"), Outcome()], None),  # a deliberate skip beside a run case
        ([Outcome(True, OFFLINE, True), Outcome()], f"quantbench: 1 of 2 cases skipped: {OFFLINE}"),
        (
            [Outcome(True, OFFLINE, True)] * 3,
            f"quantbench: 3 of 3 cases skipped, nothing was tested: {OFFLINE} (--quantbench-strict would fail them)",
        ),
        ([Outcome(True, "marked")] * 2, "quantbench: 2 of 2 cases skipped, nothing was tested: marked"),
    ],
)
def test_the_summary_says_when_cases_were_skipped(outcomes: list[Outcome], line: str | None) -> None:
    assert summary_line({f"s.suite.yaml::case{i}": o for i, o in enumerate(outcomes)}) == line
