"""Real collapses, diagnosed: a tiny BERT with static minmax calibration on padded batches collapses, the
failure names the attention-mask Add and its range, and the suggested node_exclusion passes."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from conftest import SENTIMENT
from pytest_quantbench.artifacts.cache import ArtifactCache

STATIC = (
    SENTIMENT
    + """
    fixed:
      quantization_approach: static
      operators_to_quantize: [Add, MatMul]
      framework_args: {opset: 13, optimization_level: 1}
"""
)
MASK_ADD = "/bert/encoder/layer.0/attention/self/Add"


def _fix(stdout: str) -> str:
    """The node_exclusion the failure line suggests."""
    return re.search(r"fix: (node_exclusion: \[[^\]]*\])", stdout).group(1)


def test_collapse_names_the_mask_add_and_its_suggestion_passes(suite_file, run, pytester) -> None:
    suite_file("collapse.suite.yaml", STATIC)
    result = run("--benchmark-disable", "-k", "accuracy", "--junitxml=out.xml")
    result.assert_outcomes(failed=1)
    failure = [ln for ln in result.stdout.lines if ln.startswith("collapse.suite.yaml::accuracy[static]: ")]
    assert len(failure) == 1  # one line: verdict, cause, fix
    assert re.search(
        r"COLLAPSE: accuracy 1\.000 -> 0\.\d+ .*; cause: calibration range of Add "
        + re.escape(MASK_ADD)
        + r" \(feeds Softmax\) is \[-3\.4e\+38, [\d.]+\].*; fix: node_exclusion: \[/bert/encoder/layer\.0/attention/self/Add, "
        r"/bert/encoder/layer\.1/attention/self/Add\] \(the softmax preset\) or calibration padding: none"
        r"; artifacts: quantized model \S+\.onnx, calibration ranges \S+/ranges\.json, predictions \S+\.json$",
        failure[0],
    ), failure[0]
    result.stdout.fnmatch_lines(
        ["*Captured quantbench diagnosis call*", "*range check*", "*1. Add * " + MASK_ADD + " *"]
    )
    prop = ET.parse(pytester.path / "out.xml").find(".//property[@name='quantbench']").get("value")
    assert "'hardware_risk': None" in prop and "'vnni'" in prop and "'range_check'" in prop
    # the inputs that changed answer ride in the case result: a collapse changes many, a few are kept
    assert "'changed_answers': [{'index': " in prop and "'kind': 'text'" in prop

    fix = _fix(result.stdout.str())
    suite_file("fixed.suite.yaml", STATIC + f"      {fix}\n")
    result = run("fixed.suite.yaml", "--benchmark-disable", "-k", "accuracy")
    result.assert_outcomes(passed=1)


def test_a_rerun_reads_the_ranking_from_the_cache(suite_file, run, qb_cache) -> None:
    """The sensitivity ranking is the costly part of a diagnosis: a warm rerun must not compute it again."""
    suite_file("collapse.suite.yaml", STATIC)
    lines, ranked = [], []
    for _ in range(2):
        result = run("--benchmark-disable", "-k", "accuracy")
        result.assert_outcomes(failed=1)
        lines += [ln for ln in result.stdout.lines if ln.startswith("collapse.suite.yaml::accuracy[static]: ")]
        ranked.append(sum(b["kind"] == "sensitivity" for b in ArtifactCache(qb_cache).builds()))
    assert len(lines) == 2 and lines[0] == lines[1] and "cause: " in lines[0]
    assert any((qb_cache / "sensitivity").iterdir())
    assert ranked[1] == ranked[0]


def test_fallback_search_finds_a_passing_set_with_its_latency_cost(suite_file, run) -> None:
    suite_file("collapse.suite.yaml", STATIC)
    result = run("--benchmark-disable", "-k", "accuracy", "--quantbench-fallback")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*; fix: node_exclusion: [[]{MASK_ADD}[]] (fallback search: accuracy 1.000, latency x*); artifacts: *",
            "*fallback search:*",
        ]
    )
    fix = _fix(result.stdout.str())
    suite_file("fixed.suite.yaml", STATIC + f"      {fix}\n")
    run("fixed.suite.yaml", "--benchmark-disable", "-k", "accuracy").assert_outcomes(passed=1)


def test_diagnose_off_keeps_the_bare_verdict(suite_file, run) -> None:
    suite_file("collapse.suite.yaml", STATIC)
    result = run("--benchmark-disable", "-k", "accuracy", "--quantbench-no-diagnose")
    result.assert_outcomes(failed=1)
    assert "cause:" not in result.stdout.str()
    assert "Captured quantbench diagnosis" not in result.stdout.str()


def test_hardware_risk_rides_on_exactly_the_risky_configs(suite_file, run, pytester) -> None:
    suite_file(
        "risk.suite.yaml",
        SENTIMENT
        + """
    fixed: {operators_to_quantize: [MatMul], framework_args: {opset: 13, optimization_level: 1}}
    benchmarked: {reduce_range: [false, true]}
    time: {batch_sizes: [1], input_lengths: [16], rounds: 1, warmup_rounds: 0}
""",
    )
    result = run("--quantbench-diagnose", "--benchmark-json=out.json", "-k", "not fp32", "-rP")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*sensitivity on up to 8 eval samples*", "*hardware: u8s8-saturation risk; probe: *"])
    info = {b["name"]: b["extra_info"] for b in json.loads((pytester.path / "out.json").read_text())["benchmarks"]}
    risky, safe = info["latency[int8-full_range-bs1-len16]"], info["latency[int8-reduce_range-bs1-len16]"]
    assert risky["hardware_risk"]["risk"] == "u8s8-saturation"
    assert risky["hardware_risk"]["this_machine_saturates"] == (
        risky["hardware_risk"]["probe"]["default"] == "saturates"
    )
    assert safe["hardware_risk"] is None
    for entry in (risky, safe):
        assert entry["quantization"]["quantized_nodes"]["MatMul"] >= 8
        assert {"vnni", "instructions"} <= entry["machine"].keys()
