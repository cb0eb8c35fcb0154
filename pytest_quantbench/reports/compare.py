"""A run against a saved one: quantized-accuracy and latency deltas, and the accuracy gate across commits.

pytest-benchmark compares timings across runs but knows nothing of accuracy; this compares the quantized
metrics config by config and fails a config whose metric dropped more than allowed (`accuracy:0.005`).
Int8 kernels differ with the CPU's VNNI and AMX support and with the engines' versions: across such runs a
speed comparison is refused unless forced, and accuracy deltas are said to come from other kernels.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from pytest_quantbench.errors import GateFailure
from pytest_quantbench.records import MachineFacts
from pytest_quantbench.reports.table import table
from pytest_quantbench.results.run import Run


class CompareFailure(GateFailure):
    """A config's quantized metric dropped more than allowed against the saved run."""


@dataclass(frozen=True)
class FailSpec:
    metric: str
    max_drop: float

    @classmethod
    def parse(cls, text: str) -> FailSpec:
        """`metric:max_drop`, e.g. `accuracy:0.005` (an absolute drop of the quantized metric); an argparse type."""
        metric, sep, value = text.partition(":")
        try:
            max_drop = float(value)
        except ValueError:
            max_drop = -1.0
        if not sep or not metric or max_drop < 0:
            raise argparse.ArgumentTypeError(f"{text!r}: expected METRIC:MAX_DROP, e.g. accuracy:0.005")
        return cls(metric, max_drop)

    def broken_by(self, delta: AccuracyDelta) -> bool:
        return delta.metric == self.metric and delta.drop > self.max_drop + 1e-12


@dataclass(frozen=True)
class AccuracyDelta:
    suite: str
    config_id: str
    metric: str
    saved: float
    now: float

    @property
    def drop(self) -> float:
        return self.saved - self.now

    def message(self, spec: FailSpec, source: str) -> str:
        return (
            f"{self.metric} {self.saved:.3f} in saved run {source} -> {self.now:.3f} now "
            f"(drop {self.drop:.3f} > {spec.metric}:{spec.max_drop:g})"
        )


@dataclass(frozen=True)
class SpeedDelta:
    suite: str
    name: str
    saved_ms: float
    now_ms: float
    saved_speedup: float | None
    now_speedup: float | None
    baselines: tuple[str, str] | None = None  # (saved, now) fp32 backends when they differ: speed-ups not compared

    @property
    def change(self) -> float:
        """Relative change of the mean latency: +0.10 is 10% slower."""
        return self.now_ms / self.saved_ms - 1


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _amx(machine: MachineFacts) -> bool:
    return any(i.startswith("amx") for i in machine.instructions)


def kernel_differences(saved: MachineFacts | None, now: MachineFacts | None) -> list[str]:
    """What differs between two runs' machines that changes the int8 kernels: VNNI, AMX, an engine's version."""
    if saved is None or now is None:
        return []
    out = []
    if saved.vnni != now.vnni:
        out.append(f"VNNI {_yes(saved.vnni)} -> {_yes(now.vnni)}")
    if _amx(saved) != _amx(now):
        out.append(f"AMX {_yes(_amx(saved))} -> {_yes(_amx(now))}")
    for engine in saved.engines:  # an engine both runs used, at another version
        other = now.engine(engine.name)
        if other is not None and other.version != engine.version:
            out.append(f"{engine.name} {engine.version} -> {other.version}")
    return out


def kernel_warning(saved: Run, now: Run) -> str | None:
    """The one warning line when the saved run used other int8 kernels, else None."""
    differences = kernel_differences(saved.machine, now.machine)
    if not differences:
        return None
    return (
        f"warning: saved run {saved.source} ran other int8 kernels ({', '.join(differences)}): accuracy deltas may "
        "come from the kernels, and speed is not comparable"
    )


SPEED_REFUSED = "speed not compared: the int8 kernels differ (force it with {option})"


def accuracy_deltas(saved: Run, now: Run) -> list[AccuracyDelta]:
    """Quantized metrics of the configs present in both runs (matched by suite name and config id)."""
    old = {(r.suite, r.config_id, m.name): m.quantized for r in saved.accuracy for m in r.metrics.values()}
    return [
        AccuracyDelta(r.suite, r.config_id, m.name, old[key], m.quantized)
        for r in now.accuracy
        for m in r.metrics.values()
        if (key := (r.suite, r.config_id, m.name)) in old
    ]


