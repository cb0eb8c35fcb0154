"""The one writer and the one reader of the typed records (`pytest_quantbench.records`).

`dump` turns a record into plain JSON data (what `extra_info`, `record_property` and the run's JSON hold),
with the derived values a class lists in `JSON_PROPERTIES` (a metric's drop, say) for readers of the raw
file. `load` validates such data back into the record with pydantic, ignoring keys it does not know, so a
file written by an older or newer version still reads; a layout that older versions wrote differently is
upgraded first (`LEGACY`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from pytest_quantbench.records import Role, TimingResult

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
    """The record `cls` from the plain data `dump` wrote (or an older version, see `LEGACY`)."""
    adapter: Any = _adapter(cls)  # type: ignore[arg-type]  # classes are hashable
    upgrade = LEGACY.get(cls)
    return adapter.validate_python(upgrade(data) if upgrade is not None and isinstance(data, dict) else data)


# --- layouts older versions wrote -------------------------------------------------------------------------

FLAT_LATENCY = ("mean_ms", "p50_ms", "p90_ms", "p99_ms", "rounds", "ci95_rel")  # written `latency_<name>`, flat
FLAT_ROLES = {"fp32": Role.ORIGINAL.value, "int8": Role.QUANTIZED.value}


def _flat_stats(data: dict[str, Any]) -> dict[str, Any] | None:
    """`LatencyStats` from the flat keys older files hold (`latency_mean_ms`, ..., `rounds`), None if absent."""
    found = {name: data.get(name if name == "rounds" else f"latency_{name}") for name in FLAT_LATENCY}
    return None if found["mean_ms"] is None else found


def _timing_before_nesting(data: dict[str, Any]) -> dict[str, Any]:
    """A latency record as files written before its statistics were nested hold it (0.1.0 included): its own
    statistics flat on it, the paired fp32 calls' under the same flat names, and the roles `fp32`/`int8`."""
    if "latency" in data:
        return data
    paired, role = data.get("paired_fp32"), data.get("role")
    return {
        **data,
        "role": FLAT_ROLES.get(role, role) if isinstance(role, str) else role,
        "latency": _flat_stats(data),
        "paired_fp32": _flat_stats(paired) if isinstance(paired, dict) else paired,
    }


LEGACY: dict[type, Any] = {TimingResult: _timing_before_nesting}  # a record's upgrade of what older files hold


def write(path: Path, record: Any) -> None:
    """A record as a JSON file (e.g. a quantized artifact's report)."""
    path.write_text(json.dumps(dump(record), indent=1), encoding="utf-8")


def read(path: Path, cls: type[T]) -> T:
    return load(cls, json.loads(path.read_text(encoding="utf-8")))
