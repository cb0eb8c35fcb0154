"""The run's state, without pytest: builds and caches artifacts, sessions, data and evaluations per case.

One `Harness` per process. Artifacts live in the on-disk `ArtifactCache` (shared across runs and
processes); sessions, datasets and scores are memoised in memory for the run, so a fp32 model that many
configs share is exported, loaded, evaluated and timed once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_quantbench.artifacts import builtins, sources
from pytest_quantbench.artifacts import quantize as quantization
from pytest_quantbench.artifacts.cache import ArtifactCache, digest, hash_arrays, hash_files
from pytest_quantbench.data import prepare as data
from pytest_quantbench.measure import accuracy as evaluation
from pytest_quantbench.progress import Progress, say
from pytest_quantbench.runtimes import pytorch as pytorch_runtime
from pytest_quantbench.suite import Case, FrameworkArgs, Suite
from pytest_quantbench.verdicts import gates, hardware, sensitivity


def library_versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ("onnx", "onnxruntime", "optimum", "optimum-onnx", "transformers", "torch")
    return {n: version(n) for n in names}


@dataclass
class QuantizedModel:
    path: Path
    report: dict


@dataclass
class Evaluation:
    case: Case
    original: dict[str, float]
    quantized: dict[str, float]
    verdict: gates.Verdict
    report: dict

    def as_dict(self) -> dict:
        return {
            "metrics": {r.name: r.as_dict() for r in self.verdict.results},
            "passed": self.verdict.passed,
            "collapse": self.verdict.collapsed,
            "verdict": self.verdict.line(),
            "quantization": self.report,
        }


class Harness:
    def __init__(self, cache_dir: str | Path, progress: Progress = say) -> None:
        self.cache = ArtifactCache(cache_dir)
        self.progress = progress  # where long builds (fetching, fine-tuning) say how far they are
        self._memo: dict[tuple, Any] = {}
        self.evaluations: dict[str, Evaluation] = {}

    def _once(self, key: tuple, make):
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    # --- sources ------------------------------------------------------------------------------------

    def model_dir(self, suite: Suite) -> Path:
        spec = suite.model_name_or_path

        def resolve() -> Path:
            if spec.startswith(builtins.PREFIX):
                return builtins.model_dir(spec[len(builtins.PREFIX) :], self.cache, self.progress)
            return sources.resolve_local(spec, suite.base_dir) or sources.hub_model_dir(spec, suite.revision)

        return self._once(("model_dir", spec, suite.revision, str(suite.base_dir)), resolve)

    def id2label(self, suite: Suite) -> dict[int, str]:
        def read() -> dict[int, str]:
            config = json.loads((self.model_dir(suite) / "config.json").read_text())
            return {int(k): v for k, v in (config.get("id2label") or {}).items()}

        return self._once(("id2label", suite.path), read)

    def preprocessor(self, suite: Suite) -> data.Preprocessor:
        return self._once(
            ("preprocessor", suite.path),
            lambda: data.Preprocessor(suite, data.load_processor(suite.task, self.model_dir(suite))),
        )

    def split(self, suite: Suite, split: str):
        return self._once(
            ("split", suite.path, split), lambda: data.load_split(suite.dataset, split, self.cache, self.progress)
        )

    def eval_data(self, suite: Suite) -> data.EvalData:
        return self._once(
            ("eval", suite.path),
            lambda: data.eval_data(
                suite, self.split(suite, suite.dataset.eval_split), self.preprocessor(suite), self.id2label(suite)
            ),
        )

    # --- artifacts ----------------------------------------------------------------------------------

    def _model_hash(self, suite: Suite) -> str:
        return self._once(("model_hash", suite.path), lambda: hash_files(self.model_dir(suite)))

    @staticmethod
    def _torch_settings(case: Case) -> tuple:
        """What PyTorch's dynamic quantization reads of a config (the rest is ONNX Runtime's)."""
        return (case.config.operators_to_quantize, case.config.per_channel)

    def _export_key(self, case: Case) -> str:
        model_hash = self._model_hash(case.suite)
        opset = case.config.framework_args.opset
        return digest("export", model_hash, case.suite.task, opset, library_versions())

    def original(self, case: Case) -> Path:
        """The fp32 ONNX model of a case (shared by every config that exports alike)."""
        key = self._export_key(case)

        def build(out: Path) -> None:
            quantization.export(
                self.model_dir(case.suite), case.suite.task, case.config.framework_args.opset, out,
                case.suite.trust_remote_code,
            )  # fmt: skip

        return self._once(("original", key), lambda: self.cache.build("export", key, build) / quantization.ONNX_FILE)

    def _torch_model(self, suite: Suite):
        return self._once(
            ("torch", str(suite.path)),
            lambda: pytorch_runtime.load(self.model_dir(suite), suite.task, suite.trust_remote_code),
        )

    def _torch_quantized(self, case: Case):
        return self._once(
            ("torch-int8", str(case.suite.path), self._torch_settings(case)),
            lambda: pytorch_runtime.quantize(self._torch_model(case.suite), case.config),
        )

    def quantized(self, case: Case) -> QuantizedModel:
        """The int8 model: an ONNX file, or for `framework: pytorch` the checkpoint it quantizes in memory."""
        config = case.config
        if config.framework == "pytorch":
            return QuantizedModel(self.model_dir(case.suite), self._torch_quantized(case)[1])
        cal_fingerprint = None
        if config.is_static:
            cal_fingerprint = self.split(case.suite, case.suite.dataset.calibration_split)._fingerprint
        settings = {k: v for k, v in vars(config).items() if k != "framework_args"}
        key = digest(
            "quantize", quantization.ARTIFACT_FORMAT, self._export_key(case), repr(settings), cal_fingerprint,
            case.suite.dataset.max_length,
        )  # fmt: skip

        def build(out: Path) -> None:
            calibration = None
            if config.is_static:
                calibration = data.calibration_dataset(
                    case.suite,
                    self.split(case.suite, case.suite.dataset.calibration_split),
                    self.preprocessor(case.suite),
                    config.calibration.num_calibration_samples,
                    config.calibration.padding,
                )
            report = quantization.quantize(self.original(case).parent, config, out, calibration)
            (out / "report.json").write_text(json.dumps(report, indent=1))

        def load() -> QuantizedModel:
            entry = self.cache.build("quantize", key, build)
            return QuantizedModel(entry / quantization.QUANTIZED_FILE, json.loads((entry / "report.json").read_text()))

        return self._once(("quantized", key), load)

    # --- sessions -----------------------------------------------------------------------------------

    def session(self, model_path: Path, args: FrameworkArgs, threads: int | None = None):
        """An ONNX Runtime CPU session; `threads` overrides the config's (evaluation uses every core)."""
        threads = threads or args.intra_op_num_threads

        def make():
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel(args.optimization_level)
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            if args.x64_quant_precision:
                options.add_session_config_entry(hardware.X64_PRECISION_KEY, "1")
            return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])

        return self._once(
            ("session", str(model_path), args.optimization_level, threads, args.x64_quant_precision), make
        )

    def original_session(self, case: Case, threads: int | None = None):
        if case.config.framework == "pytorch":
            model = self._torch_model(case.suite)
            return pytorch_runtime.TorchSession(model, threads or case.config.framework_args.intra_op_num_threads)
        return self.session(self.original(case), case.config.framework_args, threads)

    def quantized_session(self, case: Case, threads: int | None = None):
        if case.config.framework == "pytorch":
            model = self._torch_quantized(case)[0]
            return pytorch_runtime.TorchSession(model, threads or case.config.framework_args.intra_op_num_threads)
        return self.session(self.quantized(case).path, case.config.framework_args, threads)

    # --- evaluation ---------------------------------------------------------------------------------

    def evaluate(self, case: Case) -> Evaluation:
        """Original vs quantized scores of a case and the gate's verdict (memoised for the run)."""
        if case.key in self.evaluations:
            return self.evaluations[case.key]
        suite, threads = case.suite, os.cpu_count()
        eval_data = self.eval_data(suite)
        quantized = self.quantized(case)
        if case.config.framework == "pytorch":
            model_hash = self._model_hash(suite)
            original_id = f"pytorch-{model_hash}"
            quantized_id = (
                original_id if quantized.report["quantized_nothing"] else f"{original_id}-{self._torch_settings(case)}"
            )
        else:
            runtime = (case.config.framework_args.optimization_level, case.config.framework_args.x64_quant_precision)
            original_id = f"onnx-{self._export_key(case)}-{runtime}"
            quantized_id = f"onnx-graph-{quantized.report['graph_sha256']}-{runtime}"
        original = self._scores(original_id, suite, lambda: self.original_session(case, threads))
        scores = self._scores(quantized_id, suite, lambda: self.quantized_session(case, threads))
        chance = evaluation.chance_levels(suite.task, eval_data.references)
        verdict = gates.judge(original, scores, chance, dict(case.thresholds))
        result = Evaluation(case, original, scores, verdict, quantized.report)
        self.evaluations[case.key] = result
        return result

    def _scores(self, model_id: str, suite: Suite, session) -> dict[str, float]:
        """A model's scores on the suite's eval split, kept on disk: a warm rerun evaluates nothing again."""
        split = self.split(suite, suite.dataset.eval_split)
        spec = (suite.task, suite.metrics, suite.dataset.num_eval_samples, suite.dataset.max_length)
        key = digest("scores", model_id, split._fingerprint, spec, library_versions())

        def build(out: Path) -> None:
            eval_data, id2label = self.eval_data(suite), self.id2label(suite)
            result = evaluation.evaluate_session(session(), eval_data, suite.task, suite.metrics, id2label)
            (out / "scores.json").write_text(json.dumps(result))

        return self._once(
            ("scores", key), lambda: json.loads((self.cache.build("scores", key, build) / "scores.json").read_text())
        )

    def sensitivity(self, case: Case, feeds: list[dict], candidates: set[str]) -> list[sensitivity.NodeError]:
        """A diagnosis's node ranking, kept on disk like scores: a warm rerun of a failing case ranks nothing again."""
        quantized = self.quantized(case)
        key = digest(
            "sensitivity", self._export_key(case), quantized.report["graph_sha256"], sorted(candidates),
            [hash_arrays(feed) for feed in feeds], library_versions(),
        )  # fmt: skip

        def build(out: Path) -> None:
            ranking = sensitivity.analyse(self.original(case), quantized.path, feeds, candidates)
            (out / "ranking.json").write_text(json.dumps([e.as_dict() for e in ranking]))

        entry = self.cache.build("sensitivity", key, build)
        return [sensitivity.NodeError(**e) for e in json.loads((entry / "ranking.json").read_text())]

    def timing_inputs(self, suite: Suite, batch_size: int, input_length: int | None) -> dict:
        return self._once(
            ("feed", suite.path, batch_size, input_length),
            lambda: data.timing_inputs(
                self.split(suite, suite.dataset.eval_split), self.preprocessor(suite), batch_size, input_length
            ),
        )
