"""CI outputs of real runs (pytester, tiny built-in model): the GitHub job summary under Actions' variable, and
the JUnit XML properties of every case under both junit families."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import PER_CHANNEL_GRID


def properties(junit: Path) -> dict[str, dict[str, str]]:
    """Each test case's properties, by the case's name."""
    return {
        case.get("name", ""): {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        for case in ET.parse(junit).getroot().iter("testcase")
    }


def test_a_run_appends_the_job_summary_and_writes_junit_properties(
    suite_file, run, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite_file("sentiment.suite.yaml", PER_CHANNEL_GRID)
    summary = pytester.path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = run("--junitxml=junit.xml")
    result.assert_outcomes(passed=2 + 1 + 2)
    assert "incompatible with junit_family" not in result.stdout.str()  # no warning under the default xunit2

    text = summary.read_text()
    assert text.startswith("earlier step\n## quantbench\n\n**2** PASS\n")  # appended, as Actions' steps do
    assert "| tiny-sentiment | per_tensor | PASS | accuracy +0.000" in text

    found = properties(pytester.path / "junit.xml")
    accuracy = found["accuracy[per_channel]"]
    assert accuracy["quantbench.verdict"] == "PASS" and accuracy["quantbench.accuracy.original"] == "1"
    assert {"quantbench.accuracy.change_low", "quantbench.accuracy.change_high"} <= accuracy.keys()
    timed = next(props for name, props in found.items() if name.startswith("latency[") and "per_tensor" in name)
    assert float(timed["quantbench.speedup_low"]) <= float(timed["quantbench.speedup"])


def test_junit_properties_under_xunit1_and_no_summary_outside_actions(
    suite_file, run, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite_file("sentiment.suite.yaml", PER_CHANNEL_GRID)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    result = run("-m", "accuracy", "--benchmark-disable", "--junitxml=junit.xml", "-o", "junit_family=xunit1")
    result.assert_outcomes(passed=2)
    found = properties(pytester.path / "junit.xml")
    assert found["accuracy[per_tensor]"]["quantbench.verdict"] == "PASS"
    assert not list(pytester.path.glob("*.md"))
