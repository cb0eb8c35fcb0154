"""What a backend is: the one place an inference engine is named. It builds, loads and runs a case's original
and quantized model, and answers what the diagnosis asks of its engine, or says that it cannot.

A backend is one module with one `Backend` subclass, picked by the config's `framework:` value from the run's
`registry.Registry` (the built-in ones, and a user's added with `pytest_quantbench_add_backends`). Evaluation,
timing, the diagnosis and the reports only call these methods; nothing outside `runtimes/` names an engine. A
session is anything with ONNX Runtime's `get_inputs()` and `run(None, feed)`.

What a backend declares:
- `name` (its `framework:` value), `vocabulary` (the quantization approaches it runs), `libraries` (the
  packages whose versions decide what its sessions compute: scores, profiles and rankings are cached under
  them) and `engine_info()` (the engine's version and the card's line, kept in the machine facts);
- its settings: the config's shared fields (approach, operators, per-channel, node exclusion, ...) and its
  `framework_args`. Those are a suite word, checked by the suite's schema, and today's fields are ONNX
  Runtime's session settings (optimization levels, intra-op threads, `x64_quant_precision`, the export's
  opset). Each backend reads the fields that mean something to its engine, in its own module, and leaves
  the rest: ONNX Runtime reads them all (`onnxruntime_settings.py`), PyTorch only the thread count. A new
  engine's own knobs belong in its module too (e.g. class attributes, or the environment), never in a
  check elsewhere;
- what its engine cannot do: `profile` (the speed diagnosis) and `graph_inspector` (the accuracy diagnosis:
  sensitivity ranking, fallback search) raise `Unsupported` with the reason, which the diagnosis prints as
  one line ("<name> cannot profile: <reason>"); `hardware_risk` and `exact_kernels` answer None.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pytest_quantbench.records import (
    EngineInfo,
    HardwareRisk,
    MachineFacts,
    MemoryStats,
    ModelSize,
    NodeError,
    Profile,
    QuantizationReport,
    Role,
    TensorSpec,
)
from pytest_quantbench.suite import Case
from pytest_quantbench.suite.vocabulary import BackendVocabulary

if TYPE_CHECKING:
    from pytest_quantbench.artifacts.cache import ArtifactCache
    from pytest_quantbench.artifacts.sources import Models
    from pytest_quantbench.data.store import DataStore
    from pytest_quantbench.runtimes.memory_probe import Feeds
    from pytest_quantbench.runtimes.speed_rules import SpeedRule


class Session(Protocol):
    def get_inputs(self) -> list[Any]: ...

    def run(self, output_names: Any, feed: dict[str, Any]) -> list[Any]: ...


@dataclass(frozen=True)
class QuantizedModel:
    """The quantized model of a case: its file (or, in memory, the checkpoint it came from) and its report."""

    path: Path
    report: QuantizationReport


class Unsupported(Exception):
    """What a backend's engine cannot do; `reason` says why, to complete "<name> cannot <what>: <reason>"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_role(role: object) -> Role:
    """`role`, when it is a `Role`: a misspelt string must fail, not run the other model."""
    if not isinstance(role, Role):
        raise TypeError(f"a model's role is a records.Role (ORIGINAL or QUANTIZED), not {role!r}")
    return role


# a task's divergence between two models' first outputs of one feed (`Task.divergence`)
Divergence = Callable[[Any, Any, dict[str, Any]], float]


class GraphInspector(Protocol):
    """What the accuracy diagnosis reads inside one case's two models (`Backend.graph_inspector`)."""

    def ranking(self, feeds: list[dict[str, Any]]) -> list[NodeError]:
        """The nodes the config quantized, by the error each adds on `feeds` (a few eval samples), largest
        first: the fallback search keeps them in fp32 in this order."""
        ...

    def kept_by(self, node_exclusion: tuple[str, ...]) -> list[str]:
        """The node names a `node_exclusion` (presets and names) keeps in fp32."""
        ...

    def divergences(self, feed: dict[str, Any], name: str, measure: Divergence) -> dict[str, float]:
        """How far each of the quantized nodes that move the output most, quantized alone, takes the model's
        first output on `feed` from fp32's, by `measure` (the task's, called `name`): `isolation.isolate`."""
        ...


