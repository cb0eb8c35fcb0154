"""The peak-memory probe: its readings as records, its failures as one line, and one real child process on a
small graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pytest_quantbench import serialize
from pytest_quantbench.records import MemoryStats, TimingResult
from pytest_quantbench.runtimes import memory_probe

WIDTH = 512  # a 1 MB weight: the session's memory is more than a page or two


def _matmul_model(path: Path) -> Path:
    """y = x @ W for x of shape [batch, WIDTH]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(0).standard_normal((WIDTH, WIDTH)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", WIDTH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", WIDTH])], [numpy_helper.from_array(weight, "w")],
    )  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path


def test_readings_become_one_record_per_shape_net_of_the_baseline() -> None:
    raw = {"baseline": 60_000_000, "load": 75_000_000, "runs": {"bs1-len16": 70_000_000, "bs8-len16": 90_000_000}}
    found = memory_probe.parse(raw)
    assert found == {
        "bs1-len16": MemoryStats(15_000_000, 10_000_000, "bs1-len16", 60_000_000),
        "bs8-len16": MemoryStats(15_000_000, 30_000_000, "bs8-len16", 60_000_000),
    }
    assert memory_probe.parse({"baseline": 100, "load": 90, "runs": {"bs1": 80}})["bs1"].run_peak_bytes == 0
    assert serialize.load(dict[str, MemoryStats], serialize.dump(found)) == found


def test_an_int8_row_reads_its_run_peak_against_its_fp32_model() -> None:
    fp32, int8 = MemoryStats(90, 100, "bs1", 5), MemoryStats(20, 40, "bs1", 5)
    base = serialize.load(TimingResult, {
        "suite": "s", "task": "t", "model": "m", "role": "int8", "config_id": "c", "config": {}, "batch_size": 1,
        "input_length": None, "intra_op_num_threads": 1,
        "machine": {"cpu": "c", "cpu_count": 1, "instructions": [], "vnni": False, "onnxruntime": "1", "python": "3"},
    })  # fmt: skip
    row = serialize.load(
        TimingResult, serialize.dump(TimingResult(**{**vars(base), "memory": int8, "fp32_memory": fp32}))
    )
    assert row.memory == int8 and row.fp32_memory == fp32 and row.memory_ratio == pytest.approx(0.4)
    assert serialize.dump(row)["memory_ratio"] == pytest.approx(0.4)
    assert base.memory_ratio is None  # not measured (disabled benchmarks, PyTorch)


@pytest.mark.parametrize(
    ("returncode", "stderr", "line"),
    [
        (-9, "", "the probe was killed by signal SIGKILL (out of memory?)"),
        (1, "Traceback (most recent call last):\n  ...\nBuildError: cannot load m.onnx: bad\n\n", "BuildError: cannot load m.onnx: bad"),
        (3, "", "the probe exited with status 3"),
    ],
)  # fmt: skip
def test_a_failed_child_is_one_line(returncode: int, stderr: str, line: str) -> None:
    assert memory_probe.failure(returncode, stderr) == line


def test_the_child_measures_loading_and_each_shape(tmp_path: Path) -> None:
    model = _matmul_model(tmp_path / "m.onnx")
    feeds = {f"bs{b}": {"x": np.ones((b, WIDTH), np.float32), "unused": np.zeros(1)} for b in (64, 1)}
    found = memory_probe.probe(model, threads=1, level=1, x64_quant_precision=False, feeds=feeds)
    assert set(found) == {"bs1", "bs64"}
    for shape, stats in found.items():
        assert stats.shape == shape and stats.load_peak_bytes > 0 and stats.run_peak_bytes > 0
        assert stats.baseline_bytes > 0
    assert found["bs64"].run_peak_bytes >= found["bs1"].run_peak_bytes  # run smallest first, the peak only grows


def test_steps_are_measured_in_the_order_given_each_figure_after_its_feeds(tmp_path: Path) -> None:
    """A decoder's phases: the caller's order, not smallest first, and a shape's figure after all its feeds."""
    model = _matmul_model(tmp_path / "m.onnx")
    big, small = {"x": np.ones((1024, WIDTH), np.float32)}, {"x": np.ones((1, WIDTH), np.float32)}
    steps = memory_probe.Steps({"first": (small,), "both": (small, big), "after": (small,)})
    found = memory_probe.probe(model, threads=1, level=1, x64_quant_precision=False, feeds=steps)
    assert list(found) == ["first", "both", "after"]
    # the 2 MB output of a batch of 1024 comes with the second shape's last feed; the third's figure includes it
    assert found["both"].run_peak_bytes >= found["first"].run_peak_bytes + 1024 * WIDTH * 4 // 2
    assert found["after"].run_peak_bytes >= found["both"].run_peak_bytes
    # their key tells them from a shape measured alone, and says the format of what they measure
    alone = memory_probe.shapes_of({"first": small})
    key = memory_probe.shapes_of(steps)
    assert key != alone and key["format"] == memory_probe.STEPS_FORMAT and key["order"] == ["first", "both", "after"]
    assert key["steps"]["both"] == [alone["first"], {"x": ["float32", [1024, WIDTH]]}]


