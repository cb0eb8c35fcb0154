"""A backend a user writes in a `conftest.py` runs a suite end to end: nothing in the package names it.

Its engine is onnx's reference evaluator (numpy) on the ONNX files the ONNX Runtime backend builds: it says
nothing of profiles or graphs, so the diagnoses say that it cannot, and the card prints its own engine line.
"""

from __future__ import annotations

import json
from importlib.metadata import version

import pytest

from conftest import SENTIMENT

REFERENCE_BACKEND = """
    import json
    from pathlib import Path

    import onnx
    from onnx.reference import ReferenceEvaluator

    from pytest_quantbench.runtimes.base import Backend, check_role
    from pytest_quantbench.runtimes.onnxruntime import OnnxRuntime
    from pytest_quantbench.suite.vocabulary import BackendVocabulary

    CALLS = {}


    class ReferenceSession:
        def __init__(self, path, role):
            self.evaluator, self.role = ReferenceEvaluator(str(path)), role
            self.inputs = list(onnx.load(str(path), load_external_data=False).graph.input)

        def get_inputs(self):
            return self.inputs

        def run(self, output_names, feed):
            CALLS[self.role.value] = CALLS.get(self.role.value, 0) + 1
            return self.evaluator.run(output_names, feed)


    class Reference(Backend):
        '''The export and the int8 model the ONNX Runtime backend builds, run by onnx's reference evaluator.'''

        name = "onnx-reference"
        vocabulary = BackendVocabulary(("dynamic",), "onnx.reference on the optimum export")
        libraries = ("onnx", "numpy")

        def __init__(self, cache, models, data):
            super().__init__(cache, models, data)
            self.files = OnnxRuntime(cache, models, data)

        def quantized(self, case):
            return self.files.quantized(case)

        def session(self, case, role, threads=None):
            return ReferenceSession(self.files.path(case, check_role(role)), role)

        def model_id(self, case, role):
            return f"onnx-reference-{self.files.model_id(case, role)}"


    def pytest_quantbench_add_backends(registry):
        registry.add_backend(Reference)


    def pytest_sessionfinish(session):
        Path(session.config.rootpath, "calls.json").write_text(json.dumps(CALLS))
"""
SUITE = (
    SENTIMENT
    + """
    fixed:
      framework: onnx-reference
      operators_to_quantize: [MatMul]
      framework_args: {opset: 13, optimization_level: 1}
    time: {batch_sizes: [1], input_lengths: [16], rounds: 2, warmup_rounds: 0}
    thresholds: {accuracy: {max_drop: 0.05}, speedup: {min: 1000}}
"""
)


def test_a_users_backend_runs_a_suite_with_its_own_engine_line(suite_file, run, pytester: pytest.Pytester) -> None:
    pytester.makeconftest(REFERENCE_BACKEND)
    suite_file("reference.suite.yaml", SUITE)
    result = run("--benchmark-json=out.json", "--quantbench-card=card.md", "--quantbench-diagnose")
    result.assert_outcomes(passed=2, failed=1)  # accuracy and the fp32 row; the int8 row misses speedup x1000
    calls = json.loads((pytester.path / "calls.json").read_text())
    assert calls["original"] > 0 and calls["quantized"] > 0  # its own sessions computed scores and timings

    versions = f"onnx {version('onnx')}, numpy {version('numpy')}"  # its `libraries`, as the default describes them
    engine = f"onnx-reference ({versions})"
    data = json.loads((pytester.path / "out.json").read_text())
    ours = data["quantbench"]
    assert ours["machine"]["engines"] == [{"name": "onnx-reference", "version": versions, "line": engine}]
    (row,) = ours["accuracy"]
    assert row["passed"] and row["metrics"]["accuracy"]["quantized"] >= 0.9
    assert [e["name"] for e in row["machine"]["engines"]] == ["onnx-reference"]
    assert row["diagnosis"]["line"] == (
        "no diagnosis for framework: onnx-reference (graph inspection is not available for onnx-reference)"
    )

    cannot = "onnx-reference cannot profile: it has no op-level profiler"
    int8 = next(b["extra_info"] for b in data["benchmarks"] if b["extra_info"]["role"] == "quantized")
    assert int8["speed_diagnosis"]["cause"] == cannot
    result.stdout.fnmatch_lines([f"*< min x1000*; cause: {cannot}; fix: none found*"])
    assert f"**Backend:** `{engine}`" in (pytester.path / "card.md").read_text()
