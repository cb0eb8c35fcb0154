"""What a speed rule is, what it reads, and the rules that name no engine.

The speed diagnosis (`verdicts/speed.py`) tries rules in order and takes the first cause one finds. A rule is
a small object with one method, `detect(facts)`: the cause and fix it recognises in `SpeedFacts` (the config,
its quantization report, both sessions' profiles), else None. Rules that name an engine's ops and settings
live beside that engine's backend (`onnxruntime_speed.py`), and each backend's `speed_rules` is its whole
order. The engine-neutral rules a backend places in that order are here, in `runtimes/`, because a backend
module may import only earlier stages: `verdicts/` comes after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pytest_quantbench.records import Profile, QuantizationReport, SpeedDiagnosis
from pytest_quantbench.suite import QuantConfig

SLOW = 1.1  # speed-ups below this are diagnosed (a latency case's speed gate may ask for more)


@dataclass(frozen=True)
class SpeedFacts:
    """What the speed rules read about one slow latency case."""

    config: QuantConfig
    report: QuantizationReport
    original: Profile  # the fp32 session's profile, with the config's settings
    quantized: Profile
    quantized_level: int  # the quantized session's graph optimization level
    shape: str  # the timed shape's id (`bs1-len64`)
    # (original, quantized) profiled again on one intra-op thread, where the config runs on several
    one_thread: tuple[Profile, Profile] | None = None
    other_baseline: bool = False  # the speed-up is against another backend's fp32 (`baseline:`)


class SpeedRule(Protocol):
    """One cause of a slow quantized model: its detection and its words."""

    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        """The cause and fix, when the facts show this cause; None otherwise."""
        ...


@dataclass(frozen=True)
class NothingQuantized:
    """The quantizer changed no node: whatever the timings say, the int8 model is the fp32 graph. Needs no
    profile, so it is tried first, on facts whose profiles are empty."""

    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        if not facts.report.quantized_nothing:
            return None
        ops = list(facts.report.operators_to_quantize or ())
        same = "the int8 model runs the fp32 graph" if facts.other_baseline else "both sessions run the same fp32 graph"
        return SpeedDiagnosis(
            f"quantizing {ops} changed no node: {same}",
            "operators_to_quantize: [MatMul] (the ops that carry the weights)",
        )


@dataclass(frozen=True)
class ThreadScaling:
    """Int8 ahead on one intra-op thread but not on the config's several: the quantized kernels scale worse.
    Ahead means at least `SLOW`, the speed-up below which a case is diagnosed at all."""

    def detect(self, facts: SpeedFacts) -> SpeedDiagnosis | None:
        original, quantized = facts.original, facts.quantized
        if facts.one_thread is None or not quantized.total_ms or not facts.one_thread[1].total_ms:
            return None
        threads = facts.config.framework_args.intra_op_num_threads
        alone = facts.one_thread[0].total_ms / facts.one_thread[1].total_ms
        together = original.total_ms / quantized.total_ms
        if not alone >= SLOW > together:
            return None
        return SpeedDiagnosis(
            f"thread scaling: the quantized kernels gain less from {threads} intra-op threads than the fp32 "
            f"ones (profiled x{alone:.2f} on one thread, x{together:.2f} on {threads})",
            "framework_args: {intra_op_num_threads: 1} with requests served side by side (a session per "
            "core), or larger batches",
        )