class Backend(ABC):
    """Made once per run with the stages before it: the cache, the model sources and the suites' data (which
    knows each suite's task)."""

    name: ClassVar[str]
    vocabulary: ClassVar[BackendVocabulary]  # what a suite may ask of it
    libraries: ClassVar[tuple[str, ...]] = ()  # packages whose versions decide its outputs: part of cache keys
    speed_rules: ClassVar[tuple[SpeedRule, ...]] = ()  # why its int8 is slow, in the order tried (`verdicts.speed`)

    def __init__(self, cache: ArtifactCache, models: Models, data: DataStore) -> None:
        self.cache, self.models, self.data = cache, models, data

    @classmethod
    def engine_info(cls) -> EngineInfo:
        """The engine as the machine facts and the card name it; by default, its `libraries`' versions."""
        from pytest_quantbench.artifacts.cache import library_versions

        versions = ", ".join(f"{n} {v}" for n, v in library_versions(cls.libraries).items())
        return EngineInfo(cls.name, versions, f"{cls.name} ({versions})" if versions else cls.name)

    @abstractmethod
    def quantized(self, case: Case) -> QuantizedModel:
        """Build (or take from the cache) the quantized model of a case."""

    @abstractmethod
    def session(self, case: Case, role: Role, threads: int | None = None) -> Session:
        """A session of the original or quantized model; `threads` overrides the config's."""

    @abstractmethod
    def model_id(self, case: Case, role: Role) -> str:
        """Identity of what a session of `role` computes: configs whose models are alike share scores."""

    def release(self) -> None:
        """Drop what the backend holds open for timing and scoring (sessions, in-memory models): the run moved
        on to another suite file, and a 135M-parameter decoder's sessions would otherwise stay for the rest of
        the run. What is needed again is reopened (built artifacts stay on disk)."""
        return None  # a backend that holds nothing open has nothing to drop

    def model_size(self, case: Case) -> ModelSize | None:
        """Bytes on disk of the original and quantized model files; None where the models live in memory."""
        return None

    def memory(self, case: Case, role: Role, feeds: Feeds) -> dict[str, MemoryStats] | None:
        """Peak memory of loading a timing session of `role` and of running it on each feed (by shape id; a
        decoder's phases: on each shape's `memory_probe.Steps` in turn); None where the backend cannot measure it
        apart from the run's own process."""
        return None

    def artifacts(self, case: Case) -> dict[str, Path]:
        """What a failing case leaves on disk to look at (the quantized model, its calibration ranges)."""
        return {}

    def profile(self, case: Case, role: Role, feed: dict[str, Any], calls: int, threads: int | None = None) -> Profile:
        """Milliseconds per call of a session of `role` on `feed`, by op type and by the element type each kernel
        takes (with the case's settings, or `threads`); the speed diagnosis compares both roles'."""
        raise Unsupported("it has no op-level profiler")

    def graph_inspector(self, case: Case) -> GraphInspector:
        """What the accuracy diagnosis reads inside the case's models (sensitivity ranking, fallback search)."""
        raise Unsupported(f"graph inspection is not available for {self.name}")

    def hardware_risk(self, case: Case, machine: MachineFacts) -> HardwareRisk | None:
        """A config whose results depend on the CPU's kernels (on this `machine`); None where none is known."""
        return None

    def exact_kernels(self, case: Case) -> Case | None:
        """The case run on kernels that do not carry the hardware risk, to confirm it as the cause; None where
        the engine has no such setting."""
        return None


# ONNX element types as a session's inputs declare them (`tensor(float)`), as numpy names them
ONNX_ELEMENT_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(int64)": "int64",
                      "tensor(int32)": "int32", "tensor(bool)": "bool", "tensor(double)": "float64"}  # fmt: skip


def declared_inputs(session: Session) -> tuple[TensorSpec, ...]:
    """The inputs a session declares, engine-neutral (`records.TensorSpec`): an ONNX Runtime session's names,
    dimensions (a named, open one is None) and element types; a session-like object gives what it has."""
    specs = []
    for arg in session.get_inputs():
        dims = getattr(arg, "shape", None)
        shape = tuple(d if isinstance(d, int) else None for d in dims) if isinstance(dims, (list, tuple)) else ()
        dtype = getattr(arg, "type", "")  # a user's session may give a type that is not ONNX Runtime's string
        dtype = ONNX_ELEMENT_TYPES.get(dtype, dtype) if isinstance(dtype, str) and dtype else "float32"
        specs.append(TensorSpec(arg.name, shape, dtype))
    return tuple(specs)


def output_names(session: Session) -> tuple[str, ...]:
    """The names of a session's outputs, in the order `run(None, feed)` returns them."""
    outputs = getattr(session, "get_outputs", None)
    return tuple(o.name for o in outputs()) if outputs is not None else ()


def inputs_of(session: Session, feed: dict[str, Any]) -> dict[str, Any]:
    """The part of a prepared feed that the session's model takes."""
    wanted = {i.name for i in session.get_inputs()}
    return {k: v for k, v in feed.items() if k in wanted}


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (ONNX Runtime's span several), or its type when it has none."""
    return " ".join(str(exc).split()) or type(exc).__name__


def run_failure(session: Session, feed: dict[str, Any], exc: Exception) -> Exception:
    """A failed `session.run` as a `BuildError` naming the model file and each input's shape and type (ONNX
    Runtime's message names the node)."""
    from pytest_quantbench.errors import BuildError

    model = getattr(session, "_model_path", None) or "the model"
    shapes = ", ".join(f"{k} {list(getattr(v, 'shape', ()))} {getattr(v, 'dtype', '')}" for k, v in feed.items())
    return BuildError(f"running {model} on inputs {shapes} failed: {one_line(exc)}")


def run_checked(session: Session, feed: dict[str, Any]) -> list[Any]:
    """`session.run`, failing with `run_failure`'s one line."""
    try:
        return session.run(None, feed)
    except Exception as exc:
        raise run_failure(session, feed, exc) from exc
