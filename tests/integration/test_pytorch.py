"""`framework: pytorch`: PyTorch fp32 and dynamic int8 rows beside ONNX Runtime's, gated and timed alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import FRAMEWORKS
from pytest_quantbench.suite import load_suite


def test_pytorch_rows_sit_beside_onnxruntime_rows(suite_file, run, pytester: pytest.Pytester) -> None:
    suite_file("frameworks.suite.yaml", FRAMEWORKS)
    result = run("-v", "--benchmark-json", "out.json", "-W", "ignore::UserWarning", "--quantbench-diagnose")
    result.assert_outcomes(passed=4 + 6)
    result.stdout.fnmatch_lines(["*accuracy[[]pytorch-Add+MatMul[]] PASSED*", "*latency[[]fp32-pytorch-bs1-len16[]]*"])
    accuracy = {
        r["config_id"]: r for r in json.loads((pytester.path / "out.json").read_text())["quantbench"]["accuracy"]
    }
    diagnosis = accuracy["pytorch-Add+MatMul"]["diagnosis"]
    assert diagnosis["line"] == "no diagnosis for framework: pytorch (it reads ONNX graphs)"
    assert not (diagnosis["range_check"] or diagnosis["ranking"] or diagnosis["fallback"])
    rows = {b["name"]: b["extra_info"] for b in json.loads((pytester.path / "out.json").read_text())["benchmarks"]}
    torch_int8 = rows["latency[int8-pytorch-Add+MatMul-bs1-len16]"]
    assert torch_int8["config"]["framework"] == "pytorch"
    assert torch_int8["quantized_nothing"] is False
    assert torch_int8["accuracy"]["accuracy"]["quantized"] >= 0.9
    assert rows["latency[int8-pytorch-Add-bs1-len16]"]["quantized_nothing"] is True  # no Linear: nothing to do
    assert "speedup" in torch_int8 and "speedup" in rows["latency[int8-onnxruntime-Add+MatMul-bs1-len16]"]


def test_pytorch_quantizes_the_linear_layers(qb_cache: Path, tmp_path: Path) -> None:
    from pytest_quantbench.bench import Bench

    path = tmp_path / "f.suite.yaml"
    path.write_text(FRAMEWORKS.replace("\n    ", "\n"))
    cases = {c.id: c for c in load_suite(path).cases}
    report = Bench(qb_cache).quantized(cases["pytorch-Add+MatMul"]).report
    assert report.quantized_nodes == {"Linear": report.total_quantized} and report.total_quantized >= 8


def test_a_pytorch_baseline_times_every_config_against_pytorch_fp32(suite_file, run, pytester: pytest.Pytester) -> None:
    """`baseline: pytorch`: one PyTorch fp32 row per shape, every int8 row (ONNX Runtime's and PyTorch's) paired
    with it, and the JSON, the table and the card say so."""
    suite_file("frameworks.suite.yaml", FRAMEWORKS + "    baseline: pytorch\n")
    result = run("-m", "latency", "-v", "--benchmark-json", "out.json", "--quantbench-card", "card.md")
    result.assert_outcomes(passed=1 + 4)
    result.stdout.fnmatch_lines(["*latency[[]fp32-pytorch-bs1-len16[]] PASSED*"])
    assert "fp32-onnxruntime" not in result.stdout.str()
    rows = {b["name"]: b["extra_info"] for b in json.loads((pytester.path / "out.json").read_text())["benchmarks"]}
    assert sorted(rows) == [
        "latency[fp32-pytorch-bs1-len16]",
        "latency[int8-onnxruntime-Add+MatMul-bs1-len16]", "latency[int8-onnxruntime-Add-bs1-len16]",
        "latency[int8-pytorch-Add+MatMul-bs1-len16]", "latency[int8-pytorch-Add-bs1-len16]",
    ]  # fmt: skip
    assert {info["baseline"] for info in rows.values()} == {"pytorch"}
    ort = rows["latency[int8-onnxruntime-Add+MatMul-bs1-len16]"]
    assert (
        ort["speedup"] > 0 and ort["paired_fp32"]["rounds"] == ort["latency"]["rounds"]
    )  # paired with the PyTorch fp32 calls
    # PyTorch's own peak memory (a child loading the checkpoint), so every row has its ratio against it
    torch_fp32 = rows["latency[fp32-pytorch-bs1-len16]"]["memory"]
    assert torch_fp32["load_peak_bytes"] > 0 and torch_fp32["run_peak_bytes"] >= 0
    assert ort["fp32_memory"] == torch_fp32 and ort["memory"]["load_peak_bytes"] > 0
    assert rows["latency[int8-pytorch-Add+MatMul-bs1-len16]"]["memory"]["load_peak_bytes"] > 0
    result.stdout.fnmatch_lines(["*suite*config*speed-up vs fp32 (pytorch)*verdict*"])
    card = (pytester.path / "card.md").read_text()
    assert "The original is pytorch fp32 for every config (`baseline: pytorch`)" in card
    assert "speed-up vs fp32 (pytorch)" in card
