"""The HTML report opened in a real browser: headless Chromium (Debian's `chromium`, which `.ci/run` installs)
loads the file from disk, runs its script, and gives back the DOM, its console and a screenshot.

Skipped, saying so, where no Chromium is installed; CI installs it, so there it runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from synthetic_runs import suite_run

from pytest_quantbench.reports import html

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
BROWSER = next((found for name in BROWSERS if (found := shutil.which(name))), None)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium binary on PATH (apt-get install chromium; .ci/run installs it)"
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with its own profile, console messages logged to stderr as `INFO:CONSOLE` lines."""
    command = [
        str(BROWSER), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr",
        "--v=0", f"--user-data-dir={tmp_path / 'profile'}", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def console(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def body_tag(dom: str) -> str:
    found = re.search(r"<body[^>]*>", dom)
    return found[0] if found else ""


def test_the_report_loads_sorts_and_renders_in_chromium(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text(html.render([suite_run(configs=12, source="old.json"), suite_run(configs=12)]), encoding="utf-8")
    speed_column = 4  # #, config, verdict, change, speed-up
    loaded = chromium(tmp_path, "--dump-dom", f"{report.as_uri()}?sort=table-0:{speed_column}:desc")
    assert console(loaded) == []
    dom = loaded.stdout
    assert body_tag(dom) == '<body data-ready="1">'  # the script ran to its end and nothing threw (data-error)
    for index in (0, 1):
        assert f'id="table-{index}"' in dom and f'id="svg-{index}"' in dom
    assert 'id="history"' in dom

    table = dom[dom.index('id="table-0"') : dom.index("</table>", dom.index('id="table-0"'))]
    assert 'data-sorted="4:desc"' in table and 'aria-sort="descending"' in table
    rows = re.findall(r"<tr>(.*?)</tr>", table[table.index("<tbody>") :])
    speeds = [float(re.findall(r'data-v="([^"]*)"', row)[speed_column]) for row in rows]
    assert len(speeds) == 12 and speeds == sorted(speeds, reverse=True) and speeds != sorted(speeds)

    screenshot = tmp_path / "report.png"
    shot = chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={screenshot}", report.as_uri())
    assert console(shot) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and screenshot.stat().st_size > 50_000
    print(f"screenshot: {screenshot}")  # kept under pytest's temporary directory


def test_a_200_config_report_loads_in_chromium_without_error(tmp_path: Path) -> None:
    report = tmp_path / "large.html"
    report.write_text(html.render([suite_run(configs=100)]), encoding="utf-8")  # two suites: 200 configs
    assert report.stat().st_size < 5_000_000
    loaded = chromium(tmp_path, "--dump-dom", f"{report.as_uri()}?sort=table-1:1:desc")
    assert console(loaded) == [] and body_tag(loaded.stdout) == '<body data-ready="1">'
    assert loaded.stdout.count('<details id="case-') == 200
