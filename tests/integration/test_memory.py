"""Peak memory of loading and running each session, on the tiny built-in model: measured in one child process
per model, in the JSON, the card and the terminal table, kept in the cache, gated, and a failed probe is a
warning."""

from __future__ import annotations

import json
import re
import threading

import pytest

from conftest import ADD_MATMUL
from pytest_quantbench.runtimes import memory_probe, probe_server


def _suite(batch_sizes: list[int], input_length: int) -> str:
    time = f"{{batch_sizes: {batch_sizes}, input_lengths: [{input_length}], rounds: 2, warmup_rounds: 0}}"
    return ADD_MATMUL + f"    time: {time}\n"


def _rows(pytester: pytest.Pytester) -> list[dict]:
    return [b["extra_info"] for b in json.loads((pytester.path / "out.json").read_text())["benchmarks"]]


def _memory_builds(cache) -> list[str]:
    lines = (cache / "builds.jsonl").read_text().splitlines() if (cache / "builds.jsonl").exists() else []
    return [json.loads(line)["key"] for line in lines if json.loads(line)["kind"] == "memory"]


def test_peak_memory_reaches_json_card_and_table_and_a_warm_run_reuses_it(suite_file, run, pytester, qb_cache) -> None:
    suite_file("s.suite.yaml", _suite([1, 3], 12))  # shapes of this test alone: its probes are its own
    before = _memory_builds(qb_cache)
    args = ("-k", "latency", "--benchmark-json=out.json", "--quantbench-card=card.md")
    run(*args).assert_outcomes(passed=4)
    built = _memory_builds(qb_cache)[len(before) :]
    assert len(built) == 2  # one child per model (fp32, int8), not one per shape

    rows = _rows(pytester)
    by = {(r["role"], r["batch_size"]): r for r in rows}
    for (role, batch_size), row in by.items():
        memory = row["memory"]
        assert memory["shape"] == f"bs{batch_size}-len12"
        assert memory["load_peak_bytes"] > 0 and memory["run_peak_bytes"] > 0 and memory["baseline_bytes"] > 0
        if role == "quantized":
            assert row["fp32_memory"] == by[("original", batch_size)]["memory"] and row["memory_ratio"] > 0
        else:
            assert row["fp32_memory"] is None and row["memory_ratio"] is None

    card = (pytester.path / "card.md").read_text()
    assert "Peak memory is the resident memory of a child process" in card
    assert "| run peak (original, MB) | run peak (quantized, MB) | run peak (quantized / original) |" in card
    ratio = by[("quantized", 3)]["memory_ratio"]
    assert re.search(rf"\| +x{ratio:.2f} +\|\n", card)  # the last column of its row

    # Warm, and with a memory gate no int8 session of this model meets: it fails each int8 case, probing nothing.
    suite_file("s.suite.yaml", _suite([1, 3], 12) + "    thresholds: {memory: {max_ratio: 0.01}}\n")
    again = run(*args, "-v")
    again.assert_outcomes(passed=2, failed=2)
    again.stdout.fnmatch_lines(
        ["*latency[[]int8-*-bs3-len12[]]*memory run peak ratio * MB at bs3-len12) > max_ratio 0.01"]
    )
    assert _memory_builds(qb_cache)[len(before) :] == built  # the warm run spawned no probe
    assert [r["memory"] for r in _rows(pytester)] == [r["memory"] for r in rows]
    largest = max((r for r in rows if r["role"] == "quantized"), key=lambda r: r["memory"]["run_peak_bytes"])
    # its accuracy: "not evaluated", or the score cache's where an earlier test scored this config
    again.stdout.fnmatch_lines([f"tiny-sentiment  *x*, memory x{largest['memory_ratio']:.2f}*"])


def test_a_failed_probe_is_a_warning_and_the_case_runs_on(suite_file, run, pytester, monkeypatch) -> None:
    # neither the server nor the spawned child can start: the server's failure falls back to a spawn, whose
    # failure is the warning (a server an earlier test started would measure: none is left running)
    probe_server.close_all()
    monkeypatch.setattr(probe_server, "MODULE", "pytest_quantbench.no_such_server")
    monkeypatch.setattr(memory_probe, "MODULE", "pytest_quantbench.no_such_probe")
    suite_file("s.suite.yaml", _suite([1], 20))
    result = run("-k", "latency", "--benchmark-json=out.json", "--quantbench-card=card.md")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*MemoryProbeWarning: peak memory of *model.onnx not measured: *No module named pytest_quantbench.no_such_probe"
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert all(r["memory"] is None and r["fp32_memory"] is None for r in _rows(pytester))
    assert "peak" not in (pytester.path / "card.md").read_text()


def test_memory_is_probed_beside_the_accuracy_cases_only_for_the_cases_the_run_times(
    suite_file, run, pytester, qb_cache, monkeypatch
) -> None:
    threads: list[str] = []
    probe = memory_probe.probe_engine

    def recorded(*args, **kwargs):  # where each probe ran: the run's background thread, or a case's own
        threads.append(threading.current_thread().name)
        return probe(*args, **kwargs)

    monkeypatch.setattr(memory_probe, "probe_engine", recorded)
    suite_file("s.suite.yaml", _suite([2], 9))  # a shape of this test alone: its probes are its own
    run("-k", "accuracy").assert_outcomes(passed=1)
    assert threads == []  # no latency case selected: nothing probed for it

    run("--benchmark-json=out.json").assert_outcomes(passed=3)
    assert len(threads) == 2 and all(t.startswith("quantbench-background") for t in threads)  # fp32 and int8
    assert all(r["memory"]["run_peak_bytes"] > 0 for r in _rows(pytester))

    threads.clear()
    suite_file("s.suite.yaml", _suite([2], 10))  # a new shape, timed alone: its case probes it itself
    run("-k", "latency", "--benchmark-json=out.json").assert_outcomes(passed=2)
    assert threads == ["MainThread", "MainThread"]
