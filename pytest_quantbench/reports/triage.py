"""Regression triage of two runs: what changed underneath (engine versions, the machine) and, per config,
whether its quantized graph, its quality or its speed changed.

An upgrade is the most common silent regression of quantized models: a quantizer that stops quantizing a
layer, a fused kernel off by one step. So the triage names the causes beside the effects: the facts of both
machines that differ, then each config whose quantized node counts by op type differ ("12 MatMul no longer
quantized"), whose drop moved outside the saved run's paired interval of it, or whose speed-up moved outside
the saved run's interval of it. Speed is compared only on the same hardware (CPU, cores, instruction sets,
VNNI): across machines the triage says it is not compared. `quantbench compare` prints it as text or
Markdown, the HTML history shows it for its last two runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from pytest_quantbench.records import MachineFacts, QuantizationReport
from pytest_quantbench.reports.table import table
from pytest_quantbench.results.rows import ConfigRow
from pytest_quantbench.results.run import Run


class Moved(Enum):
    """Where a value of the later run lies against the earlier run's interval of it."""

    WITHIN = "within"
    BEYOND = "beyond"
    NO_INTERVAL = "moved, no interval saved"  # a value that changed, where the earlier run kept no interval


@dataclass(frozen=True)
class FactChange:
    """One fact underneath a run that differs between the two: an engine's version, the CPU, ..."""

    what: str
    saved: str
    now: str

    def line(self) -> str:
        return f"{self.what}: {self.saved} -> {self.now}"


@dataclass(frozen=True)
class GraphChange:
    """The quantized nodes of one float op type, in both runs' quantized graphs."""

    op_type: str
    saved: int
    now: int

    def line(self) -> str:
        if self.now == 0:
            return f"{self.saved} {self.op_type} no longer quantized"
        if self.saved == 0:
            return f"{self.now} {self.op_type} newly quantized"
        fewer = self.now < self.saved
        count = abs(self.saved - self.now)
        words = "no longer quantized" if fewer else "more quantized"
        return f"{count} {self.op_type} {words} ({self.saved} -> {self.now})"


def _moved(before: float, value: float, interval: tuple[float, float] | None) -> Moved:
    if interval is None:
        return Moved.WITHIN if abs(value - before) <= 1e-9 else Moved.NO_INTERVAL
    low, high = interval
    return Moved.WITHIN if low - 1e-12 <= value <= high + 1e-12 else Moved.BEYOND


@dataclass(frozen=True)
class QualityMove:
    """A metric's drop (quantized against fp32, in each run; > 0: worse) and the saved run's paired interval."""

    metric: str
    saved_drop: float
    now_drop: float
    interval: tuple[float, float] | None

    @property
    def moved(self) -> Moved:
        return _moved(self.saved_drop, self.now_drop, self.interval)

    def line(self) -> str:
        interval = f" [{self.interval[0]:+.3f}, {self.interval[1]:+.3f}]" if self.interval else ""
        return f"{self.metric} drop {self.saved_drop:+.3f} -> {self.now_drop:+.3f} ({self.moved.value}{interval})"


@dataclass(frozen=True)
class SpeedMove:
    """A config's speed-up at one shape in both runs, and the saved run's 95% interval of it."""

    shape: str
    saved: float
    now: float
    interval: tuple[float, float] | None

    @property
    def moved(self) -> Moved:
        return _moved(self.saved, self.now, self.interval)

    def line(self) -> str:
        interval = f" [x{self.interval[0]:.2f}, x{self.interval[1]:.2f}]" if self.interval else ""
        return f"speed-up at {self.shape} x{self.saved:.2f} -> x{self.now:.2f} ({self.moved.value}{interval})"


