"""The typed values that cross stages: what a quantizer reports, what the machine is, what a case measured.

Plain frozen dataclasses with no behaviour beyond reading themselves: each stage builds them, later stages
and the reports read their fields. `serialize` is the one writer (to `extra_info` and the run's
JSON) and the one reader (for card, plot and compare) of all of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, NamedTuple


class Role(str, Enum):
    """Which model of a config a session, a score or a timing is of. A `str` Enum: JSON keeps the value."""

    ORIGINAL = "original"  # the fp32 model (or the suite's `baseline:` backend's, in latency cases)
    QUANTIZED = "quantized"


class Direction(str, Enum):
    """Which way a metric gets better: every drop, interval, gate, collapse and report reads it."""

    HIGHER = "higher"  # accuracy, f1, agreement, cosine
    LOWER = "lower"  # perplexity, error, distance, divergence

    def worse_by(self, original: float, quantized: float) -> float:
        """How much worse the quantized value is than the original, whichever way worse is (> 0: worse)."""
        return original - quantized if self is Direction.HIGHER else quantized - original

    @property
    def worse_word(self) -> str:
        """What getting worse is called in a verdict line: a higher-is-better metric drops, a lower one rises."""
        return "drop" if self is Direction.HIGHER else "rise"


class Verdict(str, Enum):
    """A case's outcome, as the terminal, the card and the JSON name it."""

    PASS = "PASS"
    FAIL = "FAIL"
    COLLAPSE = "COLLAPSE"  # fell to what a model that knows nothing scores
    INCONCLUSIVE = "INCONCLUSIVE"  # an interval that straddles its gate's limit


def verdict_of(passed: bool, collapse: bool, inconclusive: bool) -> Verdict:
    """A case's verdict from its gate's flags: a collapse first, then an interval that straddles its limit
    (inconclusive, whether it passed or failed), then pass or fail."""
    if collapse:
        return Verdict.COLLAPSE
    if inconclusive:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS if passed else Verdict.FAIL


@dataclass(frozen=True)
class MetricInfo:
    """What a metric is, declared where the metric is (`tasks.metrics.METRICS` for the bundled ones, a user's
    through `Registry.add_metric`, a task's own in `Task.metric_infos`): which way is better, its unit
    ("" when it has none) and its range (low, high; None where unbounded)."""

    name: str
    direction: Direction = Direction.HIGHER
    unit: str = ""
    range: tuple[float | None, float | None] = (None, None)


@dataclass(frozen=True)
class EngineInfo:
    """An inference engine a run used, as its backend describes it: the `framework:` name, the library
    version(s) that decide its results, and the line the card prints for it."""

    name: str  # the `framework:` value
    version: str  # e.g. "1.23.2", or "torch 2.13.0" for a backend built on another library
    line: str  # e.g. "onnxruntime 1.23.2 (CPUExecutionProvider)"


@dataclass(frozen=True)
class MachineFacts:
    """The CPU and the engines a result was measured on: int8 kernels, speed and even accuracy depend on them."""

    cpu: str
    cpu_count: int | None
    instructions: tuple[str, ...]
    vnni: bool
    python: str
    engines: tuple[EngineInfo, ...] = ()  # the backends the run (or the case) used, as each describes itself

    def engine(self, name: str) -> EngineInfo | None:
        return next((e for e in self.engines if e.name == name), None)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Read by `serialize.load` (pydantic asked only then), old runs included: they kept their one engine's
        version under its name, `onnxruntime: "1.2.3"`."""
        from pydantic_core import core_schema

        def with_engines(data: Any) -> Any:
            old = data.get("onnxruntime") if isinstance(data, dict) and "engines" not in data else None
            line = f"onnxruntime {old} (CPUExecutionProvider)"
            return {**data, "engines": [{"name": "onnxruntime", "version": old, "line": line}]} if old else data

        return core_schema.no_info_before_validator_function(with_engines, handler(source))


@dataclass(frozen=True)
class KernelProbe:
    """This machine's U8S8 kernels, by default and with `x64_quant_precision`: `exact`, `saturates`, `wrong`, or
    `unavailable (why)` when the probe could not run."""

    default: str
    x64_quant_precision: str


@dataclass(frozen=True)
class HardwareRisk:
    """A config whose accuracy depends on whether the CPU's U8S8 kernels saturate (no VNNI)."""

    risk: str
    hardware_dependent: bool
    affects: str
    vnni: bool
    this_machine_saturates: bool
    probe: KernelProbe
    remedies: tuple[str, ...]


