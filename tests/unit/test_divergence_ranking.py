"""The divergence ranking: one merged model in which any set of quantized nodes runs quantized (checked against
models quantized with the others excluded), the group testing that finds the nodes moving the output most in
few measures, and how the diagnosis orders and names them."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import tiny_models as tm

from pytest_quantbench.records import NodeError
from pytest_quantbench.runtimes import isolation
from pytest_quantbench.runtimes.onnxruntime_divergence import SwitchedSession, merge, save
from pytest_quantbench.tasks.text_generation import TextGeneration
from pytest_quantbench.verdicts.diagnosis import Diagnosis, by_divergence


def _dynamic(model: onnx.ModelProto, folder: Path) -> onnx.ModelProto:
    from onnxruntime.quantization import quantize_dynamic

    onnx.save(model, folder / "f.onnx")
    quantize_dynamic(folder / "f.onnx", folder / "d.onnx")
    return onnx.load(folder / "d.onnx")


def _run(model: onnx.ModelProto, feed: dict) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feed)[0]


def _switched(fp32: onnx.ModelProto, quantized: onnx.ModelProto, feed: dict) -> SwitchedSession:
    merged = merge(onnx.ModelProto.FromString(fp32.SerializeToString()), quantized, {"first", "second"})
    assert merged.candidates == ("first", "second")  # graph order
    with tempfile.TemporaryDirectory() as tmp:
        save(merged, Path(tmp, "merged.onnx"))
        return SwitchedSession(Path(tmp, "merged.onnx"), merged.candidates, feed)


def test_the_merged_model_runs_exactly_the_chosen_nodes_quantized() -> None:
    fp32 = tm.matmul_chain()
    feed = {"x": np.random.default_rng(1).standard_normal((3, 64)).astype(np.float32)}
    session = _switched(fp32, tm.weight_only(fp32), feed)
    np.testing.assert_allclose(session.outputs(()), _run(fp32, feed), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(session.outputs({"first", "second"}), _run(tm.weight_only(fp32), feed), atol=1e-3)
    first_only = _run(tm.weight_only(fp32, exclude=("second",)), feed)
    np.testing.assert_allclose(session.outputs({"first"}), first_only, atol=1e-3)
    assert not np.allclose(first_only, _run(fp32, feed), atol=1e-2)  # the switch did change something


def test_a_dynamic_models_chain_is_copied_whole(tmp_path) -> None:
    """Dynamic int8 computes a MatMul as DynamicQuantizeLinear, MatMulInteger, Cast and Muls: all copied."""
    fp32 = tm.matmul_chain()
    dynamic = _dynamic(fp32, tmp_path)
    feed = {"x": np.random.default_rng(1).standard_normal((3, 64)).astype(np.float32)}
    session = _switched(fp32, dynamic, feed)
    np.testing.assert_allclose(session.outputs({"first", "second"}), _run(dynamic, feed), atol=1e-4)
    np.testing.assert_allclose(session.outputs(()), _run(fp32, feed), rtol=1e-5, atol=1e-4)


def test_group_testing_finds_the_nodes_that_move_the_output_in_few_measures() -> None:
    candidates = [f"n{i}" for i in range(100)]
    effect = {name: 0.001 for name in candidates} | {"n7": 0.5, "n63": 0.2}
    calls: list[frozenset[str]] = []

    def measure(nodes: frozenset[str]) -> float:
        calls.append(nodes)
        return sum(effect[n] for n in nodes)

    found = isolation.isolate(candidates, measure)
    assert isolation.ordered(found)[:2] == ["n7", "n63"] and found["n7"] == pytest.approx(0.5)
    size = len(isolation.groups(candidates)[0])
    assert size == 6 and len(calls) == 17 + isolation.REFINED * size  # 17 groups, 3 refined: not 100 measures
    few = isolation.isolate(candidates[:5], measure)  # up to DIRECT, each alone
    assert set(few) == set(candidates[:5]) and len(calls) == 17 + 18 + 5


def _error(node: str, added: float, divergence: float | None = None) -> NodeError:
    return NodeError(node, "MatMul", 10.0, 0.3, added, divergence)


def test_the_diagnosis_orders_by_divergence_and_names_the_nodes_that_matter() -> None:
    local = [_error("/layers.3/MatMul", 0.5), _error("/layers.1/MatMul", 0.2), _error("/lm_head/MatMul", -0.2)]
    ranking = by_divergence(local, {"/lm_head/MatMul": 0.4, "/layers.1/MatMul": 0.02})
    assert [e.node for e in ranking] == ["/lm_head/MatMul", "/layers.1/MatMul", "/layers.3/MatMul"]
    assert ranking[0].divergence == 0.4 and ranking[2].divergence is None
    base = dict(config_exclusion=(), findings=[], ranking=ranking, hardware=None, softmax_preset=[], keep_bits=8,
                divergence_name="mean KL")  # fmt: skip
    line = Diagnosis(**base).line()  # type: ignore[arg-type]
    # the head moves it 20 times more than the next: it alone is named
    assert line == (
        "cause: moves the output most quantized alone (mean KL): MatMul /lm_head/MatMul (0.4); "
        "fix: weight_only.keep_8bit: [/lm_head/MatMul] (or in fp32: node_exclusion: [/lm_head/MatMul])"
    )
    close = [dataclasses.replace(ranking[1], divergence=0.3), *ranking[2:]]
    both = Diagnosis(**{**base, "ranking": [ranking[0], *close]}).named()  # type: ignore[arg-type]
    assert [e.node for e in both] == ["/lm_head/MatMul", "/layers.1/MatMul"]


def test_a_decoders_divergence_is_its_mean_kl_over_attended_positions() -> None:
    rng = np.random.default_rng(0)
    original = rng.standard_normal((2, 3, 11))
    task = TextGeneration()
    mask = {"attention_mask": np.array([[1, 1, 1], [0, 1, 1]])}
    assert task.divergence(original, original.copy(), mask) == pytest.approx(0.0, abs=1e-12)
    moved = original.copy()
    moved[1, 0] += rng.standard_normal(11) * 5  # a padded position: not counted
    assert task.divergence(original, moved, mask) == pytest.approx(0.0, abs=1e-12)
    moved[0, 1] += rng.standard_normal(11) * 5
    assert task.divergence(original, moved, mask) > 0.01
    assert task.divergence(original, moved, {}) > task.divergence(original, moved, mask)  # no mask: every position
