"""One timing record, one report row per config: the saved layouts (old and new), the suite record, and the
rows every report reads (accuracy joined from the run, else from the score cache a latency case read)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from synthetic_runs import machine

from pytest_quantbench import serialize
from pytest_quantbench.records import LatencyStats, Role, Shape, TimingResult
from pytest_quantbench.reports import card, export
from pytest_quantbench.reports import terminal as summary
from pytest_quantbench.results import run as results
from pytest_quantbench.results.records import RunRecord, SuiteInfo, suite_info
from pytest_quantbench.suite import load_suite

# Written by `pytest tiny.suite.yaml --benchmark-json` on main at 3e10e6d, before the timing statistics were
# nested: `latency_mean_ms`, ... flat on `extra_info`, roles `fp32`/`int8` (2 configs timed at bs1-len16).
FLAT = Path(__file__).parent / "data" / "run-flat-timings.json"
MACHINE = machine("cpu")


def test_a_run_saved_with_flat_timings_still_reads() -> None:
    raw = json.loads(FLAT.read_text())
    flat = {b["name"]: b["extra_info"] for b in raw["benchmarks"]}
    run = results.load(FLAT)
    timed = {t.name: t.record for t in run.timings}
    assert set(timed) == set(flat)
    for name, record in timed.items():
        old = flat[name]
        assert record.role is {"fp32": Role.ORIGINAL, "int8": Role.QUANTIZED}[old["role"]]
        assert record.latency == LatencyStats(
            old["latency_mean_ms"], old["latency_p50_ms"], old["latency_p90_ms"], old["latency_p99_ms"], old["rounds"],
            old["latency_ci95_rel"],
        )  # fmt: skip
        assert record.speedup == old["speedup"] and record.memory_ratio == old["memory_ratio"]
        if old["paired_fp32"]:
            assert (
                record.paired_fp32 is not None and record.paired_fp32.mean_ms == old["paired_fp32"]["latency_mean_ms"]
            )
    rows = run.rows("tiny-sentiment")
    assert [r.id for r in rows] == ["per_tensor", "per_channel"]
    assert all(r.result is not None and r.metric("accuracy") is not None and len(r.shapes) == 1 for r in rows)
    assert rows[0].shapes[0].baseline is not None  # joined with the fp32 case of its shape
    text = card.render(run)
    assert "Below, time metrics for batch size = 1, input length = 16." in text
    assert all("PASS" in line for line in summary.summary_lines(run)[1:3])


def test_a_timing_record_is_written_nested_and_reads_back() -> None:
    stats = LatencyStats(2.0, 1.9, 2.4, 2.6, 40, 0.01)
    record = TimingResult(
        "s", "t", "m", Role.QUANTIZED, "c", {"per_channel": True}, 4, 16, 1, MACHINE, latency=stats,
        paired_fp32=LatencyStats(4.0, 3.9, 4.4, 4.6, 40, 0.01), speedup=2.0, speedup_ci95_rel=0.02,
    )  # fmt: skip
    data = serialize.dump(record)
    assert data["role"] == "quantized" and data["latency"]["mean_ms"] == 2.0 and data["paired_fp32"]["rounds"] == 40
    assert not any(key.startswith("latency_") for key in data)  # no statistic repeated flat
    assert data["samples_per_s"] == pytest.approx(2000.0)  # derived, for readers of the raw file
    assert serialize.load(TimingResult, json.loads(json.dumps(data))) == record
    assert record.shape == Shape(4, 16) == (4, 16) and record.shape.id == "bs4-len16"


def test_shape_ids_are_written_and_read_in_one_place() -> None:
    assert Shape(8, 128).id == "bs8-len128" and Shape(4).id == "bs4"
    assert Shape.parse("bs8-len128") == (8, 128) and Shape.parse("bs4") == Shape(4, None)
    with pytest.raises(Exception, match="expected a shape such as bs1-len128 or bs4"):
        results.parse_shape("8x128")


def test_the_suite_record_is_written_and_read_by_one_type(tmp_path: Path) -> None:
    path = tmp_path / "s.suite.yaml"
    path.write_text(
        "name: s\ntask: text-classification\nmodel_name_or_path: m\ndataset: {path: glue, name: sst2}\n"
        "fixed: {operators_to_quantize: [MatMul]}\nbenchmarked: {per_channel: [false, true]}\n"
    )
    suite = load_suite(path)
    written = results.payload([suite], [], MACHINE)
    assert written["suites"][0].keys() == {f for f in SuiteInfo.__dataclass_fields__}  # every field, no other
    record = serialize.load(RunRecord, json.loads(json.dumps(written)))
    assert record.suites == (suite_info(suite),) and record.machine == MACHINE
    info = record.suites[0]
    assert [c.id for c in info.configs] == ["per_tensor", "per_channel"]
    assert info.framework("per_tensor") == suite.cases[0].config.framework  # recorded, not defaulted
    assert info.dataset["data_keys"] == {"primary": "sentence"} and "base_dir" not in info.dataset


def _latency_only(flat: dict, with_cached: bool) -> dict:
    """The flat run as a `-m latency` run writes it: no accuracy case, and the latency records' metrics from
    the score cache (`with_cached`) or none."""
    data = json.loads(json.dumps(flat))
    data["quantbench"]["accuracy"] = []
    for b in data["benchmarks"]:
        if not with_cached:
            b["extra_info"]["accuracy"] = None
    return data


def test_a_latency_rows_accuracy_comes_from_the_run_else_the_score_cache() -> None:
    flat = json.loads(FLAT.read_text())
    whole = results.from_json(flat, "run.json").rows("tiny-sentiment")[0]
    cached = results.from_json(_latency_only(flat, True), "run.json").rows("tiny-sentiment")[0]
    missing = results.from_json(_latency_only(flat, False), "run.json").rows("tiny-sentiment")[0]
    assert whole.result is not None and not whole.cached
    assert cached.result is None and cached.cached and cached.metrics == whole.metrics and cached.verdict == "-"
    assert missing.metrics is None and not missing.cached
    run = results.from_json(_latency_only(flat, True), "run.json")
    assert "accuracy +0.000 [+0.000, +0.000] (cached)" in summary.summary_lines(run)[1]
    assert "(cached scores)" in card.render(run)
    bigger, _ = export.github_action_benchmark(run)
    assert "tiny-sentiment per_tensor accuracy" in {e["name"] for e in bigger}
    none = results.from_json(_latency_only(flat, False), "run.json")
    assert "not evaluated" in summary.summary_lines(none)[1]
    assert "Not evaluated in this run." in card.render(none)


def test_the_memory_ratio_is_computed_once_for_the_json_the_card_and_the_terminal() -> None:
    run = results.load(FLAT)
    row = run.rows("tiny-sentiment")[0]
    ratio = row.shapes[0].memory_ratio
    assert ratio == row.shapes[0].quantized.record.memory_ratio
    assert f"memory x{ratio:.2f}" in summary.summary_lines(run, verbose=True)[1]
    assert re.search(rf"\| +x{ratio:.2f} +\|\n", card.render(run))  # the last column of its time row
