"""The suite file's vocabulary, defined once as pydantic models: field names, types, defaults, ranges, choices.

Validation is strict (a YAML `yes please` stays a string, `"1"` stays text) and closed (a misspelt key is an
error). A validated model becomes the records of `records.py`; the same models give the JSON Schema that
editors use (`suite.schema.json`). Rules across fields (a setting both fixed and benchmarked, paths that must
exist, thresholds of metrics the suite gates on) are checked while building the records.
"""

import difflib
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    create_model,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic.json_schema import GenerateJsonSchema

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite import grid
from pytest_quantbench.suite.errors import Wording, invalid, suite_error, unknown_field, unknown_value
from pytest_quantbench.suite.records import (
    FIDELITY_GATES,
    GATES,
    MEMORY_GATE,
    SIZE_GATE,
    SPEED_GATE,
    Calibration,
    DatasetSpec,
    FrameworkArgs,
    Suite,
    Threshold,
    Thresholds,
    TimeSpec,
    WeightOnly,
)
from pytest_quantbench.suite.vocabulary import PACKAGED_BUILDERS, PRESETS, TaskVocabulary, Vocabulary

SCHEMA_FILE = Path(__file__).with_name("suite.schema.json")
SCHEMA_ID = "urn:pytest-quantbench:suite.schema.json"  # no published URL yet: point editors at a file
# ONNX operator types that ONNX Runtime's quantizers know (the union of its registries).
QUANTIZABLE_OPERATORS = (
    "Add", "ArgMax", "Attention", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv",
    "ConvTranspose", "EmbedLayerNormalization", "Gather", "GatherElements", "GatherND", "Gemm",
    "GlobalAveragePool", "InstanceNormalization", "LayerNormalization", "LeakyRelu", "LSTM", "MatMul",
    "MaxPool", "Mul", "Pad", "Relu", "Reshape", "Resize", "Sigmoid", "Slice", "Softmax", "Split",
    "Squeeze", "Transpose", "Unsqueeze", "Where", "Flatten", "TopK", "CumSum",
)  # fmt: skip
DEFAULT_MAX_DROP = 0.01
LOCAL_PREFIXES = ("./", "../", "/", "~")  # a model or data file spelled as a path must exist

# A `None` default below means "not given": the records' default applies, and an explicit null is refused.
Text = Annotated[str, StringConstraints(pattern=r"\S")]  # non-empty, not blank
Operator = Literal[QUANTIZABLE_OPERATORS]
Dtype = Literal["int8", "uint8"]


def _plain(value: Any) -> Any:
    """A validated value as the records hold it: sections as records, lists as tuples."""
    if isinstance(value, _Section):
        return value.record()
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


class _Section(BaseModel):
    """Strict and closed, like every section of a suite file."""

    model_config = ConfigDict(strict=True, extra="forbid")
    record_type: ClassVar[type | None] = None  # the record a validated section becomes

    def record(self) -> Any:
        assert self.record_type is not None, f"{type(self).__name__} is not a record"
        return self.record_type(**{k: _plain(v) for k, v in self})


class CalibrationSchema(_Section, title="calibration"):
    """How static quantization finds its activation ranges."""

    record_type = Calibration
    method: Literal["minmax", "entropy", "percentile"] = Field("minmax", description="calibration method")
    num_calibration_samples: int = Field(100, ge=1, le=100_000, description="samples of the calibration split")
    padding: Literal["max_length", "longest", "none"] = Field(
        "max_length", description="how calibration batches are padded; none: one unpadded sample at a time"
    )
    percentile: float = Field(99.999, ge=90.0, le=100.0, description="cut-off of the percentile method")

    @model_validator(mode="after")
    def _histograms_need_equal_shapes(self) -> "CalibrationSchema":
        if self.padding == "none" and self.method != "minmax":
            raise invalid(
                f"method {self.method} with padding none: ONNX Runtime's histogram calibrators stack every "
                "sample into one array, so unpadded samples of unequal lengths cannot be collected; use "
                "method minmax, or padding longest or max_length"
            )
        return self


