"""The README is the front door: short, opening with the two set-up commands, its example suite loads, and it
links every page of the documentation site with links that resolve on GitHub too."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from pytest_quantbench.suite import load_suite

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETUP = """```bash
python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e ".[all,test]" && .venv/bin/pytest benchmarks
python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e ".[all,test]" && .venv/bin/pytest tests
```"""
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _nav_pages(nav: Any) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [page for item in nav.values() for page in _nav_pages(item)]
    return [page for item in nav for page in _nav_pages(item)]


def test_readme_is_under_200_lines() -> None:
    assert len(README.splitlines()) < 200


def test_readme_opens_with_the_two_setup_commands() -> None:
    title, first_block = README.split("\n\n", 2)[:2]
    assert title == "# pytest-quantbench"
    assert first_block == SETUP


def test_readme_links_resolve_and_reach_every_site_page() -> None:
    targets = {target for target in LINK.findall(README) if not target.startswith(("http://", "https://"))}
    missing = sorted(target for target in targets if not (ROOT / target).exists())
    assert not missing, missing
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    pages = {f"docs/{page}" for page in _nav_pages(nav)} - {"docs/index.md"}
    assert pages <= targets, sorted(pages - targets)


def test_readme_example_suite_loads(tmp_path: Path) -> None:
    example = re.search(r"## A suite\n\n```yaml\n(.*?)```", README, re.S)
    assert example is not None
    path = tmp_path / "minilm-sentiment.suite.yaml"
    path.write_text(example.group(1), encoding="utf-8")
    suite = load_suite(path)
    assert suite.name == "minilm-sentiment" and len(suite.cases) == 8
