"""Weight-only, fp16 and 16-bit-activation configs, the quantized session's own level, and the speed
diagnosis from real profiles, on the tiny BERT."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path

import pytest

from conftest import SENTIMENT
from pytest_quantbench.bench import Bench
from pytest_quantbench.measure.measurements import measurements
from pytest_quantbench.records import Role
from pytest_quantbench.runtimes.onnxruntime import OnnxRuntime
from pytest_quantbench.suite import Threshold, Thresholds, load_suite
from pytest_quantbench.verdicts import speed

MODES = (
    SENTIMENT
    + """
    fixed:
      framework_args: {opset: 13, optimization_level: 1, quantized_optimization_level: 99}
      calibration: {num_calibration_samples: 50, padding: none}
      operators_to_quantize: [MatMul]
    benchmarked:
      quantization_approach: [weight_only, fp16]
    time: {batch_sizes: [1], input_lengths: [16], rounds: 2, warmup_rounds: 0}
"""
)
ACTIVATIONS_16 = (
    SENTIMENT.replace("name: tiny-sentiment", "name: a16")
    + """
    fixed:
      quantization_approach: static
      framework_args: {opset: 13, optimization_level: 1, quantized_optimization_level: 99}
      calibration: {num_calibration_samples: 50, padding: none}
      operators_to_quantize: [MatMul]
    benchmarked:
      activations_dtype: [int16, uint16]
    time: {batch_sizes: [1], input_lengths: [16], rounds: 2, warmup_rounds: 0}
"""
)


def test_weight_only_fp16_and_16bit_activations_build_gate_time_and_reach_the_card(suite_file, run, pytester) -> None:
    suite_file("modes.suite.yaml", MODES)
    suite_file("a16.suite.yaml", ACTIVATIONS_16)
    result = run("--benchmark-json=out.json", "--quantbench-card=card.md")
    result.assert_outcomes(passed=2 * (2 + 1 + 2))
    data = json.loads((pytester.path / "out.json").read_text())
    rows = {(a["suite"], a["config_id"]): a for a in data["quantbench"]["accuracy"]}
    assert rows[("tiny-sentiment", "weight_only")]["quantization"]["quantized_nodes"]["MatMul"] >= 8  # MatMulNBits
    assert rows[("tiny-sentiment", "fp16")]["quantization"]["total_quantized"] > 0
    for dtype in ("int16", "uint16"):
        assert rows[("a16", dtype)]["quantization"]["quantized_nodes"]["MatMul"] >= 8
    card = (pytester.path / "card.md").read_text()
    assert "`weight_only`" in card and "`fp16`" in card and "`uint16`" in card


def test_a_slow_static_config_is_diagnosed_from_its_profiles(
    qb_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unfused QDQ graph at optimization level 1 and the same graph fused at 99: the profiles, not the
    timings, decide the cause (the speed-up handed in only says the case is slow)."""
    path = tmp_path / "slow.suite.yaml"
    path.write_text(
        textwrap.dedent(
            SENTIMENT
            + """
    fixed:
      quantization_approach: static
      operators_to_quantize: [Add, MatMul]
      calibration: {num_calibration_samples: 50, padding: none}
    benchmarked:
      framework_args: [{opset: 13, optimization_level: 1}, {opset: 13, optimization_level: 1, quantized_optimization_level: 99}]
    time: {batch_sizes: [1], input_lengths: [64], rounds: 2}
"""
        )
    )
    suite = load_suite(path)
    bench = Bench(qb_cache)
    unfused, fused = [m for m in measurements(suite) if m.role is Role.QUANTIZED]
    feed = bench.timing_inputs(suite, 1, 64)
    first = speed.diagnose(bench, unfused, feed, speedup=0.6)
    assert first is not None and first.cause.startswith("QDQ pairs left unfused at optimization level 1")
    assert first.fix == "framework_args: {quantized_optimization_level: 99}"
    assert {o.op_type for o in first.op_times} >= {"QuantizeLinear", "DequantizeLinear"}
    second = speed.diagnose(bench, fused, feed, speedup=0.6)
    assert second is not None and not second.cause.startswith("QDQ pairs left unfused")
    assert speed.diagnose(bench, fused, feed, speedup=1.5) is None
    gated = dataclasses.replace(fused.case, thresholds=Thresholds(speedup=Threshold(min=2.0)))
    assert speed.diagnose(bench, dataclasses.replace(fused, case=gated), feed, speedup=1.5) is not None  # below min
    # on several intra-op threads both models are profiled again on one, to tell thread scaling from the rest
    seen = []
    explain = speed.explain
    monkeypatch.setattr(speed, "explain", lambda facts, rules: seen.append(facts.one_thread) or explain(facts, rules))
    args = dataclasses.replace(fused.case.config.framework_args, intra_op_num_threads=2)
    threaded = dataclasses.replace(fused.case, config=dataclasses.replace(fused.case.config, framework_args=args))
    assert speed.diagnose(bench, dataclasses.replace(fused, case=threaded), feed, speedup=0.6) is not None
    assert seen[-1] is not None and all(p.total_ms > 0 for p in seen[-1])
    ort = OnnxRuntime
    assert ort.level(fused.case, Role.QUANTIZED) == 99 and ort.level(fused.case, Role.ORIGINAL) == 1
    assert unfused.case.baseline_id == fused.case.baseline_id  # one fp32 baseline: its level is the same