@dataclass(frozen=True)
class RangeFinding:
    """A calibration range no int8 scale can hold, named by the node that produces the tensor."""

    tensor: str
    low: float
    high: float
    node: str  # producer, or the graph input's name
    op_type: str
    feeds: tuple[str, ...]  # op types of the consumers
    exclude: tuple[str, ...]  # quantized nodes that read or write this tensor

    def describe(self) -> str:
        feeds = f" (feeds {'/'.join(self.feeds)})" if self.feeds else ""
        return f"calibration range of {self.op_type} {self.node}{feeds} is [{self.low:.3g}, {self.high:.3g}]"


@dataclass(frozen=True)
class QuantizationReport:
    """What the quantizer actually did: quantized nodes per float op type, and the calibration range check."""

    quantized_nodes: dict[str, int]
    total_quantized: int
    quantized_nothing: bool
    operators_to_quantize: tuple[str, ...] | None = None
    # identical graphs (per_channel on a config that quantizes nothing, say) score alike: evaluated once
    graph_sha256: str | None = None
    excluded_nodes: int = 0
    range_check: tuple[RangeFinding, ...] = ()


@dataclass(frozen=True)
class NodeError:
    """One node's share of the quantization error, from the sensitivity analysis."""

    node: str
    op_type: str
    sqnr_db: float  # of the node's output, int8 vs fp32 model
    rel_error: float  # ||int8 - fp32|| / ||fp32|| of that output
    added_error: float  # relative error of the output minus that of the worst input: the node's own share


@dataclass(frozen=True)
class FallbackTrial:
    nodes: int
    passed: bool
    verdict: str


@dataclass(frozen=True)
class FallbackResult:
    """The fp32 set the fallback search found (or not), with its scores and latency cost."""

    node_exclusion: tuple[str, ...]  # the config's own entries, then the nodes found
    nodes: tuple[str, ...]
    passed: bool
    original: dict[str, float] = field(default_factory=dict)
    quantized: dict[str, float] = field(default_factory=dict)  # with the fallback, on the whole eval split
    trials: tuple[FallbackTrial, ...] = ()
    latency_cost: float | None = None  # latency with the fallback / latency of the plain int8 model
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("snippet",)

    @property
    def snippet(self) -> str:
        return "node_exclusion: [" + ", ".join(self.node_exclusion) + "]"


@dataclass(frozen=True)
class DiagnosisRecord:
    """What a diagnosis found, as the results keep it: the one line, and the evidence behind it."""

    line: str
    range_check: tuple[RangeFinding, ...] = ()
    ranking: tuple[NodeError, ...] = ()
    hardware_risk: HardwareRisk | None = None
    fallback: FallbackResult | None = None


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
class MemoryStats:
    """Peak resident memory of one model's session at one timing shape, net of `baseline_bytes`.

    Measured in a child process (`runtimes.memory_probe`) that has imported onnxruntime and read the feeds
    (the baseline): the peak while the session loads, and the peak while it runs the timing feeds, smallest
    first, up to and including `shape`; both count the weights the session holds."""

    load_peak_bytes: int
    run_peak_bytes: int
    shape: str  # as latency ids write it: bs8-len128
    baseline_bytes: int


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
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("verdict",)

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.passed, self.collapse, self.inconclusive)

    @property
    def quantized_nothing(self) -> bool:
        return self.quantization.quantized_nothing

    @property
    def expected_collapse(self) -> bool:
        return self.expect == "collapse"

    @property
    def inconclusive_passed(self) -> bool:
        """An interval that straddles its limit, on a gate told to pass then (`on_inconclusive: pass`)."""
        return self.verdict is Verdict.INCONCLUSIVE and self.passed

    @property
    def status(self) -> str:
        """The verdict as the terminal and the card show it, saying when an inconclusive case passed, a
        collapse is expected or the quantizer changed nothing."""
        flags = ((self.inconclusive_passed, "passed"), (self.expected_collapse, "expected"),
                 (self.quantized_nothing, "quantized nothing"))  # fmt: skip
        return " ".join([self.verdict.value, *(f"({words})" for on, words in flags if on)])

    def metric(self, name: str) -> MetricResult | None:
        return self.metrics.get(name)


@dataclass(frozen=True)
class Profile:
    """A session's profiled calls, in ms per call: by op type, and by the element type of each kernel's first
    input (`float`, `float16`, `uint8`, ...). The second tells a float16 or 16-bit model that ONNX Runtime ran
    in fp32 (Casts inserted, float kernels) from one whose kernels took the converted types."""

    op_ms: dict[str, float]
    input_type_ms: dict[str, float] = field(default_factory=dict)

    @property
    def total_ms(self) -> float:
        """Kernel time per call, all ops together."""
        return sum(self.op_ms.values())

    def share(self, *ops: str) -> float:
        """The share of the call that `ops` take."""
        total = self.total_ms
        return sum(self.op_ms.get(op, 0.0) for op in ops) / total if total else 0.0

    def type_share(self, element_type: str) -> float:
        """The share of the call in kernels whose first input is of `element_type`."""
        total = sum(self.input_type_ms.values())
        return self.input_type_ms.get(element_type, 0.0) / total if total else 0.0


