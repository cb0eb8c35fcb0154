"""The documentation site: `mkdocs build --strict` passes (a broken link, a missing anchor or a page left out
of the nav fails it), and the suite reference is the JSON Schema written out, so it cannot drift."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_quantbench.cli import main
from pytest_quantbench.suite import json_schema
from pytest_quantbench.suite.reference import reference_markdown

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "suite-reference.md"
REGENERATE = "stale: run `quantbench schema --markdown -o docs/suite-reference.md`"
KEY_PAGES = [
    "index.html",
    "getting-started/index.html",
    "suite-files/index.html",
    "suite-reference/index.html",
    "gates/index.html",
    "diagnosis/index.html",
    "reports/index.html",
    "language-models/index.html",
    "embedding-models/index.html",
    "shipped-suites/index.html",
    "architecture/index.html",
    "github-actions.yml",  # the workflows the reports page links to are published beside it
]
needs_mkdocs = pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="mkdocs and mkdocs-material are not installed (the `test` extra has them)",
)


def _objects(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"suite": schema, **schema["$defs"]}


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` in a child, importing this checkout's package (the hook reads its schema)."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": os.pathsep.join(paths)}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)]
    return subprocess.run(command, cwd=config.parent, env=env, capture_output=True, text=True, timeout=300)


def test_committed_reference_is_the_schema_written_out() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference_markdown(json_schema()), REGENERATE


def test_reference_has_a_row_for_every_field_with_its_default_and_choices() -> None:
    schema, page = json_schema(), reference_markdown(json_schema())
    for owner, definition in _objects(schema).items():
        for name in definition["properties"]:
            assert f"| `{name}`" in page, f"{owner}.{name} missing from the reference"
    assert '| `method` | string | `"minmax"` | `minmax`, `entropy`, `percentile` | calibration method |' in page
    assert "| `max_length` | integer | — | 2 to 8192 |" in page
    assert '| `rounds` | integer or `"auto"` | `"auto"` |' in page
    assert "| `overrides` | list of [override](#override) |" in page
    assert "| `text-generation` | `perplexity`, `nll` |" in page


def test_reference_follows_a_changed_schema() -> None:
    schema = json_schema()
    schema["$defs"]["TimeSchema"]["properties"]["warmup_rounds"]["description"] = "calls before <timing>"
    schema["$defs"]["TimeSchema"]["properties"]["repeats"] = {"type": "integer", "default": 3, "minimum": 1}
    page = reference_markdown(schema)
    assert "| `warmup_rounds` | integer | `1` | 0 to 10000 | calls before &lt;timing&gt; |" in page
    assert "| `repeats` | integer | `3` | ≥ 1 |  |" in page


def test_cli_writes_the_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--markdown", "-o", str(tmp_path / "suite-reference.md")]) == 0
    assert (tmp_path / "suite-reference.md").read_text(encoding="utf-8") == reference_markdown(json_schema())
    assert main(["schema", "--markdown"]) == 0
    assert capsys.readouterr().out == reference_markdown(json_schema())


@needs_mkdocs
def test_site_builds_strict_with_every_page(tmp_path: Path) -> None:
    built = _build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 0, built.stderr
    for page in KEY_PAGES:
        assert (tmp_path / "site" / page).is_file(), page
    reference = (tmp_path / "site" / "suite-reference" / "index.html").read_text(encoding="utf-8")
    assert "num_calibration_samples" in reference and "quantized_optimization_level" in reference


@needs_mkdocs
def test_stale_reference_or_broken_link_fails_the_build(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    (copy / "docs" / "suite-reference.md").write_text("# Suite reference\n\nhand-edited\n", encoding="utf-8")
    stale = _build(copy / "mkdocs.yml", tmp_path / "stale")
    assert stale.returncode != 0 and "suite-reference.md differs from the suite schema" in stale.stderr
    assert "hand-edited" not in (tmp_path / "stale" / "suite-reference" / "index.html").read_text(encoding="utf-8")
    (copy / "docs" / "suite-reference.md").write_text(reference_markdown(json_schema()), encoding="utf-8")
    with (copy / "docs" / "gates.md").open("a", encoding="utf-8") as page:
        page.write("\nSee [the diagnosis](diagnosis.md#no-such-section).\n")
    broken = _build(copy / "mkdocs.yml", tmp_path / "broken")
    assert broken.returncode != 0 and "no-such-section" in broken.stderr
