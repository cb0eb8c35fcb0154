"""`framework: pytorch`: PyTorch fp32 and dynamic int8 rows beside ONNX Runtime's, gated and timed alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite import load_suite

FRAMEWORKS = """
    name: frameworks
    task: text-classification
    model_name_or_path: builtin:tiny-bert-sentiment
    dataset: {path: "builtin:synthetic-sentiment", eval_split: validation, num_eval_samples: 100}
    fixed:
      quantization_approach: dynamic
      framework_args: {opset: 13, optimization_level: 1, intra_op_num_threads: 1}
    benchmarked:
      framework: [onnxruntime, pytorch]
      operators_to_quantize: [[Add, MatMul], [Add]]
    time: {batch_sizes: [1], input_lengths: [16], rounds: 3, warmup_rounds: 1}
    thresholds: {accuracy: {max_drop: 0.05}}
"""


def test_pytorch_rows_sit_beside_onnxruntime_rows(suite_file, run, pytester: pytest.Pytester) -> None:
    suite_file("frameworks.suite.yaml", FRAMEWORKS)
    result = run("-v", "--benchmark-json", "out.json", "-W", "ignore::UserWarning", "--quantbench-diagnose")
    result.assert_outcomes(passed=4 + 6)
    result.stdout.fnmatch_lines(["*accuracy[[]pytorch-Add+MatMul[]] PASSED*", "*latency[[]fp32-pytorch-bs1-len16[]]*"])
    accuracy = {
        r["config_id"]: r for r in json.loads((pytester.path / "out.json").read_text())["quantbench"]["accuracy"]
    }
    assert accuracy["pytorch-Add+MatMul"]["diagnosis"] == {
        "line": "no diagnosis for framework: pytorch (it reads ONNX graphs)"
    }
    rows = {b["name"]: b["extra_info"] for b in json.loads((pytester.path / "out.json").read_text())["benchmarks"]}
    torch_int8 = rows["latency[int8-pytorch-Add+MatMul-bs1-len16]"]
    assert torch_int8["config"]["framework"] == "pytorch"
    assert torch_int8["quantized_nothing"] is False
    assert torch_int8["accuracy"]["accuracy"]["quantized"] >= 0.9
    assert rows["latency[int8-pytorch-Add-bs1-len16]"]["quantized_nothing"] is True  # no Linear: nothing to do
    assert "speedup" in torch_int8 and "speedup" in rows["latency[int8-onnxruntime-Add+MatMul-bs1-len16]"]


def test_pytorch_quantizes_the_linear_layers(qb_cache: Path, tmp_path: Path) -> None:
    from pytest_quantbench.harness import Harness

    path = tmp_path / "f.suite.yaml"
    path.write_text(FRAMEWORKS.replace("\n    ", "\n"))
    cases = {c.id: c for c in load_suite(path).cases}
    report = Harness(qb_cache).quantized(cases["pytorch-Add+MatMul"]).report
    assert report["quantized_nodes"] == {"Linear": report["total_quantized"]} and report["total_quantized"] >= 8


def test_pytorch_static_is_refused_at_collection(tmp_path: Path) -> None:
    path = tmp_path / "s.suite.yaml"
    path.write_text(
        FRAMEWORKS.replace("\n    ", "\n").replace("quantization_approach: dynamic", "quantization_approach: static")
    )
    with pytest.raises(SuiteError, match=r"benchmarked.framework: pytorch runs dynamic quantization only"):
        load_suite(path)


def test_builds_use_every_core_after_a_timing_case_pinned_one() -> None:
    """torch's thread count is process-wide: a PyTorch timing case sets it to 1, a later build must not train on
    one core (and must leave the setting as it found it)."""
    import os

    import torch

    from pytest_quantbench.zoo.training import every_core

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with every_core():
            assert torch.get_num_threads() == (os.cpu_count() or 1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
