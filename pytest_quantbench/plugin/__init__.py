"""pytest layer: options, hooks and fixtures. The work happens in the plain-Python modules it calls.

This module is the registered plugin (the `pytest11` entry point); `collect` and `cases` make suite files
into items, `reports` is the per-run report plugin, `benchmark` the adapter to pytest-benchmark and
`hookspecs` the hooks users implement.
"""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_quantbench import faults
from pytest_quantbench.artifacts.locks import DEFAULT_TIMEOUT as DEFAULT_LOCK_TIMEOUT
from pytest_quantbench.errors import BuildError, GateFailure, SourceUnavailable, SuiteError
from pytest_quantbench.plugin import html_rows, state, strict
from pytest_quantbench.plugin import reports as reporting
from pytest_quantbench.plugin.collect import SuiteFile, is_suite_file
from pytest_quantbench.registry import Registry
from pytest_quantbench.suite import SUITE_PATTERNS


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("quantbench", "int8 quantization benchmarks (pytest-quantbench)")
    group.addoption(
        "--quantbench-cache",
        metavar="DIR",
        default=None,
        help="directory of built models and datasets, reused across runs (default: <rootdir>/.quantbench)",
    )
    group.addoption(
        "--quantbench-shard",
        metavar="K/N",
        default=None,
        help="run shard K of N (whole files per shard, balanced by case count), e.g. one CI matrix runner each",
    )
    group.addoption(
        "--quantbench-diagnose",
        action="store_true",
        help="diagnose every accuracy case (range check, sensitivity ranking, hardware risk), not only failing ones",
    )
    group.addoption(
        "--quantbench-no-diagnose",
        action="store_true",
        help="do not diagnose failing gates: the failure line keeps the verdict alone",
    )
    group.addoption(
        "--quantbench-fallback",
        action="store_true",
        help="on a failing gate, search the nodes to keep in fp32 (weight-only: at 8 bits first) and print the "
        "node_exclusion (weight_only.keep_8bit) that passes",
    )
    group.addoption(
        "--quantbench-lock-timeout",
        metavar="SECONDS",
        type=seconds,
        default=DEFAULT_LOCK_TIMEOUT,
        help="fail a case with one line after waiting SECONDS for another process's build of a cache entry "
        f"(default: {DEFAULT_LOCK_TIMEOUT:g}; 0: no limit); the wait says who holds the lock",
    )
    group.addoption(
        "--quantbench-hub-timeout",
        metavar="SECONDS",
        type=positive_seconds,
        default=None,
        help="limit of one Hugging Face hub request, tried 3 times before the case fails with one line "
        "(default: HF_HUB_ETAG_TIMEOUT / HF_HUB_DOWNLOAD_TIMEOUT, else 10)",
    )
    reporting.addoption(group)
    strict.addoption(group, parser)
    parser.addini(
        "quantbench_suite_files",
        type="args",
        default=list(SUITE_PATTERNS),
        help="glob patterns of suite files to collect (default: *.suite.yaml *.suite.yml)",
    )


