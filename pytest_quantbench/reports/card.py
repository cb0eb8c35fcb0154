"""The Markdown benchmark card of a run, in the format of optimum's benchmark cards (`shared/seeds/`).

Per suite: task and machine, fixed and benchmarked parameters, the non-time metrics (original and quantized
per metric, and the verdict), then one time table per batch size and input length: latency mean and
percentiles, throughput, original and quantized side by side, and the speed-up with the fp32 baseline it
is against (the config's own framework, or the suite's `baseline:`).
"""

from __future__ import annotations

from typing import Any

from pytest_quantbench.records import LatencyStats, MachineFacts, MemoryStats, MetricResult, Phase
from pytest_quantbench.reports.table import table
from pytest_quantbench.results.records import SuiteInfo
from pytest_quantbench.results.rows import ConfigRow, ShapeRow
from pytest_quantbench.results.run import Run
from pytest_quantbench.verdicts.speed import SLOW

SEPARATOR = "\\|"  # the seeds' empty column between groups of columns
MB = 1e6
MEMORY_HEADER = [
    "", "load peak (original, MB)", "load peak (quantized, MB)", "run peak (original, MB)", "run peak (quantized, MB)",
    "run peak (quantized / original)",
]  # fmt: skip


def render(run: Run) -> str:
    """One card; a run of several suites gets one section per suite, headed by the suite's name."""
    if len(run.suites) == 1:
        return _front_matter(run.suites[0]) + _body(run, run.suites[0], level=1)
    return "\n".join(f"# {s.name}\n\n" + _body(run, s, level=2) for s in run.suites)


def _front_matter(suite: SuiteInfo) -> str:
    lines = ["---", f"pipeline_tag: {suite.task}", "datasets:", f"- {suite.dataset_path}"]
    metrics = ["metrics:", *(f"- {m}" for m in suite.metrics)] if suite.metrics else ["metrics: []"]
    return "\n".join([*lines, *metrics, "---", "", ""])


def _body(run: Run, suite: SuiteInfo, level: int) -> str:
    h = "#" * level
    samples = suite.num_eval_samples or "All dataset"
    lines = [
        f"**task**: `{suite.task}`  ",
        *_engine_lines(run, suite),
        f"**Machine:** `{_machine(run.machine)}`  ",
        f"**Number of evaluation samples:** `{samples}`  ",
        *([f"**Model read as:** {suite.reading}  "] if suite.reading else []),
        *([] if suite.metrics else ["**References:** none: gated on fidelity to the original model alone  "]),
        "",
        "Fixed parameters:",
        *_bullets({"model_name_or_path": suite.model, "dataset": suite.dataset, **suite.fixed}),
        "",
    ]
    if suite.benchmarked:
        lines += ["Benchmarked parameters:"]
        lines += [f"* **{k}**: " + ",  ".join(f"`{_value(v)}`" for v in vs) for k, vs in suite.benchmarked.items()]
        lines += [""]
    lines += [f"{h} Evaluation", f"{h}# Non-time metrics", *_metrics_table(run, suite), "", *_reverted(run, suite)]
    lines += _diagnosed(run, suite)
    lines += [f"{h}# Time metrics", *_time_tables(run, suite)]
    return "\n".join(lines) + "\n"


def _reverted(run: Run, suite: SuiteInfo) -> list[str]:
    """The nodes an accuracy-controlled quantizer put back in fp32, per config: what the gate's pass cost."""
    found = [
        (row.id, row.result.quantization.reverted_nodes)
        for row in run.rows(suite.name)
        if row.result is not None and row.result.quantization.reverted_nodes
    ]
    if not found:
        return []
    lines = ["Reverted to fp32 by accuracy control:"]
    lines += [f"* `{cid}`: " + ", ".join(f"`{n}`" for n in nodes) for cid, nodes in found]
    return [*lines, ""]


def _diagnosed(run: Run, suite: SuiteInfo) -> list[str]:
    """Each diagnosed config's cause and fix, as its failure line ends (the terminal shows them with -v only)."""
    found = [
        (row.id, row.result.diagnosis.line)
        for row in run.rows(suite.name)
        if row.result is not None and row.result.diagnosis is not None
    ]
    if not found:
        return []
    return ["Accuracy diagnosis:", *(f"* `{cid}`: `{line}`" for cid, line in found), ""]


def _engine_lines(run: Run, suite: SuiteInfo) -> list[str]:
    """The engine line of each backend the suite's configs and baseline use, as the backend words it
    (`records.EngineInfo`); a run that did not record its engines names the backend alone."""
    engines = {e.name: e for e in (run.machine.engines if run.machine else ())}
    names = [suite.framework(c.id) for c in suite.configs] + ([suite.baseline] if suite.baseline else [])
    return [f"**Backend:** `{engines[n].line if n in engines else n}`  " for n in dict.fromkeys(names)]


