"""`framework: onnxruntime`: the fp32 export and its `ORTQuantizer` int8 model, run by ONNX Runtime's CPU EP.

It reads every `framework_args` field (`onnxruntime_settings`), profiles its sessions with ONNX Runtime's
profiler, inspects its graphs for the accuracy diagnosis (`onnxruntime_sensitivity`) and knows its U8S8
kernels' hardware risk (`onnxruntime_hardware`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_quantbench import serialize
from pytest_quantbench.artifacts import quantize
from pytest_quantbench.artifacts.cache import ArtifactCache, digest, hash_arrays, library_versions
from pytest_quantbench.artifacts.export import ONNX_FILE, export
from pytest_quantbench.artifacts.sources import Models
from pytest_quantbench.artifacts.weight_only import SettingError
from pytest_quantbench.data.store import DataStore
from pytest_quantbench.errors import BuildError, InputError
from pytest_quantbench.memo import Memo
from pytest_quantbench.records import (
    EngineInfo,
    HardwareRisk,
    MachineFacts,
    MemoryStats,
    ModelSize,
    Profile,
    QuantizationReport,
    Role,
    TensorSpec,
)
from pytest_quantbench.runtimes import onnxruntime_nncf, onnxruntime_speed
from pytest_quantbench.runtimes import onnxruntime_settings as settings
from pytest_quantbench.runtimes.base import (
    Backend,
    GraphInspector,
    QuantizedModel,
    Session,
    check_role,
    inputs_of,
    one_line,
    run_checked,
)
from pytest_quantbench.runtimes.onnxruntime_settings import X64_PRECISION_KEY
from pytest_quantbench.suite import Case, FrameworkArgs
from pytest_quantbench.suite.vocabulary import BUILTIN_BACKENDS

if TYPE_CHECKING:
    from pytest_quantbench.runtimes.memory_probe import Feeds

__all__ = ["X64_PRECISION_KEY", "OnnxRuntime", "open_session", "profile_session"]
REPORT_FILE = "report.json"
MEMORY_FILE = "memory.json"
PROFILE_FILE = "profile.json"  # in the profile key too: entries of the op-times-only layout are not read


def open_session(
    model_path: Path, args: FrameworkArgs, threads: int, level: int | None = None, profile_prefix: str | None = None
) -> Any:
    """An ONNX Runtime CPU session with the config's optimization level (or `level`) and precision option;
    with `profile_prefix`, profiling into files of that prefix."""
    import onnxruntime as ort

    level = args.optimization_level if level is None else level
    options = settings.session_options(args, threads, level, profile_prefix)
    try:
        return ort.InferenceSession(str(model_path), options, providers=settings.PROVIDERS)
    except Exception as exc:  # onnxruntime's own error types: a broken or unsupported graph
        raise BuildError(f"ONNX Runtime cannot load {model_path}: {one_line(exc)}") from exc


def profile_session(
    model_path: Path, args: FrameworkArgs, threads: int, level: int, feed: dict[str, Any], calls: int
) -> Profile:
    """Run `calls` profiled calls (after one warm-up) and sum the kernel time per call, in ms, by op type and by
    the element type of each kernel's first input."""
    with tempfile.TemporaryDirectory() as tmp:
        session = open_session(model_path, args, threads, level, profile_prefix=str(Path(tmp, "profile")))
        inputs = inputs_of(session, feed)
        for _ in range(calls + 1):
            run_checked(session, inputs)
        events = json.loads(Path(session.end_profiling()).read_text())
    by_op: dict[str, float] = {}
    by_type: dict[str, float] = {}
    runs = [e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"]
    start = runs[1]["ts"] if len(runs) > 1 else 0  # the first profiled call warms this session up
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time") and e.get("ts", 0) >= start:
            ms, args_ = e["dur"] / 1e3 / calls, e.get("args", {})
            op = args_.get("op_name", "?")
            by_op[op] = by_op.get(op, 0.0) + ms
            first = (args_.get("input_type_shape") or [{}])[0]
            element = next(iter(first), "?")
            by_type[element] = by_type.get(element, 0.0) + ms
    ordered = dict(sorted(by_op.items(), key=lambda kv: -kv[1]))
    return Profile(ordered, dict(sorted(by_type.items(), key=lambda kv: -kv[1])))


def declared_in_file(model_path: Path) -> tuple[TensorSpec, ...]:
    """The inputs an ONNX file declares (`records.TensorSpec`), read without opening a session."""
    import onnx
    from onnx import helper

    specs = []
    for arg in onnx.load(str(model_path), load_external_data=False).graph.input:
        tensor = arg.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim)
        specs.append(TensorSpec(arg.name, shape, str(helper.tensor_dtype_to_np_dtype(tensor.elem_type))))
    return tuple(specs)


