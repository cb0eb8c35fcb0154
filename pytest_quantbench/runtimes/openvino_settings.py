"""How OpenVINO runs a config: the CPU plugin's properties, the session adapter and the profile.

A leaf module of the OpenVINO backend (`openvino.py` builds the models, `openvino_nncf.py` quantizes them):
everything here reads an `openvino.CompiledModel` and imports `openvino` inside its functions only.

Both models compile with `INFERENCE_PRECISION_HINT: f32`: on CPUs with bf16 (AMX, AVX512-BF16) the CPU plugin
would otherwise run the "fp32" model in bf16, and the baseline would not be the fp32 model it claims to be. The
int8 model keeps its int8 kernels; what NNCF left in float runs in fp32, as ONNX Runtime runs it.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_quantbench.errors import BuildError
from pytest_quantbench.records import Profile
from pytest_quantbench.runtimes.base import one_line

DEVICE = "CPU"
# The CPU plugin prepares its kernels (weights repacked, shapes' kernels compiled) over the first calls of a shape
WARM_UP_CALLS = 3
XML_FILE, BIN_FILE = "model.xml", "model.bin"  # an OpenVINO IR: the graph and its weights
# The element type a kernel runs in, from the suffix of its `exec_type` (`brgemm_avx512_I8`), named as ONNX
# Runtime's profile names them, so the engine-neutral speed rules read both engines' profiles alike.
EXEC_ELEMENTS = {
    "I8": "int8", "U8": "uint8", "I4": "int4", "U4": "uint4", "I32": "int32", "I64": "int64",
    "FP32": "float", "F32": "float", "BF16": "bfloat16", "FP16": "float16", "F16": "float16",
}  # fmt: skip


@functools.cache
def core() -> Any:
    """One `openvino.Core` per process: it holds the plugins and their caches."""
    import openvino as ov

    return ov.Core()


def properties(threads: int, perf_count: bool = False) -> dict[str, Any]:
    """The CPU plugin's properties of a session: `threads` inference threads, one stream for latency, fp32
    where the model is float; with `perf_count`, per-node performance counters."""
    found: dict[str, Any] = {
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "INFERENCE_PRECISION_HINT": "f32",
    }
    return {**found, "PERF_COUNT": True} if perf_count else found


def compile_model(xml: Path, threads: int, perf_count: bool = False) -> Any:
    """`xml` (an IR) compiled for the CPU; a failure is one line naming the file."""
    try:
        return core().compile_model(str(xml), DEVICE, properties(threads, perf_count))
    except Exception as exc:  # OpenVINO raises RuntimeError with the plugin's message
        raise BuildError(f"OpenVINO cannot compile {xml} for the {DEVICE}: {one_line(exc)}") from exc


@dataclass(frozen=True)
class Input:
    name: str


class OpenVinoSession:
    """An ONNX Runtime-shaped session over a compiled model: `get_inputs()` and `run(None, feed)`.

    The scorer runs one session from several threads at once; an infer request serves one call at a time, so
    each thread gets its own (a compiled model's requests share its weights)."""

    def __init__(self, compiled: Any, xml: Path) -> None:
        self.compiled, self._model_path = compiled, xml  # `_model_path`: what `run_failure` names
        self._inputs = [Input(port.get_any_name()) for port in compiled.inputs]
        self._local = threading.local()

    def get_inputs(self) -> list[Input]:
        return self._inputs

    def request(self) -> Any:
        found = getattr(self._local, "request", None)
        if found is None:
            found = self._local.request = self.compiled.create_infer_request()
        return found

    def run(self, output_names: Any, feed: dict[str, Any]) -> list[Any]:
        results = self.request().infer(feed)  # copies the outputs: the next call may reuse the request's tensors
        return [results[port] for port in self.compiled.outputs]


def element(exec_type: str) -> str:
    """The element type a kernel ran in, from its `exec_type`; "?" where it names none."""
    return EXEC_ELEMENTS.get(exec_type.rsplit("_", 1)[-1].upper(), "?")


def profile_compiled(session: OpenVinoSession, feed: dict[str, Any], calls: int) -> Profile:
    """Run `calls` calls (after `WARM_UP_CALLS`) on a session compiled with performance counters, and sum each
    node's real time per call, in ms, by node type and by the element type of its kernel."""
    request = session.request()
    for _ in range(WARM_UP_CALLS):
        request.infer(feed)
    by_op: dict[str, float] = {}
    by_type: dict[str, float] = {}
    for _ in range(calls):
        request.infer(feed)
        for node in request.profiling_info:  # the last call's counters
            ms = node.real_time.total_seconds() * 1e3 / calls
            if ms <= 0:
                continue  # not run: folded into a neighbour's kernel, or a constant
            by_op[node.node_type] = by_op.get(node.node_type, 0.0) + ms
            kind = element(node.exec_type)
            by_type[kind] = by_type.get(kind, 0.0) + ms
    ordered = dict(sorted(by_op.items(), key=lambda kv: -kv[1]))
    return Profile(ordered, dict(sorted(by_type.items(), key=lambda kv: -kv[1])))


def profile_model(xml: Path, threads: int, feed: dict[str, Any], calls: int) -> Profile:
    """`profile_compiled` on a session of its own, compiled with performance counters."""
    session = OpenVinoSession(compile_model(xml, threads, perf_count=True), xml)
    wanted = {i.name for i in session.get_inputs()}
    return profile_compiled(session, {k: v for k, v in feed.items() if k in wanted}, calls)


def ir_bytes(xml: Path) -> int:
    """Bytes on disk of an IR: its graph and its weights."""
    return xml.stat().st_size + xml.with_name(BIN_FILE).stat().st_size
