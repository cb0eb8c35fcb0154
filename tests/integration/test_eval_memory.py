"""Evaluation memory: the peak memory of evaluating a 40k-row CSV stays within a budget the split does not move.

A tiny BERT (tests/tiny_models.py) and a CSV of `ROWS` generated sentences; a child pytest process runs the
suite's accuracy case from a cold cache (export, dynamic quantization, the CSV's conversion to Arrow, both
models scored on every row, the paired statistics) and reports its own peak resident memory
(VmHWM), so nothing this process or another benchmark's child holds counts. Evaluation streams the
rows batch by batch from the Arrow table, and the bootstrap resamples in blocks, so the peak is bounded by
the batch and the model, not the split: asserted within `BUDGET_BYTES` (it was 2.4 GB on 100k rows when every
batch was encoded up front and the bootstrap drew its resamples at once, about 1.4 GB on these 40k; see the
CHANGELOG). A memory bound, not a timing: it runs with the tests (it ran with the benchmarks before).
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROWS = 40_000
BUDGET_BYTES = 1_000_000_000
TIMEOUT_S = 900
TINY_MODELS = Path(__file__).parents[1] / "tiny_models.py"
# The child's last line: its own peak resident memory in KiB. On Linux, VmHWM of its own address space:
# `ru_maxrss` survives fork and exec, so a child of a big pytest process would report the parent's peak.
CHILD = (
    "import pathlib, resource, sys, pytest\n"
    "code = pytest.main(sys.argv[1:])\n"
    "status = pathlib.Path('/proc/self/status')\n"
    "hwm = [l.split()[1] for l in status.read_text().splitlines() if l.startswith('VmHWM')] if status.exists() else []\n"
    "usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print('PEAK_RSS', hwm[0] if hwm else usage // (1024 if sys.platform == 'darwin' else 1), flush=True)\n"
    "sys.exit(code)\n"
)


def tiny_models():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("tiny_models", TINY_MODELS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_suite(root: Path) -> Path:
    tm = tiny_models()
    model = tm.text_model(root / "model")
    with (root / "validation.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, ["sentence", "label"])
        writer.writeheader()
        writer.writerows(tm.sentences(ROWS))
    suite = root / "memory.suite.yaml"
    suite.write_text(
        textwrap.dedent(f"""
        name: eval-memory
        task: text-classification
        model_name_or_path: {model}
        dataset: {{path: csv, data_files: {{validation: {root / "validation.csv"}}}, eval_split: validation}}
        fixed:
          quantization_approach: dynamic
          framework_args: {{opset: 13, optimization_level: 1}}
        thresholds: {{accuracy: {{max_drop: 1.0}}}}
    """)
    )
    (root / "pytest.ini").write_text("[pytest]\n")
    return suite


def test_eval_memory(tmp_path: Path, capsys) -> None:
    suite = write_suite(tmp_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets")}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(suite), "-m", "accuracy", "-p", "no:cacheprovider", "-q",
         f"--quantbench-cache={tmp_path / 'cache'}", "--benchmark-disable"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    peak = int(next(line.split()[1] for line in output.splitlines() if line.startswith("PEAK_RSS")))
    peak_bytes = peak * 1024
    with capsys.disabled():
        print(f"\nevaluation memory: {ROWS} rows, peak {peak_bytes / 1e6:.0f} MB (budget {BUDGET_BYTES / 1e6:.0f} MB)")
    assert peak_bytes <= BUDGET_BYTES, f"peak {peak_bytes / 1e6:.0f} MB > {BUDGET_BYTES / 1e6:.0f} MB"
