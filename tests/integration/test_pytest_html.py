"""With pytest-html installed, each quantbench case's row carries its details (`plugin.html_rows`): a real run on
the tiny built-in model, its report read back; skipped where pytest-html is not installed."""

from __future__ import annotations

import html
import json
import re

import pytest

from conftest import PER_CHANNEL_GRID

pytest.importorskip("pytest_html")


def _report_data(text: str) -> dict:
    """pytest-html 4 keeps its results as JSON in the page's `data-jsonblob` attribute."""
    blob = re.search(r'data-jsonblob="([^"]*)"', text)
    assert blob is not None
    return json.loads(html.unescape(blob.group(1)))


def test_each_case_row_carries_its_verdict_metric_interval_and_speed_up(suite_file, run, pytester) -> None:
    suite_file("sentiment.suite.yaml", PER_CHANNEL_GRID)
    result = run("--html=report.html", "--self-contained-html", "-k", "not per_channel")
    result.assert_outcomes(passed=3)  # accuracy, the fp32 latency case, the int8 latency case
    text = (pytester.path / "report.html").read_text()
    data = _report_data(text)
    assert '<th class="sortable" data-column-type="quantbench">quantbench</th>' in text
    rows = {test_id.split("::")[-1]: entries[0] for test_id, entries in data["tests"].items()}
    accuracy = rows["accuracy[per_tensor]"]
    assert any(
        cell.startswith('<td class="col-quantbench">PASS accuracy +0.000') for cell in accuracy["resultsTableRow"]
    )
    shown = "".join(extra["content"] for extra in accuracy["extras"])
    assert "<li>PASS: accuracy 1.000 -&gt; 1.000" in shown
    interval = r"\[[-+]\d\.\d{3}, [-+]\d\.\d{3}\] \(95% paired interval\)</li>"
    assert re.search(r"<li>accuracy 1\.0000 -&gt; 1\.0000, change \+0\.000 " + interval, shown)
    timed = next(row for name, row in rows.items() if name.startswith("latency[int8"))
    assert any('<td class="col-quantbench">speed-up x' in cell for cell in timed["resultsTableRow"])
    assert "vs onnxruntime fp32</li>" in "".join(extra["content"] for extra in timed["extras"])


def test_the_rows_plugin_is_registered_only_while_pytest_html_is_active(suite_file, run, pytester) -> None:
    suite_file("sentiment.suite.yaml", PER_CHANNEL_GRID)
    pytester.makeconftest(
        """
        def pytest_terminal_summary(terminalreporter, config):
            terminalreporter.write_line(f"html rows: {config.pluginmanager.has_plugin('quantbench-html-rows')}")
        """
    )
    assert "html rows: True" in run("--co").stdout.str()
    assert "html rows: False" in run("--co", "-p", "no:html").stdout.str()
