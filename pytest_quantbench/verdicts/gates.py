"""Accuracy gates: compare original and quantized scores against a case's thresholds.

Every gate reads its metric's direction (`MetricResult.direction`): "worse" is a fall of a higher-is-better
metric (accuracy) and a rise of a lower-is-better one (an error, a perplexity). So, with `drop` how much worse
the quantized score is (`Direction.worse_by`, > 0 worse):

- `max_drop: d` fails when `drop > d`: original - quantized > d, or for lower-is-better quantized - original > d;
- `min_ratio: r` fails when the share of the original's score kept (`MetricResult.ratio`) is under r:
  quantized / original, or for lower-is-better original / quantized;
- `min: m` and `max: m` are bounds of the quantized score as written, whichever way is better: a floor
  (quantized < m fails: an accuracy) and a ceiling (quantized > m fails: an error, a perplexity);
- a collapse: the quantized model kept under a tenth of the original's lead over `chance` (what a model that
  knows nothing scores: the majority label's accuracy; an error's level when always answering the mean).

With both models' per-sample evidence (`Pairs`), every metric also gets its paired statistics
(`statistics.paired_stats`), a `confidence` threshold is judged on the interval of the drop (`intervals.py`:
PASS inside, FAIL beyond, INCONCLUSIVE across), and the task's fidelity gates (`agreement`, `cosine` for a
classifier) and the size gate are judged too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_quantbench.errors import CollapseFailure, GateFailure
from pytest_quantbench.records import (
    ChangedAnswer,
    Direction,
    MetricResult,
    ModelSize,
    PairedStats,
    PredictionPaths,
    QuantizationReport,
    TimingResult,
    Verdict,
    verdict_of,
)
from pytest_quantbench.suite import Case, Threshold, Thresholds
from pytest_quantbench.tasks import Evidence, MetricFn, Task
from pytest_quantbench.verdicts import statistics
from pytest_quantbench.verdicts.intervals import (
    EPSILON,
    floor_on_interval,
    interval_decision,
    interval_undecided,
    ratio_decision,
)

DEFAULT_CONFIDENCE = 0.95  # of the interval shown when a threshold asks for none
# An original scoring under this share of chance, and so clearly that a model scoring that share would do so
# less often than `BELOW_CHANCE_P`, is judged on references that do not match it: half of chance leaves a weak
# but honest model (0.45 on two balanced labels) well clear, and the test keeps a few samples from refusing one.
BELOW_CHANCE_SHARE = 0.5
BELOW_CHANCE_P = 1e-3
COLLAPSE_MARGIN = 0.1


def collapsed(r: MetricResult) -> bool:
    """Fell (or rose) to chance: what the quantized model still does better than a model that knows nothing
    (`chance`: the majority label's score, or an error's level when always answering the mean) is under a
    tenth of what the original did better, by a drop that is real (its paired interval above zero, when there
    is one): an original a hair better than chance that loses its hair is noise, not a collapse."""
    headroom = r.direction.worse_by(r.original, r.chance)  # how much better than chance the original is
    left = r.direction.worse_by(r.quantized, r.chance)
    fell = headroom > 0 and left <= COLLAPSE_MARGIN * headroom
    return fell and (r.paired is None or r.paired.ci_low > 0)


def chance_tail(score: float, level: float, samples: int) -> float:
    """How likely `samples` samples average `score` or less when the model truly scores `level` (a share of
    right answers): the Chernoff bound exp(-n KL(score || level)), an upper bound of the binomial tail."""
    if score >= level:
        return 1.0
    if level >= 1.0:
        return 0.0  # a model always right is never wrong
    kl = (score * math.log(score / level) if score > 0 else 0.0) + (1 - score) * math.log((1 - score) / (1 - level))
    return math.exp(-samples * kl)


def mismatched_references(
    original: Mapping[str, float], chance: Mapping[str, float], directions: Mapping[str, Direction], samples: int
) -> str | None:
    """Checked before any gate: the original model scoring clearly below chance on a higher-is-better metric
    with a chance level (under `BELOW_CHANCE_SHARE` of it, on enough samples that a model scoring that share
    would fall so low less often than `BELOW_CHANCE_P`) is judged on references that do not match its outputs,
    and no drop of it means anything: the one line that says so, else None."""
    for name, score in original.items():
        level = chance.get(name)
        if level is None or directions.get(name, Direction.HIGHER) is not Direction.HIGHER or not 0 < level <= 1:
            continue
        floor = BELOW_CHANCE_SHARE * level
        if 0 <= score < floor and chance_tail(score, floor, samples) < BELOW_CHANCE_P:
            return (
                f"the original model's {name} {score:.3f} is below chance ({level:.3f}) on {samples} samples: the "
                "references probably do not match the model's labels (label order, label names, or the wrong "
                "column in dataset.ref_keys)"
            )
    return None


def _ratio_words(r: MetricResult, limit: float) -> str:
    kept = "" if r.direction is Direction.HIGHER else " (original / quantized: lower is better)"
    return f"ratio {r.ratio:.3f} < min_ratio {limit:g}{kept}"


@dataclass(frozen=True)
class PointGate:
    """One bound of a threshold judged on the point scores: the field it reads, whether a result breaks it
    (whichever way the metric is better), and the words of the failure."""

    bound: Callable[[Threshold], float | None]
    broken: Callable[[MetricResult, float], bool]
    words: Callable[[MetricResult, float], str]


POINT_GATES = (
    PointGate(  # worse by more than max_drop; judged on the interval instead when the threshold asks
        lambda t: t.max_drop if t.confidence is None else None,
        lambda r, limit: r.drop > limit + EPSILON,
        lambda r, limit: f"{r.direction.worse_word} {r.drop:.3f} > max_drop {limit:g}",
    ),
    PointGate(lambda t: t.min_ratio, lambda r, limit: r.ratio < limit, _ratio_words),  # kept less than min_ratio
    # bounds as written: a floor and a ceiling of the quantized score
    PointGate(
        lambda t: t.min, lambda r, limit: r.quantized < limit, lambda r, limit: f"{r.quantized:.3f} < min {limit:g}"
    ),
    PointGate(
        lambda t: t.max, lambda r, limit: r.quantized > limit, lambda r, limit: f"{r.quantized:.3f} > max {limit:g}"
    ),
    PointGate(  # a ceiling of quantized / original (a perplexity's ratio); judged on its interval when asked
        lambda t: t.max_ratio if t.confidence is None else None,
        lambda r, limit: r.relative > limit + EPSILON,
        lambda r, limit: f"ratio {r.relative:.3f} > max_ratio {limit:g} (quantized / original)",
    ),
)


def violations(r: MetricResult, threshold: Threshold) -> list[str]:
    """What a metric breaks of its threshold, one phrase each."""
    no_ratio = r.paired is not None and r.paired.ratio_low is None and threshold.max_ratio is not None
    if threshold.confidence is not None and (r.paired is None or no_ratio):  # no evidence: the point decides
        threshold = dataclasses.replace(threshold, confidence=None)
    out = []
    confidence, judged = 100 * (threshold.confidence or 0), threshold.confidence is not None
    if judged and threshold.max_drop is not None and interval_decision(r, threshold) is Verdict.FAIL:
        out.append(f"{r.direction.worse_word} > max_drop {threshold.max_drop:g} at {confidence:g}% confidence")
    if judged and threshold.max_ratio is not None and ratio_decision(r, threshold) is Verdict.FAIL:
        assert r.paired is not None
        out.append(
            f"ratio {r.relative:.3f} > max_ratio {threshold.max_ratio:g} at {confidence:g}% confidence "
            f"(CI [{r.paired.ratio_low:.3f}, {r.paired.ratio_high:.3f}])"
        )
    for gate in POINT_GATES:
        limit = gate.bound(threshold)
        if limit is not None and gate.broken(r, limit):
            out.append(gate.words(r, limit))
    return out


@dataclass(frozen=True)
class Judgement:
    """What a case's thresholds found: every metric's result, the failures and the inconclusive gates."""

    results: tuple[MetricResult, ...]
    failures: tuple[str, ...]
    collapsed: bool
    inconclusive: tuple[str, ...] = ()
    inconclusive_fails: bool = False  # some inconclusive threshold has on_inconclusive: fail

    @property
    def passed(self) -> bool:
        return not self.failures and not (self.inconclusive and self.inconclusive_fails)

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.passed, self.collapsed, bool(self.inconclusive))

    def line(self) -> str:
        """One readable line: metric, original, quantized, drop (or rise), limit, and COLLAPSE or INCONCLUSIVE
        when it applies."""
        if self.failures:
            prefix = "COLLAPSE: " if self.collapsed else ""
            return prefix + "; ".join(self.failures)
        if self.inconclusive:
            return "INCONCLUSIVE: " + "; ".join(self.inconclusive)
        return "; ".join(f"{_scores(r)} ({r.direction.worse_word} {r.drop:+.3f})" for r in self.results)

    def raise_for_failure(self, cause: str = "", artifacts: str = "") -> None:
        """Raise the one-line failure; `cause` (the diagnosis: cause and fix) and `artifacts` (where the failing
        models and predictions lie) are appended to it."""
        if self.passed:
            return
        failure = CollapseFailure if self.collapsed else GateFailure
        raise failure("; ".join(filter(None, [self.line(), cause, artifacts])))


def _scores(r: MetricResult) -> str:
    return f"{r.name} {r.original:.3f} -> {r.quantized:.3f}"


@dataclass(frozen=True)
class Pairs:
    """Both models' per-sample evidence on the same eval samples, the arrays their outputs side by side gave
    (`Task.pair_evidence`), and how to score them."""

    task: Task
    original: Evidence
    quantized: Evidence
    references: list[Any]
    metric: Callable[[str], MetricFn]
    paired: Mapping[str, Any] = field(default_factory=dict)

    def stats(self, name: str, confidence: float, scores: tuple[float, float], direction: Direction) -> PairedStats:
        return statistics.paired_stats(
            self.task, name, self.original.predictions, self.quantized.predictions, self.references, self.metric,
            confidence, scores=scores, direction=direction,
        )  # fmt: skip

    def fidelity(self, name: str) -> MetricResult | None:
        """A fidelity gate's measure, as the task computes it (None: the task has no such measure)."""
        return self.task.fidelity(name, self.original, self.quantized, self.paired)


