"""Regression triage of two runs (`reports.triage`): what changed underneath, and per config whether the quantized
graph, quality or speed changed; as `quantbench compare` prints it (text, Markdown) and the HTML history shows it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from synthetic_runs import machine, suite_run

from pytest_quantbench import cli, serialize
from pytest_quantbench.records import CaseResult, QuantizationReport
from pytest_quantbench.reports import html, triage
from pytest_quantbench.results import run as results
from pytest_quantbench.results.run import Run


def _with_report(run: Run, suite: str, config_id: str, nodes: dict[str, int]) -> Run:
    """`run` with one config's quantized node counts replaced."""

    def changed(case: CaseResult) -> CaseResult:
        if (case.suite, case.config_id) != (suite, config_id):
            return case
        return replace(case, quantization=QuantizationReport(nodes, sum(nodes.values()), not nodes))

    return replace(run, accuracy=tuple(changed(c) for c in run.accuracy))


def _upgraded() -> tuple[Run, Run]:
    """The same suites before and after an engine upgrade: cfg-001 of sst2 lost its MatMuls, nothing else moved."""
    saved = suite_run(4, source="0001_old.json")
    now = suite_run(4, facts=machine(version="1.3.0"), source="0002_new.json")
    return saved, _with_report(now, "sst2", "cfg-001", {"Add": 4})


def test_graph_changes_read_as_nodes_no_longer_or_newly_quantized() -> None:
    assert triage.GraphChange("MatMul", 12, 0).line() == "12 MatMul no longer quantized"
    assert triage.GraphChange("Conv", 0, 3).line() == "3 Conv newly quantized"
    assert triage.GraphChange("MatMul", 24, 12).line() == "12 MatMul no longer quantized (24 -> 12)"
    assert triage.GraphChange("Gemm", 2, 5).line() == "3 Gemm more quantized (2 -> 5)"


def test_an_upgrade_names_the_engine_versions_and_the_config_whose_graph_changed() -> None:
    found = triage.triage(*_upgraded())
    assert [c.line() for c in found.underneath] == ["onnxruntime: 1.2.3 -> 1.3.0"]
    assert found.speed_compared
    assert [(c.suite, c.config_id) for c in found.changed] == [("sst2", "cfg-001")]
    only = found.changed[0]
    assert only.graph == (triage.GraphChange("MatMul", 8, 0),)
    assert only.cells()[2:] == ["8 MatMul no longer quantized", "within interval", "within interval"]
    assert len(found.configs) == 8


def test_quality_beyond_its_interval_and_within_it() -> None:
    saved = suite_run(3, suites=("sst2",))
    slightly, much = suite_run(3, suites=("sst2",), shift=0.01), suite_run(3, suites=("sst2",), shift=0.05)
    # the saved drops' intervals are [drop - 0.01, drop + 0.015]
    assert triage.triage(saved, slightly).changed == ()
    moved = triage.triage(saved, much).changed
    assert len(moved) == 3
    assert moved[0].quality_moved[0].line() == "accuracy drop +0.000 -> +0.050 (beyond [-0.010, +0.015])"


def test_speed_beyond_its_interval_only_on_the_same_hardware() -> None:
    saved = suite_run(2, suites=("sst2",))
    slower = _slower(suite_run(2, suites=("sst2",)), 0.5)
    found = triage.triage(saved, slower)
    assert [s.line() for c in found.changed for s in c.speed_moved] == [
        "speed-up at bs1-len16 x0.80 -> x0.40 (beyond [x0.76, x0.84])",
        "speed-up at bs1-len16 x1.00 -> x0.50 (beyond [x0.95, x1.05])",
    ]
    elsewhere = replace(slower, machine=machine(cpu="Other CPU"))
    other = triage.triage(saved, elsewhere)
    assert not other.speed_compared and other.changed == ()
    assert all(c.speed == () for c in other.configs)
    assert triage.NOT_COMPARED in triage.summary_lines(other)
    assert [c.line() for c in other.underneath] == ["CPU: Test CPU -> Other CPU"]


def _slower(run: Run, factor: float) -> Run:
    timings = tuple(
        replace(t, record=replace(t.record, speedup=t.record.speedup * factor)) if t.record.speedup else t
        for t in run.timings
    )
    return replace(run, timings=timings)


def test_a_run_without_quantization_reports_says_so() -> None:
    saved, now = _upgraded()
    blind = replace(saved, accuracy=())  # only latency cases, which kept no report here
    found = triage.triage(blind, now)
    assert all(c.graph is None for c in found.configs)
    assert all(c.cells()[2] == "not recorded" for c in found.configs)