@dataclass(frozen=True)
class ConfigTriage:
    """What changed for one config present in both runs. `graph` is None when a run kept no quantization
    report for it (a run of older files, or a config neither evaluated nor timed with one)."""

    suite: str
    config_id: str
    graph: tuple[GraphChange, ...] | None
    quality: tuple[QualityMove, ...]
    speed: tuple[SpeedMove, ...]

    @property
    def graph_changed(self) -> bool:
        return bool(self.graph)

    @property
    def quality_moved(self) -> tuple[QualityMove, ...]:
        return tuple(q for q in self.quality if q.moved is not Moved.WITHIN)

    @property
    def speed_moved(self) -> tuple[SpeedMove, ...]:
        return tuple(s for s in self.speed if s.moved is not Moved.WITHIN)

    @property
    def changed(self) -> bool:
        return self.graph_changed or bool(self.quality_moved) or bool(self.speed_moved)

    def cells(self) -> list[str]:
        """Its quantized graph, quality and speed, each in a few words (a table row)."""
        graph = "not recorded" if self.graph is None else ("; ".join(g.line() for g in self.graph) or "same")
        quality = "; ".join(q.line() for q in self.quality_moved) or _steady(self.quality)
        speed = "; ".join(s.line() for s in self.speed_moved) or _steady(self.speed)
        return [self.suite, self.config_id, graph, quality, speed]


def _steady(values: tuple[QualityMove, ...] | tuple[SpeedMove, ...]) -> str:
    """What a table cell says of values none of which moved: '-' when there were none to compare."""
    if not values:
        return "-"
    return "within interval" if any(v.interval for v in values) else "same"


@dataclass(frozen=True)
class Triage:
    """Two runs side by side: the facts underneath that differ, whether speed is compared, every config's
    changes (configs present in both runs, matched by suite name and config id)."""

    saved: str
    now: str
    underneath: tuple[FactChange, ...]
    speed_compared: bool  # same hardware; False also when a run kept no machine facts
    configs: tuple[ConfigTriage, ...]
    # (suite, config id) with a result in one run only: it failed to run (a model an engine cannot load) or
    # was not selected in the other
    only_saved: tuple[tuple[str, str], ...] = ()
    only_now: tuple[tuple[str, str], ...] = ()

    @property
    def changed(self) -> tuple[ConfigTriage, ...]:
        return tuple(c for c in self.configs if c.changed)


# --- building ---------------------------------------------------------------------------------------------

# The machine facts that decide int8 kernels and speed, in the order the triage names them.
HARDWARE: tuple[tuple[str, Callable[[MachineFacts], str]], ...] = (
    ("CPU", lambda m: m.cpu),
    ("cores", lambda m: str(m.cpu_count or "?")),
    ("instructions", lambda m: ", ".join(m.instructions) or "none"),
    ("VNNI", lambda m: "yes" if m.vnni else "no"),
)
SOFTWARE: tuple[tuple[str, Callable[[MachineFacts], str]], ...] = (("Python", lambda m: m.python),)


def underneath(saved: MachineFacts | None, now: MachineFacts | None) -> tuple[FactChange, ...]:
    """The engines' versions and the machine facts that differ between two runs (engines first)."""
    if saved is None or now is None:
        return (FactChange("machine facts", "recorded" if saved else "not recorded",
                           "recorded" if now else "not recorded"),) if saved is not now else ()  # fmt: skip
    out = []
    for name in dict.fromkeys([e.name for e in saved.engines] + [e.name for e in now.engines]):
        old, new = saved.engine(name), now.engine(name)
        if (old.version if old else None) != (new.version if new else None):
            out.append(FactChange(name, old.version if old else "not used", new.version if new else "not used"))
    for what, read in SOFTWARE + HARDWARE:
        if read(saved) != read(now):
            out.append(FactChange(what, read(saved), read(now)))
    return tuple(out)


def same_hardware(saved: MachineFacts | None, now: MachineFacts | None) -> bool:
    return saved is not None and now is not None and all(read(saved) == read(now) for _, read in HARDWARE)


def _report(row: ConfigRow) -> QuantizationReport | None:
    """The config's quantization report: its accuracy case's, else one of its latency cases'."""
    if row.result is not None:
        return row.result.quantization
    return next((s.quantized.record.quantization for s in row.shapes if s.quantized.record.quantization), None)


def graph_changes(saved: ConfigRow, now: ConfigRow) -> tuple[GraphChange, ...] | None:
    old, new = _report(saved), _report(now)
    if old is None or new is None:
        return None
    ops = sorted(set(old.quantized_nodes) | set(new.quantized_nodes))
    found = [GraphChange(op, old.quantized_nodes.get(op, 0), new.quantized_nodes.get(op, 0)) for op in ops]
    return tuple(g for g in found if g.saved != g.now)


