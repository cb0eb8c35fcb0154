"""A run against a saved one: quantized-accuracy and latency deltas, and the accuracy gate across commits.

pytest-benchmark compares timings across runs but knows nothing of accuracy; this compares the quantized
metrics config by config and fails a config whose metric dropped more than allowed (`accuracy:0.005`).
A drop is how much worse the quantized metric got, whichever way the metric is better (`records.Direction`).
Int8 kernels differ with the CPU's VNNI and AMX support and with the engines' versions: across such runs a
speed comparison is refused unless forced, and accuracy deltas are said to come from other kernels. The
options and the report are built here once, for the plugin (`--quantbench-compare`) and `quantbench compare`.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_quantbench.errors import GateFailure
from pytest_quantbench.records import Direction, MachineFacts, MetricResult, Role
from pytest_quantbench.reports import triage
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
    direction: Direction = Direction.HIGHER

    @property
    def drop(self) -> float:
        """How much worse the metric got since the saved run (> 0: worse)."""
        return self.direction.worse_by(self.saved, self.now)

    def message(self, spec: FailSpec, source: str) -> str:
        return (
            f"{self.metric} {self.saved:.3f} in saved run {source} -> {self.now:.3f} now "
            f"(drop {self.drop:.3f} > {spec.metric}:{spec.max_drop:g})"
        )


def add_options(add: Callable[..., Any], prefix: str, consequence: str, against: str) -> None:
    """The fail and force options, for the plugin (`add` is its option group's `addoption`, `prefix`
    `quantbench-compare-`) and for `quantbench compare` (argparse's `add_argument`, no prefix): defined once so
    that the two never drift."""
    add(
        f"--{prefix}fail",
        metavar="METRIC:MAX_DROP",
        action="append",
        default=[],
        type=FailSpec.parse,
        help=f"{consequence} whose quantized METRIC got worse by more than MAX_DROP against {against}, "
        "e.g. accuracy:0.005 (repeatable)",
    )
    add(
        f"--{prefix}force",
        action="store_true",
        help=f"compare speed with {against} even when the int8 kernels differ (VNNI, AMX, engine versions)",
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
    """What differs between two runs' machines that changes the int8 kernels: VNNI, AMX, an engine's version
    (old runs' single engine reads as ONNX Runtime's: `MachineFacts` migrates them)."""
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


def _metrics(run: Run) -> dict[tuple[str, str, str], MetricResult]:
    """Every config's metrics by (suite, config id, metric), as its report row holds them."""
    rows = (row for suite in run.suites for row in run.rows(suite.name))
    return {(row.suite, row.id, m.name): m for row in rows for m in (row.metrics or {}).values()}


def accuracy_deltas(saved: Run, now: Run) -> list[AccuracyDelta]:
    """Quantized metrics of the configs present in both runs (matched by suite name and config id)."""
    old = _metrics(saved)
    return [
        AccuracyDelta(*key, old[key].quantized, m.quantized, m.direction)
        for key, m in _metrics(now).items()
        if key in old
    ]


def speed_deltas(saved: Run, now: Run) -> list[SpeedDelta]:
    """Latency of the cases in both runs, and their speed-ups where both are against the same fp32 baseline
    (`baseline:`): a speed-up over PyTorch fp32 is no change from one over ONNX Runtime fp32."""
    old = {(t.record.suite, t.name): t.record for t in saved.timings}
    out = []
    for case in now.timings:
        t, o = case.record, old.get((case.record.suite, case.name))
        if o is None or o.latency is None or t.latency is None:
            continue
        if o.baseline != t.baseline and t.role is Role.ORIGINAL:  # another model under the same name
            continue
        ms = (o.latency.mean_ms, t.latency.mean_ms)
        if o.baseline != t.baseline:
            out.append(SpeedDelta(t.suite, case.name, *ms, None, None, (o.baseline or "?", t.baseline or "?")))
        else:
            out.append(SpeedDelta(t.suite, case.name, *ms, o.speedup, t.speedup))
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
        """Raise `CompareFailure` (one line, both numbers) when a metric got worse by more than allowed (its
        direction as the saved run recorded it)."""
        old = self.saved.row(suite, config_id)
        if old is None:
            return
        broken = [
            delta.message(spec, self.saved.source)
            for m in (old.metrics or {}).values()
            if m.name in quantized
            for spec in self.specs
            if spec.broken_by(
                delta := AccuracyDelta(suite, config_id, m.name, m.quantized, quantized[m.name], m.direction)
            )
        ]
        if broken:
            kernels = f" (the int8 kernels differ: {', '.join(self.kernels)})" if self.kernels else ""
            raise CompareFailure("; ".join(broken) + kernels)


def run_label(source: str) -> str:
    """A run's name in a column header: pytest-benchmark's counter (`0001`) where its file has one, else the
    file name (the line above each table names the files in full)."""
    name = Path(source).name
    return name[:4] if re.match(r"\d{4}_", name) else name


def accuracy_table(
    deltas: list[AccuracyDelta], specs: list[FailSpec], saved: str, now: str = "now", markdown: bool = False
) -> list[str]:
    rows = []
    for d in deltas:
        gated = [s for s in specs if s.metric == d.metric]
        broken = [s for s in gated if s.broken_by(d)]
        gate = f"FAIL (drop > {broken[0].max_drop:g})" if broken else ("ok" if gated else "")
        rows.append([d.suite, d.config_id, d.metric, f"{d.saved:.3f}", f"{d.now:.3f}", f"{d.now - d.saved:+.3f}", gate])
    header = ["suite", "config", "metric", f"saved ({run_label(saved)})", now, "change", "gate"]
    return table(header, rows, markdown)


def speed_table(deltas: list[SpeedDelta], saved: str, now: str = "now", markdown: bool = False) -> list[str]:
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
    return table(header, rows, markdown)


@dataclass(frozen=True)
class Comparison:
    """A saved run against another (or against the run itself), as both the plugin and the command print it."""

    lines: list[str]
    broken: list[str]  # one message per fail limit a config broke
    refused: bool  # speed not compared: the int8 kernels differ and it was not forced


def comparison(
    saved: Run, now: Run, specs: list[FailSpec], forced: bool, force_option: str, in_run: bool = False,
    markdown: bool = False,
) -> Comparison:  # fmt: skip
    """The report of `quantbench compare` (two saved runs: the triage first, see `reports.triage`; `markdown`:
    Markdown tables) or, `in_run`, of a pytest run's `quantbench compare` section (the saved run against the
    run itself)."""
    warning = kernel_warning(saved, now)
    kernels = " (the int8 kernels differ)" if warning else ""
    later = "now" if in_run else run_label(now.source)  # the column of the second run
    deltas = accuracy_deltas(saved, now)
    lines = [warning] if warning else []
    lines += [] if in_run else [*triage.render(triage.triage(saved, now), markdown), ""]
    if in_run:
        lines.append(f"quantized metrics against saved run {saved.source}{kernels}:")
    else:
        lines.append(f"quantized metrics: {saved.source} -> {now.source}{kernels}")
    lines += accuracy_table(deltas, specs, saved.source, later, markdown) if deltas else ["no config in common"]
    speed = speed_deltas(saved, now)
    refused = bool(warning) and not forced
    heading = f"latency against saved run {saved.source}:" if in_run else f"latency: {saved.source} -> {now.source}"
    lines += [] if in_run else ["", heading]
    if refused:
        lines.append(SPEED_REFUSED.format(option=force_option))
    elif speed or not in_run:
        note = baseline_note(speed)
        lines += [note] if note else []
        lines += [heading] if in_run else []
        lines += speed_table(speed, saved.source, later, markdown) if speed else ["no timed case in common"]
    broken = [d.message(s, saved.source) for d in deltas for s in specs if s.broken_by(d)]
    return Comparison(lines, broken, refused)
