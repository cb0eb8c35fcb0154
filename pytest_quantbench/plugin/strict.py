"""A CI gate must not pass having tested nothing: `--quantbench-strict` and the count of skipped cases.

quantbench skips a case when something it needs cannot be reached (a hub model, dataset or metric that is
offline and not in the local cache: `SourceUnavailable`). Under `--quantbench-strict` (ini `quantbench_strict = true`)
such a case fails instead, with the same reason; skips a user asked for (a skip mark, `--benchmark-skip`)
stay skips. Either way, the terminal summary says when cases were skipped, and when all of them were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from pytest_quantbench.errors import SourceUnavailable
from pytest_quantbench.plugin.state import params_of

OPTION = "quantbench_strict"  # the option's dest and the ini key
PLUGIN_NAME = "quantbench-strict"
# attributes set on a case's reports (pytest serializes a report's attributes: they travel from xdist workers)
CASE_MARK, UNAVAILABLE_MARK = "quantbench_case", "quantbench_unavailable"
STRICT_NOTE = "--quantbench-strict: a case that cannot run fails"


def addoption(group: Any, parser: pytest.Parser) -> None:
    group.addoption(
        "--quantbench-strict",
        action="store_true",
        dest=OPTION,
        help="fail a case that would be skipped because a model, dataset or metric it needs cannot be reached "
        "(for CI: a gate that tested nothing must not pass); ini: quantbench_strict",
    )
    parser.addini(OPTION, type="bool", default=False, help="as --quantbench-strict")


def is_case(item: pytest.Item) -> bool:
    """A quantbench case: a config of a suite (accuracy) or one of its timing shapes (latency)."""
    params = params_of(item)
    return "quantbench_case" in params or "quantbench_measurement" in params


def unavailable(excinfo: pytest.ExceptionInfo[BaseException] | None) -> SourceUnavailable | None:
    """The `SourceUnavailable` a skip was raised for (the plugin skips while handling it), else None."""
    exc = excinfo.value if excinfo is not None else None
    while exc is not None and not isinstance(exc, SourceUnavailable):
        exc = exc.__cause__ or exc.__context__
    return exc


def skip_reason(report: pytest.TestReport) -> str:
    """The reason a skip report gives (its longrepr is `(path, line, "Skipped: reason")`)."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ")


@dataclass
class Outcome:
    """What a run did with one case: skipped or not, and why."""

    skipped: bool = False
    reason: str = ""
    unavailable: bool = False


def summary_line(outcomes: dict[str, Outcome]) -> str | None:
    """One line when cases were skipped for want of a model, dataset or metric, or when every case was."""
    skipped = [o for o in outcomes.values() if o.skipped]
    missing = [o for o in skipped if o.unavailable]
    if not skipped or (len(skipped) < len(outcomes) and not missing):
        return None
    first = (missing or skipped)[0].reason
    count = f"quantbench: {len(skipped)} of {len(outcomes)} cases skipped"
    if len(skipped) < len(outcomes):
        return f"{count}: {first}"
    return f"{count}, nothing was tested: {first}" + (" (--quantbench-strict would fail them)" if missing else "")


class Strict:
    """Turns an unreachable source's skip into a failure under `--quantbench-strict`, and counts skipped cases."""

    def __init__(self, config: pytest.Config) -> None:
        self.strict = bool(config.getoption(OPTION) or config.getini(OPTION))
        self.outcomes: dict[str, Outcome] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        report = yield
        if is_case(item):
            setattr(report, CASE_MARK, True)
            cause = unavailable(call.excinfo) if report.skipped else None
            if cause is not None:
                setattr(report, UNAVAILABLE_MARK, True)
            if cause is not None and self.strict:
                report.outcome = "failed"
                report.longrepr = f"{item.nodeid}: {cause} ({STRICT_NOTE})"
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Reports arrive here in one process and from xdist workers alike."""
        if not getattr(report, CASE_MARK, False):
            return
        outcome = self.outcomes.setdefault(report.nodeid, Outcome())
        if report.skipped and not hasattr(report, "wasxfail") and not outcome.skipped:  # an xfail ran its gate
            unreachable = bool(getattr(report, UNAVAILABLE_MARK, False))
            self.outcomes[report.nodeid] = Outcome(True, skip_reason(report), unreachable)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        line = summary_line(self.outcomes)
        if line:
            terminalreporter.ensure_newline()
            terminalreporter.write_line(line, yellow=True, bold=True)
