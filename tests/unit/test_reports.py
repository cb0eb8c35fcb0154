"""Reports from recorded runs: the card's tables, the plot, the compare gate, the exports and the CLI.

The runs are built here as the plugin writes them (pytest-benchmark's layout with the `quantbench` key),
so these tests need no model; `test_reports_plugin.py` drives real runs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from pytest_quantbench import cli
from pytest_quantbench.records import MetricResult, PairedStats
from pytest_quantbench.reports import card, compare, export
from pytest_quantbench.reports.plot import Point, pareto_front, save_plot
from pytest_quantbench.results import run as results

CONFIGS = [  # (quantization_approach, per_channel, latency factor vs fp32)
    ("dynamic", False, 0.5),
    ("dynamic", True, 0.4),
    ("static", False, 0.8),
    ("static", True, 1.25),
]
SHAPES = [(1, 32, 10.0), (8, 128, 80.0)]  # batch size, input length, fp32 mean latency in ms


def config_id(approach: str, per_channel: bool) -> str:
    return f"{approach}-{'per_channel' if per_channel else 'per_tensor'}"


MACHINE = {
    "cpu": "Test CPU", "cpu_count": 4, "instructions": ["avx2"], "vnni": False, "onnxruntime": "1.2.3", "python": "3.11",
}  # fmt: skip


def bench(role: str, cid: str, batch_size: int, input_length: int, mean_ms: float, speedup: float | None) -> dict:
    name = f"latency[{'fp32' if role == 'fp32' else 'int8-' + cid}-bs{batch_size}-len{input_length}]"
    info = {
        "suite": "sst2", "role": role, "config_id": cid, "batch_size": batch_size, "input_length": input_length,
        "latency_mean_ms": mean_ms, "latency_p50_ms": mean_ms * 0.9, "latency_p90_ms": mean_ms * 1.2,
        "latency_p99_ms": mean_ms * 1.5, "rounds": 20, "latency_ci95_rel": 0.01, "task": "text-classification", "model": "distilbert-sst2", "config": {},
        "intra_op_num_threads": 1, "machine": MACHINE,
    }  # fmt: skip
    if speedup is not None:
        info["speedup"] = speedup
    return {"name": name, "extra_info": info, "stats": {"mean": mean_ms / 1e3, "median": mean_ms * 0.9 / 1e3}}


def recorded_run(quantized: dict[str, float] | None = None, timed: bool = True) -> dict:
    """A run's JSON as the plugin writes it: a 4-config suite, accuracy 0.900 original, timed at 2 shapes."""
    quantized = quantized or {}
    configs, accuracy, benchmarks = [], [], []
    for approach, per_channel, _ in CONFIGS:
        cid = config_id(approach, per_channel)
        settings = {"quantization_approach": approach, "per_channel": per_channel}
        configs.append({"id": cid, "settings": settings, "baseline_id": "fp32", "expect": None})
        value = quantized.get(cid, 0.9)
        passed = 0.9 - value <= 0.01
        accuracy.append(
            {"suite": "sst2", "config_id": cid, "expect": None, "passed": passed, "collapse": value <= 0.5,
             "verdict": "...", "quantization": {"quantized_nodes": {"MatMul": 8}, "total_quantized": 8, "quantized_nothing": False},
             "metrics": {"accuracy": {"name": "accuracy", "original": 0.9, "quantized": value, "chance": 0.5}}}
        )  # fmt: skip
    for batch_size, input_length, fp32_ms in SHAPES if timed else []:
        benchmarks.append(bench("fp32", "fp32", batch_size, input_length, fp32_ms, None))
        for approach, per_channel, factor in CONFIGS:
            cid = config_id(approach, per_channel)
            benchmarks.append(bench("int8", cid, batch_size, input_length, fp32_ms * factor, 1 / factor))
    suite = {
        "name": "sst2", "path": "sst2.suite.yaml", "task": "text-classification", "model": "distilbert-sst2",
        "dataset": {"path": "glue", "name": "sst2", "eval_split": "validation", "data_keys": {"primary": "sentence"},
                    "ref_keys": ["label"], "num_eval_samples": 200},
        "metrics": ["accuracy"],
        "fixed": {"operators_to_quantize": ["Add", "MatMul"], "framework_args": {"opset": 13, "optimization_level": 1}},
        "benchmarked": {"quantization_approach": ["dynamic", "static"], "per_channel": [False, True]},
        "time": {"batch_sizes": [1, 8], "input_lengths": [32, 128], "rounds": 20, "warmup_rounds": 3},
        "configs": configs,
    }  # fmt: skip
    return {
        "commit_info": {"id": "abc"},
        "benchmarks": benchmarks,
        "quantbench": {"suites": [suite], "machine": MACHINE, "accuracy": accuracy},
    }


