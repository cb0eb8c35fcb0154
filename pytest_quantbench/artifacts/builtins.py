"""`builtin:<name>` models and datasets, resolved through the providers installed as entry points.

The core never imports a recipe: a package declares a provider under the `pytest_quantbench.builtins`
entry-point group (this project's own `zoo` is one), a module with `MODELS` and `DATASETS` name
registries and the functions `model_dir(name, cache, progress)` and `dataset_args(name, cache, progress)`.
"""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.progress import Progress, say

PREFIX = "builtin:"
GROUP = "pytest_quantbench.builtins"


@functools.cache
def providers() -> tuple[Any, ...]:
    return tuple(ep.load() for ep in sorted(entry_points(group=GROUP), key=lambda ep: ep.name))


def _provider(name: str, registry: str) -> Any:
    for provider in providers():
        if name in getattr(provider, registry):
            return provider
    known = sorted(n for p in providers() for n in getattr(p, registry))
    kind = "model" if registry == "MODELS" else "dataset"
    raise KeyError(f"unknown builtin {kind} '{name}' (known: {', '.join(known)})")


def model_dir(name: str, cache: ArtifactCache, progress: Progress = say) -> Path:
    """The built model folder of `builtin:<name>` (built into the cache on first use)."""
    return _provider(name, "MODELS").model_dir(name, cache, progress)


def dataset_args(name: str, cache: ArtifactCache, progress: Progress = say) -> dict[str, Any]:
    """`datasets.load_dataset` arguments of `builtin:<name>` (built into the cache on first use)."""
    return _provider(name, "DATASETS").dataset_args(name, cache, progress)