class FrameworkArgsSchema(_Section, title="framework_args"):
    """How the model is exported and run by ONNX Runtime."""

    record_type = FrameworkArgs
    opset: Annotated[int, Field(ge=9, le=25)] | None = Field(None, description="export opset (default: optimum's)")
    optimization_level: Literal[0, 1, 2, 3, 99] = Field(
        99, description="ONNX Runtime graph optimization level of the fp32 and int8 sessions (99: all)"
    )
    intra_op_num_threads: int = Field(1, ge=1, le=1024, description="threads of the timing sessions")
    x64_quant_precision: bool = Field(
        False, description="ONNX Runtime's U8U8 kernels instead of saturating U8S8 (x64 without VNNI)"
    )
    quantized_optimization_level: Literal[0, 1, 2, 3, 99] | None = Field(
        None, description="the quantized session's level (default: optimization_level); QDQ fuses from 2 on"
    )


class WeightOnlySchema(_Section, title="weight_only"):
    """Blockwise weight-only quantization of MatMul weights (ONNX Runtime's MatMulNBits)."""

    record_type = WeightOnly
    bits: Literal[4, 8] = Field(4, description="bits per weight")
    block_size: Literal[16, 32, 64, 128, 256] = Field(32, description="weights sharing one scale")
    symmetric: bool = Field(True, description="symmetric blocks (no zero point)")
    accuracy_level: Literal[0, 1, 2, 3, 4] | None = Field(
        None, description="MatMulNBits compute type: 4 int8, 1 fp32 (default: the kernel's)"
    )
    algorithm: Literal["rtn", "hqq"] = Field("rtn", description="rtn: round to nearest; hqq: half-quadratic")


def _not_a_preset_typo(name: str) -> str:
    """Presets, or node names of the exported graph (what the fallback search emits); a near-miss of a
    preset is a typo, not a node name."""
    if name not in PRESETS and "/" not in name and difflib.get_close_matches(name, PRESETS, n=1, cutoff=0.8):
        raise invalid(unknown_value(name, PRESETS))
    return name


class _Settings(_Section):
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
        return {key: _plain(getattr(self, key)) for key in self._order}


def _vocabulary(info: ValidationInfo) -> Vocabulary:
    return (info.context or {}).get("vocabulary") or Vocabulary.default()


def _known_backend(name: Any, info: ValidationInfo) -> Any:
    backends = tuple(_vocabulary(info).backends)
    if name not in backends:
        raise invalid(unknown_value(name, backends))
    return name


class FixedSchema(_Settings, title="fixed"):
    """Settings shared by every config of the suite."""

    framework: Annotated[str, BeforeValidator(_known_backend)] = Field(
        "onnxruntime", description="onnxruntime, or pytorch: torch's dynamic int8 of the transformers model"
    )
    quantization_approach: Literal["dynamic", "static", "weight_only", "fp16"] = Field(
        "dynamic", description="dynamic or static int8, weight_only (4/8-bit MatMulNBits) or fp16"
    )
    operators_to_quantize: list[Operator] = Field(None, description="ONNX op types; [] is optimum's default set")
    per_channel: bool = Field(False, description="per-channel weight scales")
    reduce_range: bool = Field(False, description="7-bit weights")
    weights_dtype: Dtype = Field("int8", description="type of the quantized weights")
    activations_dtype: Literal["int8", "uint8", "int16", "uint16"] = Field(
        None, description="default: int8 (static), uint8 (dynamic); 16-bit for static QDQ only"
    )
    weights_symmetric: bool = Field(True, description="symmetric weight ranges")
    activations_symmetric: bool = Field(False, description="symmetric activation ranges")
    format: Literal["qdq", "qoperator"] = Field(None, description="default: qdq (static), qoperator (dynamic)")
    fp32_outputs: list[Operator] = Field(
        [],
        description="static QDQ: op types whose outputs stay fp32 unless a quantized node reads them (ONNX "
        "Runtime's OpTypesToExcludeOutputQuantization; a MatMul then runs as MatMulIntegerToFloat); "
        "dynamic int8 never quantizes outputs",
    )
    node_exclusion: list[Annotated[Text, AfterValidator(_not_a_preset_typo)]] = Field(
        [], description=f"presets ({', '.join(PRESETS)}) or node names of the exported graph, kept in fp32"
    )
    nodes_to_exclude: list[Text] = Field([], description="node names kept in fp32")
    calibration: CalibrationSchema = Field(default_factory=CalibrationSchema, description="static only")
    weight_only: WeightOnlySchema = Field(default_factory=WeightOnlySchema, description="weight_only only")
    framework_args: FrameworkArgsSchema = Field(default_factory=FrameworkArgsSchema, description="export and run")


