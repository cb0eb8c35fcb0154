"""`framework: openvino`: the optimum export converted to an OpenVINO IR, quantized by NNCF, run by the CPU plugin.

The fp32 model is `openvino.convert_model` of the ONNX file the ONNX Runtime backend exports (optimum-intel's
own export pins an optimum that ours excludes), saved uncompressed (fp32, not `save_model`'s default fp16).
Static int8 and weight compression are NNCF's (`openvino_nncf`); the sessions are compiled models behind an
ONNX Runtime-shaped adapter, with the config's `intra_op_num_threads` as the CPU plugin's inference threads and
a latency hint (`openvino_settings`). It profiles with OpenVINO's performance counters and measures peak
memory in `memory_probe`'s child process. Of `framework_args` it
reads the export's opset and the thread count. Importing this module imports neither openvino nor nncf: a run
without the `openvino` extra still loads the registry, and an `openvino` config is refused at collection.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_quantbench import serialize
from pytest_quantbench.artifacts.cache import ArtifactCache, digest, hash_arrays, library_versions
from pytest_quantbench.artifacts.sources import Models
from pytest_quantbench.data.store import DataStore
from pytest_quantbench.errors import InputError
from pytest_quantbench.extras import needs
from pytest_quantbench.memo import Memo
from pytest_quantbench.records import EngineInfo, MemoryStats, ModelSize, Profile, QuantizationReport, Role
from pytest_quantbench.runtimes import openvino_nncf, openvino_settings
from pytest_quantbench.runtimes.base import Backend, GraphInspector, QuantizedModel, Session, Unsupported, check_role
from pytest_quantbench.runtimes.base import one_line as one_line_of
from pytest_quantbench.runtimes.onnxruntime import OnnxRuntime
from pytest_quantbench.runtimes.openvino_settings import BIN_FILE, XML_FILE, OpenVinoSession
from pytest_quantbench.runtimes.speed_rules import NothingQuantized, ThreadScaling
from pytest_quantbench.suite import Case
from pytest_quantbench.suite.vocabulary import BUILTIN_BACKENDS

if TYPE_CHECKING:
    from pytest_quantbench.runtimes.memory_probe import Feeds

REPORT_FILE = "report.json"
PROFILE_FILE = "profile.json"
FORMAT = 1  # of the converted and quantized IR entries: a change rebuilds them


def convert(onnx_file: Path, out: Path, case: Case) -> None:
    """`onnx_file` converted to an fp32 IR in `out`; a graph OpenVINO cannot convert is one line naming the
    suite file, the `framework` that asked for OpenVINO, and what the converter said (the ops it lacks)."""
    import openvino as ov

    try:
        model = ov.convert_model(str(onnx_file))
    except Exception as exc:  # the ONNX frontend's errors name the op it cannot convert
        message = f"OpenVINO cannot convert the exported model {onnx_file.name}: {one_line_of(exc)}"
        raise InputError(case.suite.path, openvino_nncf.setting(case, "framework"), message) from exc
    ov.save_model(model, str(out / XML_FILE), compress_to_fp16=False)


def read_model(xml: Path) -> Any:
    return openvino_settings.core().read_model(str(xml))


class OpenVino(Backend):
    name = "openvino"
    vocabulary = BUILTIN_BACKENDS[name]
    # the export (ONNX Runtime's backend builds it), its conversion, NNCF's quantization and the CPU plugin
    libraries = ("onnx", "optimum", "optimum-onnx", "transformers", "torch", "openvino", "nncf")
    speed_rules = (NothingQuantized(), ThreadScaling())

    def __init__(self, cache: ArtifactCache, models: Models, data: DataStore) -> None:
        super().__init__(cache, models, data)
        self._memo = Memo()
        self.exporter = OnnxRuntime(cache, models, data)  # the ONNX export, shared on disk with its configs

    @classmethod
    def engine_info(cls) -> EngineInfo:
        """Its versions; asked of every backend (`--quantbench-compare`), so without the extra it says so."""
        from importlib.metadata import PackageNotFoundError

        try:
            versions = library_versions(("openvino", "nncf"))
        except PackageNotFoundError:
            return EngineInfo(cls.name, "not installed", "openvino (not installed)")
        version = f"openvino {versions['openvino']}, nncf {versions['nncf']}"
        return EngineInfo(cls.name, version, f"{version} ({openvino_settings.DEVICE}, f32 precision hint)")

    def versions(self) -> dict[str, str]:
        with needs("openvino", "framework openvino"):
            return library_versions(self.libraries)

    def original_key(self, case: Case) -> str:
        return digest("openvino-convert", FORMAT, self.exporter.export_key(case), self.versions())

    def original(self, case: Case) -> Path:
        """The fp32 IR of a case (shared by every config that exports alike)."""
        key = self.original_key(case)

        def build(out: Path) -> None:
            convert(self.exporter.original(case), out, case)

        return self._memo(("original", key), lambda: self.cache.build("openvino-convert", key, build) / XML_FILE)

    @staticmethod
    def settings(case: Case) -> tuple[Any, ...]:
        """What NNCF reads of a config (the rest is another backend's, or the session's)."""
        config = case.config
        common = (config.quantization_approach, config.node_exclusion, config.nodes_to_exclude, config.nncf)
        calibration = (config.calibration.num_calibration_samples, config.calibration.padding)
        if config.quantization_approach == "weight_only":
            data_aware = (config.nncf.data_aware, *calibration) if config.nncf.data_aware else ()
            return (*common, config.weight_only, *data_aware)  # data-free configs keep the key they had
        return (*common, *calibration)

    @staticmethod
    def calibrated(case: Case) -> bool:
        """Whether NNCF reads the calibration samples: static int8, and data-aware weight compression."""
        return case.config.is_static or bool(case.config.nncf.data_aware)

    def quantized_key(self, case: Case) -> str:
        suite, data = case.suite, self.data.of(case.suite)
        fingerprint = data.split(suite.dataset.calibration_split)._fingerprint if self.calibrated(case) else None
        validated = None  # accuracy control scores the eval split on the first metric: both decide the model
        if case.config.nncf.accuracy_control is not None:
            eval_split = data.split(suite.dataset.eval_split)._fingerprint
            validated = (eval_split, suite.dataset.num_eval_samples, suite.metrics[:1], suite.dataset.ref_keys)
        settings = repr(self.settings(case))
        return digest(
            "openvino-quantize", FORMAT, self.original_key(case), settings, fingerprint, data.spec.max_length, validated
        )

    def quantized(self, case: Case) -> QuantizedModel:
        import openvino as ov

        key, config, data = self.quantized_key(case), case.config, self.data.of(case.suite)

        def build(out: Path) -> None:
            calibration = config.calibration
            rows = (
                data.calibration(calibration.num_calibration_samples, calibration.padding)
                if self.calibrated(case)
                else None
            )
            model, reverted = self.quantize(case, read_model(self.original(case)), rows)
            report = dataclasses.replace(openvino_nncf.report(model, case), reverted_nodes=reverted)
            serialize.write(out / REPORT_FILE, report)
            ov.save_model(model, str(out / XML_FILE), compress_to_fp16=False)

        def read() -> QuantizedModel:
            entry = self.cache.build("openvino-quantize", key, build)
            report = serialize.read(entry / REPORT_FILE, QuantizationReport)
            return QuantizedModel(entry / XML_FILE, report)

        return self._memo(("quantized", key), read)

    def quantize(self, case: Case, model: Any, rows: Any) -> tuple[Any, tuple[str, ...]]:
        """NNCF's model of a config, and the nodes its accuracy control reverted to fp32 (none without it)."""
        if case.config.nncf.accuracy_control is None:
            return openvino_nncf.quantize(model, case, rows), ()
        from pytest_quantbench.runtimes import openvino_accuracy

        data, id2label = self.data.of(case.suite), self.models.id2label(case.suite)
        return openvino_nncf.guarded(case, lambda: openvino_accuracy.quantize(model, case, rows, data, id2label))

    def path(self, case: Case, role: Role) -> Path:
        """The IR a session of `role` compiles."""
        return self.original(case) if check_role(role) is Role.ORIGINAL else self.quantized(case).path

    @staticmethod
    def threads(case: Case, threads: int | None) -> int:
        return threads or case.config.framework_args.intra_op_num_threads

    def session(self, case: Case, role: Role, threads: int | None = None) -> Session:
        xml, count = self.path(case, role), self.threads(case, threads)
        # one session per IR and thread count for the run: its infer requests are warm (allocated, shapes seen)
        return self._memo(
            ("session", str(xml), count), lambda: OpenVinoSession(openvino_settings.compile_model(xml, count), xml)
        )

    def release(self) -> None:
        self._memo.forget(("session",))

    def model_id(self, case: Case, role: Role) -> str:
        if check_role(role) is Role.ORIGINAL:
            return f"openvino-{self.original_key(case)}"
        return f"openvino-{self.quantized_key(case)}"

    def model_size(self, case: Case) -> ModelSize:
        ir_bytes = openvino_settings.ir_bytes
        return ModelSize(ir_bytes(self.original(case)), ir_bytes(self.quantized(case).path))

    def artifacts(self, case: Case) -> dict[str, Path]:
        xml = self.quantized(case).path
        return {"quantized model": xml, "quantized weights": xml.with_name(BIN_FILE)}

    def profile(self, case: Case, role: Role, feed: dict[str, Any], calls: int, threads: int | None = None) -> Profile:
        """OpenVINO's performance counters, on a session of its own, kept on disk: a warm rerun profiles nothing."""
        xml, count = self.path(case, role), self.threads(case, threads)
        key = digest("openvino-profile", PROFILE_FILE, self.model_id(case, role), count, calls, hash_arrays(feed))

        def build(out: Path) -> None:
            serialize.write(out / PROFILE_FILE, openvino_settings.profile_model(xml, count, feed, calls))

        return serialize.read(self.cache.build("profile", key, build) / PROFILE_FILE, Profile)

    def memory(self, case: Case, role: Role, feeds: Feeds) -> dict[str, MemoryStats] | None:
        """Measured by `memory_probe` in a child process that compiles the IR as the timing session does, kept on
        disk like ONNX Runtime's figures (a warm run spawns nothing)."""
        from pytest_quantbench.runtimes import memory_probe

        xml, threads = self.path(case, role), self.threads(case, None)
        key = digest(
            "memory-openvino", memory_probe.FORMAT, self.model_id(case, role), threads, memory_probe.shapes_of(feeds),
            self.versions(),
        )  # fmt: skip
        spec = {"engine": self.name, "model": str(xml), "threads": threads}
        return self._memo(("memory", key), lambda: memory_probe.measured(self.cache, key, spec, feeds, str(xml)))

    def graph_inspector(self, case: Case) -> GraphInspector:
        raise Unsupported("the sensitivity ranking and fallback search read ONNX graphs, not OpenVINO IRs")
