"""Fallback search: the few nodes to keep in fp32 so that a failing config passes its gate.

Greedy over the sensitivity ranking, in the spirit of Intel Neural Compressor's op-wise fallback and of
seed 003's mixed-precision ViT: exclude the top 1, 2, 4, ... offenders, re-quantize, re-evaluate on a
slice of the eval split, stop at the first set that passes; then confirm it on the whole split and time it
against the plain int8 model. Every trial is an ordinary cached artifact, so pasting the emitted
`node_exclusion` into the suite reuses the model the search built.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pytest_quantbench.data.prepare import EvalData
from pytest_quantbench.measure import accuracy as evaluation
from pytest_quantbench.verdicts import gates

if TYPE_CHECKING:
    from pytest_quantbench.harness import Harness
    from pytest_quantbench.suite import Case

SEARCH_BATCHES = 4  # eval batches (of 32) each trial is scored on
MAX_NODES = 64
TIMING_ROUNDS = 20


@dataclass
class FallbackResult:
    node_exclusion: tuple[str, ...]  # the config's own entries, then the nodes found
    nodes: tuple[str, ...]
    passed: bool
    original: dict[str, float] = field(default_factory=dict)
    quantized: dict[str, float] = field(default_factory=dict)  # with the fallback, on the whole eval split
    trials: list[dict] = field(default_factory=list)
    latency_cost: float | None = None  # latency with the fallback / latency of the plain int8 model

    def snippet(self) -> str:
        return "node_exclusion: [" + ", ".join(self.node_exclusion) + "]"

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "snippet": self.snippet()}


def sizes(count: int, limit: int = MAX_NODES) -> list[int]:
    """1, 2, 4, ... and finally every candidate (up to `limit`)."""
    count = min(count, limit)
    out, n = [], 1
    while n < count:
        out.append(n)
        n *= 2
    return [*out, count] if count else []


def with_exclusion(case: Case, nodes: tuple[str, ...]) -> Case:
    config = dataclasses.replace(case.config, node_exclusion=(*case.config.node_exclusion, *nodes))
    return dataclasses.replace(case, id=f"{case.id}+fallback{len(nodes)}", config=config)


def _head(data: EvalData, batches: int) -> EvalData:
    rows = sum(len(next(iter(b.values()))) for b in data.batches[:batches])
    return EvalData(data.batches[:batches], data.references[:rows], data.word_starts[:rows], data.label_names)


def judge(harness: Harness, case: Case, data: EvalData, original: dict[str, float]) -> gates.Verdict:
    """The case's gate on `data`, for the case's int8 model as the case's session options run it."""
    suite = case.suite
    session = harness.quantized_session(case, os.cpu_count())
    scores = evaluation.evaluate_session(session, data, suite.task, suite.metrics, harness.id2label(suite))
    return gates.judge(original, scores, evaluation.chance_levels(suite.task, data.references), dict(case.thresholds))


def _latency_cost(harness: Harness, case: Case, trial: Case) -> float:
    """Median latency ratio, fallback over plain int8, at the suite's first timed shape."""
    suite = case.suite
    length = None if suite.task == "image-classification" else suite.time.input_lengths[0]
    feed = harness.timing_inputs(suite, suite.time.batch_sizes[0], length)
    sessions = [harness.quantized_session(case), harness.quantized_session(trial)]
    feeds = [{k: v for k, v in feed.items() if k in {i.name for i in s.get_inputs()}} for s in sessions]
    times: list[list[float]] = [[], []]
    for _ in range(TIMING_ROUNDS + 2):  # interleaved, so both see the same machine load; 2 warm-up rounds
        for i, (session, inputs) in enumerate(zip(sessions, feeds, strict=True)):
            start = time.perf_counter()
            session.run(None, inputs)
            times[i].append(time.perf_counter() - start)
    plain, fallback = (statistics.median(t[2:]) for t in times)
    return fallback / plain


def search(harness: Harness, case: Case, ranked: list[str]) -> FallbackResult:
    """Grow the fp32 set along `ranked` until the gate passes on the slice and then on the whole split."""
    suite = case.suite
    full = harness.eval_data(suite)
    head = _head(full, SEARCH_BATCHES)
    original_session = harness.original_session(case, os.cpu_count())
    head_original = evaluation.evaluate_session(
        original_session, head, suite.task, suite.metrics, harness.id2label(suite)
    )
    result = FallbackResult(case.config.node_exclusion, (), passed=False)
    for n in sizes(len(ranked)):
        trial = with_exclusion(case, tuple(ranked[:n]))
        verdict = judge(harness, trial, head, head_original)
        if verdict.passed:
            verdict = judge(harness, trial, full, harness.evaluate(case).original)
        result.trials.append({"nodes": n, "passed": verdict.passed, "verdict": verdict.line()})
        if verdict.passed:
            result.node_exclusion, result.nodes, result.passed = trial.config.node_exclusion, tuple(ranked[:n]), True
            result.original = {r.name: r.original for r in verdict.results}
            result.quantized = {r.name: r.quantized for r in verdict.results}
            result.latency_cost = _latency_cost(harness, case, trial)
            break
    return result
