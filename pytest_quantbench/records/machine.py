"""What a result was measured on: the CPU, the engines, and the U8S8 kernels' risk on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EngineInfo:
    """An inference engine a run used, as its backend describes it: the `framework:` name, the library
    version(s) that decide its results, and the line the card prints for it."""

    name: str  # the `framework:` value
    version: str  # e.g. "1.23.2", or "torch 2.13.0" for a backend built on another library
    line: str  # e.g. "onnxruntime 1.23.2 (CPUExecutionProvider)"


@dataclass(frozen=True)
class MachineFacts:
    """The CPU and the engines a result was measured on: int8 kernels, speed and even accuracy depend on them."""

    cpu: str
    cpu_count: int | None
    instructions: tuple[str, ...]
    vnni: bool
    python: str
    engines: tuple[EngineInfo, ...] = ()  # the backends the run (or the case) used, as each describes itself

    def engine(self, name: str) -> EngineInfo | None:
        return next((e for e in self.engines if e.name == name), None)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Read by `serialize.load` (pydantic asked only then), old runs included: they kept their one engine's
        version under its name, `onnxruntime: "1.2.3"`."""
        from pydantic_core import core_schema

        def with_engines(data: Any) -> Any:
            old = data.get("onnxruntime") if isinstance(data, dict) and "engines" not in data else None
            line = f"onnxruntime {old} (CPUExecutionProvider)"
            return {**data, "engines": [{"name": "onnxruntime", "version": old, "line": line}]} if old else data

        return core_schema.no_info_before_validator_function(with_engines, handler(source))


@dataclass(frozen=True)
class KernelProbe:
    """This machine's U8S8 kernels, by default and with `x64_quant_precision`: `exact`, `saturates`, `wrong`, or
    `unavailable (why)` when the probe could not run."""

    default: str
    x64_quant_precision: str


@dataclass(frozen=True)
class HardwareRisk:
    """A config whose accuracy depends on whether the CPU's U8S8 kernels saturate (no VNNI)."""

    risk: str
    hardware_dependent: bool
    affects: str
    vnni: bool
    this_machine_saturates: bool
    probe: KernelProbe
    remedies: tuple[str, ...]