def write_run(path: Path, **kwargs) -> Path:
    path.write_text(json.dumps(recorded_run(**kwargs)))
    return path


def tables(text: str) -> list[list[list[str]]]:
    """The Markdown tables of a card, as rows of cells (the alignment row dropped)."""
    found, current = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            current.append([c.strip() for c in line.strip().strip("|").split(" | ")])
        elif current:
            found.append([current[0], *current[2:]])
            current = []
    return found


def test_card_from_recorded_run_has_the_seed_cards_tables() -> None:
    text = card.render(results.from_json(recorded_run({"static-per_tensor": 0.5}), "run.json"))
    assert text.startswith("---\npipeline_tag: text-classification\ndatasets:\n- glue\nmetrics:\n- accuracy\n---\n")
    assert "**task**: `text-classification`  " in text
    assert "**Machine:** `Test CPU, 4 cores, avx2, VNNI: no`  " in text
    assert "**Number of evaluation samples:** `200`  " in text
    assert "* **operators_to_quantize**: `['Add', 'MatMul']`" in text
    assert "* **framework_args**:\n    * **opset**: `13`\n    * **optimization_level**: `1`" in text
    assert "* **per_channel**: `False`,  `True`" in text
    assert "# Evaluation\n## Non-time metrics\n" in text and "## Time metrics\n" in text

    metrics, *times = tables(text)
    assert metrics[0] == ["quantization_approach", "per_channel", "", "accuracy (original)", "accuracy (quantized)", "",
                          "verdict"]  # fmt: skip
    assert metrics[1:] == [
        ["`dynamic`", "`False`", "\\|", "0.900", "0.900", "\\|", "PASS"],
        ["`dynamic`", "`True`", "\\|", "0.900", "0.900", "\\|", "PASS"],
        ["`static`", "`False`", "\\|", "0.900", "0.500", "\\|", "COLLAPSE"],
        ["`static`", "`True`", "\\|", "0.900", "0.900", "\\|", "PASS"],
    ]
    # One time table per batch size x input length, in that order.
    assert text.count("Below, time metrics for") == 2
    assert text.index("batch size = 1, input length = 32.") < text.index("batch size = 8, input length = 128.")
    assert len(times) == 2
    header = times[0][0]
    assert header[:3] == ["quantization_approach", "per_channel", ""]
    for label in ("latency_mean", "latency_p50", "latency_p90", "latency_p99"):
        i = header.index(f"{label} (original, ms)")
        assert header[i + 1] == f"{label} (quantized, ms)"
    assert header[-4:] == [
        "throughput (original, /s)",
        "throughput (quantized, /s)",
        "",
        "speed-up vs fp32 (onnxruntime)",
    ]
    for table in times:
        assert len(table) == 1 + len(CONFIGS)
        assert all(len(row) == len(header) for row in table)
    row = dict(zip(header, times[1][1], strict=True))  # dynamic-per_tensor at batch size 8: fp32 80 ms, int8 40 ms
    assert row["latency_mean (original, ms)"] == "80.00" and row["latency_mean (quantized, ms)"] == "40.00"
    assert row["latency_p99 (original, ms)"] == "120.00" and row["latency_p99 (quantized, ms)"] == "60.00"
    assert row["throughput (original, /s)"] == "100.00" and row["throughput (quantized, /s)"] == "200.00"
    assert row["speed-up vs fp32 (onnxruntime)"] == "x2.00"  # a file without `baseline`: the config's own framework