def quality_moves(saved: ConfigRow, now: ConfigRow) -> tuple[QualityMove, ...]:
    out = []
    for name, m in (now.metrics or {}).items():
        old = saved.metric(name)
        if old is None:
            continue
        interval = (old.paired.ci_low, old.paired.ci_high) if old.paired is not None else None
        out.append(QualityMove(name, old.drop, m.drop, interval))
    return tuple(out)


def speed_moves(saved: ConfigRow, now: ConfigRow) -> tuple[SpeedMove, ...]:
    old = {s.shape: s.quantized.record for s in saved.shapes if s.speedup is not None}
    out = []
    for shape in now.shapes:
        before = old.get(shape.shape)
        if before is None or shape.speedup is None or before.baseline != shape.quantized.record.baseline:
            continue  # a speed-up over another fp32 baseline is no change
        rel, s = before.speedup_ci95_rel, before.speedup or 0.0
        interval = (s * (1 - rel), s * (1 + rel)) if rel else None
        out.append(SpeedMove(shape.shape.id, s, shape.speedup, interval))
    return tuple(out)


def _results(run: Run, suites: set[str]) -> dict[tuple[str, str], ConfigRow]:
    return {(row.suite, row.id): row for suite in run.suites if suite.name in suites for row in run.rows(suite.name)}


def triage(saved: Run, now: Run) -> Triage:
    """The triage of the suites both runs hold (matched by name), configs matched by id."""
    compared = same_hardware(saved.machine, now.machine)
    suites = {s.name for s in saved.suites} & {s.name for s in now.suites}
    before, after = _results(saved, suites), _results(now, suites)
    configs = []
    for key, row in after.items():
        old = before.get(key)
        if old is not None:
            speed = speed_moves(old, row) if compared else ()
            configs.append(ConfigTriage(*key, graph_changes(old, row), quality_moves(old, row), speed))
    only_saved = tuple(k for k in before if k not in after)
    only_now = tuple(k for k in after if k not in before)
    facts = underneath(saved.machine, now.machine)
    return Triage(saved.source, now.source, facts, compared, tuple(configs), only_saved, only_now)


# --- rendering --------------------------------------------------------------------------------------------

HEADER = ["suite", "config", "quantized graph", "quality", "speed"]
NOT_COMPARED = "speed not compared: the runs ran on other hardware"


def summary_lines(found: Triage) -> list[str]:
    """What changed underneath and how many configs changed, one fact a line (text, HTML and Markdown)."""
    lines = [c.line() for c in found.underneath] or ["nothing recorded underneath changed (engines, machine)"]
    lines.append("speed compared: same hardware" if found.speed_compared else NOT_COMPARED)
    changed = found.changed
    lines.append(
        f"{len(changed)} of {len(found.configs)} configs changed: quantized graph, quality or speed beyond its interval"
    )
    for source, keys in ((found.saved, found.only_saved), (found.now, found.only_now)):
        if keys:
            names = ", ".join(f"{suite} {config}" for suite, config in keys)
            lines.append(f"{len(keys)} configs with results only in {source} (failed or not run in the other): {names}")
    return lines


def markdown_cell(text: str) -> str:
    """Text in Markdown: pipes escaped and markup shown as text (a config id is not HTML); arrows stay `->`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")


def render(found: Triage, markdown: bool = False) -> list[str]:
    """The triage as `quantbench compare` prints it: the facts underneath, then a table of the configs that
    changed (Markdown: a heading, bullets and a Markdown table)."""
    title = f"what changed: {found.saved} -> {found.now}"
    changed = [c.cells() for c in found.changed]
    if markdown:
        lines = [f"## {markdown_cell(title)}", "", *(f"- {markdown_cell(line)}" for line in summary_lines(found))]
        cells = [[markdown_cell(c) for c in row] for row in changed]
        return lines + (["", *table(HEADER, cells, markdown=True)] if changed else [])
    lines = [title, *(f"  {line}" for line in summary_lines(found))]
    return lines + ([f"  {line}" for line in table(HEADER, changed)] if changed else [])