def _machine(facts: MachineFacts | None) -> str:
    if facts is None:
        return "unknown"
    flags = ", ".join(facts.instructions or ["no AVX2"])
    return f"{facts.cpu}, {facts.cpu_count} cores, {flags}, VNNI: {'yes' if facts.vnni else 'no'}"


def _value(value: Any) -> str:
    """As the seeds print values: strings bare, everything else as Python writes it."""
    return value if isinstance(value, str) else repr(value)


def _bullets(values: dict[str, Any], indent: str = "") -> list[str]:
    lines = []
    for key, value in values.items():
        if isinstance(value, dict) and value:
            lines += [f"{indent}* **{key}**:", *_bullets(value, indent + "    ")]
        else:
            lines.append(f"{indent}* **{key}**: `{_value(value)}`")
    return lines


def _settings(suite: SuiteInfo, config_id: str) -> list[str]:
    config = suite.config(config_id)
    settings = config.settings if config else {}
    # a setting another grid of a list benchmarks (not this config's): "-"
    return [f"`{_value(settings[k])}`" if k in settings else "-" for k in suite.benchmarked] or [f"`{config_id}`"]


def _settings_header(suite: SuiteInfo) -> list[str]:
    return list(suite.benchmarked) or ["config"]


def _metrics_table(run: Run, suite: SuiteInfo) -> list[str]:
    """Original and quantized per metric (and per fidelity gate), the paired interval of each drop and its
    flips, the size ratio, and the verdict."""
    rows = [r for r in run.rows(suite.name) if r.metrics]
    if not rows:
        return ["Not evaluated in this run."]
    metrics = [m for r in rows for m in (r.metrics or {}).values()]
    names = list(dict.fromkeys([*suite.metrics, *(m.name for m in metrics)]))
    paired = any(m.paired is not None for m in metrics)
    sized = any(r.result is not None and r.result.size is not None for r in rows)
    header = _settings_header(suite)
    for m in names:
        header += ["", f"{m} (original)", f"{m} (quantized)"]
        if paired:
            header += [f"{m} drop CI", f"{m} flips (to wrong / to right)"]
    header += [*(["", "size (quantized / original)"] if sized else []), "", "verdict"]
    body = []
    for row in rows:
        cells = _settings(suite, row.id)
        for name in names:
            metric = row.metric(name)
            cells += [SEPARATOR, *((f"{metric.original:.3f}", f"{metric.quantized:.3f}") if metric else ("-", "-"))]
            if paired:
                cells += _paired_cells(metric)
        if sized:
            size = row.result.size if row.result is not None else None
            cells += [SEPARATOR, f"{size.ratio:.3f}" if size else "-"]
        body.append([*cells, SEPARATOR, row.verdict + (" (cached scores)" if row.cached else "")])
    return table(header, body, markdown=True)


def _paired_cells(metric: MetricResult | None) -> list[str]:
    if metric is None or metric.paired is None:
        return ["-", "-"]
    p = metric.paired
    return [
        f"[{p.ci_low:+.3f}, {p.ci_high:+.3f}] ({100 * p.confidence:g}%)",
        f"{p.flips_to_wrong} / {p.flips_to_right} (McNemar p={p.mcnemar_p:.2g})" if p.flipped else "-",
    ]


def _time_tables(run: Run, suite: SuiteInfo) -> list[str]:
    rows = [r for r in run.rows(suite.name) if r.shapes]
    if not rows:
        return ["Not timed in this run."]
    shapes = [s for r in rows for s in r.shapes]
    measured = [s.quantized.record.memory for s in shapes if s.quantized.record.memory is not None]
    lines = [_how_timed(suite, paired=any(s.quantized.record.paired_fp32 for s in shapes), memory=measured), ""]
    one = run.speedup_baseline(suite.name)  # named once in the header, else in each speed-up cell
    header = _settings_header(suite)
    for label in ("latency_mean", "latency_p50", "latency_p90", "latency_p99"):
        header += ["", f"{label} (original, ms)", f"{label} (quantized, ms)"]
    header += [
        "",
        "throughput (original, /s)",
        "throughput (quantized, /s)",
        "",
        f"speed-up vs fp32 ({one})" if one else "speed-up",
    ]
    if measured:
        header += MEMORY_HEADER
    for shape in run.shapes(suite.name):
        length = shape.phase.length_name if shape.phase is not None else "input length"
        where = f"batch size = {shape.batch_size}" + (
            f", {length} = {shape.input_length}" if shape.input_length else ""
        )
        where = where if shape.phase is None else f"{shape.phase.value}, {where}"
        at = [(row, s) for row in rows for s in row.shapes if s.shape == shape]
        body = [_time_row(suite, row, s, named=one is None) + (_memory_cells(s) if measured else []) for row, s in at]
        lines += ["", f"Below, time metrics for {where}.", "", *table(header, body, markdown=True), ""]
    return lines + _speed_diagnoses(suite, rows)