def test_rendered_as_text_and_markdown() -> None:
    found = triage.triage(*_upgraded())
    text = triage.render(found)
    assert text[:4] == [
        "what changed: 0001_old.json -> 0002_new.json",
        "  onnxruntime: 1.2.3 -> 1.3.0",
        "  speed compared: same hardware",
        "  1 of 8 configs changed: quantized graph, quality or speed beyond its interval",
    ]
    assert text[5].split() == ["sst2", "cfg-001", "8", "MatMul", "no", "longer", "quantized", "within", "interval",
                               "within", "interval"]  # fmt: skip
    markdown = triage.render(found, markdown=True)
    assert markdown[0] == "## what changed: 0001_old.json -> 0002_new.json"
    assert "- onnxruntime: 1.2.3 -> 1.3.0" in markdown
    assert markdown[-1].startswith("|  sst2 |") and "8 MatMul no longer quantized" in markdown[-1]


def _saved(run: Run, path: Path) -> Path:
    """A run written as the plugin writes it: the `quantbench` key and pytest-benchmark's benchmarks."""
    from pytest_quantbench.results.records import RunRecord

    benchmarks = [{"name": t.name, "extra_info": serialize.dump(t.record)} for t in run.timings]
    record = RunRecord(run.suites, run.machine, run.accuracy)
    path.write_text(json.dumps({"quantbench": serialize.dump(record), "benchmarks": benchmarks}))
    return path


def test_cli_compare_prints_the_triage_first_and_markdown_on_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved, now = (_saved(r, tmp_path / r.source) for r in _upgraded())
    assert cli.main(["compare", str(saved), str(now), "--force"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1:3] == ["what changed: 0001_old.json -> 0002_new.json", "  onnxruntime: 1.2.3 -> 1.3.0"]
    assert any("cfg-001" in line and "8 MatMul no longer quantized" in line for line in out)
    assert cli.main(["compare", str(saved), str(now), "--force", "--markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "## what changed: 0001_old.json -> 0002_new.json" in markdown
    tables = [line.split("|")[1].strip() for line in markdown.splitlines() if line.startswith("| ")]
    assert tables.count("suite") == 3  # the triage's, the metrics' and the latency's, all Markdown


def test_html_history_shows_what_changed_between_its_last_two_runs() -> None:
    text = html.render(list(_upgraded()))
    section = text[text.index('id="triage-section"') :]
    assert "What changed: 0001_old.json -&gt; 0002_new.json" in section
    assert "<li>onnxruntime: 1.2.3 -&gt; 1.3.0</li>" in section
    assert "<td>8 MatMul no longer quantized</td>" in section
    assert section.split("</table>")[0].count("<tr><td>") == 1  # only the config that changed


def test_old_run_files_still_compare(tmp_path: Path) -> None:
    """Files written before quantization reports rode with latency cases: the triage says not recorded."""
    from test_reports import write_run

    saved, now = write_run(tmp_path / "a.json"), write_run(tmp_path / "b.json", quantized={"static-per_channel": 0.8})
    found = triage.triage(results.load(saved), results.load(now))
    assert found.underneath == ()
    assert [c.config_id for c in found.changed] == ["static-per_channel"]
    quality = found.changed[0].quality_moved[0]
    assert quality.moved is triage.Moved.NO_INTERVAL
    assert quality.line() == "accuracy drop +0.000 -> +0.100 (moved, no interval saved)"


def test_a_config_with_results_in_one_run_only_is_named() -> None:
    """A model one engine version cannot load fails its cases: the other run's results are all there is."""
    saved, now = _upgraded()
    failed = replace(saved, accuracy=tuple(c for c in saved.accuracy if c.config_id != "cfg-002"),
                     timings=tuple(t for t in saved.timings if t.record.config_id != "cfg-002"))  # fmt: skip
    found = triage.triage(failed, now)
    assert found.only_now == (("sst2", "cfg-002"), ("news", "cfg-002")) and found.only_saved == ()
    assert triage.summary_lines(found)[-1] == (
        "2 configs with results only in 0002_new.json (failed or not run in the other): sst2 cfg-002, news cfg-002"
    )
    assert len(found.configs) == 6
    assert triage.triage(now, failed).only_saved == (("sst2", "cfg-002"), ("news", "cfg-002"))
