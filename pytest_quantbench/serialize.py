"""The one writer and the one reader of the typed records (`pytest_quantbench.records`).

`dump` turns a record into plain JSON data (what `extra_info`, `record_property` and the run's JSON hold),
with the derived values a class lists in `JSON_PROPERTIES` (a metric's drop, say) for readers of the raw
file. `load` validates such data back into the record with pydantic, ignoring keys it does not know, so a
file written by an older or newer version still reads.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def dump(value: Any) -> Any:
    """Plain JSON data of a record (nested records, tuples and dicts included)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
        out.update({name: dump(getattr(value, name)) for name in getattr(value, "JSON_PROPERTIES", ())})
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    return value


@functools.cache
def _adapter(cls: Any) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


def load(cls: type[T], data: Any) -> T:
    """The record `cls` from the plain data `dump` wrote."""
    adapter: Any = _adapter(cls)  # type: ignore[arg-type]  # classes are hashable
    return adapter.validate_python(data)


def write(path: Path, record: Any) -> None:
    """A record as a JSON file (e.g. a quantized artifact's report)."""
    path.write_text(json.dumps(dump(record), indent=1), encoding="utf-8")


def read(path: Path, cls: type[T]) -> T:
    return load(cls, json.loads(path.read_text(encoding="utf-8")))