_GRID = Wording(
    list_type="expected a list of values to benchmark, got {type}",
    too_short="is an empty grid: list at least one value",
)


def _grid_values(info: FieldInfo) -> Any:
    """A benchmarked setting: a non-empty list of values, each checked as the fixed setting is."""
    item = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return Annotated[list[item], Field(min_length=1), _GRID]  # type: ignore[valid-type]


BenchmarkedSchema = create_model(
    "BenchmarkedSchema",
    __base__=_Settings,
    __doc__="The grid: a list of values per setting; every combination is a config.",
    __cls_kwargs__={"title": "benchmarked"},
    **{
        key: (
            _grid_values(info),
            Field(None, description=f"values to benchmark: {info.description}"),
        )
        for key, info in FixedSchema.model_fields.items()
    },
)


class DataKeysSchema(_Section, title="data_keys"):
    """The dataset columns fed to the model."""

    primary: Text = Field(description="column of the input: text, tokens or image")
    secondary: Text = Field(None, description="second text column, for sentence pairs")


_ONE_COLUMN = "expected exactly one reference column, or none ([]), got {count}"


class DatasetSchema(_Section, title="dataset"):
    """Where the eval (and calibration) data comes from, in `datasets.load_dataset` terms."""

    path: Text = Field(description="hub dataset, local folder, a datasets builder (csv, json, ...) or builtin:<name>")
    name: Text | None = Field(None, description="dataset configuration")
    data_files: Annotated[
        str | list[Any] | dict[Any, Any] | None, Wording(any="expected a path, a list or a split mapping, got {type}")
    ] = Field(None, description="passed to datasets.load_dataset; relative to the suite file")
    data_dir: Text | None = Field(None, description="passed to datasets.load_dataset")
    eval_split: Text = Field("validation", description="split evaluated")
    calibration_split: Text | None = Field("train", description="split static quantization calibrates on")
    data_keys: DataKeysSchema = Field(None, description="default: primary sentence (image for image tasks)")
    ref_keys: Annotated[list[Text], Field(max_length=1), Wording(too_long=_ONE_COLUMN)] = Field(
        None,
        description="the reference column; default: label (ner_tags for token-classification); "
        "[]: no labels, gated on fidelity (agreement, cosine) alone",
    )
    num_eval_samples: Annotated[int, Field(ge=1, le=10_000_000)] | None = Field(
        None, description="evaluate the first N samples only"
    )
    max_length: int = Field(128, ge=2, le=8192, description="tokenizer truncation for evaluation and calibration")


_INTS = Wording(
    list_type="expected a non-empty list of integers, got {input!r}",
    too_short="expected a non-empty list of integers, got {input!r}",
)


class TimeSchema(_Section, title="time"):
    """What is timed and for how long: every batch size at every input length."""

    batch_sizes: Annotated[list[Annotated[int, Field(ge=1, le=4096)]], Field(min_length=1), _INTS] = Field(
        [1], description="batch sizes timed"
    )
    input_lengths: Annotated[list[Annotated[int, Field(ge=1, le=8192)]], Field(min_length=1), _INTS] = Field(
        [128], description="input lengths timed (text tasks)"
    )
    rounds: Annotated[int, Field(ge=1, le=100_000)] | Literal["auto"] = Field(
        "auto", description="calls per shape; auto: until the mean is known to target_ci or max_time_s runs out"
    )
    warmup_rounds: int = Field(1, ge=0, le=10_000, description="untimed calls first")
    max_time_s: float = Field(2.0, ge=0.01, le=3600.0, description="time budget per shape (adaptive rounds)")
    target_ci: float = Field(0.02, ge=0.001, le=0.5, description="relative half-width of the mean's 95% interval")

    def record(self) -> TimeSpec:
        values = {k: _plain(v) for k, v in self}
        return TimeSpec(**{**values, "rounds": None if self.rounds == "auto" else self.rounds})


