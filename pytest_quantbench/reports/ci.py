"""What CI pages show without plugins: a GitHub Actions job summary (Markdown appended to the file
`GITHUB_STEP_SUMMARY` names) and JUnit XML properties per case.

The summary is compact: the verdict counts, the headline table (one row per config, as the terminal's), and
each failure with its one-line cause, kept under GitHub's 1 MiB per step with whatever the file already holds.
Properties are flat `quantbench.*` names with plain numbers, so a CI page can show and chart them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from pytest_quantbench.records import CaseResult, MetricResult, TimingResult, Verdict
from pytest_quantbench.reports.terminal import change_interval, headline_change, speed_cell
from pytest_quantbench.results.rows import ConfigRow, headline_metric
from pytest_quantbench.results.run import Run

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
LIMIT_BYTES = 1024 * 1024  # GitHub's limit on one step's summary
PREFIX = "quantbench."
NOT_JUDGED = "not judged"


def markdown_cell(text: str) -> str:
    """A table cell: pipes escaped, and markup shown as text (a config id is not HTML)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def step_summary(run: Run, room: int = LIMIT_BYTES) -> str:
    """The summary within `room` bytes: the counts and failures always, the table's rows as far as they fit."""
    rows = [(s.name, row, headline_metric(s, run.rows(s.name))) for s in run.suites for row in run.rows(s.name)]
    counts = Counter(row.result.verdict.value if row.result else NOT_JUDGED for _, row, _ in rows)
    found = [f"**{counts[v]}** {v}" for v in [*(v.value for v in Verdict), NOT_JUDGED] if counts[v]]
    head = ["## quantbench", "", " · ".join(found) or "No config ran.", ""]
    failures = [f"- {markdown_cell(f'{suite} {row.id}: {cause}')}" for suite, row, _ in rows if (cause := _cause(row))]
    failed = ["### Failures", "", *failures, ""] if failures else []
    header = ["suite", "config", "verdict", "change [interval]", "speed-up"]
    body = [
        [markdown_cell(c) for c in (suite, row.id, row.verdict, headline_change(row.metric(m) if m else None), speed_cell(row))]
        for suite, row, m in rows
    ]  # fmt: skip
    return _within(head, body, header, failed, room)


def _within(head: list[str], body: list[list[str]], header: list[str], failed: list[str], room: int) -> str:
    """The summary with as many table rows as fit in `room` bytes (the whole table when it fits)."""
    shown = len(body)
    while True:
        rows = _markdown_table(header, body[:shown]) if body[:shown] else []
        left = [f"\n{len(body) - shown} more configs: see the card or the HTML report."] if shown < len(body) else []
        text = "\n".join([*head, *failed, *rows, *left]) + "\n\n"
        if len(text.encode()) <= room or shown == 0:
            return text if len(text.encode()) <= room else text.encode()[:room].decode(errors="ignore")
        shown = max(0, min(shown - 1, shown * room // len(text.encode())))


def _markdown_table(header: list[str], body: list[list[str]]) -> list[str]:
    """Unpadded (the card's `table` centres its cells; here every byte counts against the limit)."""
    return ["| " + " | ".join(cells) + " |" for cells in [header, ["---"] * len(header), *body]]


def _cause(row: ConfigRow) -> str | None:
    """A failing config's one-line cause (the gate's verdict line, then the diagnosis), None when it passed."""
    result = row.result
    if result is None or result.passed:
        return None
    words = [result.line or result.status]
    words += [result.diagnosis.line] if result.diagnosis is not None else []
    return "; ".join(words)


# --- JUnit XML properties ---------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:.6g}"


def _metric_properties(m: MetricResult) -> Iterator[tuple[str, str]]:
    name = f"{PREFIX}{m.name}"
    yield f"{name}.original", _number(m.original)
    yield f"{name}.quantized", _number(m.quantized)
    yield f"{name}.change", _number(m.quantized - m.original)
    interval = change_interval(m)
    if interval is not None and m.paired is not None:
        yield f"{name}.change_low", _number(interval[0])
        yield f"{name}.change_high", _number(interval[1])
        yield f"{name}.confidence", _number(m.paired.confidence)


def case_properties(result: CaseResult) -> list[tuple[str, str]]:
    """An accuracy case's properties: its verdict, each metric's scores, change and the change's interval."""
    found = [(f"{PREFIX}verdict", result.verdict.value)]
    for m in result.metrics.values():
        found += list(_metric_properties(m))
    if result.size is not None:
        found.append((f"{PREFIX}size_ratio", _number(result.size.ratio)))
    return found


def timing_properties(result: TimingResult) -> list[tuple[str, str]]:
    """A latency case's properties: mean latency, and for a quantized model the speed-up with its interval."""
    found = []
    if result.latency is not None:
        found.append((f"{PREFIX}latency_mean_ms", _number(result.latency.mean_ms)))
    if result.speedup is not None:
        found.append((f"{PREFIX}speedup", _number(result.speedup)))
        if result.speedup_ci95_rel is not None:
            rel = result.speedup_ci95_rel
            found += [(f"{PREFIX}speedup_low", _number(result.speedup * (1 - rel))),
                      (f"{PREFIX}speedup_high", _number(result.speedup * (1 + rel)))]  # fmt: skip
    return found
