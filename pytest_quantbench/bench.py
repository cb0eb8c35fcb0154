"""The run's pipeline, without pytest: one object that wires the stages and memoises what they build.

`Bench` holds no logic of its own beyond the order of the stages: sources and data (`Models`,
`DataStore`) feed the backends (`runtimes`, one per `framework:` value the run's registry knows, none named
here), whose sessions the `Scorer` evaluates and the gates judge.
Artifacts live in the on-disk `ArtifactCache` (shared across runs and processes); sessions, datasets and
scores are memoised for the run, so a fp32 model that many configs share is exported, loaded, evaluated
and timed once.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts.cache import ArtifactCache
from pytest_quantbench.artifacts.locks import DEFAULT_TIMEOUT as DEFAULT_LOCK_TIMEOUT
from pytest_quantbench.artifacts.sources import Models
from pytest_quantbench.background import Background
from pytest_quantbench.data.prepare import EvalData
from pytest_quantbench.data.store import DataStore
from pytest_quantbench.errors import DataError
from pytest_quantbench.measure import phases
from pytest_quantbench.measure.accuracy import EVAL_SESSION_THREADS, Model, Scorer
from pytest_quantbench.measure.machine import machine_facts
from pytest_quantbench.measure.measurements import Measurement, shape_id, timed_shapes
from pytest_quantbench.measure.time_bank import OVERDRAFT_S, TimeBank
from pytest_quantbench.progress import Progress, say
from pytest_quantbench.records import MachineFacts, MemoryStats, PredictionPaths, Role
from pytest_quantbench.registry import Registry
from pytest_quantbench.runtimes.base import Backend, QuantizedModel, Session, check_role
from pytest_quantbench.runtimes.memory_probe import Steps
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
        self.time_bank = TimeBank(overdraft_s=OVERDRAFT_S)  # time fast latency cases leave, lent to slow ones
        parts = (self.cache, self.models, self.data)
        self.backends: dict[str, Backend] = {  # by the `framework:` value that picks them
            name: backend(*parts) for name, backend in self.registry.backends.items()
        }
        self.scorer = Scorer(
            self.cache, self.data, self.registry.metric, self.models.id2label, info=self.registry.metric_info
        )
        self.evaluations: dict[str, Evaluation] = {}
        self.phase_memories: dict[tuple[str, ...], dict[str, MemoryStats] | None] = {}  # `phase_memory`'s, by model
        self.background = Background()  # memory probes beside the builds (`prefetch_memory`), settled before timing

    def release(self) -> None:
        """Every backend drops the sessions and in-memory models it holds (`Backend.release`)."""
        self.background.settle()
        for backend in self.backends.values():
            backend.release()

    def backend(self, case: Case) -> Backend:
        return self.backends[case.config.framework]

    def machine(self, case: Case) -> MachineFacts:
        """This machine's facts, with the engines the case runs on (its backend's and its baseline's)."""
        return machine_facts(self.registry.engines_of([case]))

    def quantized(self, case: Case) -> QuantizedModel:
        return self.backend(case).quantized(case)

    def original_session(self, case: Case, threads: int | None = None) -> Session:
        return self.backend(case).session(case, Role.ORIGINAL, threads)

    def baseline_session(self, case: Case, threads: int | None = None) -> Session:
        """The fp32 session a case's latency is timed against: its suite's `baseline:` backend, else its own."""
        return self.backends[case.baseline].session(case, Role.ORIGINAL, threads)

    def quantized_session(self, case: Case, threads: int | None = None) -> Session:
        return self.backend(case).session(case, Role.QUANTIZED, threads)

    def timed(self, suite: Suite, session: Session) -> Session:
        """What a latency case times of a session: it and what its task does to the outputs to give the user's
        answer (an embedding's pooling: `Task.timed`)."""
        data = self.data.of(suite)
        return data.task.timed(session, data.processor)

    def eval_data(self, suite: Suite) -> EvalData:
        return self.data.of(suite).eval

    def timing_inputs(self, suite: Suite, batch_size: int, input_length: int | None) -> dict[str, Any]:
        return self.data.of(suite).timing_inputs(batch_size, input_length)

    def timed_length(self, suite: Suite, input_length: int | None) -> int | None:
        """The length a shape of the suite is timed at: a default length is cut to the model's positions."""
        return self.data.of(suite).timed_length(input_length)

    def as_timed(self, m: Measurement) -> Measurement:
        """A latency case with its lengths as timed: a default length cut to the model's positions, and a
        decoder's cache and prompt fitted so that its new tokens fit them too (`measure.phases.fitted`)."""
        data = self.data.of(m.case.suite)
        return phases.fitted(m, data.timed_length(m.prompt_length), data.position_limit)

    def phase_target(self, m: Measurement, session: Session) -> phases.Target:
        """What a decoder's latency case of phase `m.phase` times of `session` (its own cache), on the prompt."""
        suite = m.case.suite
        data = self.data.of(suite)
        prompt = data.inputs_at(m.batch_size, m.prompt_length)  # as timed: a default length cut already
        assert m.phase is not None  # a decoder's case
        return phases.target(data.task, session, prompt, m.phase, m.input_length or suite.time.new_tokens)

    def timed_backend(self, case: Case, role: Role) -> Backend:
        """The backend a latency case times `role` on: the fp32 baseline's (`baseline:`), else the case's own."""
        return self.backends[case.baseline] if check_role(role) is Role.ORIGINAL else self.backend(case)

    def phase_memory(self, m: Measurement, role: Role) -> MemoryStats | None:
        """Peak memory of a decoder's timing session of `role` at `m`'s phase and shape (as timed), its own cache
        included: the first phase case of a model measures every phase shape the suite times, in one child
        process (`phases.memory_steps`, in `phases.MEMORY_ORDER`), and the figures are kept for the run."""
        case = m.case
        backend = self.timed_backend(case, role)
        key = (str(case.suite.path), case.suite.name, backend.name, backend.model_id(case, role))
        if key not in self.phase_memories:
            self.phase_memories[key] = backend.memory(case, role, self._phase_steps(case, role))
        found = self.phase_memories[key]
        return found.get(m.shape_id) if found else None

    def _phase_steps(self, case: Case, role: Role) -> Steps:
        """Every phase shape the suite times (as timed), each with the feeds its memory is read after."""
        data = self.data.of(case.suite)
        session = self.baseline_session(case) if role is Role.ORIGINAL else self.quantized_session(case)
        cases = [Measurement(case, role, s.batch_size, s.input_length, s.phase, n) for s, n in timed_shapes(case.suite)]
        ordered = phases.memory_order(self.as_timed(m) for m in cases)
        return Steps({m.shape_id: phases.memory_steps(data.task, session, data.inputs_at, m) for m in ordered})

    def memory(self, case: Case, role: Role, batch_size: int, input_length: int | None) -> MemoryStats | None:
        """Peak memory of a timing session of `role` at one shape (as timed): the backend measures every shape
        of the suite at once (one child process per model), and keeps the figures."""
        found = self.timed_backend(case, role).memory(case, role, self._memory_feeds(case.suite))
        return found.get(shape_id(batch_size, input_length)) if found else None

    def _memory_feeds(self, suite: Suite) -> dict[str, dict[str, Any]]:
        return {shape_id(b, n): self.timing_inputs(suite, b, n) for b, n in self.data.of(suite).shapes}

    def prefetch_memory(self, case: Case) -> None:
        """Start measuring, beside the run's own work, the peak memory `case`'s latency cases will ask for (both
        models, every shape its suite times): a probe's child runs on one core while the next config quantizes
        on the other, and a latency case `settle`s before it times anything. What the probes are fed is made
        here (a tokenizer is not shared between threads). A decoder's are not: its steps come from a real
        prefill on its timing session, which would then be held open through the suite's remaining builds."""
        if case.suite.decodes:
            return
        try:
            feeds = self._memory_feeds(case.suite)
        except Exception:  # the latency cases make them again, and report what is wrong where it belongs
            return
        for role in (Role.ORIGINAL, Role.QUANTIZED):
            self.background.submit(functools.partial(self.timed_backend(case, role).memory, case, role, feeds))

    def settle(self) -> None:
        """Wait for what runs beside the run (`prefetch_memory`): called before anything is timed."""
        self.background.settle()

    def _model(self, case: Case, role: Role) -> Model:
        """What a model of `role` computes (its `model_id`) and how to open its session, opened only to score."""
        backend = self.backend(case)
        return backend.model_id(case, role), functools.partial(backend.session, case, role, EVAL_SESSION_THREADS)

    def evaluate(self, case: Case) -> Evaluation:
        """Original vs quantized scores of a case on every core, their paired statistics and the gate's verdict
        (memoised for the run)."""
        if case.key in self.evaluations:
            return self.evaluations[case.key]
        backend, suite = self.backend(case), case.suite
        quantized = backend.quantized(case)
        both = self.scorer.both(
            suite, self._model(case, Role.ORIGINAL), self._model(case, Role.QUANTIZED), libraries=backend.libraries,
            gates=dict(case.thresholds.fidelity),
        )  # fmt: skip
        original, scored, data = both.original, both.quantized, self.data.of(suite)
        pairs = gates.Pairs(
            data.task, original.evidence, scored.evidence, data.eval.references, self.registry.metric, both.paired
        )
        size, chance, directions = backend.model_size(case), self.scorer.chance(suite), self.scorer.directions(suite)
        mismatch = gates.mismatched_references(original.scores, chance, directions, len(data.eval.references))
        if mismatch:  # no gate means anything on references that do not match the model
            raise DataError(suite.path, "dataset.ref_keys[0]", mismatch)
        verdict = gates.judge(original.scores, scored.scores, chance, case.thresholds, pairs, size, directions)
        if case.expect is not None and verdict.inconclusive:  # a known failure is fixed once a PASS is decided
            verdict = dataclasses.replace(verdict, inconclusive_fails=True)
        paths = PredictionPaths(str(original.predictions_path), str(scored.predictions_path))
        changed = data.task.changed_answers(
            original.evidence, scored.evidence, data.eval.references, data.eval.input_of, data.models.id2label(suite)
        )
        result = Evaluation(case, original.scores, scored.scores, verdict, quantized.report, paths, size, changed)
        self.evaluations[case.key] = result
        return result
