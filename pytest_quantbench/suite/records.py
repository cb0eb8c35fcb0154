"""What a suite *is*: the frozen records every later stage reads, whatever the file looked like.

No pydantic here: the records are imported by every stage (and by `pytest --help`); only reading a suite file
needs the models (`settings.py`, `models.py`). Every default of a suite file is written here, once: the models
read their field defaults from these dataclasses.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

# Lengths a suite file may leave out. Each is cut to the model's position limit where that is lower, once the
# model's config is known (`data/`): a default must not fail on a model the user did not write it for. A value
# the file gives above the limit stays an error.
DEFAULT_MAX_LENGTH = 128  # tokenizer truncation of evaluation and calibration
DEFAULT_INPUT_LENGTH = 128  # the one timed input length
DEFAULT_NEW_TOKENS = 16  # a decoder's `generate` phase: tokens made per timed call
DECODER_PHASES = ("prefill", "decode", "generate")  # `records.Phase`'s values, in the order they are timed


@dataclass(frozen=True)
class DatasetSpec:
    """Where the eval (and calibration) data comes from, in `datasets.load_dataset` terms."""

    path: str
    name: str | None = None
    data_files: Any = None
    data_dir: str | None = None
    eval_split: str = "validation"
    calibration_split: str = "train"
    data_keys: tuple[tuple[str, str], ...] = (("primary", "sentence"),)
    ref_keys: tuple[str, ...] = ("label",)
    num_eval_samples: int | None = None
    max_length: int | None = None  # None: DEFAULT_MAX_LENGTH, or the model's position limit when lower
    base_dir: str = "."
    stride: int | None = None  # a language model's sliding window: None is max_length // 2

    @property
    def primary(self) -> str:
        return dict(self.data_keys)["primary"]

    @property
    def secondary(self) -> str | None:
        return dict(self.data_keys).get("secondary")


@dataclass(frozen=True)
class Calibration:
    method: str = "minmax"
    num_calibration_samples: int = 100
    padding: str = "max_length"
    percentile: float = 99.999


@dataclass(frozen=True)
class FrameworkArgs:
    opset: int | None = None
    optimization_level: int = 99
    intra_op_num_threads: int = 1
    x64_quant_precision: bool = False  # ONNX Runtime's U8U8 kernels instead of saturating U8S8 (x64, no VNNI)
    # the quantized session's own level (None: the original's): QDQ pairs fuse into integer kernels from 2 on
    quantized_optimization_level: int | None = None

    @property
    def quantized_level(self) -> int:
        return (
            self.optimization_level if self.quantized_optimization_level is None else self.quantized_optimization_level
        )


@dataclass(frozen=True)
class WeightOnly:
    """`quantization_approach: weight_only`: blockwise 4/8-bit weights (ONNX Runtime's `MatMulNBits`)."""

    bits: int = 4
    block_size: int = 32
    symmetric: bool = True
    accuracy_level: int | None = None  # MatMulNBits' compute type: 4 is int8, None the kernel's default
    algorithm: str = "rtn"  # rtn | hqq | k_quant | gptq
    # MatMul names or glob patterns quantized at 8 bits while the rest take `bits`. Left out of the repr, which
    # keys the cached artifacts, so that configs without it keep their keys (the key adds it when given).
    keep_8bit: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class AccuracyControl:
    """NNCF's `quantize_with_accuracy_control`: int8 layers go back to fp32, most harmful first, until the suite's
    first metric on its eval split drops by at most `max_drop` (`absolute`, or `relative` to the fp32 score)."""

    max_drop: float = 0.01
    drop_type: str = "absolute"


@dataclass(frozen=True)
class Nncf:
    """NNCF's settings, read by `framework: openvino` only (its static int8 and weight compression)."""

    preset: str = "performance"  # performance: symmetric activations; mixed: asymmetric ones
    model_type: str = "auto"  # auto: transformer when the graph has attention (a Softmax); transformer | generic
    fast_bias_correction: bool = True  # False: NNCF's slower, more accurate bias correction
    ignored_patterns: tuple[str, ...] = ()  # regular expressions of node names kept in fp32 (NNCF's IgnoredScope)
    ratio: float = 1.0  # weight_only, 4 bits: the share of weights in 4 bits, the rest in int8
    accuracy_control: AccuracyControl | None = None  # static only: None quantizes without it
    # weight_only, 4 bits: NNCF's data-aware corrections on the calibration samples. Out of the repr (which keys
    # artifacts): configs without them keep their keys; a backend reading them keys them when set (`data_aware`).
    awq: bool = field(default=False, repr=False)
    scale_estimation: bool = field(default=False, repr=False)

    @property
    def data_aware(self) -> tuple[str, ...]:
        """The data-aware weight compression options set, by name (empty: data-free)."""
        return tuple(name for name in ("awq", "scale_estimation") if getattr(self, name))


@dataclass(frozen=True)
class QuantConfig:
    """One point of the grid: everything that decides how the int8 model is built and run."""

    framework: str = "onnxruntime"
    quantization_approach: str = "dynamic"
    operators_to_quantize: tuple[str, ...] | None = None
    per_channel: bool = False
    reduce_range: bool = False
    weights_dtype: str = "int8"
    activations_dtype: str | None = None
    weights_symmetric: bool = True
    activations_symmetric: bool = False
    format: str | None = None
    fp32_outputs: tuple[str, ...] = ()  # static QDQ: op types whose outputs only a quantized reader quantizes
    node_exclusion: tuple[str, ...] = ()
    nodes_to_exclude: tuple[str, ...] = ()
    calibration: Calibration = Calibration()
    weight_only: WeightOnly = WeightOnly()
    framework_args: FrameworkArgs = FrameworkArgs()
    nncf: Nncf = Nncf()
    # who quantizes: None (or its own quantizer's name) the framework's own; else one of its backend's `quantizers`
    quantizer: str | None = None

    @property
    def is_static(self) -> bool:
        return self.quantization_approach == "static"

    @property
    def is_calibrated(self) -> bool:
        """Built from the calibration split: static int8 (its ranges), weight-only GPTQ (its Hessians)."""
        return self.is_static or (self.quantization_approach == "weight_only" and self.weight_only.algorithm == "gptq")


# sentence-transformers' int8 exports (`export_dynamic_quantized_onnx_model(model, "<target>")`), by the name of
# the file each writes (`model_<name>.onnx`): optimum's `AutoQuantizationConfig.<target>(is_static=False)` with
# its defaults, i.e. dynamic QOperator, per-channel, uint8 asymmetric activations, symmetric weights, full range,
# on optimum's default dynamic operator set (None here). avx2 differs only in uint8 weights, hence `quint8_avx2`.
# Beside them, `static_u8s8`: static int8 as ONNX Runtime runs it fastest on x86 (see
# benchmarks/minilm-sentiment-static-u8s8.suite.yaml): QDQ MatMuls only, uint8 activations, per-channel int8
# weights, a MatMul's output kept fp32 unless a quantized node reads it, minmax on 100 unpadded samples.
# A `preset:` sets these settings of its config; the suite may not set them beside it (`build.py`).
_ST_DYNAMIC = (
    ("framework", "onnxruntime"), ("quantization_approach", "dynamic"), ("format", "qoperator"),
    ("operators_to_quantize", None), ("per_channel", True), ("reduce_range", False), ("activations_dtype", "uint8"),
    ("activations_symmetric", False), ("weights_symmetric", True),
)  # fmt: skip
CONFIG_PRESETS: dict[str, tuple[tuple[str, Any], ...]] = {
    "qint8_avx512_vnni": (*_ST_DYNAMIC, ("weights_dtype", "int8")),
    "qint8_avx512": (*_ST_DYNAMIC, ("weights_dtype", "int8")),
    "qint8_arm64": (*_ST_DYNAMIC, ("weights_dtype", "int8")),
    "quint8_avx2": (*_ST_DYNAMIC, ("weights_dtype", "uint8")),
    "static_u8s8": (
        ("framework", "onnxruntime"), ("quantization_approach", "static"), ("format", "qdq"),
        ("operators_to_quantize", ("MatMul",)), ("per_channel", True), ("reduce_range", False),
        ("weights_dtype", "int8"), ("activations_dtype", "uint8"), ("activations_symmetric", False),
        ("weights_symmetric", True), ("fp32_outputs", ("MatMul",)),
        ("calibration", Calibration(method="minmax", num_calibration_samples=100, padding="none")),
    ),
}  # fmt: skip
SENTENCE_TRANSFORMERS_PRESETS = ("qint8_avx512_vnni", "qint8_avx512", "qint8_arm64", "quint8_avx2")
PRESET_KEY = "preset"


def with_preset(settings: dict[str, Any]) -> dict[str, Any]:
    """A config's settings with its `preset` (if any) expanded into the settings it stands for."""
    preset = settings.get(PRESET_KEY)
    given = {k: v for k, v in settings.items() if k != PRESET_KEY}
    return {**dict(CONFIG_PRESETS[preset]), **given} if preset else given


class GateKind(str, Enum):
    """What a gate judges: a metric the suite scores, or one of the named gates beside the metrics."""

    METRIC = "metric"
    FIDELITY = "fidelity"  # label-free fidelity of the quantized model to the fp32 one
    DIVERGENCE = "divergence"  # a fidelity measure where lower is better (a KL divergence): gated by a ceiling
    SPEED = "speedup"
    SIZE = "size"
    MEMORY = "memory"


# Threshold keys beside the suite's metrics: label-free fidelity of the int8 model to the fp32 one (top-1
# agreement, mean cosine similarity of the logits or embeddings; for embeddings also the 1st percentile of the
# per-sample cosines, the top-k neighbours kept and the rank correlation of pairwise similarities), its
# speed-up, its size on disk and its peak memory.
NAMED_GATES: dict[str, GateKind] = {
    "agreement": GateKind.FIDELITY,
    "cosine": GateKind.FIDELITY,
    "cosine_p01": GateKind.FIDELITY,
    "neighbours": GateKind.FIDELITY,
    "similarity_spearman": GateKind.FIDELITY,
    "top1_agreement": GateKind.FIDELITY,  # a language model's share of positions with the same next token
    "kl_divergence": GateKind.DIVERGENCE,  # a language model's mean KL of its next-token distributions
    "kl_divergence_p99": GateKind.DIVERGENCE,  # ... and its 99th percentile over tokens (the rare bad token)
    "generation_agreement": GateKind.FIDELITY,  # the share of greedy continuations identical to fp32's
    "generation_prefix": GateKind.FIDELITY,  # ... and how far into them the first difference comes (a share)
    "speedup": GateKind.SPEED,
    "size": GateKind.SIZE,
    "memory": GateKind.MEMORY,
}
FIDELITY_KINDS = (GateKind.FIDELITY, GateKind.DIVERGENCE)  # judged on both models' evidence by the task
FIDELITY_GATES = tuple(k for k, kind in NAMED_GATES.items() if kind in FIDELITY_KINDS)
SPEED_GATE, SIZE_GATE, MEMORY_GATE = GateKind.SPEED.value, GateKind.SIZE.value, GateKind.MEMORY.value
GATES = tuple(NAMED_GATES)
# Named gates that take a count after `@`: `neighbours@20` (top-20 neighbours; `neighbours` alone: k = 10),
# `generation_agreement@16` (16 new tokens; alone: the task's default).
COUNTED_GATES = ("neighbours", "generation_agreement", "generation_prefix")
DEFAULT_NEIGHBOURS = 10
COUNTED_GATE = re.compile(r"^(?P<base>[a-z_]+)@(?P<count>[1-9][0-9]{0,5})$")
# The JSON Schema's words for the counted keys (`jsonschema.py`): one alternative per counted gate.
COUNTED_GATE_PATTERNS = tuple(f"^{name}@[1-9][0-9]{{0,5}}$" for name in COUNTED_GATES)


def gate_kind(key: str) -> GateKind:
    """What a `thresholds` key judges: a named gate (a counted one's base name), else a metric."""
    counted = COUNTED_GATE.match(key)
    if counted and counted["base"] in COUNTED_GATES:
        return NAMED_GATES[counted["base"]]
    return NAMED_GATES.get(key, GateKind.METRIC)


def gate_count(key: str, default: int = DEFAULT_NEIGHBOURS) -> int:
    """The count of a counted gate's key (`neighbours@20`: 20), else `default`."""
    counted = COUNTED_GATE.match(key)
    return int(counted["count"]) if counted else default


def known_gates(fidelity: tuple[str, ...]) -> tuple[str, ...]:
    """The named gates a suite of a task may give: the fidelity gates its task measures, and the others."""
    return (*fidelity, *(key for key, kind in NAMED_GATES.items() if kind not in FIDELITY_KINDS))


# The gates of a suite file that gives none: each metric may drop by at most this much; a suite without
# references gates on the quantized model agreeing with the original on at least this share of samples (or on
# what its task names instead: `TaskVocabulary.default_gates`).
DEFAULT_MAX_DROP = 0.01
DEFAULT_MIN_AGREEMENT = 0.99


@dataclass(frozen=True)
class Threshold:
    """A gate. With `confidence`, `max_drop` is judged on the paired-bootstrap interval of the drop; an
    interval that straddles it is inconclusive, failing unless `on_inconclusive` is `pass`."""

    max_drop: float | None = None
    min_ratio: float | None = None
    min: float | None = None  # a floor of the quantized score (accuracy, agreement, cosine, speed-up)
    max: float | None = None  # a ceiling of the quantized score (an error, a perplexity)
    max_ratio: float | None = None  # size: quantized / original bytes; memory: quantized / original run peak
    confidence: float | None = None
    on_inconclusive: str = "fail"


@dataclass(frozen=True)
class Thresholds:
    """A case's gates: one per metric it gates on, and each named gate in a field of its own (judged by the
    accuracy case, or by the latency cases: speed-up and memory)."""

    metrics: tuple[tuple[str, Threshold], ...] = ()
    fidelity: tuple[tuple[str, Threshold], ...] = ()  # agreement, cosine, top1_agreement, kl_divergence
    speedup: Threshold | None = None
    size: Threshold | None = None
    memory: Threshold | None = None

    @classmethod
    def from_keys(cls, by_key: dict[str, Threshold]) -> Thresholds:
        """The gates of a suite file's `thresholds:` mapping (metric names and the named gates' keys)."""
        kinds = {key: gate_kind(key) for key in by_key}
        single = {kind.value: by_key[key] for key, kind in kinds.items() if kind in _SINGLE_GATES}
        return cls(
            metrics=tuple((k, t) for k, t in by_key.items() if kinds[k] is GateKind.METRIC),
            fidelity=tuple((k, t) for k, t in by_key.items() if kinds[k] in FIDELITY_KINDS),
            **single,
        )

    def by_key(self) -> dict[str, Threshold]:
        """The gates as a suite file names them: metrics, then the named gates."""
        single = {kind.value: getattr(self, kind.value) for kind in _SINGLE_GATES}
        return {**dict(self.metrics), **dict(self.fidelity), **{k: t for k, t in single.items() if t is not None}}

    def updated(self, other: Thresholds) -> Thresholds:
        """These gates with `other`'s over them (an override's over the suite's)."""
        return Thresholds.from_keys({**self.by_key(), **other.by_key()})


_SINGLE_GATES = (GateKind.SPEED, GateKind.SIZE, GateKind.MEMORY)  # one threshold each, not one per name


@dataclass(frozen=True)
class TimeSpec:
    batch_sizes: tuple[int, ...] = (1,)
    input_lengths: tuple[int, ...] | None = None  # None: DEFAULT_INPUT_LENGTH, or the model's limit when lower
    rounds: int | None = None  # None: adaptive, until the mean is known to `target_ci` or `max_time_s` runs out
    warmup_rounds: int = 1  # ONNX Runtime allocates on its first call; later calls are steady
    max_time_s: float = 2.0
    target_ci: float = 0.02
    # a decoder's phases (`records.Phase` values) and the tokens its `generate` phase makes; None: every phase
    phases: tuple[str, ...] | None = None
    new_tokens: int = DEFAULT_NEW_TOKENS


@dataclass(frozen=True)
class Case:
    """A resolved config of a suite: what the `quantbench_case` fixture hands to a test."""

    suite: Suite
    id: str
    config: QuantConfig
    point: tuple[tuple[str, Any], ...]
    thresholds: Thresholds
    expect: str | None = None

    def settings(self) -> dict[str, Any]:
        """The benchmarked values of this config as plain JSON data (for reports and pytest-benchmark)."""
        return {k: jsonable(v) for k, v in self.point}

    @property
    def key(self) -> str:
        """Unique within a run: the suite file and the config id."""
        return f"{self.suite.path}::{self.id}"

    @property
    def baseline(self) -> str:
        """The backend whose fp32 model this config's speed-up is against: the suite's `baseline:`, else the
        config's own framework."""
        return self.suite.baseline or self.config.framework

    @property
    def baseline_id(self) -> str:
        """Id of the fp32 model this config is compared with (shared by configs that export alike). It names
        the baseline's backend when `framework` is benchmarked or the suite's `baseline:` is another backend."""
        from pytest_quantbench.suite.grid import id_token  # the grid builds cases, so it imports this module

        def original(key: str, value: Any) -> Any:  # the baseline's backend; the original session's level
            if key == "framework":
                return self.baseline
            return dataclasses.replace(value, quantized_optimization_level=None) if key == "framework_args" else value

        tokens = [id_token(k, original(k, v)) for k, v in self.point if k in ("framework", "framework_args")]
        framework_varies = any("framework" in dict(g) for g in self.suite.grids)  # some grid names it: name it
        if "framework" not in dict(self.point) and (self.baseline != self.config.framework or framework_varies):
            tokens.insert(0, id_token("framework", self.baseline))
        return "-".join(["fp32", *tokens])


@dataclass(frozen=True)
class Suite:
    path: Path
    name: str
    task: str
    model_name_or_path: str
    dataset: DatasetSpec
    metrics: tuple[str, ...]
    time: TimeSpec
    fixed: tuple[tuple[str, Any], ...]
    benchmarked: tuple[tuple[str, tuple[Any, ...]], ...]
    revision: str | None = None
    trust_remote_code: bool = False
    markers: tuple[str, ...] = ()
    timed_by_length: bool = True  # from the task: image inputs have no length to time at
    decodes: bool = False  # from the task: a decoder's latency cases time phases (`time.phases`)
    baseline: str | None = None  # the backend every speed-up is against; None: each config's own framework
    # `benchmarked:` given as a list of grids: each one's settings (`benchmarked` is then their union, what the
    # reports list); () when the file gives one grid, `benchmarked` itself
    grids: tuple[tuple[tuple[str, tuple[Any, ...]], ...], ...] = ()
    cases: tuple[Case, ...] = field(default=(), compare=False, repr=False)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def shapes(self) -> list[tuple[int, int | None]]:
        """(batch size, input length) pairs to time; image tasks have no input length."""
        if not self.timed_by_length:
            return [(b, None) for b in self.time.batch_sizes]
        lengths = self.time.input_lengths or (DEFAULT_INPUT_LENGTH,)  # the ids name the default, cut or not
        return [(b, n) for b in self.time.batch_sizes for n in lengths]


def jsonable(value: Any) -> Any:
    """A record or a tuple of them as plain JSON data (lists and dicts), for reports and result files."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    return value
