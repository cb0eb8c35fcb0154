"""The `Backend` contract: typed roles, what an engine cannot do, and how each engine describes itself."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from malformed_suites import BASE

from pytest_quantbench import serialize
from pytest_quantbench.bench import Bench
from pytest_quantbench.measure.machine import machine_facts
from pytest_quantbench.measure.measurements import Measurement
from pytest_quantbench.records import EngineInfo, MachineFacts, QuantizationReport, Role
from pytest_quantbench.registry import Registry
from pytest_quantbench.runtimes.base import Backend, QuantizedModel, Unsupported, check_role
from pytest_quantbench.suite import Case, load_suite
from pytest_quantbench.suite.vocabulary import BackendVocabulary
from pytest_quantbench.verdicts import diagnosis, speed


def cases(tmp_path: Path, extra: str = "") -> tuple[Case, ...]:
    path = tmp_path / "demo.suite.yaml"
    path.write_text(BASE + textwrap.dedent(extra) + "time: {batch_sizes: [1], input_lengths: [16]}\n")
    return load_suite(path).cases


class Plain(Backend):
    """A backend that says nothing of its engine beyond what it must."""

    name = "plain"
    vocabulary = BackendVocabulary(("dynamic",))
    libraries = ("numpy",)

    def quantized(self, case: Case) -> QuantizedModel:
        return QuantizedModel(Path("m"), QuantizationReport({"MatMul": 1}, 1, False))

    def session(self, case: Case, role: Role, threads: int | None = None):
        return check_role(role)

    def model_id(self, case: Case, role: Role) -> str:
        return f"plain-{check_role(role).value}"


@pytest.mark.parametrize("backend", ["onnxruntime", "pytorch"])
def test_a_backend_refuses_a_role_that_is_not_a_role(tmp_path: Path, backend: str) -> None:
    """No "anything not original is quantized": a misspelt role fails before a model is built or run."""
    bench = Bench(tmp_path / "cache")
    case = cases(tmp_path)[0]
    for role in ("original", "quantised", "fp32"):
        with pytest.raises(TypeError, match=r"a model's role is a records\.Role \(ORIGINAL or QUANTIZED\), not '"):
            bench.backends[backend].session(case, role)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"a model's role is a records\.Role"):
            bench.backends[backend].model_id(case, role)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=r"a model's role is a records\.Role"):
            bench.memory(case, role, 1, 16)  # type: ignore[arg-type]


def test_what_a_backend_cannot_do_it_says_with_a_reason(tmp_path: Path) -> None:
    backend = Plain(*(None,) * 3)  # type: ignore[arg-type]
    case = cases(tmp_path)[0]
    with pytest.raises(Unsupported) as info:
        backend.profile(case, Role.ORIGINAL, {}, 1)
    assert info.value.reason == "it has no op-level profiler"
    with pytest.raises(Unsupported) as info:
        backend.graph_inspector(case)
    assert info.value.reason == "graph inspection is not available for plain"
    assert backend.hardware_risk(case, machine_facts()) is None and backend.exact_kernels(case) is None
    from importlib.metadata import version

    assert Plain.engine_info() == EngineInfo("plain", f"numpy {version('numpy')}", f"plain (numpy {version('numpy')})")


def test_the_diagnoses_say_in_one_line_what_the_engine_cannot(tmp_path: Path) -> None:
    case = cases(tmp_path, "fixed: {framework: onnxruntime}\n")[0]
    backend = Plain(*(None,) * 3)  # type: ignore[arg-type]
    bench = SimpleNamespace(backend=lambda case: backend, quantized=backend.quantized)
    found = speed.diagnose(bench, Measurement(case, "int8", 1, 16), {}, 0.8)  # type: ignore[arg-type]
    assert found is not None and (found.cause, found.fix) == (
        "plain cannot profile: it has no op-level profiler",
        "none found",
    )
    options = diagnosis.DiagnoseOptions(always=True)
    unavailable = diagnosis.for_case(bench, case, passed=False, options=options)  # type: ignore[arg-type]
    assert unavailable is not None and unavailable.line() == (
        "no diagnosis for framework: onnxruntime (graph inspection is not available for plain)"
    )


def test_the_engines_a_run_used_are_its_backends_and_baselines_in_order(tmp_path: Path) -> None:
    registry = Registry()
    registry.add_backend(Plain)
    both = cases(tmp_path, "baseline: pytorch\nbenchmarked: {framework: [onnxruntime, pytorch]}\n")
    assert [e.name for e in registry.engines_of(both)] == ["onnxruntime", "pytorch"]
    assert [e.name for e in registry.engines_of(both[1:])] == ["pytorch"]
    assert [e.name for e in registry.engines()] == ["onnxruntime", "pytorch", "openvino", "plain"]
    assert [e.name for e in registry.engines(["tvm", "plain"])] == ["plain"]  # a name no backend has: none
    ort = registry.engines(["onnxruntime"])[0]
    assert ort.line == f"onnxruntime {ort.version} (CPUExecutionProvider)"


def test_machine_facts_keep_the_engines_and_an_old_run_still_reads() -> None:
    engines = (EngineInfo("pytorch", "torch 2.0", "torch 2.0 (eager, CPU)"),)
    facts = machine_facts(engines)
    assert facts.engines == engines and facts.engine("pytorch") == engines[0] and facts.engine("tvm") is None
    assert serialize.load(MachineFacts, serialize.dump(facts)) == facts
    old = {"cpu": "c", "cpu_count": 2, "instructions": [], "vnni": False, "onnxruntime": "1.2.3", "python": "3.11"}
    read = serialize.load(MachineFacts, old)
    assert read.engines == (EngineInfo("onnxruntime", "1.2.3", "onnxruntime 1.2.3 (CPUExecutionProvider)"),)
