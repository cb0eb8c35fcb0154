"""HTML-report load benchmark (not a timed test): a 200-config report opens in headless Chromium in under 2 s.

The report is the one `tests/unit/test_html_browser.py` checks for content (two suites of 100 configs, every
verdict, diagnoses, op profiles). Chromium's own start-up is most of a `--dump-dom` call, so the load time is
the report's call less a call on an empty page, each the fastest of `CALLS` (the least disturbed by the
machine's other work). Skipped, saying so, where no Chromium is installed.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from pytest_quantbench.reports import html

CONFIGS_PER_SUITE = 100  # two suites: 200 configs
LOAD_BUDGET_S = 2.0
SIZE_BUDGET_BYTES = 5_000_000
CALLS = 3
SYNTHETIC_RUNS = Path(__file__).parent.parent / "tests" / "synthetic_runs.py"
BROWSER = next(
    (found for name in ("chromium", "chromium-browser", "google-chrome") if (found := shutil.which(name))), None
)


def suite_run(configs: int):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("synthetic_runs", SYNTHETIC_RUNS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.suite_run(configs=configs)


def fastest_load(page: Path, profile: Path) -> tuple[float, str]:
    """The fastest of `CALLS` headless loads of `page` (seconds), and the DOM it left."""
    command = [
        str(BROWSER), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}", "--dump-dom",
        page.as_uri(),
    ]  # fmt: skip
    best, dom = float("inf"), ""
    for _ in range(CALLS):
        start = time.perf_counter()
        dom = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
        best = min(best, time.perf_counter() - start)
    return best, dom


@pytest.mark.skipif(BROWSER is None, reason="no Chromium binary on PATH (apt-get install chromium)")
def test_a_200_config_report_loads_in_under_2_s(tmp_path: Path) -> None:
    report, empty = tmp_path / "report.html", tmp_path / "empty.html"
    report.write_text(html.render([suite_run(CONFIGS_PER_SUITE)]), encoding="utf-8")
    empty.write_text("<!doctype html><html><body data-ready=1></body></html>", encoding="utf-8")
    chromium_alone, _ = fastest_load(empty, tmp_path / "profile")
    with_report, dom = fastest_load(report, tmp_path / "profile")
    load_s = max(0.0, with_report - chromium_alone)
    size = report.stat().st_size
    print(f"200-config report: {size / 1e6:.2f} MB, loads in {load_s:.2f} s (Chromium alone {chromium_alone:.2f} s)")
    assert 'data-ready="1"' in dom and dom.count('<details id="case-') == 2 * CONFIGS_PER_SUITE
    assert size < SIZE_BUDGET_BYTES
    assert load_s < LOAD_BUDGET_S
