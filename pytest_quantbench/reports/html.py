"""The HTML report: one self-contained file (inline style, one small sorting script, charts as inline SVG) that
opens from disk with no network.

An overview (verdict counts, machine facts, engines, the baseline of each suite's speed-ups), then per suite a
sortable table of its configs and a chart of quality change against speed-up with both intervals and the
Pareto front, then per config its evidence: paired statistics, the diagnosis, size, memory and the speed
profile by op type. Given several runs (oldest first), the last is reported and a history follows. Every text
that comes from a run is escaped (`html.escape`) where it is placed.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from pytest_quantbench.records import ChangedAnswer, InputKind, MachineFacts, MetricResult, Verdict
from pytest_quantbench.reports import history
from pytest_quantbench.reports.html_page import page
from pytest_quantbench.reports.svg import ChartPoint, op_bars, tradeoff_chart
from pytest_quantbench.reports.terminal import change_interval, speed_cell
from pytest_quantbench.results.records import SuiteInfo
from pytest_quantbench.results.rows import ConfigRow, ShapeRow, headline_metric
from pytest_quantbench.results.run import Run

NOT_JUDGED = "none"  # the CSS class of a row no accuracy case judged in this run
OPS_SHOWN = 8


def render(runs: list[Run]) -> str:
    """The report of the last run, with the history of all of them when there are several (oldest first)."""
    run = runs[-1]
    parts = [f"<h1>quantbench report: {escape(run.source)}</h1>", _overview(run)]
    for index, suite in enumerate(run.suites):
        parts.append(_suite_section(run, suite, index))
    if len(runs) > 1:
        parts.append(history.section(runs))
    return page(f"quantbench: {run.source}", "\n".join(parts))


def verdict_class(row: ConfigRow) -> str:
    return row.result.verdict.value if row.result is not None else NOT_JUDGED


def _overview(run: Run) -> str:
    counts = Counter(verdict_class(r) for s in run.suites for r in run.rows(s.name))
    shown = [*(v.value for v in Verdict), NOT_JUDGED]
    spans = "".join(
        f'<span class="v {k}">{counts[k]} {escape(k if k != NOT_JUDGED else "not judged")}</span>'
        for k in shown
        if counts[k]
    )
    facts = _facts(run.machine) + _commit(run)
    baselines = [
        (s.name, f"{one} fp32" if (one := run.speedup_baseline(s.name)) else "each config's own framework's fp32")
        for s in run.suites
    ]
    return (
        f'<section id="overview"><h2>Overview</h2><p class="counts">{spans or "no config ran"}</p>'
        f"{_dl(facts)}<h3>Speed-ups are against</h3>{_dl(baselines)}</section>"
    )


def _facts(machine: MachineFacts | None) -> list[tuple[str, str]]:
    if machine is None:
        return [("machine", "not recorded")]
    found = [
        ("CPU", f"{machine.cpu}, {machine.cpu_count or '?'} cores"),
        ("instructions", ", ".join(machine.instructions) or "no AVX2"),
        ("VNNI", "yes" if machine.vnni else "no"),
        ("Python", machine.python),
    ]
    return found + [(f"engine {e.name}", e.line) for e in machine.engines]


def _commit(run: Run) -> list[tuple[str, str]]:
    commit = run.commit or {}
    words = [str(commit[k]) for k in ("id", "branch", "time") if commit.get(k)]
    return [("commit", " ".join(words))] if words else []


def _dl(items: list[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items) + "</dl>"


def _suite_section(run: Run, suite: SuiteInfo, index: int) -> str:
    rows = run.rows(suite.name)
    metric = headline_metric(suite, rows)
    head = (
        f'<section class="suite" id="suite-{index}"><h2>{escape(suite.name)}</h2>'
        f'<p class="muted">{escape(suite.task)} · {escape(suite.model)} · {len(rows)} configs'
        f"{' · headline metric ' + escape(metric) if metric else ''}</p>"
    )
    if not rows:
        return head + "<p>Nothing of this suite ran.</p></section>"
    return "\n".join(
        [head, _table(run, suite, rows, metric, f"table-{index}"), _chart(run, suite, rows, metric, index),
         "<h3>Configs</h3>", *(_case(row, metric) for row in rows), "</section>"]
    )  # fmt: skip


def _table(run: Run, suite: SuiteInfo, rows: list[ConfigRow], metric: str | None, table_id: str) -> str:
    one = run.speedup_baseline(suite.name)
    header = [
        "#", "config", "verdict", f"{metric or 'metric'} change [interval]",
        f"speed-up vs {one} fp32" if one else "speed-up", "size int8 / fp32", "memory int8 / fp32",
    ]  # fmt: skip
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in header)
    numbers = {c.id: n for n, c in enumerate(suite.configs, 1)}  # as the chart labels its points
    body = "".join(_table_row(row, metric, numbers.get(row.id, 0)) for row in rows)
    note = (
        "The interval is the paired bootstrap interval of the change; up is better for a higher-is-better metric. "
        "Click a column to sort it."
    )
    return (
        f'<div class="scroll"><table class="sortable" id="{table_id}"><thead><tr>{head}</tr></thead>'
        f'<tbody>{body}</tbody></table></div><p class="note">{escape(note)}</p>'
    )


def _cell(text: str, sort: float | str | None, css: str = "") -> str:
    value = "" if sort is None else (f"{sort:.6g}" if isinstance(sort, float) else sort)
    cls = f' class="{css}"' if css else ""
    return f'<td{cls} data-v="{escape(value)}">{escape(text)}</td>'


def _table_row(row: ConfigRow, metric_name: str | None, number: int) -> str:
    m = row.metric(metric_name) if metric_name else None
    size = row.result.size if row.result is not None else None
    peak = row.peak_memory
    memory = peak.memory_ratio if peak is not None else None
    cells = [
        _cell(str(number), float(number), "num"),
        f'<td data-v="{escape(row.id)}"><a href="#{escape(_anchor(row))}">{escape(row.id)}</a></td>',
        _cell(row.verdict, row.verdict, f"v {verdict_class(row)}"),
        _cell(_change_text(m) + (" (cached)" if row.cached and m else ""), -m.drop if m else None, "num"),
        _cell(speed_cell(row), min(row.speedups) if row.speedups else None, "num"),
        _cell(f"x{size.ratio:.2f}" if size else "-", size.ratio if size else None, "num"),
        _cell(f"x{memory:.2f}" if memory is not None else "-", memory, "num"),
    ]
    return f"<tr>{''.join(cells)}</tr>"


def _change_text(m: MetricResult | None) -> str:
    if m is None:
        return "not evaluated"
    interval = change_interval(m)
    text = f"{m.quantized - m.original:+.3f}"
    return text + (f" [{interval[0]:+.3f}, {interval[1]:+.3f}]" if interval else "")


def _anchor(row: ConfigRow) -> str:
    return f"case-{row.suite}-{row.id}".replace(" ", "_")


def _chart(run: Run, suite: SuiteInfo, rows: list[ConfigRow], metric: str | None, index: int) -> str:
    shapes = run.shapes(suite.name)
    if metric is None or not shapes:
        why = "not evaluated in this run" if metric is None else "not timed in this run"
        return f'<p class="note" id="chart-{index}">No chart: {why}.</p>'
    shape = shapes[0]
    numbers = {c.id: n for n, c in enumerate(suite.configs, 1)}
    found = []
    for row in rows:
        m, at = row.metric(metric), next((s for s in row.shapes if s.shape == shape), None)
        if m is not None and at is not None and at.speedup is not None:
            found.append(_chart_point(row, m, at, numbers.get(row.id, 0)))
    if not found:
        return f'<p class="note" id="chart-{index}">No chart: no config was both evaluated and timed.</p>'
    x_label = f"speed-up vs fp32 at {shape.id} (right is faster)"
    y_label = f"{metric} change (up is better)"
    legend = "".join(
        f'<span><i style="background:{colour}"></i>{escape(word)}</span>'
        for word, colour in (("passes", "#0969da"), ("fails or collapses", "#cf222e"), ("inconclusive", "#bf8700"),
                             ("not judged in this run", "#8c959f"))
    )  # fmt: skip
    legend += '<span><i class="ring-key"></i>ringed, joined: the Pareto front</span>'
    note = "Whiskers: the speed-up's 95% interval and the change's paired interval. Hover a point for its config."
    return (
        f'<figure id="chart-{index}">{tradeoff_chart(found, x_label, y_label, f"svg-{index}")}'
        f'<figcaption class="legend">{legend}</figcaption><p class="note">{escape(note)}</p></figure>'
    )


def _chart_point(row: ConfigRow, m: MetricResult, at: ShapeRow, number: int) -> ChartPoint:
    speedup, rel = at.speedup or 0.0, at.quantized.record.speedup_ci95_rel
    paired = m.paired
    title = f"{number}: {row.id} ({row.verdict}) {m.name} {_change_text(m)}, x{speedup:.2f}"
    return ChartPoint(
        label=str(number),
        title=title,
        speedup=speedup,
        speedup_interval=(speedup * (1 - rel), speedup * (1 + rel)) if rel else None,
        change=-m.drop,
        change_interval=(-paired.ci_high, -paired.ci_low) if paired else None,
        kind=verdict_class(row),
    )


def _case(row: ConfigRow, metric: str | None) -> str:
    items = [f"{m.name}: {m.original:.4f} -> {m.quantized:.4f}" + (f"; {m.direction.worse_word} {m.paired.describe()}" if m.paired else "")
             for m in (row.metrics or {}).values()]  # fmt: skip
    result = row.result
    if result is not None:
        items += [f"verdict: {result.line}"] if result.line else []
        items += [f"diagnosis: {result.diagnosis.line}"] if result.diagnosis is not None else []
        nodes = ", ".join(f"{n} {op}" for op, n in sorted(result.quantization.quantized_nodes.items()))
        items.append(f"quantized nodes: {nodes or 'none'}")
        widths = result.quantization.weight_bits
        items += ["weights: " + ", ".join(f"{n} MatMuls at {b} bits" for b, n in widths.items())] if widths else []
        reverted = result.quantization.reverted_nodes
        items += [f"reverted to fp32 by accuracy control: {', '.join(reverted)}"] if reverted else []
        items += [f"size: x{result.size.ratio:.2f} of fp32"] if result.size else []
    peak = row.peak_memory
    if peak is not None and peak.memory_ratio is not None:
        items.append(f"memory: run peak x{peak.memory_ratio:.2f} of fp32 at {peak.shape.id}")
    items += [f"speed-up at {s.shape.id}: x{s.speedup:.2f}" for s in row.shapes if s.speedup is not None]
    profile = ""
    if (found := row.speed_diagnosis) is not None:
        shape, diagnosis = found
        items.append(f"why not faster (at {shape.shape.id}): {diagnosis.line}")
        ops = [(o.op_type, o.original_ms, o.quantized_ms) for o in diagnosis.op_times[:OPS_SHOWN]]
        if ops:
            profile = f'<p class="note">Time per call by op type (grey fp32, blue int8):</p>{op_bars(ops)}'
    lis = "".join(f"<li>{escape(i)}</li>" for i in items)
    profile += _changed_answers(result.changed_answers) if result is not None else ""
    headline = row.metric(metric) if metric else None
    brief = f"{_change_text(headline)} · {speed_cell(row)}" if headline else speed_cell(row)
    summary = (
        f'{escape(row.id)} <span class="v {verdict_class(row)}">{escape(row.verdict)}</span> '
        f'<span class="muted">{escape(brief)}</span>'
    )
    return f'<details id="{escape(_anchor(row))}"><summary>{summary}</summary><ul>{lis}</ul>{profile}</details>'


DATA_URI = "data:image/png;base64,"  # the only images a report inlines: the tasks' thumbnails


def _changed_answers(answers: tuple[ChangedAnswer, ...]) -> str:
    """The inputs that changed answer, with the reference and both models' answers (a thumbnail for an image)."""
    if not answers:
        return ""

    def shown(a: ChangedAnswer) -> str:
        if a.kind is InputKind.IMAGE and a.input.startswith(DATA_URI):
            return f'<img class="thumb" alt="input {a.index}" src="{escape(a.input)}">'
        return escape(a.input)

    rows = "".join(
        f'<tr><td>{a.index}</td><td class="input">{shown(a)}</td><td>{escape(a.reference or "-")}</td>'
        f"<td>{escape(a.original)}</td><td>{escape(a.quantized)}</td></tr>"
        for a in answers
    )
    head = "".join(f"<th>{h}</th>" for h in ("#", "input", "reference", "fp32", "quantized"))
    return (
        f'<p class="note">Inputs that changed answer ({len(answers)} shown, those made wrong first):</p>'
        f'<div class="scroll"><table class="changed"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
    )
