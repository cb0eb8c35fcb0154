"""The run's pipeline, without pytest: one object that wires the stages and memoises what they build.

`Bench` holds no logic of its own beyond the order of the stages: sources and data (`Models`,
`DataStore`) feed the backends (`runtimes`), whose sessions the `Scorer` evaluates and the gates judge.
Artifacts live in the on-disk `ArtifactCache` (shared across runs and processes); sessions, datasets and
scores are memoised for the run, so a fp32 model that many configs share is exported, loaded, evaluated
and timed once.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pytest_quantbench import serialize
from pytest_quantbench.artifacts.cache import ArtifactCache, digest, hash_arrays, library_versions
from pytest_quantbench.artifacts.locks import DEFAULT_TIMEOUT as DEFAULT_LOCK_TIMEOUT
from pytest_quantbench.artifacts.sources import Models
from pytest_quantbench.data.prepare import EvalData
from pytest_quantbench.data.store import DataStore
from pytest_quantbench.measure.accuracy import EVAL_SESSION_THREADS, SCORE_LIBRARIES, Scorer
from pytest_quantbench.measure.timing import shape_id
from pytest_quantbench.progress import Progress, say
from pytest_quantbench.records import MemoryStats, NodeError, PredictionPaths
from pytest_quantbench.registry import Registry
from pytest_quantbench.runtimes.base import Backend, QuantizedModel, Session
from pytest_quantbench.runtimes.onnxruntime import OnnxRuntime
from pytest_quantbench.suite import Case, Suite
from pytest_quantbench.verdicts import gates
from pytest_quantbench.verdicts.gates import Evaluation


class Bench:
    def __init__(
        self,
        cache_dir: str | Path,
        progress: Progress = say,
        registry: Registry | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.cache = ArtifactCache(cache_dir, progress, lock_timeout)
        self.progress = progress  # where long builds (fetching, fine-tuning) say how far they are
        self.registry = registry or Registry()
        self.models = Models(self.cache, progress)
        self.data = DataStore(self.cache, self.models, self.registry.tasks, progress)
        parts = (self.cache, self.models, self.data)
        self.onnxruntime = OnnxRuntime(*parts)  # also the graphs the diagnosis reads
        self.backends: dict[str, Backend] = {  # by the `framework:` value that picks them
            name: self.onnxruntime if backend is OnnxRuntime else backend(*parts)
            for name, backend in self.registry.backends.items()
        }
        self.scorer = Scorer(self.cache, self.data, self.registry.metric, self.models.id2label)
        self.evaluations: dict[str, Evaluation] = {}

    def backend(self, case: Case) -> Backend:
        return self.backends[case.config.framework]

    def quantized(self, case: Case) -> QuantizedModel:
        return self.backend(case).quantized(case)

    def original_session(self, case: Case, threads: int | None = None) -> Session:
        return self.backend(case).session(case, "original", threads)

    def baseline_session(self, case: Case, threads: int | None = None) -> Session:
        """The fp32 session a case's latency is timed against: its suite's `baseline:` backend, else its own."""
        return self.backends[case.baseline].session(case, "original", threads)

    def quantized_session(self, case: Case, threads: int | None = None) -> Session:
        return self.backend(case).session(case, "quantized", threads)

    def eval_data(self, suite: Suite) -> EvalData:
        return self.data.of(suite).eval

    def timing_inputs(self, suite: Suite, batch_size: int, input_length: int | None) -> dict[str, Any]:
        return self.data.of(suite).timing_inputs(batch_size, input_length)

    def memory(self, case: Case, role: str, batch_size: int, input_length: int | None) -> MemoryStats | None:
        """Peak memory of a timing session of `role` at one shape: the backend measures every shape of the
        suite at once (one child process per model), and keeps the figures."""
        suite = case.suite
        feeds = {shape_id(b, n): self.timing_inputs(suite, b, n) for b, n in suite.shapes}
        backend = self.backends[case.baseline] if role == "original" else self.backend(case)  # what the row timed
        found = backend.memory(case, role, feeds)
        return found.get(shape_id(batch_size, input_length)) if found else None

    def evaluate(self, case: Case) -> Evaluation:
        """Original vs quantized scores of a case on every core, their paired statistics and the gate's verdict
        (memoised for the run)."""
        if case.key in self.evaluations:
            return self.evaluations[case.key]
        backend, suite, threads = self.backend(case), case.suite, EVAL_SESSION_THREADS
        quantized = backend.quantized(case)
        original = self.scorer.scored(
            backend.model_id(case, "original"), suite, lambda: backend.session(case, "original", threads)
        )
        scored = self.scorer.scored(
            backend.model_id(case, "quantized"), suite, lambda: backend.session(case, "quantized", threads)
        )
        data = self.data.of(suite)
        pairs = gates.Pairs(
            data.task, original.predictions, scored.predictions, data.eval.references, self.registry.metric,
            original.logits, scored.logits,
        )  # fmt: skip
        size = backend.model_size(case)
        thresholds = dict(case.thresholds)
        verdict = gates.judge(original.scores, scored.scores, self.scorer.chance(suite), thresholds, pairs, size)
        if case.expect is not None and verdict.inconclusive:  # a known failure is fixed once a PASS is decided
            verdict = dataclasses.replace(verdict, inconclusive_fails=True)
        paths = PredictionPaths(str(original.predictions_path), str(scored.predictions_path))
        result = Evaluation(case, original.scores, scored.scores, verdict, quantized.report, paths, size)
        self.evaluations[case.key] = result
        return result

    def sensitivity(self, case: Case, feeds: list[dict], candidates: set[str]) -> list[NodeError]:
        """A diagnosis's node ranking, kept on disk like scores: a warm rerun of a failing case ranks nothing again."""
        from pytest_quantbench.verdicts import sensitivity

        onnx = self.onnxruntime
        quantized = onnx.quantized(case)
        key = digest(
            "sensitivity", sensitivity.RANKING_FORMAT, onnx.model_id(case, "original"), quantized.report.graph_sha256, sorted(candidates),
            [hash_arrays(feed) for feed in feeds], library_versions(SCORE_LIBRARIES),
        )  # fmt: skip

        def build(out: Path) -> None:
            ranking = sensitivity.analyse(onnx.original(case), quantized.path, feeds, candidates)
            serialize.write(out / "ranking.json", ranking)

        entry = self.cache.build("sensitivity", key, build)
        return serialize.read(entry / "ranking.json", list[NodeError])
