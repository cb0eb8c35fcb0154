"""No silent pass in CI: a run that skipped its cases says so, `--quantbench-strict` fails a case that cannot
reach its model, and a small model's defaults adapt instead of failing (timed at its own limit)."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import pytest
import tiny_models as tm

OFFLINE = (
    "model 'no-such-model' is not in the local cache and the Hugging Face hub is disabled (HF_HUB_OFFLINE is set); "
    "no folder {root}/no-such-model beside the suite file either"
)
TIME = "time: {batch_sizes: [1], rounds: 2, warmup_rounds: 0}\n"  # input_lengths left to the default


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model with 64 positions and a CSV dataset."""
    root = tmp_path_factory.mktemp("strict")
    tm.text_model(root / "model64", positions=64)
    for split, n in (("train", 16), ("validation", 12)):
        with (root / f"{split}.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["sentence", "label"])
            writer.writeheader()
            writer.writerows(tm.sentences(n, seed=len(split)))
    return root


def suite(model: str, data: Path, extra: str = "") -> str:
    return (
        textwrap.dedent(f"""
        task: text-classification
        model_name_or_path: {model}
        dataset:
          path: csv
          data_files: {{train: {data}/train.csv, validation: {data}/validation.csv}}
        thresholds: {{accuracy: {{max_drop: 1.0}}}}
    """)
        + extra
    )


def test_a_run_that_skipped_every_case_says_nothing_was_tested(suite_file, run, local: Path, pytester) -> None:
    suite_file("hub.suite.yaml", suite("no-such-model", local, TIME))
    result = run("-rs")
    result.assert_outcomes(skipped=3)
    reason = OFFLINE.format(root=pytester.path)
    assert (
        f"quantbench: 3 of 3 cases skipped, nothing was tested: {reason} (--quantbench-strict would fail them)"
        in result.outlines
    )
    assert result.ret == 0  # pytest's own verdict: strict is what fails it


@pytest.mark.parametrize("how", [["--quantbench-strict"], ["-o", "quantbench_strict=true"]])
def test_strict_fails_a_case_that_cannot_reach_its_model(suite_file, run, local: Path, pytester, how) -> None:
    suite_file("hub.suite.yaml", suite("no-such-model", local, TIME))
    suite_file("local.suite.yaml", suite(str(local / "model64"), local, TIME))
    result = run("-m", "accuracy", *how)
    result.assert_outcomes(passed=1, failed=1, deselected=4)
    reason = OFFLINE.format(root=pytester.path)
    line = f"hub.suite.yaml::accuracy[dynamic]: {reason} (--quantbench-strict: a case that cannot run fails)"
    assert line in result.outlines
    assert not any(ln.startswith("quantbench: ") and "skipped" in ln for ln in result.outlines)


def test_a_deliberate_skip_stays_a_skip_under_strict(suite_file, run, local: Path) -> None:
    suite_file("local.suite.yaml", suite(str(local / "model64"), local, TIME))
    result = run("--quantbench-strict", "--benchmark-skip")
    result.assert_outcomes(passed=1, skipped=2)  # the latency cases, skipped as asked
    assert result.ret == 0
    assert not any(ln.startswith("quantbench: ") and "skipped" in ln for ln in result.outlines)


def test_some_cases_skipped_is_said_with_the_reason(suite_file, run, local: Path, pytester) -> None:
    suite_file("hub.suite.yaml", suite("no-such-model", local, TIME))
    suite_file("local.suite.yaml", suite(str(local / "model64"), local, TIME))
    result = run("-m", "accuracy")
    result.assert_outcomes(passed=1, skipped=1, deselected=4)
    assert f"quantbench: 1 of 2 cases skipped: {OFFLINE.format(root=pytester.path)}" in result.outlines


def test_strict_under_xdist(suite_file, pytester: pytest.Pytester, qb_cache: Path, local: Path) -> None:
    """The skip's cause travels with the report from the worker to the controller."""
    suite_file("hub.suite.yaml", suite("no-such-model", local, TIME))
    common = ("-p", "no:cacheprovider", f"--quantbench-cache={qb_cache}", "-n", "2")
    result = pytester.runpytest_subprocess(*common)
    result.assert_outcomes(skipped=3)
    assert any(ln.startswith("quantbench: 3 of 3 cases skipped, nothing was tested: ") for ln in result.outlines)
    strict = pytester.runpytest_subprocess(*common, "--quantbench-strict")
    strict.assert_outcomes(failed=3)


def test_a_small_model_is_timed_at_its_own_limit_under_the_default_ids(suite_file, run, local: Path, pytester) -> None:
    path = suite_file("small.suite.yaml", suite(str(local / "model64"), local, TIME))
    result = run("--benchmark-json=run.json")
    result.assert_outcomes(passed=3)
    assert (
        f"{path}: time.input_lengths not given: timing at 64 (ids keep len128), the model's position limit "
        "(the default 128 is above it)" in result.outlines
    )
    timed = json.loads((pytester.path / "run.json").read_text())["benchmarks"]
    assert sorted(b["name"] for b in timed) == ["latency[fp32-bs1-len128]", "latency[int8-dynamic-bs1-len128]"]
    assert {b["extra_info"]["input_length"] for b in timed} == {64}  # what was timed, as the card shows it
    assert {b["group"] for b in timed} == {"small batch_size=1 input_length=64"}
