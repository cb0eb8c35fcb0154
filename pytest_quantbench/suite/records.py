"""What a suite *is*: the frozen records every later stage reads, whatever the file looked like.

No pydantic here: the records are imported by every stage (and by `pytest --help`); only reading a suite file
needs the models (`settings.py`, `models.py`). Every default of a suite file is written here, once (the gates'
in `thresholds.py`): the models read their field defaults from these dataclasses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_quantbench.suite.thresholds import Thresholds

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
