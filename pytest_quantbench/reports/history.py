"""The HTML report's history: given several runs (oldest first), each config's headline metric and speed-up
across them, with the runs' commits, machines and engines.

Speed-ups are drawn only across runs on the same hardware as the last run (same CPU, cores, instruction
sets and VNNI): a speed-up measured on another machine is a gap in the trend, never a point on it.
"""

from __future__ import annotations

from html import escape

from pytest_quantbench.reports import triage
from pytest_quantbench.reports.svg import sparkline
from pytest_quantbench.results.rows import headline_metric
from pytest_quantbench.results.run import Run


def same_hardware(runs: list[Run]) -> list[bool]:
    """Per run, whether its speed-ups compare with the last run's (`triage.HARDWARE`: the CPU, its cores and
    its int8 instructions)."""
    return [triage.same_hardware(r.machine, runs[-1].machine) for r in runs]


def section(runs: list[Run]) -> str:
    comparable = same_hardware(runs)
    head = "".join(f"<th>{escape(h)}</th>" for h in ("#", "run", "commit", "machine", "engines", "speed compared"))
    lines = []
    for i, (run, same) in enumerate(zip(runs, comparable, strict=True), 1):
        machine = run.machine
        cpu = f"{machine.cpu}, {machine.cpu_count or '?'} cores" if machine else "not recorded"
        engines = "; ".join(e.line for e in machine.engines) if machine else ""
        commit = str((run.commit or {}).get("id", ""))[:12]
        cells = [str(i), run.source, commit, cpu, engines, "yes" if same else "no: other hardware"]
        lines.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    runs_table = (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table></div>'
    )
    suites = [_suite_trend(runs, comparable, name, i) for i, name in enumerate(s.name for s in runs[-1].suites)]
    note = "Trends run oldest to newest; a gap is a run without that value (or, for speed, on other hardware)."
    return (
        f'<section id="history"><h2>History ({len(runs)} runs)</h2>{runs_table}<p class="note">{escape(note)}</p>'
        + _triage(triage.triage(runs[-2], runs[-1]))
        + "".join(suites)
        + "</section>"
    )


def _triage(found: triage.Triage) -> str:
    """What changed between the last two runs: underneath, then each config whose quantized graph, quality or
    speed changed (`reports.triage`)."""
    facts = "".join(f"<li>{escape(line)}</li>" for line in triage.summary_lines(found))
    rows = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in t.cells()) + "</tr>" for t in found.changed)
    head = "".join(f"<th>{escape(h)}</th>" for h in triage.HEADER)
    changed = (
        f'<div class="scroll"><table class="sortable" id="triage"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
        if rows
        else ""
    )
    title = f"What changed: {found.saved} -> {found.now}"
    return f'<div id="triage-section"><h3>{escape(title)}</h3><ul>{facts}</ul>{changed}</div>'


def _suite_trend(runs: list[Run], comparable: list[bool], name: str, index: int) -> str:
    last = runs[-1]
    suite = next(s for s in last.suites if s.name == name)
    metric = headline_metric(suite, last.rows(name))
    body = []
    for row in last.rows(name):
        values: list[float | None] = []
        speedups: list[float | None] = []
        for run, same in zip(runs, comparable, strict=True):
            then = run.row(name, row.id)
            measured = then.metric(metric) if then is not None and metric else None
            values.append(measured.quantized if measured else None)
            speeds = then.speedups if then is not None and same else []
            speedups.append(min(speeds) if speeds else None)
        body.append(
            "<tr>"
            + f"<td>{escape(row.id)}</td>"
            + f'<td class="num">{escape(_ends(values, "{:.4f}"))}</td><td>{sparkline(values, f"{row.id} {metric}")}</td>'
            + f'<td class="num">{escape(_ends(speedups, "x{:.2f}"))}</td><td>{sparkline(speedups, f"{row.id} speed-up")}</td>'
            + "</tr>"
        )
    header = ["config", f"{metric or 'metric'} (quantized), first -> last", "trend", "slowest speed-up", "trend"]
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return (
        f'<h3>{escape(name)}</h3><div class="scroll"><table class="sortable" id="history-{index}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _ends(values: list[float | None], fmt: str) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "-"
    return fmt.format(known[0]) if len(known) == 1 else f"{fmt.format(known[0])} -> {fmt.format(known[-1])}"
