"""Reading a suite file: the YAML (plain data only, strictly and within limits), then the models and rules.

`yaml.safe_load` alone takes the last of two equal keys silently and expands an alias bomb into a document
that validation walks for minutes; a suite file is small, so anything far beyond one is refused at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite.records import Suite
from pytest_quantbench.suite.vocabulary import Vocabulary

SUITE_PATTERNS = ("*.suite.yaml", "*.suite.yml")
MAX_BYTES = 1_000_000
MAX_DEPTH = 32  # nesting of mappings and lists
MAX_ALIASES = 100
MAX_NODES = 100_000  # values in the document once every alias is expanded
TOO_LARGE = f"the file is larger than {MAX_BYTES // 1_000_000} MB; a suite file is a few lines"


class _Refused(Exception):
    """The document breaks a rule of the reader; `field` is the key it is at (or '')."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class StrictLoader(yaml.SafeLoader):
    """SafeLoader (plain data, never Python objects) that refuses deep or alias-heavy files as it composes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _Refused("", f"more than {MAX_ALIASES} aliases (line {mark.line + 1}); write the values out")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Refused("", f"nested deeper than {MAX_DEPTH} levels (line {mark.line + 1})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _dotted(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _check_keys(node: yaml.Node, path: str, seen: set[int]) -> None:
    """No mapping gives a key twice (`yaml.safe_load` would keep the last silently); the error names the
    key's dotted path and both lines. Merge keys (`<<`) and their overrides are YAML's own and allowed."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_keys(item, f"{path}[{i}]", seen)
    elif isinstance(node, yaml.MappingNode):
        lines: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in lines:
                    raise _Refused(
                        _dotted(path, key_node.value),
                        f"duplicate key (lines {lines[key]} and {_line(key_node)}): give each key once",
                    )
                lines[key] = _line(key_node)
            _check_keys(value_node, _dotted(path, getattr(key_node, "value", "?")), seen)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Values in the document with aliases expanded, counted per shared node once (so a bomb costs nothing)."""
    if id(node) not in sizes:
        sizes[id(node)] = 1  # a recursive alias counts once, and SafeLoader refuses it when constructing
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        sizes[id(node)] = 1 + sum(min(_expanded_size(c, sizes), MAX_NODES + 1) for c in children)
    return sizes[id(node)]


def read_yaml(text: str) -> Any:
    """The plain data of one YAML document; `_Refused` or `yaml.YAMLError` on a bad one."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise _Refused("", TOO_LARGE)
    loader = StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_keys(node, "", set())
        if _expanded_size(node, {}) > MAX_NODES:
            raise _Refused("", f"expands to more than {MAX_NODES} values through its aliases")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_suite(path: str | Path, vocabulary: Vocabulary | None = None) -> Suite:
    """Read and validate one suite file; raise `SuiteError` naming the file and field on bad input.

    `vocabulary` gives the tasks and metrics a suite may name (default: the package's own).
    """
    from pytest_quantbench.suite.build import parse_suite  # pydantic, only once a suite is read

    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise SuiteError(path, "", TOO_LARGE)
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(path, "", f"cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SuiteError(path, "", "the file is not UTF-8 text") from None
    try:
        raw = read_yaml(text)
    except _Refused as exc:
        raise SuiteError(path, exc.field, exc.message) from None
    except RecursionError:
        raise SuiteError(path, "", f"nested deeper than {MAX_DEPTH} levels") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SuiteError(path, "", f"invalid YAML{where}: {problem}") from None
    return parse_suite(raw, path, vocabulary)