class OnnxRuntime(Backend):
    name = "onnxruntime"
    vocabulary = BUILTIN_BACKENDS[name]
    # what the export, its sessions' outputs, profiles and rankings depend on: every one of them is keyed by these
    libraries = ("onnx", "onnxruntime", "optimum", "optimum-onnx", "transformers", "torch")
    speed_rules = onnxruntime_speed.RULES

    def __init__(self, cache: ArtifactCache, models: Models, data: DataStore) -> None:
        super().__init__(cache, models, data)
        self._memo = Memo()

    @classmethod
    def engine_info(cls) -> EngineInfo:
        version = library_versions(("onnxruntime",))["onnxruntime"]
        return EngineInfo(cls.name, version, f"onnxruntime {version} ({settings.PROVIDERS[0]})")

    def export_key(self, case: Case) -> str:
        model_hash = self.models.model_hash(case.suite)
        opset = case.config.framework_args.opset
        task = self.data.of(case.suite).task.export_task
        return digest("export", model_hash, task, opset, library_versions(self.libraries))

    def original(self, case: Case) -> Path:
        """The fp32 ONNX model of a case (shared by every config that exports alike)."""
        key, suite = self.export_key(case), case.suite

        def build(out: Path) -> None:
            opset, task = case.config.framework_args.opset, self.data.of(suite).task.export_task
            export(self.models.model_dir(suite), task, opset, out, suite.trust_remote_code)

        return self._memo(("original", key), lambda: self.cache.build("export", key, build) / ONNX_FILE)

    def path(self, case: Case, role: Role) -> Path:
        """The model file a session of `role` loads."""
        return self.original(case) if check_role(role) is Role.ORIGINAL else self.quantized(case).path

    def model_size(self, case: Case) -> ModelSize:
        return ModelSize(self.original(case).stat().st_size, self.quantized(case).path.stat().st_size)

    def artifacts(self, case: Case) -> dict[str, Path]:
        path = self.quantized(case).path
        ranges = path.parent / quantize.RANGES_FILE
        return {"quantized model": path, **({"calibration ranges": ranges} if ranges.is_file() else {})}

    def quantized(self, case: Case) -> QuantizedModel:
        config, suite = case.config, case.suite
        data = self.data.of(suite)
        calibrated = config.is_calibrated or onnxruntime_nncf.calibrated(config)
        cal_fingerprint = data.split(suite.dataset.calibration_split)._fingerprint if calibrated else None
        # what the quantizer reads: not the session settings; NNCF's only when NNCF quantizes (the key of a
        # config of ONNX Runtime's own quantizer is as it was before `quantizer:` was a setting)
        by_nncf = onnxruntime_nncf.quantizes(config)
        unread = ("framework_args",) if by_nncf else ("framework_args", "nncf", "quantizer")
        build_settings = {k: v for k, v in vars(config).items() if k not in unread}
        if by_nncf:  # NNCF is not among the export's libraries: its version decides the model too
            build_settings |= {"versions": onnxruntime_nncf.versions(), "data_aware": config.nncf.data_aware}
        keep = config.weight_only.keep_8bit  # out of the repr: only a config that gives it has it in its key
        key = digest(
            "quantize", quantize.ARTIFACT_FORMAT, self.export_key(case), repr(build_settings), cal_fingerprint,
            data.spec.max_length, *([keep] if keep else []),
        )  # fmt: skip

        def build(out: Path) -> None:
            if by_nncf:
                rows = self._calibration_rows(case) if calibrated else None
                report = onnxruntime_nncf.quantize(self.original(case), case, out / quantize.QUANTIZED_FILE, rows)
                serialize.write(out / REPORT_FILE, report)
                return
            ranges = self._calibration(case, cal_fingerprint) if config.is_static else None
            rows = self._calibration_rows(case) if calibrated and not config.is_static else None  # GPTQ's
            try:
                report = quantize.quantize(self.original(case).parent, config, out, rows, calibration=ranges)
            except SettingError as exc:
                where = "benchmarked" if "weight_only" in dict(case.point) else "fixed"
                raise InputError(suite.path, f"{where}.weight_only.{exc.field}", exc.message) from exc
            serialize.write(out / REPORT_FILE, report)

        def read() -> QuantizedModel:
            entry = self.cache.build("quantize", key, build)
            report = serialize.read(entry / REPORT_FILE, QuantizationReport)
            return QuantizedModel(entry / quantize.QUANTIZED_FILE, report)

        return self._memo(("quantized", key), read)

    def _calibration(self, case: Case, fingerprint: str | None) -> Any:
        """A static config's calibration ranges, fitted once per model, rows, method and operators
        (`quantize.calibrate`): a grid's exclusions, per-channel or dtype variants share them."""
        config, suite = case.config, case.suite
        data = self.data.of(suite)
        key = digest(
            "calibration", quantize.ARTIFACT_FORMAT, self.export_key(case), repr(config.calibration),
            config.operators_to_quantize, fingerprint, data.spec.max_length,
        )  # fmt: skip

        def build(out: Path) -> None:
            quantize.calibrate(self.original(case).parent, config, self._calibration_rows(case), out)

        return self._memo(
            ("calibration", key), lambda: quantize.read_calibration(self.cache.build("calibration", key, build))
        )

    def _calibration_rows(self, case: Case) -> Any:
        """The calibration split's rows as the model takes them (a decoder's cache completed by the task)."""
        config, data = case.config, self.data.of(case.suite)
        rows = data.calibration(config.calibration.num_calibration_samples, config.calibration.padding)
        declared = declared_in_file(self.original(case))
        return rows.map(lambda batch: data.task.calibration_rows(batch, declared), batched=True)

    def open(self, model_path: Path, args: FrameworkArgs, threads: int, level: int) -> Any:
        """One session per model file and session settings for the whole run."""
        key = ("session", str(model_path), level, threads, args.x64_quant_precision)
        return self._memo(key, lambda: open_session(model_path, args, threads, level))

    @staticmethod
    def level(case: Case, role: Role) -> int:
        """The session's graph optimization level: the quantized model may have its own."""
        return settings.level(case.config.framework_args, role)

    def session(self, case: Case, role: Role, threads: int | None = None) -> Session:
        args = case.config.framework_args
        return self.open(self.path(case, role), args, settings.threads(args, threads), self.level(case, role))

    def profile(self, case: Case, role: Role, feed: dict[str, Any], calls: int, threads: int | None = None) -> Profile:
        """ONNX Runtime's profiler, on a session of its own, kept on disk: a warm rerun profiles nothing again."""
        args = case.config.framework_args
        path, level, threads = self.path(case, role), self.level(case, role), settings.threads(args, threads)
        key = digest(
            "profile", PROFILE_FILE, self.model_id(case, role), threads, calls, hash_arrays(feed),
            library_versions(self.libraries),
        )  # fmt: skip

        def build(out: Path) -> None:
            serialize.write(out / PROFILE_FILE, profile_session(path, args, threads, level, feed, calls))

        return serialize.read(self.cache.build("profile", key, build) / PROFILE_FILE, Profile)

    def graph_inspector(self, case: Case) -> GraphInspector:
        from pytest_quantbench.runtimes.onnxruntime_sensitivity import OnnxGraphs

        original = (self.original(case), self.model_id(case, Role.ORIGINAL))
        return OnnxGraphs(self.cache, case.config, original, self.quantized(case), self.libraries)

    def hardware_risk(self, case: Case, machine: MachineFacts) -> HardwareRisk | None:
        from pytest_quantbench.runtimes import onnxruntime_hardware

        return onnxruntime_hardware.risk_report(case.config, self.quantized(case).report.quantized_nodes, machine.vnni)

    def exact_kernels(self, case: Case) -> Case | None:
        from pytest_quantbench.runtimes import onnxruntime_hardware

        return onnxruntime_hardware.with_exact_kernels(case)

    def memory(self, case: Case, role: Role, feeds: Feeds) -> dict[str, MemoryStats] | None:
        """Measured by `memory_probe` in one child process per model, with the timing session's settings, and
        kept on disk by the model's identity, those settings and the feeds' shapes: a warm run spawns nothing.
        A failed probe is one warning, once a run, and no figures."""
        from pytest_quantbench.runtimes import memory_probe

        args = case.config.framework_args
        path, level, threads = self.path(case, role), self.level(case, role), settings.threads(args)
        key = digest(
            "memory", memory_probe.FORMAT, self.model_id(case, role), threads, memory_probe.shapes_of(feeds),
            library_versions(("onnxruntime",)),
        )  # fmt: skip
        spec = {"engine": self.name, "model": str(path), "threads": threads, "level": level}
        spec["x64_quant_precision"] = args.x64_quant_precision
        return self._memo(("memory", key), lambda: memory_probe.measured(self.cache, key, spec, feeds, str(path)))

    def release(self) -> None:
        self._memo.forget(("session",))

    def model_id(self, case: Case, role: Role) -> str:
        runtime = (self.level(case, role), case.config.framework_args.x64_quant_precision)
        if role is Role.ORIGINAL:
            return f"onnx-{self.export_key(case)}-{runtime}"
        return f"onnx-graph-{self.quantized(case).report.graph_sha256}-{runtime}"