def seconds(text: str, least: float = 0.0, strict: bool = False) -> float:
    """A number of seconds, 0 or more (an option's type: a bad value is one usage line)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > least if strict else value >= least) or math.isinf(value):  # NaN fails both
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds ({'more than' if strict else 'at least'} {least:g}), got {text!r}"
        )
    return value


def positive_seconds(text: str) -> float:
    return seconds(text, strict=True)


# Options naming a file the run writes at its end: checked at the start (dest, option).
OUTPUT_OPTIONS = (
    ("benchmark_json", "--benchmark-json"),
    ("quantbench_card", "--quantbench-card"),
    ("quantbench_html", "--quantbench-html"),
    ("quantbench_plot", "--quantbench-plot"),
)


def check_paths(config: pytest.Config) -> None:
    """A file the run would fail to write after computing for minutes, or a saved run that is a folder, is one
    usage line now."""
    for dest, option in OUTPUT_OPTIONS:
        value = config.getoption(dest, default=None)
        if value and (problem := faults.cannot_write(value)):
            raise pytest.UsageError(f"{option}: {problem}")
    spec = config.getoption("quantbench_compare", default=None)
    if spec and Path(spec).exists() and (problem := faults.cannot_read(spec)):
        raise pytest.UsageError(
            f"--quantbench-compare: {problem} (give a saved run's JSON file, 'latest' or a run number)"
        )


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_quantbench.plugin import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "accuracy: original vs quantized accuracy case of a quantbench suite",
        "latency: latency/throughput case of a quantbench suite (uses pytest-benchmark)",
        "quantbench(suite): parametrize a test's `quantbench_case` over the configs of a suite file",
    ):
        config.addinivalue_line("markers", line)
    cache = config.getoption("quantbench_cache") or Path(config.rootpath, ".quantbench")
    config.stash[state.REGISTRY] = registry = Registry()
    config.hook.pytest_quantbench_add_tasks(registry=registry)
    config.hook.pytest_quantbench_add_metrics(registry=registry)
    config.hook.pytest_quantbench_add_backends(registry=registry)
    config.stash[state.CACHE] = Path(cache)
    config.stash[state.PROGRESS] = progress = _terminal_progress(config)
    check_paths(config)
    from pytest_quantbench.artifacts import hub

    hub.configure(config.getoption("quantbench_hub_timeout"), progress=progress)
    config.pluginmanager.register(reporting.Reports(config), reporting.PLUGIN_NAME)
    config.pluginmanager.register(strict.Strict(config), strict.PLUGIN_NAME)
    if html_rows.active(config):  # pytest-html installed and on: its rows carry each case's details
        config.pluginmanager.register(html_rows.HtmlRows(), html_rows.PLUGIN_NAME)


def pytest_unconfigure(config: pytest.Config) -> None:
    from pytest_quantbench.artifacts import hub

    hub.end_run()


def _terminal_progress(config: pytest.Config) -> Callable[[str], None]:
    """Print build progress past output capturing, as its own line: a minutes-long fine-tune must show."""

    def say(line: str) -> None:
        capture = config.pluginmanager.getplugin("capturemanager")
        reporter = config.pluginmanager.getplugin("terminalreporter")
        if reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.ensure_newline()
            reporter.write_line(line)

    return say


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    spec = config.getoption("quantbench_shard")
    if not spec:
        return
    from pytest_quantbench.plugin import sharding

    try:
        shard, shards = sharding.parse(spec)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    files = [item.nodeid.split("::")[0] for item in items]
    owner = sharding.assign(files, shards)
    kept = [item for item, f in zip(items, files, strict=True) if owner[f] == shard]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item, f in zip(items, files, strict=True) if owner[f] != shard])
        items[:] = kept


def pytest_collection_finish(session: pytest.Session) -> None:
    """The cases whose latency this run times, as selected (`-k`, `-m`, shards): only theirs are worth a memory
    probe beside the accuracy cases (`Bench.prefetch_memory`)."""
    measurements = (state.params_of(item).get("quantbench_measurement") for item in session.items)
    session.config.stash[state.TIMED_CASES] = frozenset(m.case.key for m in measurements if m is not None)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> SuiteFile | None:
    if is_suite_file(file_path, parent):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    from pytest_quantbench.measure.measurements import measurements

    names = metafunc.fixturenames
    if "quantbench_case" not in names and "quantbench_measurement" not in names:
        return
    suite = _suite_for(metafunc)
    if "quantbench_measurement" in names:
        ms = measurements(suite)
        metafunc.parametrize("quantbench_measurement", ms, ids=[m.id for m in ms])
    else:
        params = [pytest.param(case, id=case.id, marks=_expect_marks(case.expect)) for case in suite.cases]
        metafunc.parametrize("quantbench_case", params)


def _suite_for(metafunc: pytest.Metafunc):
    parent = metafunc.definition.parent
    if isinstance(parent, SuiteFile):
        return parent.suite
    marker = metafunc.definition.get_closest_marker("quantbench")
    if marker is None or not marker.args:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: uses quantbench_case; mark it @pytest.mark.quantbench('<suite file>')"
        )
    path = Path(marker.args[0])
    if not path.is_absolute():
        path = metafunc.definition.path.parent / path
    try:
        return state.read_suite(metafunc.config, path)
    except SuiteError as exc:
        raise pytest.UsageError(str(exc)) from None


def _expect_marks(expect: str | None) -> list[pytest.MarkDecorator]:
    """`expect: collapse` / `expect: fail` document a known broken config as a strict xfail: it fails again, in
    CI, the day the config starts passing (or fails for another reason)."""
    from pytest_quantbench.errors import CollapseFailure

    if expect == "collapse":
        return [pytest.mark.xfail(strict=True, raises=CollapseFailure, reason="known collapse (expect: collapse)")]
    if expect == "fail":
        return [pytest.mark.xfail(strict=True, raises=GateFailure, reason="known gate failure (expect: fail)")]
    return []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    try:
        return (yield)
    except SourceUnavailable as exc:
        pytest.skip(str(exc))


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Past a suite file's last item, the run's sessions and in-memory models are let go: a run keeps only one
    suite's open at a time (its peak memory is one suite's, not every suite's together)."""
    if nextitem is None or nextitem.path != item.path:
        state.release(item.config)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    try:
        return (yield)
    except SourceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A broken gate (metric, original, quantized, drop, limit), a failed build, or a file-system or format fault
    in a quantbench case (`faults.describe`) is one line, not a traceback."""
    report = yield
    error = call.excinfo.value if report.failed and call.excinfo is not None else None
    if isinstance(error, (GateFailure, BuildError)):
        message = str(error)
        if isinstance(error, BuildError):  # a library's message may span lines: the report is one
            message = " ".join(message.split())
        report.longrepr = f"{item.nodeid}: {message}"
    elif error is not None and "quantbench" in getattr(item, "fixturenames", ()) and (line := faults.describe(error)):
        report.longrepr = f"{item.nodeid}: {line}"
    return report


@pytest.fixture(scope="session")
def quantbench(pytestconfig: pytest.Config) -> state.Bench:
    """The run's pipeline (`bench.Bench`): builds, caches and evaluates models; usable from any test."""
    return state.bench(pytestconfig)


@pytest.fixture
def quantbench_case():
    """The resolved config of a suite (parametrized by the plugin; see the `quantbench` marker)."""
    raise pytest.UsageError("quantbench_case is parametrized by the plugin: mark the test @pytest.mark.quantbench(...)")


@pytest.fixture
def quantbench_measurement():
    """One timing case: model role and shape (parametrized by the plugin for suite files)."""
    raise pytest.UsageError("quantbench_measurement is only parametrized for suite files")


@pytest.fixture
def original_session(quantbench: state.Bench, quantbench_case):
    """A session of the config's original model on its own backend (`framework:`), with the config's settings."""
    return quantbench.original_session(quantbench_case)


@pytest.fixture
def quantized_session(quantbench: state.Bench, quantbench_case):
    """A session of the config's quantized model on its backend, with the config's settings."""
    return quantbench.quantized_session(quantbench_case)
