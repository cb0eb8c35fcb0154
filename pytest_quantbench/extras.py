"""Optional extras: what a plain `pip install pytest-quantbench` leaves out, and the one line that says so.

`plot` (matplotlib) draws `--quantbench-plot` / `quantbench card --plot`; `zoo` (Faker) builds the offline
default models and datasets (`builtin:<name>`); `openvino` (openvino, nncf) is `framework: openvino`, whose
configs are refused at collection without it (`suite/build.py`). Their modules are imported inside the functions that need
them, under `needs(...)`, so that a missing one fails there with the `pip install` line, not at import time.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator

from pytest_quantbench.errors import BuildError

DISTRIBUTION = "pytest-quantbench"
EXTRAS: dict[str, tuple[str, ...]] = {
    "plot": ("matplotlib",),
    "zoo": ("faker", "gguf", "accelerate"),
    "openvino": ("openvino", "nncf"),
}  # extra -> top-level modules


class MissingExtra(BuildError):
    """An optional dependency is not installed; the message is one line naming the extra that installs it."""


def message(extra: str, module: str, needed_by: str) -> str:
    return f"{needed_by} needs {module}, which is not installed: pip install '{DISTRIBUTION}[{extra}]'"


@contextlib.contextmanager
def needs(extra: str, needed_by: str) -> Iterator[None]:
    """Turn a missing module of `extra` (an import, or `importlib.metadata.version`) into `MissingExtra`."""
    try:
        yield
    except ModuleNotFoundError as exc:  # PackageNotFoundError is one too
        root = (exc.name or "").split(".")[0].lower()
        if root not in EXTRAS[extra]:
            raise
        raise MissingExtra(message(extra, root, needed_by)) from None


def missing(extra: str, needed_by: str) -> str | None:
    """The one-line message if `extra` is not installed, else None (checks without importing)."""
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return message(extra, module, needed_by)
    return None
