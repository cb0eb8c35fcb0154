"""Per-run memo of built things (models, sessions, datasets) under explicit keys."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class Memo:
    """`memo(key, make)`: `make()` once per key for the life of the object (the run)."""

    def __init__(self) -> None:
        self._values: dict[Hashable, Any] = {}

    def __call__(self, key: Hashable, make: Callable[[], T]) -> T:
        if key not in self._values:
            self._values[key] = make()
        return self._values[key]

    def forget(self, kinds: tuple[str, ...]) -> None:
        """Drop the values whose key is a tuple starting with one of `kinds` (what is rebuilt cheaply, but held
        large: sessions and in-memory models)."""
        for key in [k for k in self._values if isinstance(k, tuple) and k and k[0] in kinds]:
            del self._values[key]