class ThresholdSchema(_Section, title="threshold", json_schema_extra={"minProperties": 1}):
    """A gate on one metric of the int8 model."""

    record_type = Threshold
    max_drop: float = Field(None, ge=0.0, le=1e6, description="largest allowed fp32 - int8 difference")
    min_ratio: float = Field(None, ge=0.0, le=1.0, description="smallest allowed int8 / fp32 ratio")
    min: float = Field(None, ge=-1e6, le=1e6, description="smallest allowed int8 value (agreement, cosine, speedup)")
    max_ratio: float = Field(
        None, ge=0.0, le=1e6, description="size and memory: largest int8 / fp32 bytes on disk, or peak memory running"
    )
    confidence: float = Field(
        None, ge=0.5, le=0.9999, description="judge max_drop on the paired-bootstrap interval at this confidence"
    )
    on_inconclusive: Literal["fail", "pass"] = Field(
        "fail", description="an interval that straddles max_drop: fail (default) or pass"
    )

    @model_validator(mode="before")
    @classmethod
    def _not_empty(cls, data: Any) -> Any:
        if data == {}:
            raise invalid("is empty: give max_drop, min_ratio, min or max_ratio")
        return data


class OverrideSchema(_Section, title="override"):
    """Thresholds and an expectation for the configs that `when` matches."""

    when: dict[str, Any] = Field(description="benchmarked settings and the value each must have")  # see _rule
    thresholds: dict[str, ThresholdSchema] | None = Field(None, description="per metric, over the suite's")
    expect: Literal["collapse", "fail"] | None = Field(
        None, description="collapse: int8 falls to chance level; fail: a known gate failure"
    )


def _known_task(task: Any, info: ValidationInfo) -> Any:
    tasks = tuple(_vocabulary(info).tasks)
    if task not in tasks:
        raise invalid(unknown_value(task, tasks))
    return task


def _known_metric(metric: str, info: ValidationInfo) -> str:
    task = info.data.get("task")
    if task is None:  # the task itself is wrong, and reported
        return metric
    allowed = _vocabulary(info).tasks[task].metrics
    if metric not in allowed:
        raise invalid(unknown_value(metric, allowed))
    return metric


def _marker(name: str) -> str:
    if not name.isidentifier():
        raise invalid(f"{name!r} is not a valid marker name")
    return name


class SuiteSchema(_Section, title="pytest-quantbench suite"):
    """One model and dataset, a grid of int8 quantization configs, and the gates each config must pass."""

    name: Text = Field(None, description="suite name, also a -k keyword (default: the file name)")
    task: Annotated[str, BeforeValidator(_known_task)] = Field(description="what the model does")
    model_name_or_path: Text = Field(description="hub id, local path (./, ../, / or ~) or builtin:<name>")
    revision: Text | None = Field(None, description="hub revision")
    trust_remote_code: bool = Field(False, description="never implied")
    dataset: DatasetSchema
    metrics: Annotated[
        list[Annotated[Text, AfterValidator(_known_metric)]],
        Field(min_length=1),
        Wording(too_short="is empty: name at least one metric"),
    ] = Field(None, description="metrics to gate on (default: accuracy; every metric for token-classification)")
    fixed: FixedSchema | None = None
    benchmarked: BenchmarkedSchema | None = None  # type: ignore[valid-type]
    time: TimeSchema = Field(default_factory=TimeSchema)
    baseline: Annotated[str, BeforeValidator(_known_backend)] = Field(
        None,
        description="backend whose fp32 model the latency cases time and every speed-up is against, e.g. pytorch "
        "(as the seed cards timed the original); default: each config's own framework",
    )
    thresholds: dict[str, ThresholdSchema] | None = Field(None, description="default: max_drop 0.01 on every metric")
    overrides: Annotated[list[OverrideSchema], Wording(list_type="expected a list, got {type}")] | None = Field(
        None, description="per-config thresholds and known failures"
    )
    markers: list[Annotated[Text, AfterValidator(_marker)]] = Field(
        [], description="pytest markers put on every case of the suite"
    )


# --- records -------------------------------------------------------------------------------------------