def test_float16_and_16bit_activation_configs_are_diagnosed_from_their_kernels_types(
    qb_cache: Path, tmp_path: Path
) -> None:
    """Real profiles record the element type each kernel takes; a slow fp16 or 16-bit config is named as one."""
    bench = Bench(qb_cache)
    causes = {}
    for name, text in (("modes", MODES), ("a16", ACTIVATIONS_16)):
        path = tmp_path / f"{name}.suite.yaml"
        path.write_text(textwrap.dedent(text))
        suite = load_suite(path)
        feed = bench.timing_inputs(suite, 1, 16)
        for m in measurements(suite):
            if m.role is not Role.QUANTIZED or m.case.config.quantization_approach == "weight_only":
                continue
            profile = bench.backends["onnxruntime"].profile(m.case, Role.QUANTIZED, feed, speed.PROFILED_CALLS)
            assert sum(profile.input_type_ms.values()) == pytest.approx(sum(profile.op_ms.values()))
            diagnosis = speed.diagnose(bench, m, feed, speedup=0.9)
            assert diagnosis is not None
            causes[m.case.id] = diagnosis.cause
    assert causes["fp16"].startswith("float16 ")  # run in fp32 (x86) or in float16 kernels: the profile says which
    for dtype in ("int16", "uint16"):
        assert causes[dtype].startswith(f"{dtype} activations: ONNX Runtime has no integer kernels that take them")


def test_static_configs_differing_only_where_calibration_does_not_read_share_one_calibration(tmp_path: Path) -> None:
    """int16 and uint16 activations are calibrated on the same rows, method and operators: one `ORTQuantizer.fit`
    serves both, and the graph it quantizes is the one a config calibrated on its own gets."""
    from pytest_quantbench.artifacts import quantize

    path = tmp_path / "a16.suite.yaml"
    path.write_text(textwrap.dedent(ACTIVATIONS_16))
    suite = load_suite(path)
    cache = tmp_path / "cache"
    backend = Bench(cache).backends["onnxruntime"]
    shared = [backend.quantized(case).report.graph_sha256 for case in suite.cases]
    assert len(list((cache / "calibration").iterdir())) == 1
    case = suite.cases[0]
    data = backend.data.of(suite)
    rows = data.calibration(case.config.calibration.num_calibration_samples, case.config.calibration.padding)
    (tmp_path / "alone").mkdir()
    alone = quantize.quantize(backend.original(case).parent, case.config, tmp_path / "alone", rows)
    assert alone.graph_sha256 == shared[0] != shared[1]
