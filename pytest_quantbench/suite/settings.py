"""The suite file's vocabulary as pydantic models, part one: one config's quantization settings (`fixed`,
each value of `benchmarked`, `overrides[].when`) and the base every model of the file shares.

Validation is strict (a YAML `yes please` stays a string, `"1"` stays text) and closed (a misspelt key is an
error). The models check each field alone; rules across fields live in `build.py`, which turns validated
models into the records of `records.py`; `jsonschema.py` exports them for editors. The rest of the file's
models are in `models.py`.

Defaults are written once, in the records: each model reads its field defaults from its record's dataclass
(`defaults`), so what the JSON Schema shows and what an omitted field becomes cannot drift apart. (The other
way round would make the records, which every stage imports, import pydantic.) A `None` default means "not
given": the record's None, or `NOT_GIVEN` where the task or the file name decides; an explicit null is
refused unless the type says `| None`, and the JSON Schema leaves such defaults out.
"""

import dataclasses
import difflib
from types import SimpleNamespace
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationInfo,
    create_model,
    model_validator,
)
from pydantic.fields import FieldInfo

from pytest_quantbench.suite.errors import Wording, invalid, unknown_value
from pytest_quantbench.suite.records import (
    CONFIG_PRESETS,
    AccuracyControl,
    Calibration,
    FrameworkArgs,
    Nncf,
    QuantConfig,
    WeightOnly,
)
from pytest_quantbench.suite.vocabulary import PRESETS, Vocabulary

# ONNX operator types that ONNX Runtime's quantizers know (the union of its registries).
QUANTIZABLE_OPERATORS = (
    "Add", "ArgMax", "Attention", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv",
    "ConvTranspose", "EmbedLayerNormalization", "Gather", "GatherElements", "GatherND", "Gemm",
    "GlobalAveragePool", "InstanceNormalization", "LayerNormalization", "LeakyRelu", "LSTM", "MatMul",
    "MaxPool", "Mul", "Pad", "Relu", "Reshape", "Resize", "Sigmoid", "Slice", "Softmax", "Split",
    "Squeeze", "Transpose", "Unsqueeze", "Where", "Flatten", "TopK", "CumSum",
)  # fmt: skip
NOT_GIVEN: Any = None  # a default the record does not hold: the task's (or the file name) applies

Text = Annotated[str, StringConstraints(pattern=r"\S")]  # non-empty, not blank
Operator = Literal[QUANTIZABLE_OPERATORS]  # type: ignore[valid-type]  # a tuple constant: mypy wants literals
Dtype = Literal["int8", "uint8"]


def defaults(record: type) -> SimpleNamespace:
    """The field defaults of a record's dataclass, as a model's `Field` defaults (tuples as the lists a
    file gives): the one place a default is written is `records.py` (the gates': `thresholds.py`)."""
    fields = [f for f in dataclasses.fields(record) if f.default is not dataclasses.MISSING]
    return SimpleNamespace(**{f.name: list(f.default) if isinstance(f.default, tuple) else f.default for f in fields})


CALIBRATION, FRAMEWORK_ARGS, WEIGHT_ONLY = defaults(Calibration), defaults(FrameworkArgs), defaults(WeightOnly)
NNCF, ACCURACY_CONTROL = defaults(Nncf), defaults(AccuracyControl)
CONFIG = defaults(QuantConfig)


def plain(value: Any) -> Any:
    """A validated value as the records hold it: sections as records, lists as tuples."""
    if isinstance(value, Section):
        return value.record()
    if isinstance(value, list):
        return tuple(plain(v) for v in value)
    return value


class Section(BaseModel):
    """Strict and closed, like every section of a suite file."""

    model_config = ConfigDict(strict=True, extra="forbid")
    record_type: ClassVar[type | None] = None  # the record a validated section becomes

    def record(self) -> Any:
        assert self.record_type is not None, f"{type(self).__name__} is not a record"
        return self.record_type(**{k: plain(v) for k, v in self})


