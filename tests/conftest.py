"""Shared fixtures: an offline environment and one artifact cache for the whole test session.

The tiny built-in models train once per session into that cache; every pytester run reuses them.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

# Tests never reach the hub: the offline paths are what they exercise.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

SENTIMENT = """
    name: tiny-sentiment
    task: text-classification
    model_name_or_path: builtin:tiny-bert-sentiment
    dataset: {path: "builtin:synthetic-sentiment", eval_split: validation, num_eval_samples: 200}
"""
# The tiny BERT with Add and MatMul quantized, at its export settings: the base that the grids below vary.
ADD_MATMUL = (
    SENTIMENT
    + """
    fixed:
      operators_to_quantize: [Add, MatMul]
      framework_args: {opset: 13, optimization_level: 1}
"""
)
# Two dynamic configs (per_channel off and on), each timed at one shape: the smallest run with a speed-up.
PER_CHANNEL_GRID = (
    ADD_MATMUL
    + """
    benchmarked:
      per_channel: [false, true]
    time: {batch_sizes: [1], input_lengths: [16], rounds: 2, warmup_rounds: 0}
"""
)

# `framework: pytorch` beside onnxruntime: two frameworks x two operator sets, each timed at one shape.
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


@pytest.fixture(scope="session", autouse=True)
def _heavy_modules_loaded_once() -> None:
    """pytester's in-process runs drop modules first imported inside them; torch, onnx, onnxruntime's quantizer
    and matplotlib cannot be imported twice in one process, so they are loaded here, outside every run."""
    import datasets  # noqa: F401
    import evaluate  # noqa: F401
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401
    import onnx  # noqa: F401  (protobuf aborts the process when its descriptors load twice)
    import onnxruntime
    import onnxruntime.quantization
    import onnxruntime.quantization.qdq_loss_debug  # noqa: F401
    import optimum.exporters.onnx
    import optimum.onnxruntime.configuration
    import optimum.onnxruntime.preprocessors.passes
    import optimum.onnxruntime.quantization  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401
    from optimum.onnxruntime import ORTQuantizer  # noqa: F401  (a lazy attribute: cached with its enums)


@pytest.fixture(scope="session")
def qb_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("quantbench-cache")


@pytest.fixture
def run(pytester: pytest.Pytester, qb_cache: Path):
    """Run pytest in-process on the pytester directory with the shared cache."""

    def _run(*args: str) -> pytest.RunResult:
        return pytester.runpytest("-p", "no:cacheprovider", f"--quantbench-cache={qb_cache}", *args)

    return _run


@pytest.fixture
def suite_file(pytester: pytest.Pytester):
    """Write a suite file (dedented YAML) into the pytester directory."""

    def _write(name: str, text: str) -> Path:
        path = pytester.path / name
        path.write_text(textwrap.dedent(text))
        return path

    return _write


def _tiny_onnx() -> object:
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((32, 32), np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"), helper.make_node("Softmax", ["h"], ["y"])]
    graph = helper.make_graph(nodes, "warm-up", [x], [y], [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.fixture(scope="session")
def nncf_backends_loaded() -> None:
    """pytester's in-process runs drop the modules first imported inside them, and NNCF registers each backend's
    metatypes once, on import, into registries its core keeps: once the core is loaded outside a run, a backend
    loaded inside one is dropped after it and registers twice the next time ("already registered"). Both
    backends' quantizers (static, weights, accuracy control) run once here, outside every run, so that every
    module they load stays."""
    nncf = pytest.importorskip("nncf")
    ov = pytest.importorskip("openvino")
    import numpy as np
    from openvino import opset13 as ops

    onnx_model = _tiny_onnx()
    nncf.quantize(onnx_model, nncf.Dataset([{"x": np.ones((1, 32), np.float32)}]), subset_size=1)
    nncf.compress_weights(onnx_model, mode=nncf.CompressWeightsMode.INT8_ASYM)
    x = ops.parameter([1, 32], np.float32, name="x")
    weight = ops.constant(np.ones((32, 32), np.float32))
    model = ov.Model([ops.softmax(ops.matmul(x, weight, False, False), 1)], [x], "warm-up")
    data = nncf.Dataset([np.ones((1, 32), np.float32)])
    nncf.compress_weights(model.clone(), mode=nncf.CompressWeightsMode.INT8_ASYM)
    nncf.quantize_with_accuracy_control(model, data, data, lambda compiled, items: 1.0, subset_size=1)
