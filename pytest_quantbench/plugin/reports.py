"""pytest layer of the reports: options, the `quantbench` key of pytest-benchmark's JSON, card and plot at the
end of a run, the accuracy gate against a saved run, and the console summary. The work is done in
`results`, `card`, `plot`, `compare` and `report`, which need no pytest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pytest_quantbench import extras, faults, serialize
from pytest_quantbench.plugin import benchmark, state
from pytest_quantbench.plugin.cases import RESULT_PROPERTY
from pytest_quantbench.plugin.state import read_suite
from pytest_quantbench.records import CaseResult
from pytest_quantbench.reports import card, ci, compare
from pytest_quantbench.reports import terminal as report
from pytest_quantbench.results import run as results
from pytest_quantbench.suite import Suite

PLUGIN_NAME = "quantbench-reports"
FORCE = "--quantbench-compare-force"


def addoption(group: Any) -> None:
    group.addoption(
        "--quantbench-card",
        metavar="PATH",
        help="write the run's Markdown benchmark card (seed-card format) to PATH; accuracy only with --benchmark-disable",
    )
    group.addoption(
        "--quantbench-html",
        metavar="PATH",
        help="write a self-contained HTML report of the run to PATH (sortable tables, charts, per-config evidence)",
    )
    group.addoption(
        "--quantbench-plot",
        metavar="PATH",
        help="write a PNG of accuracy vs latency per config to PATH (original, Pareto front, failing configs marked)",
    )
    group.addoption(
        "--quantbench-plot-shape",
        metavar="SHAPE",
        type=results.parse_shape,
        help="shape the plot shows, e.g. bs1-len128 or bs4 (default: each suite's first timed shape)",
    )
    group.addoption(
        "--quantbench-compare",
        metavar="RUN",
        help="compare quantized metrics with a saved run: a JSON file, 'latest' (the newest run in "
        "--benchmark-storage) or a run number such as 0001",
    )
    compare.add_options(
        group.addoption, prefix="quantbench-compare-", consequence="fail a config", against="--quantbench-compare"
    )


class Reports:
    """Per-run state of the report options: the suites collected, the saved run, the run's own results."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.suites: dict[Path, Suite] = {}
        self.gate: compare.Gate | None = None
        self.run: results.Run | None = None
        self.notes: list[str] = []
        self.accuracy: dict[tuple[str, str], CaseResult] = {}

    def pytest_sessionstart(self) -> None:
        if self.config.getoption("quantbench_plot") and (missing := extras.missing("plot", "--quantbench-plot")):
            raise pytest.UsageError(missing)  # now, not after the run
        spec, specs = self.config.getoption("quantbench_compare"), self.config.getoption("quantbench_compare_fail")
        if spec is None:
            if specs:
                raise pytest.UsageError("--quantbench-compare-fail needs --quantbench-compare=<saved run or 'latest'>")
            return
        try:
            saved = results.load(results.resolve(spec, benchmark.storage(self.config)))
        except results.RunFileError as exc:
            if spec != results.LATEST:
                raise pytest.UsageError(f"--quantbench-compare: {exc}") from None
            self.notes.append(f"nothing to compare with: {exc}")  # a first run, as pytest-benchmark does
            return
        from pytest_quantbench.measure.machine import machine_facts

        self.gate = compare.Gate(saved, specs, machine_facts(state.registry(self.config).engines()))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            params = state.params_of(item)
            value = params.get("quantbench_case") or params.get("quantbench_measurement")
            if value:
                case = getattr(value, "case", value)
                self.suites.setdefault(case.suite.path, case.suite)

    @pytest.fixture
    def quantbench_compare(self) -> compare.Gate | None:
        """The accuracy gate against the saved run of `--quantbench-compare`, or None."""
        return self.gate

    def payload(self) -> dict[str, Any]:
        from pytest_quantbench.measure.machine import machine_facts

        engines = state.registry(self.config).engines_of(c for s in self.suites.values() for c in s.cases)
        bench = self.config.stash.get(state.BENCH, None)  # none made: no case ran, nothing was read
        reading = bench.data.described if bench is not None else (lambda suite: None)
        return results.payload(self.suites.values(), self.accuracy.values(), machine_facts(engines), reading)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Accuracy results arrive with the reports: the same path in one process and from xdist workers."""
        for name, data in report.user_properties if report.when == "call" else ():
            if name == RESULT_PROPERTY:
                row = serialize.load(CaseResult, data)
                self.accuracy[(row.suite, row.config_id)] = row
                self._note_suite(Path(self.config.rootpath, report.nodeid.split("::")[0]))

    def _note_suite(self, path: Path) -> None:
        """Under xdist the controller collects nothing: a suite file is read when its first result comes back."""
        if path.suffix in (".yaml", ".yml") and path not in self.suites:
            self.suites[path] = read_suite(self.config, path)

    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_json(self, config: pytest.Config, benchmarks: list, output_json: dict) -> None:
        if self.suites:
            output_json[results.KEY] = self.payload()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """After pytest-benchmark saved its files: save an untimed run, write card and plot."""
        if not self.suites:
            return
        if self.accuracy:
            benchmark.save_untimed(self.config, {results.KEY: self.payload()})
        data = {"benchmarks": benchmark.timed_results(self.config), results.KEY: self.payload()}
        self.run = results.from_json(json.loads(json.dumps(data)), "this run")  # as a saved file reads
        card_path, plot_path = self.config.getoption("quantbench_card"), self.config.getoption("quantbench_plot")
        if card_path:
            text = card.render(self.run)
            text = self.config.hook.pytest_quantbench_card(run=self.run, card=text) or text
            Path(card_path).write_text(text, encoding="utf-8")
            self.notes.append(f"card written to {card_path}")
        worker = hasattr(self.config, "workerinput")  # an xdist worker: the controller writes the whole run's
        if (html_path := self.config.getoption("quantbench_html")) and not worker:
            from pytest_quantbench.reports import html

            Path(html_path).write_text(html.render([self.run]), encoding="utf-8")
            self.notes.append(f"HTML report written to {html_path}")
        if (summary := os.environ.get(ci.STEP_SUMMARY)) and not worker:
            self._append_step_summary(Path(summary))
        if plot_path:
            from pytest_quantbench.reports.plot import save_plot

            save_plot(self.run, plot_path, self.config.getoption("quantbench_plot_shape"))
            self.notes.append(f"plot written to {plot_path}")

    def _append_step_summary(self, path: Path) -> None:
        """GitHub Actions' job summary: appended (other steps' summaries stay), within the 1 MiB limit."""
        assert self.run is not None
        try:
            room = ci.LIMIT_BYTES - (path.stat().st_size if path.exists() else 0)
            if room <= 0:
                self.notes.append(f"no job summary written: {path} already holds GitHub's 1 MiB")
                return
            with path.open("a", encoding="utf-8") as out:
                out.write(ci.step_summary(self.run, room))
        except OSError as exc:
            self.notes.append(f"no job summary written: {faults.describe(exc) or exc}")

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        verbose, width = self.config.get_verbosity() > 0, self.config.get_terminal_writer().fullwidth
        lines = report.summary_lines(self.run, width, verbose) if self.run else []
        if self.run:
            self.config.hook.pytest_quantbench_summary(run=self.run, lines=lines)
        if lines or self.notes:
            terminalreporter.section("quantbench")
            for line in [*lines, *self.notes]:
                terminalreporter.write_line(line)
        if self.gate and self.run:
            terminalreporter.section("quantbench compare")
            forced = self.config.getoption("quantbench_compare_force")
            found = compare.comparison(self.gate.saved, self.run, self.gate.specs, forced, FORCE, in_run=True)
            for line in found.lines:
                terminalreporter.write_line(line)