class CalibrationSchema(Section, title="calibration"):
    """How static quantization finds its activation ranges."""

    record_type = Calibration
    method: Literal["minmax", "entropy", "percentile"] = Field(
        default=CALIBRATION.method, description="calibration method"
    )
    num_calibration_samples: int = Field(
        default=CALIBRATION.num_calibration_samples, ge=1, le=100_000, description="samples of the calibration split"
    )
    padding: Literal["max_length", "longest", "none"] = Field(
        default=CALIBRATION.padding,
        description="how calibration batches are padded; none: one unpadded sample at a time",
    )
    percentile: float = Field(
        default=CALIBRATION.percentile, ge=90.0, le=100.0, description="cut-off of the percentile method"
    )


class FrameworkArgsSchema(Section, title="framework_args"):
    """How the model is exported and run by ONNX Runtime."""

    record_type = FrameworkArgs
    opset: Annotated[int, Field(ge=9, le=25)] | None = Field(
        default=FRAMEWORK_ARGS.opset, description="export opset (default: optimum's)"
    )
    optimization_level: Literal[0, 1, 2, 3, 99] = Field(
        default=FRAMEWORK_ARGS.optimization_level,
        description="ONNX Runtime graph optimization level of the fp32 and int8 sessions (99: all)",
    )
    intra_op_num_threads: int = Field(
        default=FRAMEWORK_ARGS.intra_op_num_threads, ge=1, le=1024, description="threads of the timing sessions"
    )
    x64_quant_precision: bool = Field(
        default=FRAMEWORK_ARGS.x64_quant_precision,
        description="ONNX Runtime's U8U8 kernels instead of saturating U8S8 (x64 without VNNI)",
    )
    quantized_optimization_level: Literal[0, 1, 2, 3, 99] | None = Field(
        default=FRAMEWORK_ARGS.quantized_optimization_level,
        description="the quantized session's level (default: optimization_level); QDQ fuses from 2 on",
    )


class WeightOnlySchema(Section, title="weight_only"):
    """Blockwise weight-only quantization of MatMul weights (ONNX Runtime's MatMulNBits)."""

    record_type = WeightOnly
    bits: Literal[4, 8] = Field(default=WEIGHT_ONLY.bits, description="bits per weight")
    block_size: Literal[16, 32, 64, 128, 256] = Field(
        default=WEIGHT_ONLY.block_size, description="weights sharing one scale"
    )
    symmetric: bool = Field(default=WEIGHT_ONLY.symmetric, description="symmetric blocks (no zero point)")
    accuracy_level: Literal[0, 1, 2, 3, 4] | None = Field(
        default=WEIGHT_ONLY.accuracy_level,
        description="MatMulNBits compute type: 4 int8, 1 fp32 (default: the kernel's)",
    )
    algorithm: Literal["rtn", "hqq", "k_quant", "gptq"] = Field(
        default=WEIGHT_ONLY.algorithm,
        description="rtn: round to nearest; hqq: half-quadratic; k_quant: llama.cpp's k-quant scale search "
        "(asymmetric blocks whatever symmetric says); gptq: GPTQ on the calibration split (4 bits; calibration's "
        "num_calibration_samples and padding)",
    )
    keep_8bit: list[Text] = Field(
        default=WEIGHT_ONLY.keep_8bit,
        description="MatMul node names of the exported graph, or glob patterns of them (`/model/layers.0/*`), "
        "quantized at 8 bits while the others take bits (one that matches no MatMul is refused)",
    )


class AccuracyControlSchema(Section, title="accuracy_control"):
    """NNCF's accuracy control: int8 layers back to fp32 until the suite's first metric drops by at most this."""

    record_type = AccuracyControl
    max_drop: float = Field(
        default=ACCURACY_CONTROL.max_drop, ge=0.0, le=1.0, description="the largest drop of the suite's first metric"
    )
    drop_type: Literal["absolute", "relative"] = Field(
        default=ACCURACY_CONTROL.drop_type, description="absolute, or relative to the fp32 score"
    )


