"""`--quantbench-plot` without the `plot` extra stops the run before it starts, with one line."""

from __future__ import annotations

import sys

import pytest


def test_plot_option_without_matplotlib_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, run, suite_file) -> None:
    from conftest import SENTIMENT

    suite_file("s.suite.yaml", SENTIMENT)
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    result = run("--quantbench-plot=plot.png")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --quantbench-plot needs matplotlib, which is not installed: pip install 'pytest-quantbench[plot]'"]
    )
    result.stdout.no_fnmatch_line("*accuracy*")
