"""The Markdown benchmark card of a run, in the format of optimum's benchmark cards (`shared/seeds/`).

Per suite: task and machine, fixed and benchmarked parameters, the non-time metrics (original and quantized
per metric, and the verdict), then one time table per batch size and input length: latency mean and
percentiles, throughput, original and quantized side by side, and the speed-up with the fp32 baseline it
is against (the config's own framework, or the suite's `baseline:`).
"""

from __future__ import annotations

from typing import Any

from pytest_quantbench.records import MachineFacts, MemoryStats, MetricResult
from pytest_quantbench.reports.table import table
from pytest_quantbench.results.run import Run, SuiteInfo, TimingRow

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


def _engines(run: Run, suite: SuiteInfo) -> str:
    """The line of each engine the suite's configs (and its `baseline:`) ran on, as the run's machine facts
    describe it; the bare `framework:` name where they do not."""
    names = [n for n in dict.fromkeys([*(suite.framework(c.id) for c in suite.configs), suite.baseline]) if n]
    lines = {e.name: e.line for e in run.machine.engines} if run.machine else {}
    return ", ".join(f"`{lines.get(name, name)}`" for name in names)


def _body(run: Run, suite: SuiteInfo, level: int) -> str:
    h = "#" * level
    samples = suite.num_eval_samples or "All dataset"
    lines = [
        f"**task**: `{suite.task}`  ",
        f"**Backend:** {_engines(run, suite)}  ",
        f"**Machine:** `{_machine(run.machine)}`  ",
        f"**Number of evaluation samples:** `{samples}`  ",
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
    lines += [f"{h} Evaluation", f"{h}# Non-time metrics", *_metrics_table(run, suite), "", f"{h}# Time metrics"]
    lines += _time_tables(run, suite)
    return "\n".join(lines) + "\n"


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
    return [f"`{_value(settings.get(k))}`" for k in suite.benchmarked] or [f"`{config_id}`"]


def _settings_header(suite: SuiteInfo) -> list[str]:
    return list(suite.benchmarked) or ["config"]


def _metrics_table(run: Run, suite: SuiteInfo) -> list[str]:
    """Original and quantized per metric (and per fidelity gate), the paired interval of each drop and its
    flips, the size ratio, and the verdict."""
    rows = run.accuracy_of(suite.name)
    if not rows:
        return ["Not evaluated in this run."]
    names = list(dict.fromkeys([*suite.metrics, *(n for r in rows.values() for n in r.metrics)]))
    paired = any(m.paired is not None for r in rows.values() for m in r.metrics.values())
    sized = any(r.size is not None for r in rows.values())
    header = _settings_header(suite)
    for m in names:
        header += ["", f"{m} (original)", f"{m} (quantized)"]
        if paired:
            header += [f"{m} drop CI", f"{m} flips (to wrong / to right)"]
    header += [*(["", "size (quantized / original)"] if sized else []), "", "verdict"]
    body = []
    for config in suite.configs:
        row = rows.get(config.id)
        if row is None:
            continue
        cells = _settings(suite, config.id)
        for name in names:
            metric = row.metric(name)
            cells += [SEPARATOR, *((f"{metric.original:.3f}", f"{metric.quantized:.3f}") if metric else ("-", "-"))]
            if paired:
                cells += _paired_cells(metric)
        if sized:
            cells += [SEPARATOR, f"{row.size.ratio:.3f}" if row.size else "-"]
        body.append([*cells, SEPARATOR, row.status])
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
    timings = run.timings_of(suite.name)
    if not timings:
        return ["Not timed in this run."]
    spec = suite.time
    warmup = f"{spec.warmup_rounds} warm-up round{'' if spec.warmup_rounds == 1 else 's'}"
    if spec.rounds:
        how = f"Time benchmarks were run for {spec.rounds} rounds per config, after {warmup}."
    else:
        how = (
            f"Time benchmarks ran, after {warmup}, until the mean was known to "
            f"±{100 * spec.target_ci:g}% (95% CI) or {spec.max_time_s:g} s of calls."
        )
    if any(t.paired_fp32 for t in timings):
        how += (
            " Each quantized round ran right after an original round on the same inputs: the original columns"
            " are those paired calls, the speed-up the median of the per-pair ratios."
        )
    if suite.baseline:
        how += (
            f" The original is {suite.baseline} fp32 for every config (`baseline: {suite.baseline}`); the non-time"
            " metrics compare each config with its own framework's fp32 model."
        )
    measured = [t.result.memory for t in timings if t.result is not None and t.result.memory is not None]
    if measured:
        how += (
            " Peak memory is the resident memory of a child process that loads the session (load) and runs the"
            " time benchmarks' inputs smallest first up to this shape (run), net of the"
            f" {measured[0].baseline_bytes / MB:.0f} MB or so that Python and onnxruntime hold before it."
        )
    lines = [how, ""]
    baselines = {(t.config_id, t.shape): t for t in timings if t.role == "fp32"}
    one = run.speedup_baseline(suite.name)  # named once in the header, else in each speed-up cell
    header = _settings_header(suite)
    for label, unit in (("latency_mean", "ms"), ("latency_p50", "ms"), ("latency_p90", "ms"), ("latency_p99", "ms")):
        header += ["", f"{label} (original, {unit})", f"{label} (quantized, {unit})"]
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
        batch_size, input_length = shape
        where = f"batch size = {batch_size}" + (f", input length = {input_length}" if input_length else "")
        body = []
        int8 = {t.config_id: t for t in timings if t.role == "int8" and t.shape == shape}
        for config in suite.configs:
            if config.id not in int8:
                continue
            quantized, baseline = int8[config.id], baselines.get((config.baseline_id, shape))
            row = _time_row(suite, quantized, quantized.paired_fp32 or baseline, named=one is None)
            body.append(row + (_memory_cells(quantized, baseline) if measured else []))
        lines += ["", f"Below, time metrics for {where}.", "", *table(header, body, markdown=True), ""]
    return lines + _speed_diagnoses(run, suite)


def _speed_diagnoses(run: Run, suite: SuiteInfo) -> list[str]:
    """Why the configs that are not faster are not: the cause and fix, and the op times behind them."""
    found = run.speed_diagnoses(suite.name)
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
    for t, d in found:
        times = ", ".join(f"{o.op_type} {o.original_ms:.2f} -> {o.quantized_ms:.2f}" for o in d.op_times[:5])
        speedup = f"x{t.speedup:.2f}" if t.speedup else "-"
        body.append(
            [
                *_settings(suite, t.config_id),
                SEPARATOR,
                t.shape_id,
                speedup,
                SEPARATOR,
                d.cause,
                d.fix,
                SEPARATOR,
                times or "-",
            ]
        )
    return ["Speed diagnosis (configs below x1.10):", "", *table(header, body, markdown=True), ""]


def _time_row(suite: SuiteInfo, quantized: TimingRow, original: TimingRow | None, named: bool) -> list[str]:
    """A config's row; `named`: the speed-up cell says its baseline (the suite's speed-ups have several)."""
    cells = _settings(suite, quantized.config_id)
    for field in ("mean_ms", "p50_ms", "p90_ms", "p99_ms", "throughput"):
        before = f"{getattr(original, field):.2f}" if original else "-"
        cells += [SEPARATOR, before, f"{getattr(quantized, field):.2f}"]
    slower = " SLOWER" if quantized.result is not None and quantized.result.slower else ""
    against = f" vs {quantized.baseline}" if named else ""
    return [*cells, SEPARATOR, f"x{quantized.speedup:.2f}{slower}{against}" if quantized.speedup else "-"]


def _memory_cells(quantized: TimingRow, baseline: TimingRow | None) -> list[str]:
    """Load and run peaks of both models in MB, and the run peaks' ratio; the original's from the int8 row, or
    else the fp32 baseline's row."""
    mine = quantized.result.memory if quantized.result else None
    fp32 = quantized.result.fp32_memory if quantized.result else None
    if fp32 is None and baseline is not None and baseline.result is not None:
        fp32 = baseline.result.memory

    def mb(stats: MemoryStats | None, field: str) -> str:
        return f"{getattr(stats, field) / MB:.1f}" if stats else "-"

    peaks = [mb(stats, f) for f in ("load_peak_bytes", "run_peak_bytes") for stats in (fp32, mine)]
    ratio = f"x{mine.run_peak_bytes / fp32.run_peak_bytes:.2f}" if mine and fp32 and fp32.run_peak_bytes else "-"
    return [SEPARATOR, *peaks, ratio]
