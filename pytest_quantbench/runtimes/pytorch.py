"""`framework: pytorch`: the transformers model itself, fp32 and with PyTorch's dynamic int8 quantization.

Users want to know whether ONNX Runtime int8 beats the framework they already run. A `TorchSession`
answers `get_inputs()` and `run(None, feed)` like an ONNX Runtime session, so evaluation, gates and
timing treat both frameworks alike. Quantization is `torch.ao.quantization.quantize_dynamic` on `Linear`
layers (what ONNX Runtime's `MatMul` covers); `per_channel` picks PyTorch's per-channel dynamic qconfig. Of
`framework_args` it reads the thread count only. It neither profiles nor inspects graphs: its speed and
accuracy diagnoses say so in one line.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_quantbench.artifacts.cache import ArtifactCache, digest, library_versions
from pytest_quantbench.artifacts.model_check import bin_weights_problem
from pytest_quantbench.artifacts.sources import Models
from pytest_quantbench.data.store import DataStore
from pytest_quantbench.errors import BuildError
from pytest_quantbench.memo import Memo
from pytest_quantbench.records import EngineInfo, MemoryStats, QuantizationReport, Role
from pytest_quantbench.runtimes.base import (
    Backend,
    GraphInspector,
    QuantizedModel,
    Session,
    Unsupported,
    check_role,
    one_line,
)
from pytest_quantbench.suite import Case, QuantConfig
from pytest_quantbench.suite.vocabulary import BUILTIN_BACKENDS
from pytest_quantbench.tasks import Task

if TYPE_CHECKING:
    from pytest_quantbench.runtimes.memory_probe import Feeds


@dataclass(frozen=True)
class _Input:
    name: str
    shape: tuple[int | str, ...] = ()
    type: str = ""


PAST, PRESENT = "past_key_values.", "present."  # a cache's names as optimum's decoder exports give them


class TorchSession:
    """An ONNX Runtime-shaped session over a PyTorch model, with its own thread count. A causal language model
    with a key/value cache declares it as the ONNX export does (`past_key_values.<i>.key`, ... in, `present.<i>.key`,
    ... out after the logits), so one decode loop serves both backends."""

    def __init__(self, model: Any, threads: int) -> None:
        self.model, self.threads = model, threads
        accepted = inspect.signature(model.forward).parameters
        names = ("input_ids", "attention_mask", "token_type_ids", "pixel_values")
        self._inputs = [_Input(n) for n in names if n in accepted]
        self._layers: list[tuple[int, int]] = []  # per layer of a cache: (heads, head size)
        if "past_key_values" in accepted and getattr(model, "can_generate", lambda: False)():
            self._layers = self._cache_layout()
        for i, (heads, size) in enumerate(self._layers):
            for kind in ("key", "value"):
                self._inputs.append(_Input(f"{PAST}{i}.{kind}", ("batch_size", heads, "past_length", size)))
        self._outputs = [_Input("logits")] + [_Input(f"{PRESENT}{n[len(PAST) :]}") for n in self._cache_names()]

    def _cache_names(self) -> list[str]:
        return [f"{PAST}{i}.{kind}" for i in range(len(self._layers)) for kind in ("key", "value")]

    def _cache_layout(self) -> list[tuple[int, int]]:
        """Heads and head size of each layer's cache, read off one token's run (families name them apart)."""
        import torch

        with torch.inference_mode():
            cache = self.model(input_ids=torch.zeros((1, 1), dtype=torch.long), use_cache=True).past_key_values
        legacy = cache.to_legacy_cache() if hasattr(cache, "to_legacy_cache") else cache
        return [(int(key.shape[1]), int(key.shape[3])) for key, _ in legacy] if legacy else []

    def get_inputs(self) -> list[_Input]:
        return self._inputs

    def get_outputs(self) -> list[_Input]:
        return self._outputs

    def run(self, output_names: Any, feed: dict) -> list:
        import torch

        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        tensors = {k: torch.from_numpy(v) for k, v in feed.items() if not k.startswith(PAST)}
        with torch.inference_mode():
            if not self._layers:  # the first output, as an ONNX session's: logits, or an encoder's last_hidden_state
                return [self.model(**tensors)[0].numpy()]
            out = self.model(**tensors, past_key_values=self._cache(feed), use_cache=True)
            cache = out.past_key_values
            legacy = cache.to_legacy_cache() if hasattr(cache, "to_legacy_cache") else cache
        return [out.logits.numpy()] + [t.numpy() for layer in legacy for t in layer]

    def _cache(self, feed: dict) -> Any:
        """The feed's cache as transformers takes it; None when it is empty (a prompt, a scored window)."""
        import torch
        from transformers import DynamicCache

        names = self._cache_names()
        if names[0] not in feed or feed[names[0]].shape[2] == 0:
            return None
        tensors = [torch.from_numpy(feed[n]) for n in names]
        layers: Any = tuple(zip(tensors[::2], tensors[1::2], strict=True))
        return DynamicCache.from_legacy_cache(layers)


