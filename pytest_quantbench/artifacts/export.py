"""The fp32 ONNX export of a transformers checkpoint, with optimum's exporter."""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

from pytest_quantbench.artifacts.model_check import bin_weights_problem
from pytest_quantbench.errors import BuildError

ONNX_FILE = "model.onnx"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """optimum, transformers and the tracer log and warn at every step; a test run wants only real errors."""
    loggers = [logging.getLogger(n) for n in ("optimum", "transformers", "root")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def check_exportable(model_dir: Path, task: str) -> None:
    """optimum exports the model's type for the task, or one line names the type (not a traceback mid-export)."""
    import optimum.exporters.onnx.model_configs  # noqa: F401  (registers the ONNX configs of each model type)
    from optimum.exporters.tasks import TasksManager

    model_type = json.loads((model_dir / "config.json").read_text(encoding="utf-8")).get("model_type")
    if not isinstance(model_type, str):
        return  # a custom model (trust_remote_code): optimum decides from the loaded model
    where = f"{model_dir / 'config.json'}: model_type '{model_type}'"
    try:
        tasks = TasksManager.get_supported_tasks_for_model_type(model_type, "onnx", library_name="transformers")
    except KeyError:
        raise BuildError(f"{where}: optimum cannot export this architecture to ONNX") from None
    if task not in tasks:
        raise BuildError(f"{where}: optimum exports it to ONNX for {', '.join(sorted(tasks))}, not {task}")


def export(model_dir: Path, task: str, opset: int | None, out: Path, trust_remote_code: bool = False) -> None:
    """fp32 ONNX export of a transformers checkpoint (eager attention below opset 14, which SDPA needs)."""
    from optimum.exporters.onnx import onnx_export_from_model
    from optimum.exporters.tasks import TasksManager

    check_exportable(model_dir, task)
    kwargs = {"attn_implementation": "eager"} if opset is not None and opset < 14 else {}
    # optimum reads a sentence-transformers folder (modules.json) as that library's model and needs it installed;
    # the export is the transformers encoder inside, the pooling is the task's
    library = {"library_name": "transformers"} if (model_dir / "modules.json").is_file() else {}
    with quiet():
        try:
            model = TasksManager.get_model_from_task(
                task, str(model_dir), framework="pt", trust_remote_code=trust_remote_code, **library, **kwargs
            )
            onnx_export_from_model(model, out, opset=opset, task=task, do_validation=False)
        except Exception as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            weights = bin_weights_problem(model_dir)  # the real cause behind optimum's TensorFlow fallback
            reason = f"{weights}; optimum then tried TensorFlow weights: {reason}" if weights else reason
            raise BuildError(f"ONNX export of {model_dir} for {task} (opset {opset}) failed: {reason}") from exc
