"""Paired statistics of a drop: both models saw the same samples, so judge the pairs, not two numbers.

A point drop on 200 samples moves by a sample or two between runs; the flips (samples the quantized model
got newly wrong, or newly right: `Task.flips`, for tasks whose answers are right or wrong), the exact McNemar
test of them, and a seeded paired bootstrap interval of the drop say whether it is real. The drop is how
much worse the quantized score is, whichever way worse is (`Direction.worse_by`: the fall of an accuracy,
the rise of an error). The bootstrap resamples sample indices once and applies them to both models'
predictions, and scores through the task (`Task.score`), so a user's metric gets an interval too; metrics
the task can split into per-sample counts (`Task.sample_counts`) are resampled vectorized.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from pytest_quantbench.records import Direction, PairedStats
from pytest_quantbench.tasks import MetricFn, Task

RESAMPLES = 1000
SEED = 2016
# Resampled indices drawn and used at once, at most: resamples are drawn in blocks of rows, so a 100k-sample
# split needs tens of MB, not the GBs of one (resamples, n) array. The generator's stream is the same whatever
# the block (numpy draws each bounded integer from it in turn), so the intervals do not depend on it.
BLOCK_INDICES = 4_000_000


def mcnemar_p(to_wrong: int, to_right: int) -> float:
    """Exact (binomial) two-sided McNemar p-value of the discordant pairs; 1.0 when there are none.

    Twice the tail of Binomial(n, 1/2) at the smaller count, in integers (no scipy needed, exact for any n)."""
    n = to_wrong + to_right
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(to_wrong, to_right) + 1))
    return min(1.0, 2 * tail / 2**n)


def flips(task: Task, original: list[Any], quantized: list[Any], references: list[Any]) -> tuple[int, int] | None:
    """Units (samples, or the task's flat units such as tokens) right -> wrong, and wrong -> right; None when
    the task's answers are not right or wrong."""
    return task.flips(original, quantized, references)


def _ratio(num: np.ndarray, den: np.ndarray, idx: np.ndarray) -> np.ndarray:
    top, bottom = num[idx].sum(axis=1), den[idx].sum(axis=1)
    return np.divide(top, bottom, out=np.zeros_like(top, dtype=float), where=bottom != 0)


def bootstrap_scores(
    task: Task,
    metric_name: str,
    original: list[Any],
    quantized: list[Any],
    references: list[Any],
    metric: Callable[[str], MetricFn],
    resamples: int = RESAMPLES,
    seed: int = SEED,
    full: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Both models' scores on `resamples` paired resamples of the samples (the same rows for both); `full`: the
    original's score on all of them, when known (scoring is what costs, e.g. seqeval)."""
    n = len(references)
    if full is None:
        full = task.score((metric_name,), original, references, metric)[metric_name]
    counts_o = task.sample_counts(metric_name, original, references)
    counts_q = task.sample_counts(metric_name, quantized, references)
    if not (
        counts_o is not None
        and counts_q is not None
        and math.isclose(_ratio(*counts_o, np.arange(n)[None])[0], full, abs_tol=1e-9)
    ):  # the counts do not reproduce the task's score: rescore each resample
        pairs = [
            (_rescore(task, metric_name, original, references, metric, rows),
             _rescore(task, metric_name, quantized, references, metric, rows))
            for rows in resampled(n, resamples, seed)
        ]  # fmt: skip
        scores = np.array(pairs, dtype=float).reshape(-1, 2)
        return scores[:, 0], scores[:, 1]
    parts_o: list[np.ndarray] = []
    parts_q: list[np.ndarray] = []
    for rows in _blocks(n, resamples, seed):  # one block of resampled rows at a time: 1000 x 100k rows is 800 MB
        parts_o.append(_ratio(*counts_o, rows))
        parts_q.append(_ratio(*counts_q, rows))
    if not parts_o:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(parts_o), np.concatenate(parts_q)


def bootstrap_drops(
    task: Task,
    metric_name: str,
    original: list[Any],
    quantized: list[Any],
    references: list[Any],
    metric: Callable[[str], MetricFn],
    resamples: int = RESAMPLES,
    seed: int = SEED,
    full: float | None = None,
    direction: Direction = Direction.HIGHER,
) -> np.ndarray:
    """The drop (how much worse the quantized score is, per `direction`) on `resamples` paired resamples of the
    samples; `full`: the original's score on all of them, when known."""
    scores_o, scores_q = bootstrap_scores(task, metric_name, original, quantized, references, metric, resamples,
                                          seed, full)  # fmt: skip
    return direction.worse_by(1.0, 0.0) * (scores_o - scores_q)  # worse_by is linear: one sign for every resample


def ratio_interval(scores_o: np.ndarray, scores_q: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """The interval of quantized / original score (a perplexity's "times worse") over the paired resamples;
    None when some resample's original scores 0 (no ratio)."""
    if not scores_o.size or not np.all(scores_o != 0):
        return None
    low, high = np.quantile(scores_q / scores_o, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def _blocks(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The resampled indices, `(resamples, n)` in all, as blocks of whole resamples (`BLOCK_INDICES` at most)."""
    rng = np.random.default_rng(seed)
    rows = max(1, BLOCK_INDICES // max(n, 1))
    for start in range(0, resamples, rows):
        yield rng.integers(0, n, size=(min(rows, resamples - start), n))


def resampled(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Each resample's indices, in the order `_blocks` draws them."""
    for block in _blocks(n, resamples, seed):
        yield from block


def _rescore(
    task: Task, metric_name: str, predictions: list[Any], references: list[Any], metric: Callable[[str], MetricFn],
    rows: np.ndarray,
) -> float:  # fmt: skip
    picked = [predictions[i] for i in rows]
    return task.score((metric_name,), picked, [references[i] for i in rows], metric)[metric_name]


def paired_stats(
    task: Task,
    metric_name: str,
    original: list[Any],
    quantized: list[Any],
    references: list[Any],
    metric: Callable[[str], MetricFn],
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    scores: tuple[float, float] | None = None,
    direction: Direction = Direction.HIGHER,
) -> PairedStats:
    """Drop (how much worse, per `direction`), its bootstrap interval at `confidence`, flips and McNemar p of
    one metric; `scores`: both models' scores on all samples, when already known."""
    if scores is None:
        scores = (
            task.score((metric_name,), original, references, metric)[metric_name],
            task.score((metric_name,), quantized, references, metric)[metric_name],
        )
    scores_o, scores_q = scores
    resampled_o, resampled_q = bootstrap_scores(
        task, metric_name, original, quantized, references, metric, resamples, seed, scores_o
    )
    drops = direction.worse_by(1.0, 0.0) * (resampled_o - resampled_q)
    low, high = np.quantile(drops, [(1 - confidence) / 2, (1 + confidence) / 2])
    ratio = ratio_interval(resampled_o, resampled_q, confidence)
    flipped = flips(task, original, quantized, references)
    to_wrong, to_right = flipped or (None, None)
    return PairedStats(
        metric=metric_name, drop=direction.worse_by(scores_o, scores_q), ci_low=float(low), ci_high=float(high),
        confidence=confidence, flips_to_wrong=to_wrong, flips_to_right=to_right,
        mcnemar_p=mcnemar_p(*flipped) if flipped else None, n=len(references),
        ratio_low=ratio[0] if ratio else None, ratio_high=ratio[1] if ratio else None,
    )  # fmt: skip


def samples_to_decide(drop: float, ci_low: float, ci_high: float, limit: float, n: int) -> int | None:
    """Eval samples whose interval would clear `limit`: the half-width shrinks as 1/sqrt(n); None when the
    drop sits on the limit and no size decides it."""
    gap, half = abs(drop - limit), (ci_high - ci_low) / 2
    if gap <= 1e-12:
        return None
    return max(n + 1, math.ceil(n * (half / gap) ** 2))
