"""Runtime failures stay cases: an ONNX Runtime error is one line naming the inputs and their shapes, a failed
build leaves nothing in the cache, and a rerun after the fix builds only what failed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
import tiny_models as tm

from pytest_quantbench.artifacts import quantize
from pytest_quantbench.bench import Bench
from pytest_quantbench.errors import BuildError
from pytest_quantbench.measure.timing import time_session
from pytest_quantbench.runtimes.base import run_checked
from pytest_quantbench.runtimes.onnxruntime import open_session
from pytest_quantbench.suite import FrameworkArgs, TimeSpec, load_suite


def _add_model(path: Path) -> Path:
    """y = x + 1 over a float vector of 3."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"], name="add_one")],
        "add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
        [helper.make_tensor("one", TensorProto.FLOAT, [3], [1.0, 1.0, 1.0])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_a_failing_run_names_the_model_inputs_and_shapes(tmp_path: Path) -> None:
    session = open_session(_add_model(tmp_path / "add.onnx"), FrameworkArgs(), threads=1)
    assert run_checked(session, {"x": np.zeros(3, np.float32)})[0].tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(BuildError) as info:
        run_checked(session, {"x": np.zeros((2, 5), np.float32)})
    message = str(info.value)
    assert message.startswith(f"running {tmp_path / 'add.onnx'} on inputs x [2, 5] float32 failed: ")
    assert "\n" not in message and "x" in message.split("failed: ", 1)[1]


class _Timer:
    """pytest-benchmark's `pedantic`, untimed: runs the call `rounds` times."""

    disabled = False

    def times(self) -> list[float] | None:
        return None

    def pedantic(self, fn, args, setup, rounds, warmup_rounds, iterations) -> None:
        for _ in range(rounds + warmup_rounds):
            fn(*args)


@pytest.mark.parametrize("rounds", [None, 2], ids=["adaptive", "fixed"])
def test_a_failing_timed_call_is_one_line(tmp_path: Path, rounds: int | None) -> None:
    """Whether the warm-up (adaptive rounds) or pytest-benchmark's own call (fixed rounds) hits it."""
    session = open_session(_add_model(tmp_path / "add.onnx"), FrameworkArgs(), threads=1)
    spec = TimeSpec(rounds=rounds, warmup_rounds=0)
    with pytest.raises(BuildError, match=r"^running .*add.onnx on inputs x \[4\] float32 failed: [^\n]+$"):
        time_session(_Timer(), session, {"x": np.zeros(4, np.float32)}, spec)


def test_a_model_onnx_runtime_cannot_load_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a graph")
    with pytest.raises(BuildError, match=rf"^ONNX Runtime cannot load {broken}: [^\n]+$"):
        open_session(broken, FrameworkArgs(), threads=1)


def test_a_failed_build_leaves_no_entry_and_the_rerun_builds_only_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tm.text_model(tmp_path / "model")
    data = tmp_path / "data"
    data.mkdir()
    for split, seed in (("train", 1), ("validation", 2)):
        rows = tm.sentences(12, seed)
        (data / f"{split}.csv").write_text(
            "sentence,label\n" + "".join(f"{r['sentence']},{r['label']}\n" for r in rows)
        )
    path = tmp_path / "two.suite.yaml"
    path.write_text(
        textwrap.dedent(f"""
        task: text-classification
        model_name_or_path: {model}
        dataset: {{path: csv, data_files: {{train: {data}/train.csv, validation: {data}/validation.csv}}}}
        fixed: {{framework_args: {{opset: 13}}}}
        benchmarked: {{per_channel: [false, true]}}
        thresholds: {{accuracy: {{max_drop: 1.0}}}}
        """)
    )
    per_tensor, per_channel = load_suite(path).cases
    real = quantize.quantize

    def broken_per_channel(fp32_dir, config, out, calibration_data=None, calibration=None):
        report = real(fp32_dir, config, out, calibration_data, calibration)  # written into the build's private folder
        if config.per_channel:
            raise BuildError("quantizing per channel failed")
        return report

    monkeypatch.setattr(quantize, "quantize", broken_per_channel)
    first = Bench(tmp_path / "cache")
    assert first.evaluate(per_tensor).verdict is not None  # the other config still runs
    with pytest.raises(BuildError, match="quantizing per channel failed"):
        first.evaluate(per_channel)
    assert [b["kind"] for b in first.cache.builds()].count("quantize") == 1
    assert len(list((tmp_path / "cache" / "quantize").iterdir())) == 1  # nothing half-built is kept
    assert not list((tmp_path / "cache" / "tmp").iterdir())

    monkeypatch.setattr(quantize, "quantize", real)
    before = len(first.cache.builds())
    second = Bench(tmp_path / "cache")
    for case in (per_tensor, per_channel):
        assert second.evaluate(case).verdict is not None
    rebuilt = [b["kind"] for b in second.cache.builds()[before:]]
    assert rebuilt == ["quantize", "scores"]  # per_channel's int8 model and its scores: no export, no fp32 scores
