"""Facts about the machine that decide int8 speed and correctness (VNNI, AVX512, AMX), recorded with results,
with the engines the results ran on (each backend describes its own: `Backend.engine_info`)."""

from __future__ import annotations

import dataclasses
import functools
import os
import platform
from pathlib import Path

from pytest_quantbench.records import EngineInfo, MachineFacts

INTERESTING_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "asimddp")


@functools.cache
def _cpu_facts() -> MachineFacts:
    model, flags = platform.processor() or platform.machine(), set[str]()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name":
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    return MachineFacts(
        cpu=model,
        cpu_count=os.cpu_count(),
        instructions=tuple(f for f in INTERESTING_FLAGS if f in flags),
        vnni=bool(flags & {"avx512_vnni", "avx_vnni"}),
        python=platform.python_version(),
    )


def machine_facts(engines: tuple[EngineInfo, ...] = ()) -> MachineFacts:
    """This machine's facts, with `engines` (e.g. `Registry.engines_of(cases)`: the backends a result used)."""
    return dataclasses.replace(_cpu_facts(), engines=tuple(engines))
