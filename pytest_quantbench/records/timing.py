"""What a latency case measured: its shape, its rounds' statistics, its speed-up and peak memory."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

from pytest_quantbench.records.accuracy import MetricResult, ModelSize
from pytest_quantbench.records.diagnosis import QuantizationReport, SpeedDiagnosis
from pytest_quantbench.records.kinds import Phase, Role
from pytest_quantbench.records.machine import HardwareRisk, MachineFacts


@dataclass(frozen=True)
class MemoryStats:
    """Peak resident memory of one model's session at one timing shape, net of `baseline_bytes`.

    Measured in a child process (`runtimes.memory_probe`) that has imported onnxruntime and read the feeds
    (the baseline): the peak while the session loads, and the peak while it runs the timing feeds, smallest
    first (a decoder's phases: in `measure.phases.MEMORY_ORDER`), up to and including `shape`; both count the
    weights the session holds."""

    load_peak_bytes: int
    run_peak_bytes: int
    shape: str  # as latency ids write it: bs8-len128
    baseline_bytes: int


class Shape(NamedTuple):
    """A timing shape: batch size, input length (None for image tasks) and, for a decoder, the phase timed
    (`Phase`: its length is the prompt's, the cache's or the new tokens' count). Its id, `bs8-len128`, `bs8`,
    `prefill-bs1-len64`, `decode-bs1-ctx64` or `generate-bs1-new16`, is written and parsed here only; a tuple,
    so that `(8, 128)` names a shape without a phase too."""

    batch_size: int
    input_length: int | None = None
    phase: Phase | None = None

    @property
    def id(self) -> str:
        word = self.phase.length_word if self.phase is not None else "len"
        shape = f"bs{self.batch_size}" + (f"-{word}{self.input_length}" if self.input_length else "")
        return shape if self.phase is None else f"{self.phase.value}-{shape}"

    @classmethod
    def parse(cls, text: str) -> Shape:
        """The shape of an id such as `bs8-len128`, `bs8` or `decode-bs1-ctx64`; ValueError for anything else."""
        phases = "|".join(p.value for p in Phase)
        match = re.fullmatch(rf"(?:({phases})-)?bs(\d+)(?:-(len|ctx|new)(\d+))?", text)
        phase = Phase(match[1]) if match and match[1] else None
        word = phase.length_word if phase is not None else "len"
        if not match or (match[3] is not None and match[3] != word):
            raise ValueError(
                f"{text!r}: expected a shape such as bs1-len128 or bs4 (a decoder phase: decode-bs1-ctx64)"
            )
        return cls(int(match[2]), int(match[4]) if match[4] else None, phase)

    def sort_key(self) -> tuple[int, int, int]:
        order = -1 if self.phase is None else list(Phase).index(self.phase)
        return (order, self.batch_size, self.input_length or 0)

    # a shape without a phase equals its (batch size, input length) pair, as before phases were timed
    def __eq__(self, other: object) -> bool:
        if isinstance(other, tuple) and not isinstance(other, Shape) and self.phase is None:
            return tuple(self[:2]) == other
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(tuple(self[:2])) if self.phase is None else tuple.__hash__(self)


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
    speedup: float | None = None  # the median of the paired rounds' fp32/quantized ratios
    speedup_ci95_rel: float | None = None  # half-width of the median's 95% interval (order statistics), relative
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
    # a decoder's latency case: the phase timed (`input_length` is then its shape's length: the prompt's, the
    # cache's or the new tokens' count) and, for GENERATE, the prompt the tokens follow; None in other tasks'
    # records and in files written before phases were timed
    phase: Phase | None = None
    prompt_length: int | None = None
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("samples_per_s", "tokens_per_s", "slower", "memory_ratio")

    @property
    def shape(self) -> Shape:
        return Shape(self.batch_size, self.input_length, self.phase)

    @property
    def tokens_per_s(self) -> float | None:
        """A decoder's tokens per second: the prompt's tokens (PREFILL) or the new ones (DECODE: one per row,
        GENERATE: `input_length` per row) over the mean latency; None without a phase."""
        if self.phase is None or not self.latency or not self.latency.mean_ms:
            return None
        per_row = 1 if self.phase is Phase.DECODE else (self.input_length or 0)
        return self.batch_size * per_row / self.latency.mean_ms * 1e3

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