def load(model_dir: Path, task: Task, trust_remote_code: bool = False) -> Any:
    import transformers

    auto = getattr(transformers, task.model_class)
    try:
        return auto.from_pretrained(model_dir, trust_remote_code=trust_remote_code).eval()
    except Exception as exc:  # one line naming the cause (a .bin transformers cannot read: torch.load's reason)
        raise BuildError(
            f"loading {model_dir} with transformers failed: {bin_weights_problem(model_dir) or one_line(exc)}"
        ) from exc


def dynamic_int8(model: Any, operators: tuple[str, ...] | list[str] | None, per_channel: bool) -> Any:
    """PyTorch dynamic int8 of the `Linear` layers when `MatMul` is among `operators` (or they are the default)."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    targets = {torch.nn.Linear} if not operators or "MatMul" in operators else set()
    spec = {torch.nn.Linear: per_channel_dynamic_qconfig} if per_channel else targets
    with warnings.catch_warnings():  # torch.ao's eager API warns that it moves to torchao; it is what users run today
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return quantize_dynamic(model, spec, dtype=torch.qint8) if targets else model


def quantize(model: Any, config: QuantConfig) -> tuple[Any, QuantizationReport]:
    """`dynamic_int8` of a config's operators, with the report of what it quantized."""
    ops = config.operators_to_quantize
    quantized = dynamic_int8(model, ops, config.per_channel)
    count = sum(1 for m in quantized.modules() if type(m).__name__ == "Linear" and m.__module__.startswith("torch.ao"))
    report = QuantizationReport(
        quantized_nodes={"Linear": count} if count else {},
        total_quantized=count,
        quantized_nothing=count == 0,
        operators_to_quantize=tuple(ops) if ops else None,
    )
    return quantized, report


class PyTorch(Backend):
    """The checkpoint itself, fp32 and quantized in memory: one model per suite, one int8 copy per setting."""

    name = "pytorch"
    vocabulary = BUILTIN_BACKENDS[name]
    libraries = ("torch", "transformers")

    def __init__(self, cache: ArtifactCache, models: Models, data: DataStore) -> None:
        super().__init__(cache, models, data)
        self._memo = Memo()

    @classmethod
    def engine_info(cls) -> EngineInfo:
        version = f"torch {library_versions(('torch',))['torch']}"
        return EngineInfo(cls.name, version, f"{version} (eager, CPU)")

    @staticmethod
    def settings(case: Case) -> tuple[Any, ...]:
        """What PyTorch's dynamic quantization reads of a config (the rest is ONNX Runtime's)."""
        return (case.config.operators_to_quantize, case.config.per_channel)

    def model(self, case: Case) -> Any:
        suite = case.suite
        task = self.data.of(suite).task
        return self._memo(
            ("torch", str(suite.path)), lambda: load(self.models.model_dir(suite), task, suite.trust_remote_code)
        )

    def _quantized(self, case: Case) -> tuple[Any, QuantizationReport]:
        return self._memo(
            ("torch-int8", str(case.suite.path), self.settings(case)), lambda: quantize(self.model(case), case.config)
        )

    def release(self) -> None:
        self._memo.forget(("torch", "torch-int8"))

    def quantized(self, case: Case) -> QuantizedModel:
        return QuantizedModel(self.models.model_dir(case.suite), self._quantized(case)[1])

    def session(self, case: Case, role: Role, threads: int | None = None) -> Session:
        model = self.model(case) if check_role(role) is Role.ORIGINAL else self._quantized(case)[0]
        return TorchSession(model, threads or case.config.framework_args.intra_op_num_threads)

    def model_id(self, case: Case, role: Role) -> str:
        role = check_role(role)
        original = f"pytorch-{self.models.model_hash(case.suite)}"
        if role is Role.ORIGINAL or self.quantized(case).report.quantized_nothing:
            return original
        return f"{original}-{self.settings(case)}"

    def memory(self, case: Case, role: Role, feeds: Feeds) -> dict[str, MemoryStats] | None:
        """Measured by `memory_probe` in a child process that loads the checkpoint as this backend does (and
        quantizes it for the quantized role), kept on disk like ONNX Runtime's figures."""
        from pytest_quantbench.runtimes import memory_probe

        role, suite = check_role(role), case.suite
        threads = case.config.framework_args.intra_op_num_threads
        key = digest(
            "memory-torch", memory_probe.FORMAT, self.model_id(case, role), threads, memory_probe.shapes_of(feeds),
            library_versions(self.libraries),
        )  # fmt: skip
        model_dir = self.models.model_dir(suite)
        int8 = None if role is Role.ORIGINAL else {
            "operators": list(case.config.operators_to_quantize or ()), "per_channel": case.config.per_channel
        }  # fmt: skip
        spec = {
            "engine": self.name, "model": str(model_dir), "model_class": self.data.of(suite).task.model_class,
            "trust_remote_code": suite.trust_remote_code, "threads": threads, "int8": int8,
        }  # fmt: skip
        return self._memo(("memory", key), lambda: memory_probe.measured(self.cache, key, spec, feeds, str(model_dir)))

    def graph_inspector(self, case: Case) -> GraphInspector:
        raise Unsupported("it reads ONNX graphs")  # the diagnosis' ranking and search run on ONNX models
