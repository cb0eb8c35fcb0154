"""The end-of-run summary: one line per config within the terminal's width (at most 120 columns), with the
speed-up and the verdict of every row visible; long ids shortened readably; today's detail under `-v`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from synthetic_runs import machine, suite_run

from pytest_quantbench.records import (
    CaseResult,
    Direction,
    LatencyStats,
    MetricResult,
    PairedStats,
    QuantizationReport,
    Role,
    TimingResult,
)
from pytest_quantbench.reports import terminal
from pytest_quantbench.reports.shorten import ELLIPSIS, SEPARATORS, shorten
from pytest_quantbench.results.records import TimedCase, suite_info
from pytest_quantbench.results.run import Run
from pytest_quantbench.suite import load_suite

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"
MACHINE = machine("AMD EPYC", "1.23.2")
# (passed, collapse, inconclusive, quantized nothing): every verdict the shipped suites can show, the longest
# ones included (`INCONCLUSIVE (passed)`, `PASS (quantized nothing)`; `expect:` adds ` (expected)` to the failure it foresaw)
OUTCOMES = [
    (True, False, False, False), (False, False, False, False), (False, False, True, False),
    (True, False, True, False), (False, True, False, False), (True, False, False, True),
]  # fmt: skip
SPEEDUPS = [0.87, 2.41, 1.93]


def benchmarks_run() -> Run:
    """Every config of the shipped suites (`pytest benchmarks`), with paired intervals, speed-ups at every
    shape (some slower than fp32) and every kind of verdict: the rows of the 442-column summary of old."""
    suites, accuracy, timings = [], [], []
    for n, path in enumerate(sorted(BENCHMARKS.glob("*.suite.yaml"))):
        suite = load_suite(path)
        suites.append(suite_info(suite))
        for i, case in enumerate(suite.cases):
            passed, collapse, inconclusive, nothing = OUTCOMES[(n + i) % len(OUTCOMES)]
            nothing = nothing and not case.expect  # a known failure quantized something: fp32 itself cannot fail
            paired = PairedStats("m", 0.025, 0.011, 0.039, 0.95, 31, 6, 0.0001, 872)
            gated = suite.metrics or tuple(name for name, _ in case.thresholds.fidelity)  # label-free: fidelity
            metrics = {m: MetricResult(m, 0.912, 0.887, 0.5, paired) for m in gated}
            report = QuantizationReport({}, 0 if nothing else 8, quantized_nothing=nothing)
            accuracy.append(
                CaseResult(
                    suite.name, case.id, metrics, passed, collapse, report, case.expect, inconclusive=inconclusive
                )
            )
            for k, (batch_size, length) in enumerate(suite.shapes):
                stats = LatencyStats(3.2, 3.1, 3.5, 4.0, 100, 0.01)
                common = {
                    "suite": suite.name, "task": suite.task, "model": "m", "batch_size": batch_size,
                    "input_length": length, "intra_op_num_threads": 1, "machine": MACHINE, "latency": stats,
                    "baseline": case.baseline,
                }  # fmt: skip
                speedup = SPEEDUPS[(i + k) % len(SPEEDUPS)]
                quantized = TimingResult(
                    role=Role.QUANTIZED, config_id=case.id, config={}, paired_fp32=stats, speedup=speedup,
                    speedup_ci95_rel=0.02, **common,
                )  # fmt: skip
                original = TimingResult(role=Role.ORIGINAL, config_id=case.baseline_id, config={}, **common)
                name = f"{batch_size}-{length}"
                framework = case.config.framework
                timings += [TimedCase(f"int8-{case.id}-{name}", quantized, framework)]
                timings += [TimedCase(f"{case.baseline_id}-{name}-{i}", original, framework)]
    return Run("benchmarks", MACHINE, {}, tuple(suites), tuple(accuracy), tuple(timings))


def _words_kept_whole(short: str, full: str) -> bool:
    """Every word of `short` is a word of `full`, but for the one the marker cuts."""
    words = [w for w in SEPARATORS.split(short.replace(ELLIPSIS, "-")) if w and w not in "-+"]
    whole = set(SEPARATORS.split(full))
    cut = [w for w in words if w not in whole]
    return len(cut) <= 1 and all(full.startswith(w) or w in full for w in cut)


@pytest.mark.parametrize("width", [200, 120, 100, 80])
def test_the_summary_of_pytest_benchmarks_fits_with_every_speedup_and_verdict_visible(width: int) -> None:
    run = benchmarks_run()
    lines = terminal.summary_lines(run, width)
    assert max(len(line) for line in lines) <= min(width, terminal.MAX_WIDTH)
    assert max(len(line) for line in terminal.summary_lines(run, verbose=True)) > 400  # the old detail, under -v
    rows = [(s, row) for s in run.suites for row in run.rows(s.name)]
    assert len(lines) >= 1 + len(rows)
    for line, (suite, row) in zip(lines[1:], rows, strict=False):
        assert line.rstrip().endswith("  " + row.verdict)
        assert terminal.speed_cell(row) in line
        shown_suite, shown_config = line.split()[:2]
        for shown, full in ((shown_suite, suite.name), (shown_config, row.id)):
            assert shown == full or (ELLIPSIS in shown and _words_kept_whole(shown, full)), (shown, full)
    if width >= 120:  # room for every interval, and for config ids that tell each row of a suite apart
        assert all(
            re.search(r"[+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]", line) for line in lines[1 : 1 + len(rows)]
        )
        assert lines[0].split()[:4] == ["suite", "config", "change", "[95%"]


def test_the_suite_baseline_is_said_under_the_table() -> None:
    lines = terminal.summary_lines(benchmarks_run(), 120)
    notes = " ".join(lines[-3:])
    assert (
        "speed-up vs each config's own framework's fp32 (minilm-embed-vs-pytorch: vs pytorch fp32; "
        "minilm-sentiment-vs-pytorch: vs pytorch fp32)." in notes
    )
    assert "-v" in lines[-1]


def test_the_summary_says_how_many_speed_ups_are_precise_to_3_percent() -> None:
    run = suite_run(configs=4)  # every speed-up's interval is ±5%
    assert terminal.precision_note(run) == ["Speed-ups within ±3%: 0 of 8 (0%), median ±5.0%."]
    assert "Speed-ups within ±3%: 0 of 8" in " ".join(terminal.summary_lines(run, 120))
    shipped = benchmarks_run()  # every interval ±2%: all within
    timed = sum(len(r.speedups) for s in shipped.suites for r in shipped.rows(s.name))
    assert terminal.precision_note(shipped) == [f"Speed-ups within ±3%: {timed} of {timed} (100%), median ±2.0%."]


def test_ids_are_shortened_at_word_boundaries_with_a_marker_and_stay_apart() -> None:
    ids = [
        "onnxruntime-Add+MatMul-per_tensor", "onnxruntime-Add+MatMul-per_channel", "onnxruntime-Add-per_tensor",
        "pytorch-Add+MatMul-per_tensor",
    ]  # fmt: skip
    short = shorten(ids, 24)
    assert all(len(s) <= 24 for s in short.values())
    assert len(set(short.values())) == len(ids)  # each row of the suite still tells which config it is
    assert all(ELLIPSIS in short[i] for i in ids if len(i) > 24)
    conll = "dynamic-Add+MatMul-excl-layernorm+gelu+residual+gather+softmax+6nodes"
    assert shorten([conll], 40)[conll] == "dynamic-Add+MatMul-excl-…+softmax+6nodes"  # whole words, both ends
    assert shorten(["per_channel"], 20) == {"per_channel": "per_channel"}  # fits: untouched
    assert shorten(["supercalifragilistic"], 10) == {"supercalifragilistic": "supercali…"}  # one word: cut, marked


def test_the_change_and_its_interval_read_the_metrics_direction() -> None:
    paired = PairedStats("mse", 0.2, 0.1, 0.3, 0.95, 0, 0, 1.0, 100)  # worse by 0.1..0.3
    mse = MetricResult("mse", 1.0, 1.2, paired=paired, direction=Direction.LOWER)
    accuracy = MetricResult("accuracy", 0.9, 0.7, paired=PairedStats("accuracy", 0.2, 0.1, 0.3, 0.95, 0, 0, 1.0, 100))
    assert terminal.headline_change(mse) == "mse +0.200 [+0.100, +0.300]"  # a rise, and worse
    assert terminal.headline_change(accuracy) == "accuracy -0.200 [-0.300, -0.100]"  # a fall, and worse
    assert terminal.headline_change(None) == "not evaluated"


def test_the_speed_up_range_is_one_figure_when_the_shapes_agree_to_what_is_shown() -> None:
    from types import SimpleNamespace

    def cell(speedups: list[float], slower: bool = False) -> str:
        return terminal.speed_cell(SimpleNamespace(speedups=speedups, slower=slower, phase_speedups={}))  # type: ignore[arg-type]

    assert cell([1.041, 1.044]) == "x1.04"
    assert cell([0.951, 0.962], slower=True) == "x0.95..x0.96 SLOWER"
    assert cell([]) == "not timed"