class NncfSchema(Section, title="nncf"):
    """How NNCF quantizes: for framework openvino, or onnxruntime with quantizer nncf (the others leave it)."""

    record_type = Nncf
    preset: Literal["performance", "mixed"] = Field(
        default=NNCF.preset, description="static: performance (symmetric activations) or mixed (asymmetric)"
    )
    model_type: Literal["auto", "transformer", "generic"] = Field(
        default=NNCF.model_type,
        description="static: transformer keeps NNCF's transformer patterns in fp32; auto: transformer when the "
        "graph has a Softmax",
    )
    fast_bias_correction: bool = Field(
        default=NNCF.fast_bias_correction, description="static: false runs NNCF's slower full bias correction"
    )
    ignored_patterns: list[Text] = Field(
        default=NNCF.ignored_patterns, description="regular expressions of OpenVINO node names kept in fp32"
    )
    ratio: float = Field(
        default=NNCF.ratio, ge=0.0, le=1.0, description="weight_only, 4 bits: share of weights in 4 bits, the rest int8"
    )
    accuracy_control: AccuracyControlSchema | None = Field(
        default=NNCF.accuracy_control,
        description="static: NNCF's quantize_with_accuracy_control on the suite's eval split and first metric",
    )
    awq: bool = Field(
        default=NNCF.awq, description="weight_only, 4 bits: AWQ's activation-aware scales, fitted on the calibration "
        "samples (calibration.num_calibration_samples)",
    )  # fmt: skip
    scale_estimation: bool = Field(
        default=NNCF.scale_estimation,
        description="weight_only, 4 bits: group scales fitted to the calibration samples' outputs (L2)",
    )


def _not_a_preset_typo(name: str) -> str:
    """Presets, or node names of the exported graph (what the fallback search emits); a near-miss of a
    preset is a typo, not a node name."""
    if name not in PRESETS and "/" not in name and difflib.get_close_matches(name, PRESETS, n=1, cutoff=0.8):
        raise invalid(unknown_value(name, PRESETS))
    return name


class Settings(Section):
    """The quantization settings of `fixed`, `benchmarked` and `overrides[].when`: only what the file gives
    counts, in the file's order (the grid and the case ids follow it)."""

    _order: tuple[str, ...] = PrivateAttr(())

    @model_validator(mode="wrap")
    @classmethod
    def _keep_order(cls, data: Any, handler: Any) -> Any:
        model = handler(data)
        model._order = tuple(data)
        return model

    def given(self) -> dict[str, Any]:
        return {key: plain(getattr(self, key)) for key in self._order}


def vocabulary_of(info: ValidationInfo) -> Vocabulary:
    """The vocabulary the suite is read with (`context` of the validation), else the package's own."""
    return (info.context or {}).get("vocabulary") or Vocabulary.default()


def known(words: str) -> BeforeValidator:
    """One of the `words` (`tasks` or `backends`) of the vocabulary the suite is read with."""

    def check(value: Any, info: ValidationInfo) -> Any:
        known = tuple(getattr(vocabulary_of(info), words))
        if value not in known:
            raise invalid(unknown_value(value, known))
        return value

    return BeforeValidator(check)