@dataclass(frozen=True)
class OpTime:
    """Time per call of one op type, summed over its nodes, in both models (ONNX Runtime's profiler)."""

    op_type: str
    original_ms: float
    quantized_ms: float


@dataclass(frozen=True)
class SpeedDiagnosis:
    """Why a quantized model is not faster: one cause and its fix, from the profiles of both sessions."""

    cause: str
    fix: str
    op_times: tuple[OpTime, ...] = ()  # largest first

    @property
    def line(self) -> str:
        return f"cause: {self.cause}; fix: {self.fix}"


class Shape(NamedTuple):
    """A timing shape: batch size and input length (None for image tasks). Its id, `bs8-len128` or `bs8`, is
    written and parsed here only; a tuple, so that `(8, 128)` names it too."""

    batch_size: int
    input_length: int | None = None

    @property
    def id(self) -> str:
        return f"bs{self.batch_size}" + (f"-len{self.input_length}" if self.input_length else "")

    @classmethod
    def parse(cls, text: str) -> Shape:
        """The shape of an id such as `bs8-len128` or `bs8`; ValueError for anything else."""
        match = re.fullmatch(r"bs(\d+)(?:-len(\d+))?", text)
        if not match:
            raise ValueError(f"{text!r}: expected a shape such as bs1-len128 or bs4")
        return cls(int(match[1]), int(match[2]) if match[2] else None)

    def sort_key(self) -> tuple[int, int]:
        return (self.batch_size, self.input_length or 0)


@dataclass(frozen=True)
class LatencyStats:
    """Latency of a set of rounds, in ms; kept because saved runs drop the raw rounds."""

    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    rounds: int
    ci95_rel: float  # half-width of the 95% CI of the mean, relative to it


@dataclass(frozen=True)
class TimingResult:
    """One latency case, as it rides in pytest-benchmark's `extra_info`: the model, the shape, the machine, the
    statistics of its rounds and, for a quantized model, its paired fp32 calls and the speed-up (median of the
    per-pair ratios). Files written before the statistics were nested (flat `latency_mean_ms`, ..., roles
    `fp32`/`int8`) are upgraded on read by `serialize`."""

    suite: str
    task: str
    model: str
    role: Role  # ORIGINAL: the fp32 baseline timed alone; QUANTIZED: a config's model, paired with it
    config_id: str
    config: dict[str, Any]
    batch_size: int
    input_length: int | None
    intra_op_num_threads: int
    machine: MachineFacts
    latency: LatencyStats | None = None  # the case's own rounds; None when pytest-benchmark is disabled
    paired_fp32: LatencyStats | None = None  # the fp32 call run right before each of a quantized case's rounds
    speedup: float | None = None
    speedup_ci95_rel: float | None = None
    quantized_nothing: bool | None = None
    quantization: QuantizationReport | None = None
    hardware_risk: HardwareRisk | None = None
    accuracy: dict[str, MetricResult] | None = None  # from the run's evaluation or the score cache, never run here
    speed_diagnosis: SpeedDiagnosis | None = None  # when the speed-up is below `speed.SLOW`
    size: ModelSize | None = None
    # the backend whose fp32 model was timed (original case) or paired with this one (quantized case); None in
    # files written before it was recorded, where it is the config's own framework (`results.run` resolves it)
    baseline: str | None = None
    memory: MemoryStats | None = None  # this row's model at this shape; None when not measured
    fp32_memory: MemoryStats | None = None  # a quantized row's fp32 baseline, at the same shape
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("samples_per_s", "slower", "memory_ratio")

    @property
    def shape(self) -> Shape:
        return Shape(self.batch_size, self.input_length)

    @property
    def samples_per_s(self) -> float | None:
        """Throughput: the batch size over the mean latency."""
        return self.batch_size / self.latency.mean_ms * 1e3 if self.latency and self.latency.mean_ms else None

    @property
    def slower(self) -> bool:
        """The quantized model is slower than its fp32 model beyond doubt: its whole speed-up interval is below 1."""
        return self.speedup is not None and self.speedup * (1 + (self.speedup_ci95_rel or 0.0)) < 1

    @property
    def memory_ratio(self) -> float | None:
        """A quantized row's run peak over its fp32 model's, at this shape."""
        return memory_ratio(self.memory, self.fp32_memory)


def memory_ratio(quantized: MemoryStats | None, original: MemoryStats | None) -> float | None:
    """The quantized session's run peak over the original's (the one place it is computed), None unless both
    were measured."""
    if quantized is None or original is None or not original.run_peak_bytes:
        return None
    return quantized.run_peak_bytes / original.run_peak_bytes
