"""With pytest-html installed, each quantbench case's row in its report carries the case's details: a
`quantbench` column (verdict and change, or speed-up) and, under the row, the verdict line, each metric with
its interval and the speed-up with its interval (`reports.details`).

Registered by `plugin.pytest_configure` only when pytest-html imports and its plugin is active (`-p no:html`
leaves it out); its `pytest_html_*` hooks are optional, so pytest never asks for their specs otherwise. The
case's typed record reaches the report through the item's stash (`CASE_RECORD`), where the case put it.
"""

from __future__ import annotations

from collections.abc import Generator
from html import escape

import pytest

from pytest_quantbench.plugin.state import CASE_RECORD
from pytest_quantbench.records import CaseResult
from pytest_quantbench.reports import details

PLUGIN_NAME = "quantbench-html-rows"
COLUMN = "quantbench"
BRIEF = "quantbench_brief"  # the report attribute that holds the cell's text


def active(config: pytest.Config) -> bool:
    """pytest-html imports and its plugin runs in this session."""
    try:
        import pytest_html  # noqa: F401
    except ImportError:
        return False
    return config.pluginmanager.hasplugin("html")


class HtmlRows:
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """The call report of a quantbench case gets its details as an extra, and its cell's text."""
        report = yield
        record = item.stash.get(CASE_RECORD, None)
        if record is None or report.when != "call":
            return report
        from pytest_html import extras

        lines = details.case_lines(record) if isinstance(record, CaseResult) else details.timing_lines(record)
        items = "".join(f"<li>{escape(line)}</li>" for line in lines)
        # pytest-html reads `extras` off the report; the row hook reads the cell's text there too (xdist sends both)
        shown = [*getattr(report, "extras", []), extras.html(f'<ul class="quantbench">{items}</ul>')]
        vars(report).update({"extras": shown, BRIEF: details.brief(record)})
        return report

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, f'<th class="sortable" data-column-type="{COLUMN}">{COLUMN}</th>')

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        brief = getattr(report, BRIEF, "")
        cells.insert(2, f'<td class="col-{COLUMN}">{escape(brief)}</td>')
