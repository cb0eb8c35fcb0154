"""A model folder checked before anything is built from it: its config, weights, processor files and head.

transformers and optimum report a missing tokenizer or a base model without a head deep inside an export, as
a traceback; here each is one `ModelError` line naming the file. What the task needs (its head, its processor
files) comes in as plain values, so this stage knows no task.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

from pytest_quantbench.errors import ModelError

FIELD = "model_name_or_path"
WEIGHTS = ("*.safetensors", "pytorch_model.bin", "pytorch_model*.bin", "*.safetensors.index.json")
BIN_READER = "transformers reads a .bin with torch.load(weights_only=True), which refuses it"
LFS_POINTER = b"version https://git-lfs"
UNPICKLER_REASON = re.compile(r"WeightsUnpickler error:\s*(.+?)(?:\.\s|\n\n|$)", re.S)  # torch's own words


def read_config(suite_path: Path, model_dir: Path) -> dict[str, Any]:
    """config.json as a mapping, or one line saying why not."""
    path = model_dir / "config.json"
    if not path.is_file():
        raise ModelError(suite_path, FIELD, f"{path}: no such file (a transformers model folder has a config.json)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(suite_path, FIELD, f"{path}: cannot be read as JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ModelError(suite_path, FIELD, f"{path}: expected a JSON object, got {type(config).__name__}")
    return config


def _any(model_dir: Path, patterns: tuple[str, ...]) -> bool:
    return any(next(model_dir.glob(p), None) is not None for p in patterns)


def check_model_dir(
    suite_path: Path,
    model_dir: Path,
    task: str,
    head_suffix: str | tuple[str, ...],
    processor_files: tuple[str, ...],
    trust_remote_code: bool,
) -> dict[str, Any]:
    """The model folder's config.json once it fits the task; `ModelError` naming the file that does not."""
    config = read_config(suite_path, model_dir)
    where = model_dir / "config.json"
    if config.get("auto_map") and not trust_remote_code:
        raise ModelError(
            suite_path, FIELD, f"{where}: auto_map: the model needs its own Python code; it is not run unless the "
            "suite sets trust_remote_code: true",
        )  # fmt: skip
    if not _any(model_dir, WEIGHTS):
        raise ModelError(suite_path, FIELD, f"{model_dir}: no weights (*.safetensors or pytorch_model.bin)")
    architectures = config.get("architectures") or []
    suffixes = (head_suffix,) if isinstance(head_suffix, str) else head_suffix
    if any(suffixes) and architectures and not any(str(a).endswith(suffixes) for a in architectures):
        raise ModelError(
            suite_path, FIELD, f"{where}: architectures: {', '.join(map(str, architectures))} has no head for {task} "
            f"(expected {' or '.join('*' + suffix for suffix in suffixes)})",
        )  # fmt: skip
    if processor_files and not _any(model_dir, processor_files):
        raise ModelError(
            suite_path, FIELD, f"{model_dir}: no {task} processor files (one of {', '.join(processor_files)})"
        )
    return config


def _torch_load_reason(exc: Exception) -> str:
    """torch.load's reason in one line (its weights-only refusal spans a page of advice)."""
    text = str(exc)
    found = UNPICKLER_REASON.search(text)
    return " ".join(
        (found[1] if found else text.strip().splitlines()[0] if text.strip() else type(exc).__name__).split()
    )


def _bin_problem(path: Path) -> str | None:
    """Why transformers cannot read one .bin checkpoint, or None when it can."""
    with path.open("rb") as f:
        if f.read(len(LFS_POINTER)) == LFS_POINTER:
            return "a Git LFS pointer, not the weights: run git lfs pull in the model folder"
    try:
        import torch
    except ImportError:
        return "a .bin checkpoint is read with torch, which is not installed (or save the model as safetensors)"
    try:
        torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as exc:
        return f"{BIN_READER}: {_torch_load_reason(exc)} (if you trust the file, load it and save_pretrained it: model.safetensors)"
    return None


def bin_weights_problem(model_dir: Path) -> str | None:
    """Why transformers cannot read a folder's weights when they are .bin files only, or None.

    On such a failure transformers raises an OSError and optimum falls back to loading TensorFlow weights,
    whose error (`No module named 'tensorflow'`) is all that reaches the user; this names the file and the
    loader's reason instead. Run after a failed load, not before every one: it reads the checkpoint again.
    """
    if _any(model_dir, ("*.safetensors",)):
        return None
    for path in sorted(model_dir.glob("pytorch_model*.bin")):
        problem = _bin_problem(path)
        if problem is not None:
            return f"{path}: {problem}"
    return None
