"""The run's time bank knows, from collection, the paired latency cases to come: they back the loans of the
first slow ones, and each leaves the bank's books when it has timed (or never will)."""

from __future__ import annotations

import json

SUITE = """
name: banked
task: text-classification
model_name_or_path: builtin:tiny-bert-sentiment
dataset: {path: "builtin:synthetic-sentiment"}
benchmarked: {per_channel: [false, true]}
time: {batch_sizes: [1], input_lengths: [8], max_time_s: 0.05}
"""

CONFTEST = """
import json

import pytest

from pytest_quantbench.plugin import state


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    bank = session.config.stash[state.TIME_BANK]
    with open("collected.json", "w") as out:
        json.dump(bank.expected, out)


def pytest_sessionfinish(session):
    with open("left.json", "w") as out:
        json.dump(session.config.stash[state.TIME_BANK].expected, out)
"""


def test_the_quantized_latency_cases_back_the_bank_until_each_has_timed(pytester, suite_file, run) -> None:
    suite_file("banked.suite.yaml", SUITE)
    pytester.makeconftest(CONFTEST)
    run("-m", "latency").assert_outcomes(passed=3)
    collected = json.loads((pytester.path / "collected.json").read_text())
    assert sorted(key.split("[")[1] for key in collected) == [
        "int8-per_channel-bs1-len8]",
        "int8-per_tensor-bs1-len8]",
    ]  # the fp32 baseline's row lends nothing (it never borrows) and backs nothing
    assert set(collected.values()) == {0.05}
    assert json.loads((pytester.path / "left.json").read_text()) == {}  # each timed: none backs a loan now
    run("-m", "latency", "-k", "int8-per_tensor", "--benchmark-disable").assert_outcomes(passed=1)
    assert len(json.loads((pytester.path / "collected.json").read_text())) == 1  # what was deselected backs nothing