class FixedSchema(Settings, title="fixed"):
    """Settings shared by every config of the suite."""

    preset: Literal[tuple(CONFIG_PRESETS)] = Field(  # type: ignore[valid-type]  # the table's names: mypy wants literals
        default=NOT_GIVEN,
        description="sentence-transformers' int8 export of that name (export_dynamic_quantized_onnx_model), or "
        "static_u8s8 (QDQ MatMuls, uint8 activations, fp32 MatMul outputs): sets framework, quantization_approach, "
        "format, operators_to_quantize, per_channel, reduce_range, the dtypes and symmetries (static_u8s8 also "
        "fp32_outputs and calibration), which may then not be given beside it",
    )
    framework: Annotated[str, known("backends")] = Field(
        default=CONFIG.framework,
        description="onnxruntime; pytorch: torch's dynamic int8 of the transformers model; openvino: NNCF's int8",
    )
    quantization_approach: Literal["dynamic", "static", "weight_only", "fp16"] = Field(
        default=CONFIG.quantization_approach,
        description="dynamic or static int8, weight_only (4/8-bit MatMulNBits) or fp16",
    )
    operators_to_quantize: list[Operator] = Field(
        default=CONFIG.operators_to_quantize, description="ONNX op types; [] is optimum's default set"
    )
    per_channel: bool = Field(default=CONFIG.per_channel, description="per-channel weight scales")
    reduce_range: bool = Field(default=CONFIG.reduce_range, description="7-bit weights")
    weights_dtype: Dtype = Field(default=CONFIG.weights_dtype, description="type of the quantized weights")
    activations_dtype: Literal["int8", "uint8", "int16", "uint16"] = Field(
        default=CONFIG.activations_dtype,
        description="default: int8 (static), uint8 (dynamic); 16-bit for static QDQ only",
    )
    weights_symmetric: bool = Field(default=CONFIG.weights_symmetric, description="symmetric weight ranges")
    activations_symmetric: bool = Field(default=CONFIG.activations_symmetric, description="symmetric activation ranges")
    format: Literal["qdq", "qoperator"] = Field(
        default=CONFIG.format, description="default: qdq (static), qoperator (dynamic)"
    )
    fp32_outputs: list[Operator] = Field(
        default=CONFIG.fp32_outputs,
        description="static QDQ: op types whose outputs stay fp32 unless a quantized node reads them (ONNX "
        "Runtime's OpTypesToExcludeOutputQuantization; a MatMul then runs as MatMulIntegerToFloat); "
        "dynamic int8 never quantizes outputs",
    )
    node_exclusion: list[Annotated[Text, AfterValidator(_not_a_preset_typo)]] = Field(
        default=CONFIG.node_exclusion,
        description=f"presets ({', '.join(PRESETS)}) or node names of the exported graph, kept in fp32",
    )
    nodes_to_exclude: list[Text] = Field(default=CONFIG.nodes_to_exclude, description="node names kept in fp32")
    calibration: CalibrationSchema = Field(
        default_factory=CalibrationSchema, description="static, and weight_only with algorithm: gptq"
    )
    weight_only: WeightOnlySchema = Field(default_factory=WeightOnlySchema, description="weight_only only")
    framework_args: FrameworkArgsSchema = Field(default_factory=FrameworkArgsSchema, description="export and run")
    nncf: NncfSchema = Field(
        default_factory=NncfSchema, description="framework: openvino, or framework: onnxruntime with quantizer: nncf"
    )
    quantizer: Text | None = Field(
        default=CONFIG.quantizer,
        description="who quantizes the model the framework runs; default: the framework's own (onnxruntime, "
        "pytorch, nncf for openvino); nncf for onnxruntime: NNCF's int8 or weight compression of the ONNX export",
    )


_GRID = Wording(
    list_type="expected a list of values to benchmark, got {type}",
    too_short="is an empty grid: list at least one value",
)


def _grid_values(info: FieldInfo) -> Any:
    """A benchmarked setting: a non-empty list of values, each checked as the fixed setting is."""
    item: Any = info.annotation
    for constraint in info.metadata:  # nested Annotated flattens: the setting's type with its constraints
        item = Annotated[item, constraint]
    return Annotated[list[item], Field(min_length=1), _GRID]


BenchmarkedSchema = create_model(  # type: ignore[call-overload]  # fields built at run time: mypy cannot type them
    "BenchmarkedSchema",
    __base__=Settings,
    __doc__="The grid: a list of values per setting; every combination is a config.",
    __cls_kwargs__={"title": "benchmarked"},
    **{
        key: (
            _grid_values(info),
            Field(default=NOT_GIVEN, description=f"values to benchmark: {info.description}"),
        )
        for key, info in FixedSchema.model_fields.items()
    },
)
