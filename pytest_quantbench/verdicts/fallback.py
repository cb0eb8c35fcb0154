"""Fallback search: the few nodes to keep in fp32 (a weight-only config's: at 8 bits first) so that a failing
config passes its gate.

Greedy over the sensitivity ranking, in the spirit of Intel Neural Compressor's op-wise fallback and of
seed 003's mixed-precision ViT: exclude the top 1, 2, 4, ... offenders, re-quantize, re-evaluate on a
slice of the eval split, stop at the first set that passes; then confirm it on the whole split and time it
against the plain int8 model. Every trial is an ordinary cached artifact, so pasting the emitted
`node_exclusion` into the suite reuses the model the search built. A weight-only config below 8 bits first
grows `weight_only.keep_8bit` along the ranking the same way, and searches fp32 only when no prefix at 8 bits
passes.

The ranking is local: the error each node adds to its own output. Where that misleads (an activation outlier
dominates a tensor's norm, so the node that crushes every other channel adds little relative error, and a
sentence embedding, whose texts differ by a small share of each vector, loses its neighbours to it), the
search measures end to end instead: each candidate alone quantized, every other candidate kept in fp32, judged
on the slice; the nodes that make the gates worst come first, and the prefixes are tried again in that order.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_quantbench.data.prepare import EvalData
from pytest_quantbench.errors import InputError
from pytest_quantbench.measure.accuracy import EVAL_SESSION_THREADS, evidence_of, side_by_side
from pytest_quantbench.records import FallbackResult, FallbackTrial
from pytest_quantbench.runtimes.base import declared_inputs, run_checked
from pytest_quantbench.tasks import Evidence
from pytest_quantbench.verdicts import gates

if TYPE_CHECKING:
    from pytest_quantbench.suite import Case, QuantConfig
    from pytest_quantbench.verdicts.pipeline import Pipeline

SEARCH_SAMPLES = 128  # the shortest eval samples each trial is scored on first
MAX_NODES = 64
MAX_ISOLATED = 32  # candidates measured alone when the ranking's prefixes fail: one trial each
ISOLATED = "by each node alone: "  # how a trial of the second order is reported
TIMING_ROUNDS = 20
KEEP_BITS = 8  # what weight_only.keep_8bit keeps


def sizes(count: int, limit: int = MAX_NODES) -> list[int]:
    """1, 2, 4, ... and finally every candidate (up to `limit`)."""
    count = min(count, limit)
    out, n = [], 1
    while n < count:
        out.append(n)
        n *= 2
    return [*out, count] if count else []


def trial(case: Case, config: QuantConfig, suffix: str) -> Case:
    """The case with `config`, judged by its gates alone: a known failure's `expect` (under which an
    inconclusive verdict fails until a PASS is decided) belongs to the config it was written for."""
    return dataclasses.replace(case, id=f"{case.id}+{suffix}", config=config, expect=None)


def with_exclusion(case: Case, nodes: tuple[str, ...]) -> Case:
    config = dataclasses.replace(case.config, node_exclusion=(*case.config.node_exclusion, *nodes))
    return trial(case, config, f"fallback{len(nodes)}")


def keep_bits(case: Case) -> int | None:
    """The bits a failing config's nodes are tried at before fp32: 8 for a weight-only config below 8 bits
    (`weight_only.keep_8bit`: a quarter of fp32's bytes, and MatMulNBits still runs them), else None."""
    config = case.config
    below = config.quantization_approach == "weight_only" and config.weight_only.bits < KEEP_BITS
    return KEEP_BITS if below else None


def with_kept(case: Case, nodes: tuple[str, ...], bits: int | None) -> Case:
    """The case with `nodes` kept at `bits` (`weight_only.keep_8bit`), or in fp32 when `bits` is None."""
    if bits is None:
        return with_exclusion(case, nodes)
    weights = case.config.weight_only
    kept = dataclasses.replace(weights, keep_8bit=(*weights.keep_8bit, *nodes))
    return trial(case, dataclasses.replace(case.config, weight_only=kept), f"keep8bit{len(nodes)}")


def evidence(bench: Pipeline, case: Case, data: EvalData, quantized: bool) -> Evidence:
    """One model of the case on `data`: its predictions and the arrays its task keeps."""
    suite = case.suite
    session = (bench.quantized_session if quantized else bench.original_session)(case, EVAL_SESSION_THREADS)
    task = bench.data.of(suite).task
    return evidence_of(session, data, task, bench.scorer.id2label(suite), bench.scorer.workers)


def original_evidence(bench: Pipeline, case: Case, data: EvalData) -> Evidence | None:
    """The original's evidence on `data` when the case has fidelity gates (which compare with it), else None."""
    return evidence(bench, case, data, quantized=False) if case.thresholds.fidelity else None


def judge(
    bench: Pipeline, case: Case, data: EvalData, original: dict[str, float], compared: Evidence | None = None
) -> gates.Judgement:
    """The case's gate on `data`, for the case's int8 model as the case's session options run it; its fidelity
    gates (agreement, an embedding's neighbours) compare it with the original's evidence `compared` on the
    same rows (`original_evidence`)."""
    suite, task = case.suite, bench.data.of(case.suite).task
    paired: dict[str, Any] = {}
    if task.pair_measures and compared is not None:  # a decoder's KL and agreement: both models' outputs together
        sessions = (
            bench.original_session(case, EVAL_SESSION_THREADS),
            bench.quantized_session(case, EVAL_SESSION_THREADS),
        )
        _, quantized, paired = side_by_side(*sessions, data, task, bench.scorer.id2label(suite), bench.scorer.workers)
    else:
        quantized = evidence(bench, case, data, quantized=True)
    scores = task.score(suite.metrics, quantized.predictions, data.references, bench.scorer.metric)
    metric = bench.scorer.metric
    pairs = None if compared is None else gates.Pairs(task, compared, quantized, data.references, metric, paired)
    chance = task.chance(data.references)
    # continuations are measured once a set passes the rest (`confirm`), with fp32's cached ones
    fidelity = tuple((k, t) for k, t in case.thresholds.fidelity if not task.continuation_lengths([k]))
    thresholds = dataclasses.replace(case.thresholds, fidelity=fidelity)
    return gates.judge(original, scores, chance, thresholds, pairs, directions=bench.scorer.directions(suite))


def confirm(bench: Pipeline, case: Case, trial: Case) -> gates.Judgement:
    """A trial that passed on the slice, judged on the whole split; with continuation gates (a decoder's
    `generation_prefix@N`), as the case itself is evaluated: every gate, fp32's continuations from the cache."""
    task = bench.data.of(case.suite).task
    if task.continuation_lengths(dict(case.thresholds.fidelity)):
        return bench.evaluate(trial).verdict
    compared = original_evidence(bench, case, bench.eval_data(case.suite))
    return judge(bench, trial, bench.eval_data(case.suite), bench.evaluate(case).original, compared)


def _latency_cost(bench: Pipeline, case: Case, trial: Case) -> float:
    """Median latency ratio, fallback over plain int8, at the suite's first timed shape."""
    suite = case.suite
    batch_size, input_length = suite.shapes[0]
    feed = bench.timing_inputs(suite, batch_size, input_length)
    sessions = [bench.quantized_session(case), bench.quantized_session(trial)]
    task = bench.data.of(suite).task
    feeds = [task.feed(feed, declared_inputs(s)) for s in sessions]  # a decoder's with its empty cache
    times: list[list[float]] = [[], []]
    for _ in range(TIMING_ROUNDS + 2):  # interleaved, so both see the same machine load; 2 warm-up rounds
        for i, (session, inputs) in enumerate(zip(sessions, feeds, strict=True)):
            start = time.perf_counter()
            run_checked(session, inputs)
            times[i].append(time.perf_counter() - start)
    plain, fallback = (statistics.median(t[2:]) for t in times)
    return fallback / plain


@dataclass(frozen=True)
class Slice:
    """What every trial is judged on: the head of the eval split, the original's scores on it and (for the
    fidelity gates) its evidence."""

    data: EvalData
    original: dict[str, float]
    compared: Evidence | None


def isolated_order(bench: Pipeline, case: Case, candidates: list[str], head: Slice) -> list[str]:
    """The first `MAX_ISOLATED` candidates, the node whose quantization alone makes the gates worst first (the
    sum of how much worse each gate's measure is), each judged with every other candidate kept in fp32."""
    pool = candidates[:MAX_ISOLATED]
    damage = {}
    for node in pool:
        alone = with_exclusion(case, tuple(n for n in pool if n != node))
        verdict = judge(bench, alone, head.data, head.original, head.compared)
        damage[node] = sum(r.drop for r in verdict.results)
    return sorted(pool, key=lambda node: -damage[node])


def prefixes(
    bench: Pipeline, case: Case, ranked: list[str], head: Slice, label: str = "", bits: int | None = None
) -> tuple[list[FallbackTrial], FallbackResult | None]:
    """The trials of the prefixes of `ranked` (kept at `bits`, None: fp32), and the result of the first that
    passes (then confirmed on the whole split), else None."""
    trials = []
    for n in sizes(len(ranked)):
        trial = with_kept(case, tuple(ranked[:n]), bits)
        verdict = judge(bench, trial, head.data, head.original, head.compared)
        if verdict.passed:
            verdict = confirm(bench, case, trial)
        trials.append(FallbackTrial(n, verdict.passed, label + verdict.line(), bits))
        if verdict.passed:
            return trials, FallbackResult(
                node_exclusion=trial.config.node_exclusion,
                keep_8bit=trial.config.weight_only.keep_8bit if bits else (),
                nodes=tuple(ranked[:n]),
                passed=True,
                original={r.name: r.original for r in verdict.results},
                quantized={r.name: r.quantized for r in verdict.results},
                trials=tuple(trials),
                latency_cost=_latency_cost(bench, case, trial),
            )
    return trials, None


def at_8bit(
    bench: Pipeline, case: Case, ranked: list[str], head: Slice
) -> tuple[list[FallbackTrial], FallbackResult | None]:
    """The prefixes of `ranked` kept at 8 bits, for a weight-only config below 8 bits (else no trial)."""
    bits = keep_bits(case)
    if bits is None:
        return [], None
    try:
        return prefixes(bench, case, ranked, head, bits=bits)
    except InputError:  # a backend without keep_8bit refuses it (OpenVINO keeps int8 by nncf.ratio): fp32 only
        return [], None


def search(bench: Pipeline, case: Case, ranked: list[str], candidates: list[str] | None = None) -> FallbackResult:
    """Grow the fp32 set along `ranked` until the gate passes on the slice and then on the whole split; when no
    prefix passes, along the `candidates` (default: `ranked`) ordered by what each does alone."""
    suite = case.suite
    data = bench.eval_data(suite).head(SEARCH_SAMPLES)
    original = bench.scorer.evaluate(bench.original_session(case, EVAL_SESSION_THREADS), suite, data)
    head = Slice(data, original, original_evidence(bench, case, data))
    trials, found = at_8bit(bench, case, ranked, head)
    if found is not None:
        return dataclasses.replace(found, trials=tuple(trials))
    more, found = prefixes(bench, case, ranked, head)
    trials += more
    pool = list(dict.fromkeys([*ranked, *(candidates or ())]))
    if found is None and len(pool) > 1:
        order = isolated_order(bench, case, pool, head)
        more, found = prefixes(bench, case, order, head, ISOLATED)
        trials += more
    if found is not None:
        return dataclasses.replace(found, trials=tuple(trials))
    return FallbackResult(case.config.node_exclusion, (), passed=False, trials=tuple(trials))
