"""`baseline:` without a run: the fp32 row ids, the one-line errors, the session a latency case is paired with
and what the speed diagnosis says it compared (a run: tests/integration/test_pytorch.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from malformed_suites import BASE

from pytest_quantbench.bench import Bench
from pytest_quantbench.errors import SuiteError
from pytest_quantbench.measure.measurements import Measurement, measurements
from pytest_quantbench.records import Profile, QuantizationReport, Role
from pytest_quantbench.runtimes.onnxruntime import OnnxRuntime
from pytest_quantbench.suite import json_schema, load_suite
from pytest_quantbench.suite.vocabulary import BackendVocabulary, Vocabulary
from pytest_quantbench.verdicts import speed

FRAMEWORKS = "benchmarked: {framework: [onnxruntime, pytorch], per_channel: [false]}\n"
SHAPE = "time: {batch_sizes: [1], input_lengths: [16]}\n"


def suite(tmp_path: Path, extra: str, vocabulary: Vocabulary | None = None):
    path = tmp_path / "demo.suite.yaml"
    path.write_text(BASE + textwrap.dedent(extra) + SHAPE)
    return load_suite(path, vocabulary)


def ids(tmp_path: Path, extra: str) -> list[str]:
    return [m.id for m in measurements(suite(tmp_path, extra))]


def test_default_ids_are_unchanged(tmp_path: Path) -> None:
    assert ids(tmp_path, "") == ["fp32-bs1-len16", "int8-dynamic-bs1-len16"]
    assert ids(tmp_path, FRAMEWORKS) == [
        "fp32-onnxruntime-bs1-len16", "fp32-pytorch-bs1-len16",
        "int8-onnxruntime-per_tensor-bs1-len16", "int8-pytorch-per_tensor-bs1-len16",
    ]  # fmt: skip
    assert ids(tmp_path, "baseline: onnxruntime\n") == ids(tmp_path, "")  # the config's own framework: the same rows


def test_a_pytorch_baseline_is_one_fp32_row_that_every_config_is_paired_with(tmp_path: Path) -> None:
    assert ids(tmp_path, "baseline: pytorch\n") == ["fp32-pytorch-bs1-len16", "int8-dynamic-bs1-len16"]
    s = suite(tmp_path, "baseline: pytorch\n" + FRAMEWORKS)
    assert [c.baseline for c in s.cases] == ["pytorch", "pytorch"]
    assert [m.id for m in measurements(s)] == [
        "fp32-pytorch-bs1-len16", "int8-onnxruntime-per_tensor-bs1-len16", "int8-pytorch-per_tensor-bs1-len16",
    ]  # fmt: skip
    assert ids(tmp_path, "fixed: {framework: pytorch}\nbaseline: onnxruntime\n")[0] == "fp32-onnxruntime-bs1-len16"
    fa = "baseline: pytorch\nbenchmarked: {framework_args: [{opset: 13, optimization_level: 1}]}\n"
    assert ids(tmp_path, fa)[0] == "fp32-pytorch-opset13-O1-t1-bs1-len16"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "baseline: pytorh\n",
            "baseline: unknown value 'pytorh' (did you mean 'pytorch'? known: onnxruntime, pytorch, openvino)",
        ),
        ("baseline: null\n", "baseline: unknown value None (known: onnxruntime, pytorch, openvino)"),
    ],
)
def test_a_bad_baseline_is_one_line_naming_the_field(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(SuiteError) as info:
        suite(tmp_path, extra)
    assert str(info.value) == f"{tmp_path / 'demo.suite.yaml'}: {message}"


def test_a_users_backend_may_be_the_baseline(tmp_path: Path) -> None:
    default = Vocabulary.default()
    vocabulary = Vocabulary(default.tasks, {**default.backends, "tvm": BackendVocabulary(("dynamic",))})
    assert suite(tmp_path, "baseline: tvm\n", vocabulary).cases[0].baseline_id == "fp32-tvm"
    assert json_schema(vocabulary)["properties"]["baseline"]["enum"] == ["onnxruntime", "pytorch", "openvino", "tvm"]


class FakeBackend:
    def __init__(self, name: str) -> None:
        self.name = name

    def session(self, case, role: str, threads: int | None = None) -> tuple:
        return (self.name, role, threads)


def test_the_baseline_session_is_the_baseline_backends_original(tmp_path: Path) -> None:
    bench = Bench(tmp_path / "cache")
    bench.backends = {"onnxruntime": FakeBackend("onnxruntime"), "pytorch": FakeBackend("pytorch")}
    case = suite(tmp_path, "baseline: pytorch\n").cases[0]
    assert bench.baseline_session(case, 2) == ("pytorch", "original", 2)
    assert bench.original_session(case) == ("onnxruntime", "original", None)  # accuracy keeps its own fp32
    own = suite(tmp_path, "").cases[0]
    assert bench.baseline_session(own) == ("onnxruntime", "original", None)


def diagnosis(tmp_path: Path, extra: str, quantized_nothing: bool):
    case = suite(tmp_path, extra).cases[0]
    report = QuantizationReport(
        {} if quantized_nothing else {"MatMul": 8}, 0 if quantized_nothing else 8, quantized_nothing
    )
    backend = SimpleNamespace(
        name="onnxruntime",
        profile=lambda case, role, feed, calls: Profile(
            {"MatMul": 1.0} if role is Role.ORIGINAL else {"MatMulInteger": 1.2}
        ),
        speed_rules=OnnxRuntime.speed_rules,
    )
    bench = SimpleNamespace(quantized=lambda case: SimpleNamespace(report=report), backend=lambda case: backend)
    return speed.diagnose(bench, Measurement(case, Role.QUANTIZED, 1, 16), {}, 0.8)  # type: ignore[arg-type]


@pytest.mark.parametrize("quantized_nothing", [False, True])
def test_the_speed_diagnosis_says_what_it_profiled_against_another_baseline(
    tmp_path: Path, quantized_nothing: bool
) -> None:
    found = diagnosis(tmp_path, "baseline: pytorch\n", quantized_nothing)
    assert found is not None
    assert found.cause.endswith("(profiled: onnxruntime fp32 vs int8; the speed-up is vs pytorch fp32)")
    own = diagnosis(tmp_path, "", quantized_nothing)
    assert own is not None and "profiled" not in own.cause