@dataclass
class Evaluation:
    """Original vs quantized scores of a case and the gate's judgement."""

    case: Case
    original: dict[str, float]
    quantized: dict[str, float]
    verdict: Judgement
    report: QuantizationReport
    predictions: PredictionPaths | None = None
    size: ModelSize | None = None
    changed: tuple[ChangedAnswer, ...] = ()  # a few inputs whose answer changed (`Task.changed_answers`)


def judge(
    original: dict[str, float],
    quantized: dict[str, float],
    chance: dict[str, float],
    thresholds: Thresholds,
    pairs: Pairs | None = None,
    size: ModelSize | None = None,
    directions: Mapping[str, Direction] | None = None,
) -> Judgement:
    """The judgement of a case's thresholds; `directions` says which way each metric is better (higher where
    it does not say). Fidelity gates need `pairs`, the size gate `size` (each is skipped without); the speed
    and memory gates belong to the latency cases."""
    directions = directions or {}
    results, failures, fell, unsure, unsure_fails = [], [], False, [], False
    fidelity = dict(thresholds.fidelity) if pairs is not None else {}
    for name, threshold in [*thresholds.metrics, *fidelity.items()]:
        if name in fidelity:
            assert pairs is not None
            measured = pairs.fidelity(name)
            if measured is None:
                failures.append(f"{name}: the {pairs.task.name} task does not measure it")
                continue
            r = measured
        else:
            direction = directions.get(name, Direction.HIGHER)
            scores = (original[name], quantized[name])
            confidence = threshold.confidence or DEFAULT_CONFIDENCE
            paired = pairs.stats(name, confidence, scores, direction) if pairs is not None else None
            r = MetricResult(name, *scores, chance.get(name, 0.0), paired, direction)
        results.append(r)
        broken, unsure_line, fell_here = judge_one(r, threshold, name in fidelity)
        fell = fell or fell_here
        if broken:
            evidence = f" [{r.paired.describe()}]" if r.paired is not None else ""
            failures.append(f"{_scores(r)} ({r.direction.worse_word} {r.drop:.3f}): " + ", ".join(broken) + evidence)
        elif unsure_line:
            unsure.append(unsure_line)
            unsure_fails = unsure_fails or threshold.on_inconclusive == "fail"
    failures += [line for line in [size_violation(size, thresholds.size)] if line]
    if failures:  # a decided failure decides the case: another gate left undecided does not make it INCONCLUSIVE
        unsure, unsure_fails = [], False
    return Judgement(tuple(results), tuple(failures), fell, tuple(unsure), unsure_fails)


