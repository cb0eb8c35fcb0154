"""What an accuracy case measured: each metric of both models, its paired statistics, the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from pytest_quantbench.records.diagnosis import DiagnosisRecord, QuantizationReport
from pytest_quantbench.records.kinds import Direction, Verdict, verdict_of
from pytest_quantbench.records.machine import HardwareRisk, MachineFacts


@dataclass(frozen=True)
class PairedStats:
    """A metric's drop judged on paired evidence: the same samples through both models.

    `drop` is how much worse the quantized score is, whichever way worse is (`Direction.worse_by`: a fall of
    a higher-is-better metric, a rise of a lower-is-better one), and `ci_low`..`ci_high` its seeded
    paired-bootstrap interval at `confidence` (> 0: worse). The flips count the task's units (samples, or
    tokens for token classification) the quantized model got newly wrong or newly right, and `mcnemar_p` is
    the exact McNemar test of those flips; all three are None for a task whose evidence has no right or
    wrong (`Task.flips`), e.g. a regression. `n` is the samples resampled."""

    metric: str
    drop: float
    ci_low: float
    ci_high: float
    confidence: float
    flips_to_wrong: int | None
    flips_to_right: int | None
    mcnemar_p: float | None
    n: int
    # the interval of quantized / original score over the same resamples (a perplexity's ratio): None when an
    # original resample scores 0, and in files written before it was kept
    ratio_low: float | None = None
    ratio_high: float | None = None

    @property
    def flipped(self) -> bool:
        """The task counts flips (its evidence is right or wrong per unit)."""
        return self.flips_to_wrong is not None and self.flips_to_right is not None

    def describe(self) -> str:
        interval = f"{100 * self.confidence:g}% CI [{self.ci_low:+.3f}, {self.ci_high:+.3f}]"
        if not self.flipped:
            return f"{interval} (n={self.n})"
        return (
            f"{interval}, flips {self.flips_to_wrong} right->wrong / {self.flips_to_right} wrong->right "
            f"(McNemar p={self.mcnemar_p:.2g}, n={self.n})"
        )


@dataclass(frozen=True)
class PredictionPaths:
    """Where the per-sample predictions of both models lie in the artifact cache (JSON lists)."""

    original: str
    quantized: str


class InputKind(Enum):
    """How a report shows an input: a text, a sentence of words, or an image as a small inline data URI."""

    TEXT = "text"
    WORDS = "words"
    IMAGE = "image"


@dataclass(frozen=True)
class ChangedAnswer:
    """One eval input whose answer the quantized model changed: the input as a report shows it (a text cut
    short, words, or a thumbnail as a `data:image/png;base64,...` URI), both models' answers and the reference
    (None: label-free), each as a label name or, for words, the words whose tag changed."""

    index: int  # its place in the eval split, in the order it was scored
    kind: InputKind
    input: str
    original: str
    quantized: str
    reference: str | None = None


@dataclass(frozen=True)
class ModelSize:
    """Bytes on disk of the original and quantized model files."""

    original_bytes: int
    quantized_bytes: int
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("ratio",)

    @property
    def ratio(self) -> float:
        return self.quantized_bytes / self.original_bytes if self.original_bytes else float("nan")


@dataclass(frozen=True)
class MetricResult:
    """One metric of an accuracy case: original and quantized scores, the chance level a collapse falls to
    (what a model that knows nothing scores: 0.0 where the task names none), and which way is better.

    Fidelity gates (`agreement`, `cosine`) ride here too, the original scoring 1.0 against itself."""

    name: str
    original: float
    quantized: float
    chance: float = 0.0
    paired: PairedStats | None = None
    direction: Direction = Direction.HIGHER  # files written before it was recorded: higher is better
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("drop", "ratio")

    @property
    def drop(self) -> float:
        """How much worse the quantized score is than the original's, whichever way worse is (> 0: worse)."""
        return self.direction.worse_by(self.original, self.quantized)

    @property
    def ratio(self) -> float:
        """The share of the original's score the quantized model keeps (below 1: worse): quantized / original
        when higher is better, original / quantized when lower is."""
        kept, base = (
            (self.quantized, self.original) if self.direction is Direction.HIGHER else (self.original, self.quantized)
        )
        return kept / base if base else float("nan")

    @property
    def relative(self) -> float:
        """The quantized score over the original's, as written (a perplexity's ratio: above 1 worse)."""
        return self.quantized / self.original if self.original else float("nan")


@dataclass(frozen=True)
class CaseResult:
    """One config's accuracy case: what the JSON's `accuracy` list holds, and what a worker sends back.

    `verdict` (PASS, FAIL, COLLAPSE or INCONCLUSIVE) is read from the flags `passed`, `collapse` and
    `inconclusive`, so the two never disagree; `line` is the gate's one-line verdict (files written before
    it was kept held that line under `verdict`, and read with `line` empty)."""

    suite: str
    config_id: str
    metrics: dict[str, MetricResult]
    passed: bool
    collapse: bool
    quantization: QuantizationReport
    expect: str | None = None
    machine: MachineFacts | None = None
    hardware_risk: HardwareRisk | None = None
    diagnosis: DiagnosisRecord | None = None
    inconclusive: bool = False  # a confidence gate whose interval straddles its limit
    predictions: PredictionPaths | None = None
    size: ModelSize | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # what `pytest_quantbench_case_result` hooks add
    line: str = ""
    # a few inputs whose answer changed (the task's `changed_answers`); none in files written before
    changed_answers: tuple[ChangedAnswer, ...] = ()
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("verdict",)

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.passed, self.collapse, self.inconclusive)

    @property
    def quantized_nothing(self) -> bool:
        return self.quantization.quantized_nothing

    @property
    def expected_failure(self) -> bool:
        """The failure the suite's `expect:` foresaw: a collapse for `collapse`, any failing verdict for `fail`."""
        foreseen = {"collapse": self.verdict is Verdict.COLLAPSE, "fail": not self.passed}
        return foreseen.get(self.expect or "", False)

    @property
    def inconclusive_passed(self) -> bool:
        """An interval that straddles its limit, on a gate told to pass then (`on_inconclusive: pass`)."""
        return self.verdict is Verdict.INCONCLUSIVE and self.passed

    @property
    def status(self) -> str:
        """The verdict as the terminal and the card show it, saying when an inconclusive case passed, its
        failure was foreseen (`expect:`) or the quantizer changed nothing."""
        flags = ((self.inconclusive_passed, "passed"), (self.expected_failure, "expected"),
                 (self.quantized_nothing, "quantized nothing"))  # fmt: skip
        return " ".join([self.verdict.value, *(f"({words})" for on, words in flags if on)])

    def metric(self, name: str) -> MetricResult | None:
        return self.metrics.get(name)
