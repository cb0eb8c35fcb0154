"""One report row per config, built once from a run's results: what the terminal summary, the card, the plot,
compare and the exports read.

A row joins, by suite and config id, the config's accuracy case (`CaseResult`) and its quantized latency cases,
one per timed shape, each with the fp32 case it is against. Its metrics are the accuracy case's; in a run
without it (`-m latency`, xdist workers) they are those the latency cases found in the score cache, so a
latency row's accuracy never depends on which case ran first in which process.
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_quantbench.records import (
    CaseResult,
    LatencyStats,
    MemoryStats,
    MetricResult,
    Phase,
    Role,
    Shape,
    SpeedDiagnosis,
    memory_ratio,
)
from pytest_quantbench.results.records import ConfigInfo, SuiteInfo, TimedCase


@dataclass(frozen=True)
class ShapeRow:
    """A config's quantized model at one timed shape, and the suite's fp32 case at that shape."""

    quantized: TimedCase
    baseline: TimedCase | None = None  # the fp32 model timed alone (None when it was not timed in this run)

    @property
    def shape(self) -> Shape:
        return self.quantized.record.shape

    @property
    def speedup(self) -> float | None:
        return self.quantized.record.speedup

    @property
    def original(self) -> LatencyStats | None:
        """The fp32 latency this config is set against: the calls paired with its rounds, else the fp32 case's."""
        paired = self.quantized.record.paired_fp32
        return paired or (self.baseline.record.latency if self.baseline is not None else None)

    @property
    def original_memory(self) -> MemoryStats | None:
        """The fp32 model's peak at this shape: measured with the quantized case, else by the fp32 case."""
        mine = self.quantized.record.fp32_memory
        return mine or (self.baseline.record.memory if self.baseline is not None else None)

    @property
    def memory_ratio(self) -> float | None:
        return memory_ratio(self.quantized.record.memory, self.original_memory)


@dataclass(frozen=True)
class ConfigRow:
    """One config of a suite as every report reads it."""

    suite: str
    config: ConfigInfo
    result: CaseResult | None = None  # the run's accuracy case
    metrics: dict[str, MetricResult] | None = None  # the accuracy case's, else the score cache's; None: not evaluated
    shapes: tuple[ShapeRow, ...] = ()  # the timed shapes, smallest first

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def cached(self) -> bool:
        """The metrics are the score cache's: no accuracy case judged them in this run."""
        return self.result is None and self.metrics is not None

    @property
    def verdict(self) -> str:
        """The accuracy case's status (PASS, FAIL, ... with its notes), "-" when no accuracy case ran."""
        return self.result.status if self.result is not None else "-"

    def metric(self, name: str) -> MetricResult | None:
        return (self.metrics or {}).get(name)

    @property
    def speedups(self) -> list[float]:
        return [s.speedup for s in self.shapes if s.speedup is not None]

    @property
    def phase_speedups(self) -> dict[Phase, list[float]]:
        """A decoder's speed-ups by phase (prefill, decode, generate: the order they are timed); empty for a
        config of another task, whose shapes have no phase."""
        out: dict[Phase, list[float]] = {}
        for s in sorted(self.shapes, key=lambda s: s.shape.sort_key()):
            if s.shape.phase is not None and s.speedup is not None:
                out.setdefault(s.shape.phase, []).append(s.speedup)
        return out

    @property
    def slower(self) -> bool:
        """Slower than fp32 beyond doubt at some shape."""
        return any(s.quantized.record.slower for s in self.shapes)

    @property
    def baseline(self) -> str | None:
        """The backend its speed-ups are against (None when it was not timed)."""
        return next((s.quantized.record.baseline for s in self.shapes if s.speedup is not None), None)

    @property
    def framework(self) -> str | None:
        """Its own backend, as its timings recorded it (None when it was not timed)."""
        return next((s.quantized.framework for s in self.shapes), None)

    @property
    def speed_diagnosis(self) -> tuple[ShapeRow, SpeedDiagnosis] | None:
        """Its first diagnosed shape (the cause is the same at the others, or close)."""
        found = [(s, s.quantized.record.speed_diagnosis) for s in self.shapes]
        return next(((s, d) for s, d in found if d is not None), None)

    @property
    def peak_memory(self) -> ShapeRow | None:
        """The shape of its largest run peak, among those with both models measured."""

        def peak(s: ShapeRow) -> int:
            memory = s.quantized.record.memory
            return memory.run_peak_bytes if memory else 0

        return max((s for s in self.shapes if s.memory_ratio is not None), key=peak, default=None)


def config_rows(suite: SuiteInfo, accuracy: dict[str, CaseResult], timings: list[TimedCase]) -> list[ConfigRow]:
    """A suite's rows in the order of its configs; a config with neither accuracy nor timings has none."""
    fp32 = {(t.record.config_id, t.record.shape): t for t in timings if t.record.role is Role.ORIGINAL}
    quantized: dict[str, list[TimedCase]] = {}
    for t in sorted(timings, key=lambda t: t.record.shape.sort_key()):
        if t.record.role is Role.QUANTIZED:
            quantized.setdefault(t.record.config_id, []).append(t)
    rows = []
    for config in suite.configs:
        result, timed = accuracy.get(config.id), quantized.get(config.id, [])
        if result is None and not timed:
            continue
        shapes = tuple(ShapeRow(t, fp32.get((config.baseline_id, t.record.shape))) for t in timed)
        cached = next((t.record.accuracy for t in timed if t.record.accuracy), None)
        metrics = result.metrics if result is not None else cached
        rows.append(ConfigRow(suite.name, config, result, metrics, shapes))
    return rows


def headline_metric(suite: SuiteInfo, rows: list[ConfigRow]) -> str | None:
    """The metric a one-line summary and the plot show: the suite's first, else (a suite gated on fidelity
    alone, `ref_keys: []`) the first its rows measured; None when nothing was evaluated."""
    if suite.metrics:
        return suite.metrics[0]
    return next((name for row in rows for name in row.metrics or {}), None)
