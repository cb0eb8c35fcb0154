"""MkDocs hook: the suite reference page is made from the suite files' JSON Schema at every build.

The page's text in the site is always `reference_markdown(json_schema())`, whatever `docs/suite-reference.md`
holds; a committed copy that differs (read on GitHub, say) is a warning, which `mkdocs build --strict` turns
into a failed build, naming the command that rewrites it.
"""

from __future__ import annotations

import logging
from typing import Any

from pytest_quantbench.suite import json_schema
from pytest_quantbench.suite.reference import reference_markdown

PAGE = "suite-reference.md"
REGENERATE = "quantbench schema --markdown -o docs/suite-reference.md"
log = logging.getLogger("mkdocs.hooks.suite_reference")


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    generated = reference_markdown(json_schema())
    if markdown.strip() != generated.strip():
        log.warning("docs/%s differs from the suite schema: rewrite it with `%s`", PAGE, REGENERATE)
    return generated