def speed_deltas(saved: Run, now: Run) -> list[SpeedDelta]:
    """Latency of the cases in both runs, and their speed-ups where both are against the same fp32 baseline
    (`baseline:`): a speed-up over PyTorch fp32 is no change from one over ONNX Runtime fp32."""
    old = {(t.suite, t.name): t for t in saved.timings}
    out = []
    for t in now.timings:
        o = old.get((t.suite, t.name))
        if o is None or (o.baseline != t.baseline and t.role == "fp32"):  # another model under the same name
            continue
        if o.baseline != t.baseline:
            out.append(SpeedDelta(t.suite, t.name, o.mean_ms, t.mean_ms, None, None, (o.baseline, t.baseline)))
        else:
            out.append(SpeedDelta(t.suite, t.name, o.mean_ms, t.mean_ms, o.speedup, t.speedup))
    return out


def baseline_note(deltas: list[SpeedDelta]) -> str | None:
    """The one line saying which speed-ups were left out because the two runs timed other fp32 baselines."""
    differ = [d.baselines for d in deltas if d.baselines]
    if not differ:
        return None
    changes = ", ".join(sorted({f"{a} -> {b}" for a, b in differ}))
    return f"speed-ups of {len(differ)} cases not compared: measured against another fp32 baseline ({changes})"


class Gate:
    """The compare gate of a pytest run: the saved run and the allowed drops, checked case by case."""

    def __init__(self, saved: Run, specs: list[FailSpec], machine: MachineFacts | None = None) -> None:
        self.saved, self.specs = saved, specs
        self.kernels = kernel_differences(saved.machine, machine)  # this run's machine against the saved one's

    def check(self, suite: str, config_id: str, quantized: dict[str, float]) -> None:
        """Raise `CompareFailure` (one line, both numbers) when a metric dropped more than allowed."""
        old = self.saved.accuracy_of(suite).get(config_id)
        if old is None:
            return
        broken = [
            delta.message(spec, self.saved.source)
            for m in old.metrics.values()
            if m.name in quantized
            for spec in self.specs
            if spec.broken_by(delta := AccuracyDelta(suite, config_id, m.name, m.quantized, quantized[m.name]))
        ]
        if broken:
            kernels = f" (the int8 kernels differ: {', '.join(self.kernels)})" if self.kernels else ""
            raise CompareFailure("; ".join(broken) + kernels)


def run_label(source: str) -> str:
    """A run's name in a column header: pytest-benchmark's counter (`0001`) where its file has one, else the
    file name (the line above each table names the files in full)."""
    name = Path(source).name
    return name[:4] if re.match(r"\d{4}_", name) else name


def accuracy_table(deltas: list[AccuracyDelta], specs: list[FailSpec], saved: str, now: str = "now") -> list[str]:
    rows = []
    for d in deltas:
        gated = [s for s in specs if s.metric == d.metric]
        broken = [s for s in gated if s.broken_by(d)]
        gate = f"FAIL (drop > {broken[0].max_drop:g})" if broken else ("ok" if gated else "")
        rows.append([d.suite, d.config_id, d.metric, f"{d.saved:.3f}", f"{d.now:.3f}", f"{d.now - d.saved:+.3f}", gate])
    header = ["suite", "config", "metric", f"saved ({run_label(saved)})", now, "change", "gate"]
    return table(header, rows)


def speed_table(deltas: list[SpeedDelta], saved: str, now: str = "now") -> list[str]:
    def speedup(value: float | None) -> str:
        return f"x{value:.2f}" if value else "-"

    rows = [
        [d.suite, d.name, f"{d.saved_ms:.3f}", f"{d.now_ms:.3f}", f"{d.change:+.1%}", speedup(d.saved_speedup),
         speedup(d.now_speedup)]
        for d in deltas
    ]  # fmt: skip
    old = run_label(saved)
    header = [
        "suite",
        "case",
        f"mean ms ({old})",
        f"mean ms ({now})",
        "change",
        f"speed-up ({old})",
        f"speed-up ({now})",
    ]
    return table(header, rows)
