"""The HTML report's content from runs built as records (`synthetic_runs`): what it shows, that it escapes and
reaches for nothing outside the file, its history across runs and machines, its size at 200 configs, and the
`quantbench html` command. `test_html_browser.py` opens it in a real browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from synthetic_runs import HOSTILE, machine, suite_run
from test_reports import write_run

from pytest_quantbench import cli
from pytest_quantbench.reports import html
from pytest_quantbench.reports.plot import Point, pareto_front
from pytest_quantbench.reports.svg import ticks
from pytest_quantbench.results import run as results


def test_the_report_has_an_overview_and_a_table_and_chart_per_suite() -> None:
    text = html.render([suite_run(configs=8)])
    assert text.startswith("<!DOCTYPE html>")
    overview = text[text.index('id="overview"') : text.index('id="suite-0"')]
    # 2 suites x 8 configs, verdicts cycling PASS, FAIL, COLLAPSE, INCONCLUSIVE
    for count in ("4 PASS", "4 FAIL", "4 COLLAPSE", "4 INCONCLUSIVE"):
        assert count in overview
    assert "onnxruntime 1.2.3 (CPUExecutionProvider)" in overview and "Test CPU, 4 cores" in overview
    assert "<dt>sst2</dt><dd>onnxruntime fp32</dd>" in overview and "abc123" in overview
    for index in (0, 1):
        assert f'<table class="sortable" id="table-{index}">' in text
        assert f'<svg id="svg-{index}" class="chart"' in text
    table = text[text.index('id="table-1"') : text.index("</table>", text.index('id="table-1"'))]
    assert table.count("<tr>") == 1 + 8
    # config 2 (index 1): drop 0.01 with the interval [0.0, 0.025] shown as a change, and x1.00 at 5%
    assert ">-0.010 [-0.025, +0.000]<" in table and ">x1.00 SLOWER<" not in table
    assert 'class="v FAIL"' in table and ">x0.28<" in table  # size 1.1 MB of 4 MB


def test_every_text_from_the_run_is_escaped_and_nothing_is_fetched() -> None:
    text = html.render([suite_run(configs=4)])
    assert HOSTILE not in text and "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;co" in text
    assert "MatMul &lt;node_1&gt; loses precision" in text  # a diagnosis line
    assert text.count("<script>") == 1  # the sorting script, inline
    assert not re.search(r"<link|\ssrc=|@import|url\(", text)
    assert set(re.findall(r"https?://[^\"' ]+", text)) == {"http://www.w3.org/2000/svg"}  # a namespace, not fetched


def test_the_chart_has_both_whiskers_and_rings_the_pareto_front() -> None:
    run = suite_run(configs=9, suites=("sst2",))
    text = html.render([run])
    chart = text[text.index('<svg id="svg-0"') : text.index("</svg>", text.index('<svg id="svg-0"'))]
    assert chart.count('<g class="pt ') == 9
    assert chart.count('class="whisker"') == 2 * 9  # speed-up and change intervals, each config
    rows = run.rows("sst2")
    found = [Point(-(r.speedups[0]), -r.metrics["accuracy"].drop, r.id, "") for r in rows if r.metrics]
    assert chart.count('class="ring"') == len(pareto_front(found)) >= 2
    assert "speed-up vs fp32 at bs1-len16 (right is faster)" in chart and "accuracy change (up is better)" in chart


def test_a_slow_config_shows_its_op_profile_as_bars() -> None:
    text = html.render([suite_run(configs=2, suites=("sst2",))])  # config 0 is x0.8: diagnosed
    case = text[text.index('<details id="case-sst2-') : text.index("</details>")]
    assert "why not faster (at bs1-len16): cause: int8 MatMul slower than fp32; fix: use VNNI" in case
    assert case.count('class="bar fp32"') == 3 and case.count('class="bar int8"') == 3
    assert "memory: run peak x0.67 of fp32 at bs1-len16" in case
    assert "flips 0 right-&gt;wrong / 0 wrong-&gt;right" in case


def test_a_suite_that_was_not_timed_says_why_it_has_no_chart() -> None:
    run = suite_run(configs=3, suites=("sst2",))
    untimed = results.Run(run.source, run.machine, run.commit, run.suites, run.accuracy, ())
    text = html.render([untimed])
    assert '<p class="note" id="chart-0">No chart: not timed in this run.</p>' in text
    assert ">not timed<" in text


def test_history_trends_metrics_and_draws_speed_only_on_the_same_hardware() -> None:
    old = suite_run(configs=3, shift=0.05, facts=machine(cpu="Other CPU"), source="old.json", commit="111")
    mid = suite_run(configs=3, shift=0.02, source="mid.json", commit="222")
    new = suite_run(configs=3, source="new.json", commit="333")
    text = html.render([old, mid, new])
    history = text[text.index('id="history"') :]
    assert "History (3 runs)" in history and "new.json" in text[: text.index('id="overview"')]
    assert history.count("no: other hardware") == 1 and history.count("<td>yes</td>") == 2
    row = re.search(r"<tr><td>cfg-001</td>.*?</tr>", history)
    assert row is not None
    assert ">0.8400 -&gt; 0.8900<" in row[0]  # the metric from the oldest run
    assert ">x1.00 -&gt; x1.00<" in row[0]  # speed only from the two runs on Test CPU
    speed_trend = row[0].split('aria-label="cfg-001 speed-up"')[1]
    assert speed_trend.count('class="trend-dot"') == 2


def test_ticks_are_round_and_inside_the_range() -> None:
    assert ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert ticks(-0.43, 0.02) == [-0.4, -0.3, -0.2, -0.1, 0.0]


def test_a_200_config_report_stays_under_5_mb() -> None:
    text = html.render([suite_run(configs=100)])  # two suites: 200 configs
    assert text.count('<details id="case-') == 200
    assert len(text.encode()) < 5_000_000


def test_cli_html_writes_the_report_of_saved_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = write_run(tmp_path / "old.json"), write_run(tmp_path / "new.json", quantized={"static-per_tensor": 0.5})
    out = tmp_path / "report.html"
    assert cli.main(["html", str(old), str(new), "-o", str(out)]) == 0
    assert f"HTML report written to {out}" in capsys.readouterr().out
    text = out.read_text()
    assert "History (2 runs)" in text and 'class="v COLLAPSE"' in text
    assert cli.main(["html", str(new), "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"error: --output: {tmp_path}: a directory, not a file"
    assert json.loads(old.read_text())["quantbench"]  # the saved runs are read, never changed
