"""Batched evaluation of a session: the task turns its outputs into evidence and scores it.

A model's scores are kept on disk under what the model computes (its backend's `model_id`) and what it is
scored on, so identical graphs are scored once and a warm rerun evaluates nothing again. Beside the scores
lies the evidence the task keeps per sample (`Task.evidence`: the predictions, and for a classifier the
logits rows they were read from): the paired statistics, the fidelity gates and a failing case's evidence
need it, and it is all that is kept of a model's outputs. A task whose evidence needs both models' outputs
side by side (`Task.pair_measures`) has both run batch by batch together (`Scorer.both`), and keeps the
arrays `Task.pair_evidence` gives under the pair.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from pytest_quantbench.artifacts.cache import ArtifactCache, digest, library_versions
from pytest_quantbench.data.prepare import EVAL_BATCH_SIZE, EvalData
from pytest_quantbench.data.store import DataStore
from pytest_quantbench.errors import DataError
from pytest_quantbench.memo import Memo
from pytest_quantbench.records import Direction, MetricInfo
from pytest_quantbench.runtimes.base import Session, declared_inputs, inputs_of, output_names, run_checked
from pytest_quantbench.suite import DEFAULT_MAX_LENGTH, Suite
from pytest_quantbench.tasks import Encoded, Evidence, MetricFn, Task
from pytest_quantbench.tasks.decoding import CacheFlow
from pytest_quantbench.tasks.evidence import join_arrays
from pytest_quantbench.tasks.generation import CONTINUATION_FORMAT

ENTRY_LAYOUT = 3  # scores.json, predictions.json, evidence.npz (the task's per-unit arrays)
PREDICTIONS_FILE = "predictions.json"
EVIDENCE_FILE = "evidence.npz"
PAIRED_FILE = "paired.npz"  # a pair entry: the task's `pair_evidence` arrays
CONTINUED_FILE = "continued.npy"  # a continuations entry: one model's greedy new tokens per prompt
# Evaluation runs batches side by side, each on one intra-op thread: at eval shapes (8 short sentences) ONNX
# Runtime's intra-op threads idle through a good part of each call, and data parallelism wastes none of a core.
EVAL_SESSION_THREADS = 1
CONTINUED_SIDES = ("continued_original", "continued_quantized")  # as `Task.fidelity` reads them from `paired`

T = TypeVar("T")
Model = tuple[str, Callable[[], Session]]  # a model's `model_id` and how to open its session


def eval_workers() -> int:
    """Batches evaluated at once: one per core."""
    return os.cpu_count() or 1


def in_order(fn: Callable[[Any], T], items: Iterable[Any], workers: int) -> Iterator[T]:
    """`fn` of each item, `workers` at once (a session's `run` is thread-safe and releases the GIL), yielded in
    order; at most twice `workers` results wait to be read, so outputs are not all kept at once."""
    if workers <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: deque[Future[T]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def batch_outputs(
    sessions: list[Session], data: EvalData, workers: int = 1, task: Task | None = None
) -> Iterator[tuple[slice, list[Any], list[Any]]]:
    """Per eval batch, in order: its rows, its samples' alignments and each session's first output on it (the
    sessions run one after the other on a batch, so a pair's outputs meet without being kept). Batches are
    encoded here, as they are read (`EvalData.encoded`, in this thread: a tokenizer is not shared between
    threads), a few ahead of the sessions running them; none is kept once its outputs are read. With its `task`,
    each session is fed what the task completes for it (`Task.feed`: a decoder's empty cache)."""

    def fed(session: Session, inputs: dict[str, Any]) -> dict[str, Any]:
        return task.feed(inputs, declared_inputs(session)) if task is not None else inputs_of(session, inputs)

    def run(encoded: Encoded) -> tuple[list[Any], list[Any]]:
        outputs = [run_checked(session, fed(session, encoded.inputs))[0] for session in sessions]
        return encoded.alignments, outputs

    start = 0
    for index, (alignments, outputs) in enumerate(in_order(run, data.encoded(), workers)):
        rows = slice(start, start + data.size(index))  # samples, not input rows: a document may be windows
        start = rows.stop
        yield rows, alignments, outputs


def evidence_of(session: Session, data: EvalData, task: Task, id2label: dict[int, str], workers: int = 1) -> Evidence:
    """The task's evidence of every eval sample: predictions, and the per-unit arrays it keeps."""
    parts = [
        task.evidence(logits, alignments, data.references[rows], id2label)
        for rows, alignments, (logits,) in batch_outputs([session], data, workers, task)
    ]
    return Evidence.join(parts)


def side_by_side(
    original: Session, quantized: Session, data: EvalData, task: Task, id2label: dict[int, str], workers: int = 1
) -> tuple[Evidence, Evidence, dict[str, Any]]:
    """Both models' evidence, and the task's `pair_evidence` of their outputs, batch by batch as both run."""
    evidence: tuple[list[Evidence], list[Evidence]] = ([], [])
    paired = []
    for rows, alignments, outputs in batch_outputs([original, quantized], data, workers, task):
        references = data.references[rows]
        for kept, logits in zip(evidence, outputs, strict=True):
            kept.append(task.evidence(logits, alignments, references, id2label))
        paired.append(task.pair_evidence(outputs[0], outputs[1], alignments, references))
    return Evidence.join(evidence[0]), Evidence.join(evidence[1]), join_arrays(paired)


def predict(session: Session, data: EvalData, task: Task, id2label: dict[int, str], workers: int = 1) -> list[Any]:
    """The task's predictions for every eval sample."""
    return evidence_of(session, data, task, id2label, workers).predictions


def write_arrays(path: Path, arrays: dict[str, Any]) -> None:
    np.savez(path, **arrays)


def read_arrays(path: Path) -> dict[str, Any]:
    with np.load(path) as found:
        return {name: found[name] for name in found.files}


@dataclass(frozen=True)
class Scored:
    """A model's scores on the eval split, its per-sample evidence, and their cache entry."""

    scores: dict[str, float]
    evidence: Evidence
    entry: Path

    @property
    def predictions(self) -> list[Any]:
        return self.evidence.predictions

    @property
    def predictions_path(self) -> Path:
        return self.entry / PREDICTIONS_FILE


@dataclass(frozen=True)
class Both:
    """Both models of a config scored on the same samples, and the arrays their outputs side by side gave."""

    original: Scored
    quantized: Scored
    paired: dict[str, Any] = field(default_factory=dict)


class Scorer:
    """Scores of sessions on their suite's eval split, through the task and the metrics `metric` looks up, and
    what each metric is (`info(name, task name)`: which way is better); the sessions are opened with
    `EVAL_SESSION_THREADS`, and `workers` batches run at once."""

    def __init__(
        self,
        cache: ArtifactCache,
        data: DataStore,
        metric: Callable[[str], MetricFn],
        id2label: Callable,
        workers: int | None = None,
        info: Callable[[str, str], MetricInfo] | None = None,
    ) -> None:
        from pytest_quantbench.tasks.metrics import metric_info

        self.cache, self.data, self.metric, self.id2label = cache, data, metric, id2label
        self.workers = workers or eval_workers()
        self.info = info or (lambda name, task: metric_info(name))
        self._memo = Memo()

    def evaluate(self, session: Session, suite: Suite, data: EvalData | None = None) -> dict[str, float]:
        """Scores of `session` on `data` (default: the suite's eval split), not cached."""
        suite_data = self.data.of(suite)
        data = data or suite_data.eval
        predictions = predict(session, data, suite_data.task, self.id2label(suite), self.workers)
        return suite_data.task.score(suite.metrics, predictions, data.references, self.metric)

    def _key(self, kind: str, suite: Suite, libraries: Iterable[str], *model_ids: str) -> str:
        """What an entry is scored on: the models, the eval split and how it is read, and the versions of
        `libraries` (the backend's: what decides the outputs)."""
        suite_data = self.data.of(suite)
        split = suite_data.split(suite.dataset.eval_split)
        dataset = suite_data.spec  # max_length as encoded: a default fitted to the model
        spec = (
            suite.task,
            suite.metrics,
            dataset.num_eval_samples,
            dataset.max_length,
            dataset.ref_keys,
            EVAL_BATCH_SIZE,
            *((dataset.stride,) if dataset.stride is not None else ()),  # entries written before it keep their key
        )
        return digest(kind, ENTRY_LAYOUT, *model_ids, split._fingerprint, spec, library_versions(libraries))

    def _write(self, suite: Suite, evidence: Evidence, out: Path) -> None:
        data = self.data.of(suite)
        scores = data.task.score(suite.metrics, evidence.predictions, data.eval.references, self.metric)
        (out / "scores.json").write_text(json.dumps(scores))
        (out / PREDICTIONS_FILE).write_text(json.dumps(evidence.predictions))
        write_arrays(out / EVIDENCE_FILE, dict(evidence.arrays))

    def is_cached(self, suite: Suite, *model_ids: str, libraries: Iterable[str]) -> bool:
        """Whether scoring these models would read every entry from the cache rather than compute one: each
        model's scores, and their side-by-side arrays when the task has `pair_measures`."""
        libraries = tuple(libraries)
        keys = [("scores", self._key("scores", suite, libraries, model_id)) for model_id in model_ids]
        if self.data.of(suite).task.pair_measures:
            keys.append(("pairs", self._key("pairs", suite, libraries, *model_ids)))
        return all(self.cache.get(kind, key) is not None for kind, key in keys)

    def scored(
        self, model_id: str, suite: Suite, session: Callable[[], Session], *, libraries: Iterable[str]
    ) -> Scored:
        """A model's scores and evidence on the eval split, kept on disk under `model_id`, what it is scored on
        and its backend's `libraries`."""
        key = self._key("scores", suite, libraries, model_id)

        def build(out: Path) -> None:
            data = self.data.of(suite)
            self._write(suite, evidence_of(session(), data.eval, data.task, self.id2label(suite), self.workers), out)

        def load() -> Scored:
            entry = self.cache.build("scores", key, build)
            evidence = Evidence(json.loads((entry / PREDICTIONS_FILE).read_text()), read_arrays(entry / EVIDENCE_FILE))
            return Scored(json.loads((entry / "scores.json").read_text()), evidence, entry)

        return self._memo(("scores", key), load)

    def continued(self, suite: Suite, model: Model, tokens: int, *, libraries: Iterable[str]) -> Any:
        """A model's greedy continuations by `tokens` new tokens (`Task.continuations`), kept on disk under what
        the model computes: the fp32 model's are written once, whichever config asks first."""
        model_id, session = model
        key = self._key("continued", suite, libraries, model_id, str(tokens), str(CONTINUATION_FORMAT))
        context = self.data.of(suite).spec.max_length or DEFAULT_MAX_LENGTH
        if tokens >= context:
            raise DataError(
                suite.path, "thresholds",
                f"@{tokens}: {tokens} new tokens leave no room for a prompt in a context of {context} tokens "
                "(dataset.max_length, or the model's position limit): ask for fewer",
            )  # fmt: skip

        def build(out: Path) -> None:
            data = self.data.of(suite)
            opened = session()

            declared = declared_inputs(opened)

            def run(feed: dict[str, Any]) -> Any:  # a prompt is fed its empty cache (`Task.feed`)
                return run_checked(opened, data.task.feed(feed, declared))

            flow = CacheFlow.of(declared, output_names(opened))
            pooled = partial(in_order, workers=self.workers)  # the prompt lengths side by side
            written = data.task.continuations(run, data.eval.encoded(), tokens, context, flow, each=pooled)
            np.save(out / CONTINUED_FILE, written)

        entry = self._memo(("continued", key), lambda: self.cache.build("continued", key, build))
        return np.load(entry / CONTINUED_FILE)

    def _continuations(
        self, suite: Suite, models: tuple[Model, Model], gates: Iterable[str], libraries: tuple[str, ...]
    ) -> dict[str, Any]:
        """Both models' continuations for the fidelity gates `gates`, named `<side>@<tokens>`."""
        out: dict[str, Any] = {}
        for tokens in self.data.of(suite).task.continuation_lengths(gates):
            for side, model in zip(CONTINUED_SIDES, models, strict=True):
                out[f"{side}@{tokens}"] = self.continued(suite, model, tokens, libraries=libraries)
        return out

    def both(
        self, suite: Suite, original: Model, quantized: Model, *, libraries: Iterable[str], gates: Iterable[str] = ()
    ) -> Both:
        """Both models' scores and evidence; when the task needs their outputs side by side, both run together
        once, and what that pass found of each model is kept under its own key too. The fidelity gates `gates`
        may ask the task for each model's continuations too (kept per model)."""
        task, libraries = self.data.of(suite).task, tuple(libraries)
        models = (original, quantized)
        continued = self._continuations(suite, models, gates, libraries)
        if not task.pair_measures:
            scored = [self.scored(model_id, suite, session, libraries=libraries) for model_id, session in models]
            return Both(scored[0], scored[1], continued)
        key = self._key("pairs", suite, libraries, original[0], quantized[0])

        def build(out: Path) -> None:
            data = self.data.of(suite)
            sessions = original[1](), quantized[1]()
            *kept, paired = side_by_side(*sessions, data.eval, task, self.id2label(suite), self.workers)
            for (model_id, _), evidence in zip(models, kept, strict=True):
                scores = self._key("scores", suite, libraries, model_id)
                self.cache.build("scores", scores, partial(self._write, suite, evidence))
            write_arrays(out / PAIRED_FILE, paired)

        entry = self._memo(("pairs", key), lambda: self.cache.build("pairs", key, build))
        scored = [self.scored(model_id, suite, session, libraries=libraries) for model_id, session in models]
        return Both(scored[0], scored[1], {**read_arrays(entry / PAIRED_FILE), **continued})

    def chance(self, suite: Suite) -> dict[str, float]:
        """Chance level per metric; none without references."""
        suite_data = self.data.of(suite)
        if not suite.dataset.ref_keys:
            return {}
        return suite_data.task.chance(suite_data.eval.references)

    def directions(self, suite: Suite) -> dict[str, Direction]:
        """Which way each metric of the suite is better."""
        return {name: self.info(name, suite.task).direction for name in suite.metrics}