def test_a_model_the_child_cannot_load_is_a_probe_error_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(memory_probe.ProbeError) as exc:
        memory_probe.probe(broken, 1, 1, False, {"bs1": {"x": np.ones((1, 4), np.float32)}})
    assert str(broken) in str(exc.value) and "\n" not in str(exc.value)


GLIBC_CHILD = """
import ctypes, sys
from pytest_quantbench.runtimes import memory_probe
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
blocks = [libc.malloc(64 * 1024) for _ in range(1600)]  # 100 MB of heap chunks (below the mmap threshold)
for b in blocks:
    ctypes.memset(b, 1, 64 * 1024)
for b in blocks[:-1]:  # the last one pins the top of the heap, so free() alone returns nothing
    libc.free(b)
before = memory_probe._status()["VmRSS"]
memory_probe.release_free_heap()
print(before - memory_probe._status()["VmRSS"])
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS (Linux)")
def test_what_loading_freed_is_handed_back_before_the_run_peaks() -> None:
    """glibc keeps freed heap chunks resident: without the trim, a model's load residue (which depends on the
    file's layout, not its graph) would count as the session's memory."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", GLIBC_CHILD], capture_output=True, text=True, check=True)
    assert int(done.stdout) > 80 * 1024 * 1024


@pytest.mark.parametrize("int8", [None, {"operators": ["MatMul"], "per_channel": False}])
def test_the_child_measures_a_pytorch_model_as_the_backend_loads_it(tmp_path: Path, int8) -> None:
    """`baseline: pytorch` rows need PyTorch fp32's memory beside the ONNX Runtime model's."""
    from tiny_models import text_model

    model = text_model(tmp_path / "bert")
    feeds = {
        f"bs{b}-len16": {"input_ids": np.ones((b, 16), np.int64), "attention_mask": np.ones((b, 16), np.int64)}
        for b in (1, 8)
    }
    spec = {"engine": "pytorch", "model": str(model), "model_class": "AutoModelForSequenceClassification",
            "threads": 1, "int8": int8}  # fmt: skip
    found = memory_probe.probe_engine(spec, feeds)
    assert set(found) == {"bs1-len16", "bs8-len16"}
    assert all(stats.load_peak_bytes > 0 and stats.baseline_bytes > 0 for stats in found.values())
    # torch and transformers are imported before the baseline: a tiny model's load is far below them
    assert found["bs1-len16"].load_peak_bytes < found["bs1-len16"].baseline_bytes


def test_the_child_measures_an_openvino_ir_as_the_backend_compiles_it(tmp_path: Path) -> None:
    """OpenVINO rows get a memory column as ONNX Runtime's do: the IR compiled and run in the child."""
    pytest.importorskip("openvino")
    from pytest_quantbench.runtimes.openvino import convert
    from pytest_quantbench.runtimes.openvino_settings import XML_FILE

    suite = tmp_path / "ov.suite.yaml"
    suite.write_text(
        "task: text-classification\nmodel_name_or_path: m\ndataset: {path: glue}\n"
        "fixed: {framework: openvino, quantization_approach: static}\n"
    )
    from pytest_quantbench.suite import load_suite

    (case,) = load_suite(suite).cases
    convert(_matmul_model(tmp_path / "m.onnx"), tmp_path, case)
    feeds = {f"bs{b}": {"x": np.ones((b, WIDTH), np.float32)} for b in (64, 1)}
    found = memory_probe.probe_engine({"engine": "openvino", "model": str(tmp_path / XML_FILE), "threads": 1}, feeds)
    assert set(found) == {"bs1", "bs64"}
    assert all(s.load_peak_bytes > 0 and s.run_peak_bytes >= 0 and s.baseline_bytes > 0 for s in found.values())
    assert found["bs64"].run_peak_bytes >= found["bs1"].run_peak_bytes