def test_card_of_a_run_without_paired_calls_does_not_claim_them() -> None:
    text = card.render(results.from_json(recorded_run(), "run.json"))
    assert "after 3 warm-up rounds" in text and "paired" not in text


def test_card_shows_the_fp32_calls_paired_with_each_config_as_its_original() -> None:
    """Like the seed cards, each config's row has its own original latency: the fp32 calls interleaved with it."""
    raw = recorded_run()
    for b in raw["benchmarks"]:
        if b["extra_info"]["role"] == "int8":
            paired_ms = b["extra_info"]["latency_mean_ms"] * 2.5
            b["extra_info"]["paired_fp32"] = {
                "latency_mean_ms": paired_ms, "latency_p50_ms": paired_ms, "latency_p90_ms": paired_ms,
                "latency_p99_ms": paired_ms, "rounds": 20, "latency_ci95_rel": 0.01,
            }  # fmt: skip
    text = card.render(results.from_json(raw, "run.json"))
    assert "the original columns are those paired calls" in text
    header, first, *_ = tables(text)[2]  # batch size 8: dynamic-per_tensor at 40 ms, paired fp32 at 100 ms
    row = dict(zip(header, first, strict=True))
    assert row["latency_mean (original, ms)"] == "100.00" and row["latency_mean (quantized, ms)"] == "40.00"
    assert row["throughput (original, /s)"] == "80.00"


def test_card_of_an_untimed_run_has_accuracy_only() -> None:
    text = card.render(results.from_json(recorded_run(timed=False), "run.json"))
    assert len(tables(text)) == 1
    assert "## Time metrics\nNot timed in this run." in text


def test_pareto_front_keeps_points_nothing_beats_on_both_counts() -> None:
    pts = [Point(1.0, 0.90, "a", "pass"), Point(2.0, 0.95, "b", "pass"), Point(1.5, 0.80, "c", "fail"),
           Point(3.0, 0.95, "d", "pass"), Point(0.5, 0.50, "e", "fail")]  # fmt: skip
    assert [p.label for p in pareto_front(pts)] == ["e", "a", "b"]


