"""What a backend is: it builds, loads and runs a case's original and quantized model.

A backend is one module with one `Backend` subclass, looked up by the config's `framework:` value
(`runtimes.backends`). Evaluation, timing and diagnosis only call these methods; a session is anything
with ONNX Runtime's `get_inputs()` and `run(None, feed)`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pytest_quantbench.records import MemoryStats, ModelSize, QuantizationReport
from pytest_quantbench.suite import Case
from pytest_quantbench.suite.vocabulary import BackendVocabulary

if TYPE_CHECKING:
    from pytest_quantbench.artifacts.cache import ArtifactCache
    from pytest_quantbench.artifacts.sources import Models
    from pytest_quantbench.data.store import DataStore
    from pytest_quantbench.runtimes.speed_rules import SpeedRule


class Session(Protocol):
    def get_inputs(self) -> list[Any]: ...

    def run(self, output_names: Any, feed: dict[str, Any]) -> list[Any]: ...


@dataclass(frozen=True)
class QuantizedModel:
    """The quantized model of a case: its file (or, in memory, the checkpoint it came from) and its report."""

    path: Path
    report: QuantizationReport


class Backend(ABC):
    """Made once per run with the stages before it: the cache, the model sources and the suites' data (which
    knows each suite's task)."""

    name: ClassVar[str]
    vocabulary: ClassVar[BackendVocabulary]  # what a suite may ask of it
    reads_onnx: ClassVar[bool] = False  # its models are ONNX graphs, which the diagnosis reads
    speed_rules: ClassVar[tuple[SpeedRule, ...]] = ()  # why its int8 is slow, in the order tried (`verdicts.speed`)

    def __init__(self, cache: ArtifactCache, models: Models, data: DataStore) -> None:
        self.cache, self.models, self.data = cache, models, data

    @abstractmethod
    def quantized(self, case: Case) -> QuantizedModel:
        """Build (or take from the cache) the quantized model of a case."""

    @abstractmethod
    def session(self, case: Case, role: str, threads: int | None = None) -> Session:
        """A session of the `original` or `quantized` model; `threads` overrides the config's."""

    @abstractmethod
    def model_id(self, case: Case, role: str) -> str:
        """Identity of what a session of `role` computes: configs whose models are alike share scores."""

    def model_size(self, case: Case) -> ModelSize | None:
        """Bytes on disk of the original and quantized model files; None where the models live in memory."""
        return None

    def memory(self, case: Case, role: str, feeds: dict[str, dict[str, Any]]) -> dict[str, MemoryStats] | None:
        """Peak memory of loading a timing session of `role` and of running it on each feed (by shape id); None
        where the backend cannot measure it apart from the run's own process."""
        return None

    def artifacts(self, case: Case) -> dict[str, Path]:
        """What a failing case leaves on disk to look at (the quantized model, its calibration ranges)."""
        return {}


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