def parse_suite(raw: Any, path: Path, vocabulary: Vocabulary | None = None) -> Suite:
    """The records of one suite file's YAML data; a `SuiteError` names the file and the first bad field."""
    vocabulary = vocabulary or Vocabulary.default()
    if raw is None:
        raise SuiteError(path, "", "the file is empty")
    context = {"vocabulary": vocabulary}
    try:
        model = SuiteSchema.model_validate(raw, context=context)
    except ValidationError as exc:
        raise suite_error(exc, SuiteSchema, raw, path) from None
    task = vocabulary.tasks[model.task]
    _check_local(path, model.model_name_or_path, "model_name_or_path")
    dataset = _dataset(path, model.dataset, task)
    if not dataset.ref_keys and model.metrics:
        raise SuiteError(path, "metrics", "need references: the dataset has ref_keys: [] (gate on agreement or cosine)")
    metrics = tuple(model.metrics or task.default_metrics) if dataset.ref_keys else ()
    fixed = model.fixed.given() if model.fixed else {}
    benchmarked = model.benchmarked.given() if model.benchmarked else {}
    for key in benchmarked:
        if key in fixed:
            raise SuiteError(path, f"benchmarked.{key}", "is also in 'fixed': give each parameter in one place")
    thresholds = {m: Threshold(max_drop=DEFAULT_MAX_DROP) for m in metrics} or {"agreement": Threshold(min=0.99)}
    thresholds.update(_thresholds(path, model.thresholds, "thresholds", metrics))
    gates = Thresholds.from_keys(thresholds)
    suite = Suite(
        path=path, name=model.name or path.name.split(".")[0], task=model.task,
        model_name_or_path=model.model_name_or_path, revision=model.revision,
        trust_remote_code=model.trust_remote_code, dataset=dataset, metrics=metrics, time=model.time.record(),
        fixed=tuple(fixed.items()), benchmarked=tuple(benchmarked.items()), markers=tuple(model.markers),
        timed_by_length=task.timed_by_length, baseline=model.baseline,
    )  # fmt: skip
    grid.check_size(suite)
    rules = [_rule(path, rule, i, benchmarked, metrics, context) for i, rule in enumerate(model.overrides or [])]
    object.__setattr__(suite, "cases", grid.expand(suite, gates, rules, vocabulary.backends))
    return suite


def _dataset(path: Path, model: DatasetSchema, task: TaskVocabulary) -> DatasetSpec:
    if model.path in PACKAGED_BUILDERS:  # on the hub, data_files name files of the dataset's repo
        for where, spec in _file_specs(model.data_files, "dataset.data_files"):
            _check_local(path, spec, where, every_path=True)
    data_keys = {k: v for k, v in model.data_keys if v is not None} if model.data_keys else task.default_data_keys
    return DatasetSpec(
        path=model.path,
        name=model.name,
        data_files=model.data_files,
        data_dir=model.data_dir,
        eval_split=model.eval_split,
        calibration_split=model.calibration_split or "train",
        data_keys=tuple(sorted(data_keys.items())),
        ref_keys=tuple(task.default_ref_keys if model.ref_keys is None else model.ref_keys),
        num_eval_samples=model.num_eval_samples,
        max_length=model.max_length,
        base_dir=str(path.parent),
    )


def _file_specs(value: Any, field: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _file_specs(v, f"{field}.{k}")]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in _file_specs(v, f"{field}[{i}]")]
    return [] if value is None else [(field, value)]


def _check_local(path: Path, spec: Any, field: str, every_path: bool = False) -> None:
    """A path that does not exist fails at collection, not minutes later inside a build.

    Models are hub ids unless spelled as paths; data files are always paths (globs and URLs aside).
    """
    if not isinstance(spec, str) or "://" in spec or any(c in spec for c in "*?["):
        return
    if not (every_path or spec.startswith(LOCAL_PREFIXES)):
        return
    target = Path(spec).expanduser()
    if not (target if target.is_absolute() else path.parent / target).exists():
        raise SuiteError(path, field, f"no such file or directory: {spec} (relative paths start at the suite's folder)")