def test_plot_file_is_a_non_trivial_png(tmp_path: Path) -> None:
    run = results.from_json(recorded_run({"static-per_tensor": 0.5}), "run.json")
    save_plot(run, tmp_path / "plot.png", (8, 128))
    data = (tmp_path / "plot.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000  # axes, markers, labels and the key, not an empty canvas


def test_compare_gate_fails_a_drop_beyond_the_limit_with_both_numbers() -> None:
    saved = results.from_json(recorded_run(), "0001_abc.json")
    gate = compare.Gate(saved, [compare.FailSpec.parse("accuracy:0.005")])
    gate.check("sst2", "dynamic-per_tensor", {"accuracy": 0.896})  # drop 0.004: within the limit
    gate.check("sst2", "a-config-not-saved", {"accuracy": 0.1})  # nothing to compare with
    with pytest.raises(compare.CompareFailure) as exc:
        gate.check("sst2", "dynamic-per_tensor", {"accuracy": 0.88})
    assert str(exc.value) == "accuracy 0.900 in saved run 0001_abc.json -> 0.880 now (drop 0.020 > accuracy:0.005)"


def test_compare_tables_show_both_runs() -> None:
    saved = results.from_json(recorded_run(), "0001.json")
    now = results.from_json(recorded_run({"dynamic-per_channel": 0.85}), "0002.json")
    deltas = compare.accuracy_deltas(saved, now)
    assert len(deltas) == len(CONFIGS)
    lines = compare.accuracy_table(deltas, [compare.FailSpec.parse("accuracy:0.01")], "0001.json")
    assert lines[0].split() == ["suite", "config", "metric", "saved", "(0001.json)", "now", "change", "gate"]
    counted = compare.accuracy_table(deltas, [], ".benchmarks/Linux/0001_f31322_20261204.json", "0002")
    assert counted[0].split()[3:6] == ["saved", "(0001)", "0002"]  # pytest-benchmark's counter, not the path
    speed_header = compare.speed_table(compare.speed_deltas(saved, now), "0001_f31322.json", "0002")[0]
    assert speed_header.split()[2:] == ["mean", "ms", "(0001)", "mean", "ms", "(0002)", "change", "speed-up",
                                        "(0001)", "speed-up", "(0002)"]  # fmt: skip
    assert lines[2].split() == ["sst2", "dynamic-per_channel", "accuracy", "0.900", "0.850", "-0.050", "FAIL",
                                "(drop", ">", "0.01)"]  # fmt: skip
    assert lines[1].split()[-2:] == ["+0.000", "ok"]
    speed = compare.speed_deltas(saved, now)
    assert len(speed) == len(SHAPES) * (1 + len(CONFIGS))
    assert all(d.change == 0 for d in speed)


@pytest.mark.parametrize("text", ["accuracy", "accuracy:", ":0.1", "accuracy:-1", "accuracy:x"])
def test_bad_fail_spec_is_refused(text: str) -> None:
    with pytest.raises(Exception, match="expected METRIC:MAX_DROP"):
        compare.FailSpec.parse(text)


def test_github_action_benchmark_lists() -> None:
    bigger, smaller = export.github_action_benchmark(results.from_json(recorded_run(), "run.json"))
    first = smaller[0]
    assert (first["name"], first["unit"], first["value"]) == ("sst2 latency[fp32-bs1-len32] latency mean", "ms", 10.0)
    names = {e["name"]: e for e in bigger}
    assert names["sst2 dynamic-per_tensor accuracy"]["value"] == 0.9
    assert names["sst2 latency[int8-dynamic-per_tensor-bs1-len32] speed-up vs fp32"]["value"] == 2.0
    assert names["sst2 latency[int8-dynamic-per_tensor-bs1-len32] throughput"]["value"] == pytest.approx(200.0)
    assert all(isinstance(e["value"], float) and e["unit"] for e in [*bigger, *smaller])


def test_cli_card_compare_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = write_run(tmp_path / "saved.json")
    now = write_run(tmp_path / "now.json", quantized={"static-per_channel": 0.8})
    assert cli.main(["card", str(now), "-o", str(tmp_path / "card.md"), "--plot", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "card.md").read_text() == card.render(results.load(now))
    assert (tmp_path / "p.png").stat().st_size > 20_000

    assert cli.main(["compare", str(saved), str(now)]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["sst2", "static-per_channel", "accuracy", "0.900", "0.800", "-0.100"] in lines
    assert ["sst2", "latency[fp32-bs8-len128]", "80.000", "80.000", "+0.0%", "-", "-"] in lines
    assert cli.main(["compare", str(saved), str(now), "--fail", "accuracy:0.005"]) == 1
    err = capsys.readouterr().err
    assert "FAIL accuracy 0.900 in saved run saved.json -> 0.800 now (drop 0.100 > accuracy:0.005)" in err

    out_b, out_s = tmp_path / "b.json", tmp_path / "s.json"
    assert cli.main(["export", str(now), "--bigger", str(out_b), "--smaller", str(out_s)]) == 0
    assert len(json.loads(out_s.read_text())) == len(SHAPES) * (1 + len(CONFIGS))

    assert cli.main(["card", "latest", "--storage", str(tmp_path / "nothing")]) == 2
    assert "no pytest-benchmark storage" in capsys.readouterr().err


def test_a_file_without_quantbench_results_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plain.json"
    path.write_text(json.dumps({"benchmarks": []}))
    with pytest.raises(results.RunFileError, match="no 'quantbench' results"):
        results.load(path)


def test_shards_merge_into_the_card_of_one_run(tmp_path: Path) -> None:
    """Two runners of a matrix each saved part of the run; the merged card is the single run's card."""
    whole = json.loads(write_run(tmp_path / "whole.json").read_text())
    halves = []
    for i in range(2):
        part = json.loads(json.dumps(whole))
        part["benchmarks"] = whole["benchmarks"][i::2]
        part["quantbench"]["accuracy"] = whole["quantbench"]["accuracy"][i::2]
        halves.append(tmp_path / f"shard{i}.json")
        halves[-1].write_text(json.dumps(part))
    merged = tmp_path / "merged.md"
    assert cli.main(["card", f"{halves[0]},{halves[1]}", "-o", str(merged)]) == 0
    assert merged.read_text() == card.render(results.load(tmp_path / "whole.json"))


def _on_machine(path: Path, **facts: object) -> Path:
    """A saved run whose machine facts (run-level and per timing) are changed by `facts`."""
    data = json.loads(path.read_text())
    data["quantbench"]["machine"].update(facts)
    for b in data["benchmarks"]:
        b["extra_info"]["machine"].update(facts)
    path.write_text(json.dumps(data))
    return path


def test_kernel_differences_name_vnni_amx_and_onnxruntime() -> None:
    from pytest_quantbench.records import EngineInfo, MachineFacts

    def ort(version: str) -> tuple[EngineInfo, ...]:
        return (EngineInfo("onnxruntime", version, f"onnxruntime {version}"),)

    old = MachineFacts("cpu", 4, ("avx2",), False, "3.11", ort("1.2.3"))
    new = MachineFacts("cpu", 4, ("avx2", "avx512_vnni", "amx_int8"), True, "3.11", ort("1.3.0"))
    assert compare.kernel_differences(old, old) == []
    assert compare.kernel_differences(old, new) == ["VNNI no -> yes", "AMX no -> yes", "onnxruntime 1.2.3 -> 1.3.0"]
    assert compare.kernel_differences(None, new) == []


def test_cli_compare_across_int8_kernels_warns_and_refuses_speed_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = write_run(tmp_path / "saved.json")
    now = _on_machine(write_run(tmp_path / "now.json"), vnni=True, instructions=["avx2", "avx512_vnni"])
    assert cli.main(["compare", str(saved), str(now)]) == 2
    out = capsys.readouterr().out
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: saved run saved.json ran other int8 kernels (VNNI no -> yes): accuracy deltas may come from the "
        "kernels, and speed is not comparable"
    ]
    assert "quantized metrics: saved.json -> now.json (the int8 kernels differ)" in out
    assert "speed not compared: the int8 kernels differ (force it with --force)" in out
    assert "latency[fp32-bs8-len128]" not in out
    assert cli.main(["compare", str(saved), str(now), "--force"]) == 0
    assert "latency[fp32-bs8-len128]" in capsys.readouterr().out


def test_compare_gate_says_when_the_kernels_differ() -> None:
    from pytest_quantbench.records import EngineInfo, MachineFacts

    saved = results.from_json(recorded_run(), "0001_abc.json")
    now = MachineFacts("c", 4, (), False, "3", (EngineInfo("onnxruntime", "9.9", "onnxruntime 9.9"),))
    gate = compare.Gate(saved, [compare.FailSpec.parse("accuracy:0.005")], now)
    with pytest.raises(compare.CompareFailure, match=r"\(the int8 kernels differ: onnxruntime 1.2.3 -> 9.9\)$"):
        gate.check("sst2", "dynamic-per_tensor", {"accuracy": 0.88})


def test_terminal_and_card_show_the_interval_flips_size_and_slower() -> None:
    from pytest_quantbench.reports import terminal

    data = recorded_run({"static-per_tensor": 0.85})
    row = next(r for r in data["quantbench"]["accuracy"] if r["config_id"] == "static-per_tensor")
    row["metrics"]["accuracy"]["paired"] = {
        "metric": "accuracy", "drop": 0.05, "ci_low": 0.03, "ci_high": 0.07, "confidence": 0.95,
        "flips_to_wrong": 11, "flips_to_right": 1, "mcnemar_p": 0.0063, "n": 200,
    }  # fmt: skip
    row["size"] = {"original_bytes": 1000, "quantized_bytes": 300}
    run = results.from_json(data, "run.json")
    lines = terminal.summary_lines(run, verbose=True)
    static = next(line for line in lines if "static-per_tensor" in line)
    assert "accuracy 0.900->0.850 (-0.050) [drop CI95 +0.030..+0.070, flips 11/1], size x0.30" in static
    assert "SLOWER" in next(line for line in lines if "static-per_channel" in line)  # x0.80 at every shape
    assert "SLOWER" not in static
    text = card.render(run)
    header = next(line for line in text.splitlines() if "accuracy drop CI" in line)
    cells = [c.strip() for c in header.split("|")]
    at = cells.index("accuracy (quantized)")
    assert cells[at + 1 : at + 4] == ["accuracy drop CI", "accuracy flips (to wrong / to right)", ""]
    assert "[+0.030, +0.070] (95%)" in text and "11 / 1 (McNemar p=0.0063)" in text and "0.300" in text
    assert "x0.80 SLOWER" in text and "x2.00 SLOWER" not in text


def pytorch_baseline_run(only: set[str] | None = None) -> dict:
    """`recorded_run` timed against PyTorch fp32 (`baseline: pytorch`): every int8 row, or those of `only`."""
    data = recorded_run()
    data["quantbench"]["suites"][0]["baseline"] = None if only else "pytorch"
    for b in data["benchmarks"]:
        info = b["extra_info"]
        if info["role"] == "fp32" and not only:
            b["name"] = b["name"].replace("[fp32-", "[fp32-pytorch-")
            info["config_id"] = "fp32-pytorch"
        if info["role"] == "fp32" or only is None or info["config_id"] in only:
            info["baseline"] = "pytorch" if info["role"] == "int8" or not only else "onnxruntime"
    if not only:
        for c in data["quantbench"]["suites"][0]["configs"]:
            c["baseline_id"] = "fp32-pytorch"
    return data


def test_a_file_without_baselines_reads_as_each_configs_own_framework() -> None:
    data = recorded_run()
    config = data["quantbench"]["suites"][0]["configs"][0]
    config["settings"]["framework"] = "pytorch"  # written before `baseline` was recorded
    config["baseline_id"] = "fp32-pytorch"
    run = results.from_json(data, "old.json")
    rows = {(t.record.config_id, t.record.shape): t.record for t in run.timings}
    assert rows[(config["id"], (1, 32))].baseline == "pytorch"
    assert rows[("dynamic-per_channel", (1, 32))].baseline == "onnxruntime"
    assert run.speedup_baseline() is None  # two baselines: each row names its own


def test_terminal_counts_flips_once_when_every_metric_shares_them() -> None:
    from pytest_quantbench.reports import terminal

    def paired(metric: str, low: float, wrong: int) -> PairedStats:
        return PairedStats(metric, 0.02, low, low + 0.03, 0.95, wrong, 36, 0.001, 500)

    f1 = MetricResult("f1", 0.930, 0.914, paired=paired("f1", 0.005, 85))
    precision = MetricResult("precision", 0.923, 0.889, paired=paired("precision", 0.021, 85))
    shared = terminal._changes([precision, f1])
    assert shared == (
        "precision 0.923->0.889 (-0.034) [drop CI95 +0.021..+0.051], f1 0.930->0.914 (-0.016) "
        "[drop CI95 +0.005..+0.035], flips 85/36"
    )
    apart = terminal._changes([precision, dataclasses.replace(f1, paired=paired("f1", 0.005, 80))])
    assert apart.count("flips") == 2 and "flips 85/36]" in apart and "flips 80/36]" in apart


def test_terminal_and_card_name_the_pytorch_baseline() -> None:
    from pytest_quantbench.reports import terminal

    run = results.from_json(pytorch_baseline_run(), "run.json")
    assert {t.record.baseline for t in run.timings} == {"pytorch"}
    lines = terminal.summary_lines(run, verbose=True)
    assert "speed-up vs fp32 (pytorch)" in lines[0]
    assert "vs pytorch" not in "".join(lines[1:])
    text = card.render(run)
    assert "The original is pytorch fp32 for every config (`baseline: pytorch`)" in text
    header, first, *_ = tables(text)[1]
    assert dict(zip(header, first, strict=True))["speed-up vs fp32 (pytorch)"] == "x2.00"
    bigger, _ = export.github_action_benchmark(run)
    names = {e["name"] for e in bigger}
    assert "sst2 latency[int8-dynamic-per_tensor-bs1-len32] speed-up vs fp32 (pytorch)" in names


def test_speedups_against_several_baselines_name_theirs_per_row() -> None:
    from pytest_quantbench.reports import terminal

    run = results.from_json(pytorch_baseline_run(only={"static-per_channel"}), "run.json")
    lines = terminal.summary_lines(run, verbose=True)
    assert "speed-up vs fp32" in lines[0] and "(pytorch)" not in lines[0] and "(onnxruntime)" not in lines[0]
    rows = {line.split()[1]: line for line in lines[1:]}
    assert "(2 shapes) SLOWER vs pytorch" in rows["static-per_channel"]
    assert "(2 shapes) vs onnxruntime" in rows["dynamic-per_tensor"]
    header, *body = tables(card.render(run))[1]
    speedups = [dict(zip(header, row, strict=True))["speed-up"] for row in body]
    assert speedups == [
        "x2.00 vs onnxruntime",
        "x2.50 vs onnxruntime",
        "x1.25 vs onnxruntime",
        "x0.80 SLOWER vs pytorch",
    ]


def test_compare_leaves_out_speedups_against_another_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = results.from_json(recorded_run(), "0001.json")
    now = results.from_json(pytorch_baseline_run(), "0002.json")
    deltas = compare.speed_deltas(saved, now)
    int8 = [d for d in deltas if "int8" in d.name]
    assert len(deltas) == len(int8) == len(SHAPES) * len(CONFIGS)  # the fp32 rows timed other models
    assert all(d.saved_speedup is None and d.now_speedup is None and d.baselines for d in int8)
    note = "speed-ups of 8 cases not compared: measured against another fp32 baseline (onnxruntime -> pytorch)"
    assert compare.baseline_note(deltas) == note
    assert compare.baseline_note(compare.speed_deltas(saved, saved)) is None
    same_name = recorded_run()
    for b in same_name["benchmarks"]:
        b["extra_info"]["baseline"] = "pytorch"  # same names, other fp32 models: not one latency compared as alike
    assert [d.name for d in compare.speed_deltas(saved, results.from_json(same_name, "x"))] == [d.name for d in int8]

    (tmp_path / "saved.json").write_text(json.dumps(recorded_run()))
    (tmp_path / "now.json").write_text(json.dumps(pytorch_baseline_run()))
    assert cli.main(["compare", str(tmp_path / "saved.json"), str(tmp_path / "now.json")]) == 0
    out = capsys.readouterr().out
    assert note in out.splitlines()
    assert ["sst2", "latency[int8-dynamic-per_tensor-bs1-len32]", "5.000", "5.000", "+0.0%", "-", "-"] in [
        line.split() for line in out.splitlines()
    ]


def test_card_and_terminal_show_peak_memory_in_mb_with_the_int8_fp32_ratio() -> None:
    from pytest_quantbench.reports import terminal

    data = recorded_run()
    for b in data["benchmarks"]:
        info = b["extra_info"]
        shape = f"bs{info['batch_size']}-len{info['input_length']}"
        grow = 2 if info["batch_size"] == 8 else 1  # the larger shape holds more
        fp32 = {"load_peak_bytes": 250_000_000, "run_peak_bytes": 200_000_000 * grow, "shape": shape,
                "baseline_bytes": 60_000_000}  # fmt: skip
        if info["role"] == "fp32":
            info["memory"] = fp32
        else:
            info["memory"] = {**fp32, "load_peak_bytes": 80_000_000, "run_peak_bytes": 50_000_000 * grow * (1 + grow)}
            info["fp32_memory"] = fp32 if info["config_id"] != "static-per_channel" else None  # from the fp32 row
    run = results.from_json(data, "run.json")
    text = card.render(run)
    assert "net of the 60 MB or so that Python and onnxruntime hold before it" in text
    header, first, *_ = tables(text)[2]  # batch size 8: run peaks 400 MB fp32, 300 MB int8
    assert header[-6:] == card.MEMORY_HEADER
    row = dict(zip(header, first, strict=True))
    assert (row["load peak (original, MB)"], row["load peak (quantized, MB)"]) == ("250.0", "80.0")
    assert (row["run peak (original, MB)"], row["run peak (quantized, MB)"]) == ("400.0", "300.0")
    assert row["run peak (quantized / original)"] == "x0.75"
    last = dict(zip(header, tables(text)[2][-1], strict=True))  # static-per_channel: the fp32 baseline row's figures
    assert last["run peak (original, MB)"] == "400.0" and last["run peak (quantized / original)"] == "x0.75"
    lines = terminal.summary_lines(run, verbose=True)
    dynamic = next(line for line in lines if "dynamic-per_tensor" in line)
    assert "x2.00..x2.00 (2 shapes), memory x0.75" in dynamic  # at the largest run peak (x0.50 at bs1)
    # static-per_channel's fp32 peak is the fp32 row's: the same ratio as in the card (one place computes it)
    assert "x0.80..x0.80 (2 shapes) SLOWER, memory x0.75" in next(
        line for line in lines if "static-per_channel" in line
    )
    assert "peak" not in card.render(results.from_json(recorded_run(), "run.json"))


def test_the_card_and_html_name_the_nodes_accuracy_control_reverted() -> None:
    from synthetic_runs import suite_run

    from pytest_quantbench.reports import html

    run = suite_run(configs=3, suites=("sst2",))
    first = run.accuracy[1]
    reverted = dataclasses.replace(
        first, quantization=dataclasses.replace(first.quantization, reverted_nodes=("/layer.0/MatMul", "/head/Gemm"))
    )
    run = dataclasses.replace(run, accuracy=(run.accuracy[0], reverted, *run.accuracy[2:]))
    text = card.render(run)
    assert "Reverted to fp32 by accuracy control:" in text
    assert f"* `{first.config_id}`: `/layer.0/MatMul`, `/head/Gemm`" in text
    assert "reverted to fp32 by accuracy control: /layer.0/MatMul, /head/Gemm" in html.render([run])
    assert "Reverted to fp32" not in card.render(suite_run(configs=3, suites=("sst2",)))


def test_the_card_gives_each_diagnosed_configs_cause_and_fix() -> None:
    from synthetic_runs import suite_run

    run = suite_run(configs=3, suites=("sst2",))
    diagnosed = [r for r in run.accuracy if r.diagnosis is not None]
    text = card.render(run)
    assert "Accuracy diagnosis:" in text and len(diagnosed) >= 1
    for result in diagnosed:
        assert f"* `{result.config_id}`: `{result.diagnosis.line}`" in text
    passing = [r for r in run.accuracy if r.diagnosis is None]
    assert all(f"* `{r.config_id}`:" not in text.split("Accuracy diagnosis:")[1] for r in passing)