def _how_timed(suite: SuiteInfo, paired: bool, memory: list[MemoryStats]) -> str:
    """The paragraph above the time tables: rounds, pairing, the baseline and how memory was measured."""
    spec = suite.time
    warmup = f"{spec.warmup_rounds} warm-up round{'' if spec.warmup_rounds == 1 else 's'}"
    if spec.rounds:
        how = f"Time benchmarks were run for {spec.rounds} rounds per config, after {warmup}."
    else:
        how = (
            f"Time benchmarks ran, after {warmup}, until the mean was known to "
            f"±{100 * spec.target_ci:g}% (95% CI) or {spec.max_time_s:g} s of calls."
        )
    if paired:
        how += (
            " Each quantized round ran right after an original round on the same inputs: the original columns"
            " are those paired calls, the speed-up the median of the per-pair ratios."
        )
    if suite.baseline:
        how += (
            f" The original is {suite.baseline} fp32 for every config (`baseline: {suite.baseline}`); the non-time"
            " metrics compare each config with its own framework's fp32 model."
        )
    if memory:
        phased = any(m.shape.partition("-")[0] in PHASE_WORDS for m in memory)
        how += (
            " Peak memory is the resident memory of a child process that loads the session (load) and runs the"
            f" {RUN_ORDER[phased]} up to this shape (run), net of the"
            f" {memory[0].baseline_bytes / MB:.0f} MB or so that Python and onnxruntime hold before it."
        )
    return how


PHASE_WORDS = {phase.value for phase in Phase}  # how a decoder's memory shape id begins (`decode-bs1-ctx32`)
# what a run peak includes (`_how_timed`), by whether it is a decoder's phases' (`measure.phases.memory_steps`)
RUN_ORDER = {
    False: "time benchmarks' inputs smallest first",
    True: "phases in the order decode, prefill, generate (a generation: its prompt, then its loop's last and"
    " largest step)",
}


def _speed_diagnoses(suite: SuiteInfo, rows: list[ConfigRow]) -> list[str]:
    """Why the configs that are not faster are not: the cause and fix, and the op times behind them."""
    found = [row.speed_diagnosis for row in rows if row.speed_diagnosis is not None]
    if not found:
        return []
    header = [
        *_settings_header(suite),
        "",
        "shape",
        "speed-up",
        "",
        "cause",
        "fix",
        "",
        "op times (ms/call, original -> quantized)",
    ]
    body = []
    for shape, d in found:
        times = ", ".join(f"{o.op_type} {o.original_ms:.2f} -> {o.quantized_ms:.2f}" for o in d.op_times[:5])
        speedup = f"x{shape.speedup:.2f}" if shape.speedup else "-"
        cells = [SEPARATOR, shape.shape.id, speedup, SEPARATOR, d.cause, d.fix, SEPARATOR, times or "-"]
        body.append([*_settings(suite, shape.quantized.record.config_id), *cells])
    return [f"Speed diagnosis (configs below x{SLOW:.2f}):", "", *table(header, body, markdown=True), ""]


def _time_row(suite: SuiteInfo, row: ConfigRow, at: ShapeRow, named: bool) -> list[str]:
    """A config's row at one shape; `named`: the speed-up cell says its baseline (the suite's speed-ups have
    several)."""
    quantized, original = at.quantized.record, at.original
    cells = _settings(suite, row.id)
    for field in ("mean_ms", "p50_ms", "p90_ms", "p99_ms"):
        cells += [SEPARATOR, _ms(original, field), _ms(quantized.latency, field)]
    throughput = f"{quantized.batch_size / original.mean_ms * 1e3:.2f}" if original else "-"
    cells += [SEPARATOR, throughput, f"{quantized.samples_per_s or 0.0:.2f}"]
    slower = " SLOWER" if quantized.slower else ""
    against = f" vs {quantized.baseline}" if named else ""
    return [*cells, SEPARATOR, f"x{at.speedup:.2f}{slower}{against}" if at.speedup else "-"]


def _ms(stats: LatencyStats | None, field: str) -> str:
    return f"{getattr(stats, field):.2f}" if stats else "-"


def _memory_cells(at: ShapeRow) -> list[str]:
    """Load and run peaks of both models in MB, and the run peaks' ratio."""
    mine, fp32 = at.quantized.record.memory, at.original_memory

    def mb(stats: MemoryStats | None, field: str) -> str:
        return f"{getattr(stats, field) / MB:.1f}" if stats else "-"

    peaks = [mb(stats, f) for f in ("load_peak_bytes", "run_peak_bytes") for stats in (fp32, mine)]
    return [SEPARATOR, *peaks, f"x{at.memory_ratio:.2f}" if at.memory_ratio is not None else "-"]