def judge_one(r: MetricResult, threshold: Threshold, fidelity: bool) -> tuple[list[str], str | None, bool]:
    """What one result breaks of its threshold, its inconclusive line (None: decided) and whether it fell to
    chance. A fidelity measure with an interval has its `min` judged on the interval (`floor_on_interval`)."""
    floor_broken, floor_unsure = None, None
    if fidelity:
        threshold, floor_broken, floor_unsure = floor_on_interval(r, threshold)
    broken = violations(r, threshold) + ([floor_broken] if floor_broken else [])
    fell = collapsed(r)
    if fell:
        broken.append(f"at chance level {r.chance:.3f}")
    if broken:
        return broken, None, fell
    return broken, interval_undecided(r, threshold) or floor_unsure, fell


def size_violation(size: ModelSize | None, threshold: Threshold | None) -> str | None:
    """The size gate: the quantized model's bytes over the original's above `max_ratio`; None when it holds or
    nothing was measured."""
    if size is None or threshold is None or threshold.max_ratio is None or size.ratio <= threshold.max_ratio:
        return None
    return f"size ratio {size.ratio:.3f} > max_ratio {threshold.max_ratio:g}"


def speed_violation(result: TimingResult, threshold: Threshold) -> str | None:
    """The speed gate of a latency case: fails when the paired speed-up's median is below `min` and so is its
    whole 95% interval (a noisy round cannot fail it); None when it holds or nothing was timed. The line ends
    with the speed diagnosis's cause and fix, as an accuracy failure ends with its diagnosis."""
    if threshold.min is None or result.speedup is None:
        return None
    half = result.speedup * (result.speedup_ci95_rel or 0.0)
    high = result.speedup + half
    if result.speedup >= threshold.min or high >= threshold.min:
        return None
    slower = ", SLOWER than fp32" if result.slower else ""
    why = f"; {result.speed_diagnosis.line}" if result.speed_diagnosis is not None else ""
    return (
        f"speedup x{result.speedup:.2f} (95% CI x{result.speedup - half:.2f}..x{high:.2f}) < min "
        f"x{threshold.min:g}{slower}{why}"
    )


def memory_violation(result: TimingResult, threshold: Threshold) -> str | None:
    """The memory gate of an int8 latency case: its run peak over its fp32 model's, at the case's shape, above
    `max_ratio`; None when it holds or nothing was measured."""
    ratio = result.memory_ratio
    if threshold.max_ratio is None or ratio is None or ratio <= threshold.max_ratio:
        return None
    assert result.memory is not None and result.fp32_memory is not None
    mine, fp32 = result.memory.run_peak_bytes / 1e6, result.fp32_memory.run_peak_bytes / 1e6
    return (
        f"memory run peak ratio {ratio:.3f} ({mine:.1f} MB / {fp32:.1f} MB at {result.memory.shape}) > max_ratio "
        f"{threshold.max_ratio:g}"
    )


def latency_violations(result: TimingResult, thresholds: Thresholds) -> list[str]:
    """What an int8 latency case breaks of its speed and memory gates."""
    judged = ((speed_violation, thresholds.speedup), (memory_violation, thresholds.memory))
    found = [check(result, threshold) for check, threshold in judged if threshold is not None]
    return [line for line in found if line]
