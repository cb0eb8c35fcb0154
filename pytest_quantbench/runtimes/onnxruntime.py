"""`framework: onnxruntime`: the fp32 export and its `ORTQuantizer` int8 model, run by ONNX Runtime's CPU EP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pytest_quantbench import serialize
from pytest_quantbench.artifacts import quantize
from pytest_quantbench.artifacts.cache import ArtifactCache, digest
from pytest_quantbench.artifacts.export import ONNX_FILE, export
from pytest_quantbench.artifacts.sources import Models
from pytest_quantbench.data.store import DataStore
from pytest_quantbench.memo import Memo
from pytest_quantbench.records import ModelSize, QuantizationReport
from pytest_quantbench.runtimes.base import Backend, QuantizedModel, Session
from pytest_quantbench.suite import Case, FrameworkArgs
from pytest_quantbench.suite.vocabulary import BUILTIN_BACKENDS

X64_PRECISION_KEY = "session.x64quantprecision"  # U8U8 kernels instead of saturating U8S8 on x64 (no VNNI)
EXPORT_LIBRARIES = ("onnx", "onnxruntime", "optimum", "optimum-onnx", "transformers", "torch")
REPORT_FILE = "report.json"


def open_session(model_path: Path, args: FrameworkArgs, threads: int) -> Any:
    """An ONNX Runtime CPU session with the config's optimization level and precision option."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel(args.optimization_level)
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    if args.x64_quant_precision:
        options.add_session_config_entry(X64_PRECISION_KEY, "1")
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


class OnnxRuntime(Backend):
    name = "onnxruntime"
    vocabulary = BUILTIN_BACKENDS[name]
    reads_onnx = True

    def __init__(self, cache: ArtifactCache, models: Models, data: DataStore) -> None:
        super().__init__(cache, models, data)
        self._memo = Memo()

    def export_key(self, case: Case) -> str:
        from pytest_quantbench.artifacts.cache import library_versions

        model_hash = self.models.model_hash(case.suite)
        opset = case.config.framework_args.opset
        task = self.data.of(case.suite).task.export_task
        return digest("export", model_hash, task, opset, library_versions(EXPORT_LIBRARIES))

    def original(self, case: Case) -> Path:
        """The fp32 ONNX model of a case (shared by every config that exports alike)."""
        key, suite = self.export_key(case), case.suite

        def build(out: Path) -> None:
            opset, task = case.config.framework_args.opset, self.data.of(suite).task.export_task
            export(self.models.model_dir(suite), task, opset, out, suite.trust_remote_code)

        return self._memo(("original", key), lambda: self.cache.build("export", key, build) / ONNX_FILE)

    def model_size(self, case: Case) -> ModelSize:
        return ModelSize(self.original(case).stat().st_size, self.quantized(case).path.stat().st_size)

    def artifacts(self, case: Case) -> dict[str, Path]:
        path = self.quantized(case).path
        ranges = path.parent / quantize.RANGES_FILE
        return {"quantized model": path, **({"calibration ranges": ranges} if ranges.is_file() else {})}

    def quantized(self, case: Case) -> QuantizedModel:
        config, suite = case.config, case.suite
        data = self.data.of(suite)
        cal_fingerprint = data.split(suite.dataset.calibration_split)._fingerprint if config.is_static else None
        settings = {k: v for k, v in vars(config).items() if k != "framework_args"}
        key = digest(
            "quantize", quantize.ARTIFACT_FORMAT, self.export_key(case), repr(settings), cal_fingerprint,
            suite.dataset.max_length,
        )  # fmt: skip

        def build(out: Path) -> None:
            calibration = None
            if config.is_static:
                calibration = data.calibration(config.calibration.num_calibration_samples, config.calibration.padding)
            report = quantize.quantize(self.original(case).parent, config, out, calibration)
            serialize.write(out / REPORT_FILE, report)

        def read() -> QuantizedModel:
            entry = self.cache.build("quantize", key, build)
            report = serialize.read(entry / REPORT_FILE, QuantizationReport)
            return QuantizedModel(entry / quantize.QUANTIZED_FILE, report)

        return self._memo(("quantized", key), read)

    def open(self, model_path: Path, args: FrameworkArgs, threads: int) -> Any:
        """One session per model file and session settings for the whole run."""
        key = ("session", str(model_path), args.optimization_level, threads, args.x64_quant_precision)
        return self._memo(key, lambda: open_session(model_path, args, threads))

    def session(self, case: Case, role: str, threads: int | None = None) -> Session:
        path = self.original(case) if role == "original" else self.quantized(case).path
        args = case.config.framework_args
        return self.open(path, args, threads or args.intra_op_num_threads)

    def model_id(self, case: Case, role: str) -> str:
        args = case.config.framework_args
        runtime = (args.optimization_level, args.x64_quant_precision)
        if role == "original":
            return f"onnx-{self.export_key(case)}-{runtime}"
        return f"onnx-graph-{self.quantized(case).report.graph_sha256}-{runtime}"
