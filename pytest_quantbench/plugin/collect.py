"""pytest collection of suite files: each YAML file is a module whose tests are `cases.py`'s functions."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.plugin import cases
from pytest_quantbench.plugin.state import read_suite
from pytest_quantbench.suite import SUITE_PATTERNS, Suite


def is_suite_file(file_path: Path, parent: pytest.Collector) -> bool:
    """Files matching the `quantbench_suite_files` patterns, and any YAML file named on the command line."""
    if file_path.suffix not in (".yaml", ".yml"):
        return False
    patterns = parent.config.getini("quantbench_suite_files") or SUITE_PATTERNS
    return parent.session.isinitpath(file_path) or any(fnmatch.fnmatch(file_path.name, p) for p in patterns)


class SuiteFile(pytest.Module):
    """A suite file; its cases are the parametrized `accuracy` and `latency` functions of `cases.py`."""

    suite: Suite

    def _getobj(self):
        return cases

    def collect(self):
        try:
            self.suite = read_suite(self.config, self.path)
        except SuiteError as exc:
            raise self.CollectError(str(exc)) from None
        for marker in self.suite.markers:
            self.add_marker(marker)
        self.extra_keyword_matches.add(self.suite.name)
        return super().collect()

    def istestfunction(self, obj: object, name: str) -> bool:
        return name in cases.CASE_FUNCTIONS
