"""Reading a suite file: the YAML (data only, never Python objects), then the schema."""

from __future__ import annotations

from pathlib import Path

import yaml

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite.records import Suite
from pytest_quantbench.suite.vocabulary import Vocabulary

SUITE_PATTERNS = ("*.suite.yaml", "*.suite.yml")


def load_suite(path: str | Path, vocabulary: Vocabulary | None = None) -> Suite:
    """Read and validate one suite file; raise `SuiteError` naming the file and field on bad input.

    `vocabulary` gives the tasks and metrics a suite may name (default: the package's own).
    """
    from pytest_quantbench.suite.schema import parse_suite  # pydantic, only once a suite is read

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(path, "", f"cannot read file: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SuiteError(path, "", f"invalid YAML{where}: {problem}") from None
    return parse_suite(raw, path, vocabulary)