def _thresholds(
    path: Path, value: dict[str, ThresholdSchema] | None, where: str, metrics: tuple[str, ...]
) -> dict[str, Threshold]:
    """Thresholds of the metrics the suite gates on (the schema knows every metric of the task) and of the
    fidelity, speed, size and memory gates, each with the bounds that apply to it."""
    for key, threshold in (value or {}).items():
        if key not in (*metrics, *GATES):
            raise SuiteError(path, f"{where}.{key}", unknown_field(key, (*metrics, *GATES)))
        given = {k for k, v in threshold if v is not None and k != "on_inconclusive"}
        allowed = (
            {"min"} if key in (*FIDELITY_GATES, SPEED_GATE)
            else {"max_ratio"} if key in (SIZE_GATE, MEMORY_GATE)
            else {"max_drop", "min_ratio", "min", "confidence"}
        )  # fmt: skip
        if given - allowed:
            wrong = sorted(given - allowed)[0]
            raise SuiteError(
                path, f"{where}.{key}.{wrong}", f"does not apply to {key}: give {', '.join(sorted(allowed))}"
            )
        if key not in GATES and not given & {"max_drop", "min_ratio", "min"}:
            raise SuiteError(path, f"{where}.{key}", "gives no bound: add max_drop, min_ratio or min")
        if threshold.confidence is not None and threshold.max_drop is None:
            raise SuiteError(path, f"{where}.{key}.confidence", "needs max_drop: the interval is of the drop")
    return {m: t.record() for m, t in (value or {}).items()}


def _rule(
    path: Path,
    rule: OverrideSchema,
    index: int,
    benchmarked: dict[str, Any],
    metrics: tuple[str, ...],
    context: dict[str, Any],
) -> grid.Rule:
    """`when` names benchmarked settings only, each with a value of that setting's type."""
    where = f"overrides[{index}]"
    for key in rule.when:
        if key not in benchmarked:
            raise SuiteError(path, f"{where}.when.{key}", unknown_field(key, tuple(benchmarked)))
    try:
        when = FixedSchema.model_validate(rule.when, context=context).given()
    except ValidationError as exc:
        raise suite_error(exc, FixedSchema, rule.when, path, prefix=("overrides", index, "when")) from None
    thresholds = Thresholds.from_keys(_thresholds(path, rule.thresholds, f"{where}.thresholds", metrics))
    return grid.Rule(when, thresholds, rule.expect)


# --- JSON Schema ---------------------------------------------------------------------------------------


class _Generator(GenerateJsonSchema):
    """Leaves out `None` defaults: they mean "not given" here, not null."""

    def default_schema(self, schema: Any) -> Any:
        if "default" in schema and schema["default"] is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


def json_schema(vocabulary: Vocabulary | None = None) -> dict[str, Any]:
    """The JSON Schema of suite files (draft 2020-12), for editors and linters; tasks and metrics from the
    vocabulary, the metrics of each task under `allOf`."""
    vocabulary = vocabulary or Vocabulary.default()
    schema = SuiteSchema.model_json_schema(schema_generator=_Generator)
    metrics = list(dict.fromkeys(m for task in vocabulary.tasks.values() for m in task.metrics))
    properties = schema["properties"]
    properties["task"]["enum"] = list(vocabulary.tasks)
    schema["$defs"]["FixedSchema"]["properties"]["framework"]["enum"] = list(vocabulary.backends)
    schema["$defs"]["BenchmarkedSchema"]["properties"]["framework"]["items"]["enum"] = list(vocabulary.backends)
    properties["baseline"]["enum"] = list(vocabulary.backends)
    properties["metrics"]["items"]["enum"] = metrics
    properties["thresholds"]["propertyNames"] = {"enum": [*metrics, *GATES]}
    override = schema["$defs"]["OverrideSchema"]["properties"]
    # `when` is checked as `fixed` is, once the benchmarked keys are known (see `_rule`)
    override["when"] = {"$ref": "#/$defs/FixedSchema", **{k: override["when"][k] for k in ("title", "description")}}
    schema["allOf"] = [
        {
            "if": {"properties": {"task": {"const": name}}, "required": ["task"]},
            "then": {"properties": {"metrics": {"items": {"enum": list(task.metrics)}}}},
        }
        for name, task in vocabulary.tasks.items()
    ]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
