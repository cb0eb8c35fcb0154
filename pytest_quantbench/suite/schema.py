"""Suite files: parse and validate the YAML, expand the `benchmarked` grid into cases.

Plain Python on purpose (no pytest, no heavy imports): every error is a `SuiteError` that names the file
and the dotted field, so collection can report it on one line.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pytest_quantbench.errors import SuiteError

# Metrics each task can gate on. `accuracy` and `seqeval` ship with the package; the others are hub modules.
CLASSIFICATION_METRICS = ("accuracy", "f1", "precision", "recall", "matthews_correlation")
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "text-classification": CLASSIFICATION_METRICS,
    "image-classification": CLASSIFICATION_METRICS,
    "token-classification": ("precision", "recall", "f1", "accuracy"),
}
DEFAULT_METRICS = {"text-classification": ("accuracy",), "image-classification": ("accuracy",)}
PRESETS = ("layernorm", "gelu", "residual", "gather", "softmax")
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
# ONNX operator types that ONNX Runtime's quantizers know (the union of its registries).
QUANTIZABLE_OPERATORS = (
    "Add", "ArgMax", "Attention", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv",
    "ConvTranspose", "EmbedLayerNormalization", "Gather", "GatherElements", "GatherND", "Gemm",
    "GlobalAveragePool", "InstanceNormalization", "LayerNormalization", "LeakyRelu", "LSTM", "MatMul",
    "MaxPool", "Mul", "Pad", "Relu", "Reshape", "Resize", "Sigmoid", "Slice", "Softmax", "Split",
    "Squeeze", "Transpose", "Unsqueeze", "Where", "Flatten", "TopK", "CumSum",
)  # fmt: skip
OPTIMIZATION_LEVELS = (0, 1, 2, 3, 99)
SUITE_PATTERNS = ("*.suite.yaml", "*.suite.yml")
DEFAULT_MAX_DROP = 0.01
MAX_CONFIGS = 4096  # a grid beyond this is a typo, not a benchmark; it would stall collection
# `datasets` builders that read local files: never need the hub.
PACKAGED_BUILDERS = {"csv", "json", "parquet", "text", "arrow", "imagefolder", "audiofolder", "webdataset"}
LOCAL_PREFIXES = ("./", "../", "/", "~")  # a model or data file spelled as a path must exist


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
    max_length: int = 128
    base_dir: str = "."

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
    node_exclusion: tuple[str, ...] = ()
    nodes_to_exclude: tuple[str, ...] = ()
    calibration: Calibration = Calibration()
    framework_args: FrameworkArgs = FrameworkArgs()

    @property
    def is_static(self) -> bool:
        return self.quantization_approach == "static"


@dataclass(frozen=True)
class Threshold:
    max_drop: float | None = None
    min_ratio: float | None = None
    min: float | None = None


@dataclass(frozen=True)
class TimeSpec:
    batch_sizes: tuple[int, ...] = (1,)
    input_lengths: tuple[int, ...] = (128,)
    rounds: int | None = None  # None: adaptive, until the mean is known to `target_ci` or `max_time_s` runs out
    warmup_rounds: int = 1  # ONNX Runtime allocates on its first call; later calls are steady
    max_time_s: float = 2.0
    target_ci: float = 0.02


@dataclass(frozen=True)
class Case:
    """A resolved config of a suite: what the `quantbench_case` fixture hands to a test."""

    suite: Suite
    id: str
    config: QuantConfig
    point: tuple[tuple[str, Any], ...]
    thresholds: tuple[tuple[str, Threshold], ...]
    expect: str | None = None

    def settings(self) -> dict[str, Any]:
        """The benchmarked values of this config as plain JSON data (for reports and pytest-benchmark)."""
        return {k: jsonable(v) for k, v in self.point}

    @property
    def key(self) -> str:
        """Unique within a run: the suite file and the config id."""
        return f"{self.suite.path}::{self.id}"

    @property
    def baseline_id(self) -> str:
        """Id of the fp32 model this config is compared with (shared by configs that export alike)."""
        tokens = [_id_token(k, v) for k, v in self.point if k in ("framework", "framework_args")]
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
    cases: tuple[Case, ...] = field(default=(), compare=False, repr=False)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def shapes(self) -> list[tuple[int, int | None]]:
        """(batch size, input length) pairs to time; image tasks have no input length."""
        if self.task == "image-classification":
            return [(b, None) for b in self.time.batch_sizes]
        return [(b, n) for b in self.time.batch_sizes for n in self.time.input_lengths]


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    return value


# --- field parsers -------------------------------------------------------------------------------------

Parser = Callable[[Any, str], Any]


class _Ctx:
    """Carries the file path so that every parser can raise a `SuiteError` naming it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, fieldname: str, message: str) -> SuiteError:
        return SuiteError(self.path, fieldname, message)

    def mapping(self, value: Any, fieldname: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()):
        if not isinstance(value, Mapping):
            raise self.fail(fieldname, f"expected a mapping, got {_typename(value)}")
        for key in value:
            if key not in allowed:
                hint = _close_match(str(key), allowed)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else f" (known: {', '.join(allowed)})"
                raise self.fail(_join(fieldname, key), f"unknown field{suggestion}")
        for key in required:
            if key not in value:
                raise self.fail(_join(fieldname, key), "is required")
        return value

    def boolean(self, value: Any, fieldname: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(fieldname, f"expected true or false, got {_typename(value)} {value!r}")
        return value

    def integer(self, value: Any, fieldname: str, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(fieldname, f"expected an integer, got {_typename(value)} {value!r}")
        if not low <= value <= high:
            raise self.fail(fieldname, f"{value} is out of range [{low}, {high}]")
        return value

    def number(self, value: Any, fieldname: str, low: float, high: float) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise self.fail(fieldname, f"expected a number, got {_typename(value)} {value!r}")
        if not low <= value <= high:
            raise self.fail(fieldname, f"{value} is out of range [{low}, {high}]")
        return float(value)

    def string(self, value: Any, fieldname: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(fieldname, f"expected a non-empty string, got {_typename(value)} {value!r}")
        return value

    def choice(self, value: Any, fieldname: str, choices: tuple[Any, ...]) -> Any:
        if value not in choices:
            hint = _close_match(str(value), tuple(map(str, choices)))
            suggestion = f"did you mean '{hint[0]}'? " if hint else ""
            raise self.fail(fieldname, f"unknown value {value!r} ({suggestion}known: {', '.join(map(str, choices))})")
        return value

    def strings(self, value: Any, fieldname: str, choices: tuple[str, ...] | None = None) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(fieldname, f"expected a list, got {_typename(value)} {value!r}")
        items = tuple(self.string(v, f"{fieldname}[{i}]") for i, v in enumerate(value))
        if choices is not None:
            for i, item in enumerate(items):
                self.choice(item, f"{fieldname}[{i}]", choices)
        return items


def _close_match(word: str, candidates: tuple[str, ...]) -> list[str]:
    """The likely intended name: a close spelling, else one sharing the first three letters."""
    return difflib.get_close_matches(word, candidates, n=1) or [c for c in candidates if c[:3] == word[:3]][:1]


def _typename(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _parse_operators(ctx: _Ctx, value: Any, f: str) -> tuple[str, ...]:
    return ctx.strings(value, f, QUANTIZABLE_OPERATORS)


def _parse_exclusion(ctx: _Ctx, value: Any, f: str) -> tuple[str, ...]:
    """Presets, or node names of the exported graph (what the fallback search emits); a near-miss of a
    preset is a typo, not a node name."""
    items = ctx.strings(value, f)
    for i, item in enumerate(items):
        if item not in PRESETS and "/" not in item and difflib.get_close_matches(item, PRESETS, n=1, cutoff=0.8):
            ctx.choice(item, f"{f}[{i}]", PRESETS)
    return items


def _parse_calibration(ctx: _Ctx, value: Any, f: str) -> Calibration:
    allowed = ("method", "num_calibration_samples", "padding", "percentile")
    ctx.mapping(value, f, allowed)
    return Calibration(
        method=ctx.choice(value.get("method", "minmax"), _join(f, "method"), CALIBRATION_METHODS),
        num_calibration_samples=ctx.integer(
            value.get("num_calibration_samples", 100), _join(f, "num_calibration_samples"), 1, 100_000
        ),
        padding=ctx.choice(value.get("padding", "max_length"), _join(f, "padding"), ("max_length", "longest", "none")),
        percentile=ctx.number(value.get("percentile", 99.999), _join(f, "percentile"), 90.0, 100.0),
    )


def _parse_framework_args(ctx: _Ctx, value: Any, f: str) -> FrameworkArgs:
    ctx.mapping(value, f, ("opset", "optimization_level", "intra_op_num_threads", "x64_quant_precision"))
    opset = value.get("opset")
    level = value.get("optimization_level", 99)
    return FrameworkArgs(
        opset=None if opset is None else ctx.integer(opset, _join(f, "opset"), 9, 25),
        optimization_level=ctx.choice(level, _join(f, "optimization_level"), OPTIMIZATION_LEVELS),
        intra_op_num_threads=ctx.integer(
            value.get("intra_op_num_threads", 1), _join(f, "intra_op_num_threads"), 1, 1024
        ),
        x64_quant_precision=ctx.boolean(value.get("x64_quant_precision", False), _join(f, "x64_quant_precision")),
    )


_DTYPES = ("int8", "uint8")
CONFIG_FIELDS: dict[str, Callable[[_Ctx, Any, str], Any]] = {
    "framework": lambda c, v, f: c.choice(v, f, ("onnxruntime", "pytorch")),
    "quantization_approach": lambda c, v, f: c.choice(v, f, ("dynamic", "static")),
    "operators_to_quantize": _parse_operators,
    "per_channel": lambda c, v, f: c.boolean(v, f),
    "reduce_range": lambda c, v, f: c.boolean(v, f),
    "weights_dtype": lambda c, v, f: c.choice(v, f, _DTYPES),
    "activations_dtype": lambda c, v, f: c.choice(v, f, _DTYPES),
    "weights_symmetric": lambda c, v, f: c.boolean(v, f),
    "activations_symmetric": lambda c, v, f: c.boolean(v, f),
    "format": lambda c, v, f: c.choice(v, f, ("qdq", "qoperator")),
    "node_exclusion": _parse_exclusion,
    "nodes_to_exclude": lambda c, v, f: c.strings(v, f),
    "calibration": _parse_calibration,
    "framework_args": _parse_framework_args,
}


def _parse_threshold(ctx: _Ctx, value: Any, f: str) -> Threshold:
    ctx.mapping(value, f, ("max_drop", "min_ratio", "min"))
    if not value:
        raise ctx.fail(f, "is empty: give max_drop, min_ratio or min")

    def opt(key: str, low: float, high: float) -> float | None:
        return None if key not in value else ctx.number(value[key], _join(f, key), low, high)

    return Threshold(
        max_drop=opt("max_drop", 0.0, 1e6), min_ratio=opt("min_ratio", 0.0, 1.0), min=opt("min", -1e6, 1e6)
    )


def _parse_thresholds(ctx: _Ctx, value: Any, f: str, metrics: tuple[str, ...]) -> dict[str, Threshold]:
    ctx.mapping(value, f, metrics)
    return {m: _parse_threshold(ctx, v, _join(f, m)) for m, v in value.items()}


# --- ids -----------------------------------------------------------------------------------------------


def _id_token(key: str, value: Any) -> str:
    """Readable id piece for one benchmarked value, usable in `-k` expressions."""
    if key == "per_channel":
        return "per_channel" if value else "per_tensor"
    if key == "reduce_range":
        return "reduce_range" if value else "full_range"
    if key == "operators_to_quantize":
        return "+".join(value) if value else "default-ops"  # optimum reads [] as its default operator set
    if key == "node_exclusion":
        presets = [v for v in value if v in PRESETS]
        nodes = [f"{len(value) - len(presets)}nodes"] if len(value) > len(presets) else []
        return "excl-" + "+".join(presets + nodes) if value else "no-excl"
    if key == "nodes_to_exclude":
        return f"excl{len(value)}nodes" if value else "no-excl-nodes"
    if key == "calibration":
        pad = "" if value.padding == "max_length" else f"-pad_{value.padding}"
        return f"{value.method}{value.num_calibration_samples}{pad}"
    if key == "framework_args":
        parts = [f"opset{value.opset}" if value.opset else "", f"O{value.optimization_level}"]
        parts += [f"t{value.intra_op_num_threads}", "x64prec" if value.x64_quant_precision else ""]
        return "-".join(p for p in parts if p)
    if isinstance(value, bool):
        return key if value else f"no-{key}"
    return re.sub(r"[^\w+.-]", "_", str(value))


# --- suite ---------------------------------------------------------------------------------------------

SUITE_FIELDS = (
    "name", "task", "model_name_or_path", "revision", "trust_remote_code", "dataset", "metrics", "fixed",
    "benchmarked", "time", "thresholds", "overrides", "markers",
)  # fmt: skip
DATASET_FIELDS = (
    "path", "name", "data_files", "data_dir", "eval_split", "calibration_split", "data_keys", "ref_keys",
    "num_eval_samples", "max_length",
)  # fmt: skip


def load_suite(path: str | Path) -> Suite:
    """Read and validate one suite file; raise `SuiteError` naming the file and field on bad input."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(path, "", f"cannot read file: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SuiteError(path, "", f"invalid YAML{where}: {problem}") from None
    return parse_suite(raw, path)


def parse_suite(raw: Any, path: Path) -> Suite:
    ctx = _Ctx(path)
    if raw is None:
        raise ctx.fail("", "the file is empty")
    ctx.mapping(raw, "", SUITE_FIELDS, required=("task", "model_name_or_path", "dataset"))
    name = ctx.string(raw.get("name", path.name.split(".")[0]), "name")
    task = ctx.choice(raw["task"], "task", tuple(TASK_METRICS))
    model = ctx.string(raw["model_name_or_path"], "model_name_or_path")
    _check_local(ctx, model, "model_name_or_path", path.parent)
    revision = raw.get("revision")
    if revision is not None:
        revision = ctx.string(revision, "revision")
    trust_remote_code = ctx.boolean(raw.get("trust_remote_code", False), "trust_remote_code")
    dataset = _parse_dataset(ctx, raw["dataset"], task, path.parent)
    default_metrics = DEFAULT_METRICS.get(task, TASK_METRICS[task])
    metrics = ctx.strings(raw.get("metrics", list(default_metrics)), "metrics", TASK_METRICS[task])
    if not metrics:
        raise ctx.fail("metrics", "is empty: name at least one metric")
    markers = ctx.strings(raw.get("markers", []), "markers")
    for i, marker in enumerate(markers):
        if not marker.isidentifier():
            raise ctx.fail(f"markers[{i}]", f"{marker!r} is not a valid marker name")
    time = _parse_time(ctx, raw.get("time", {}))

    fixed_raw = raw.get("fixed") or {}
    ctx.mapping(fixed_raw, "fixed", tuple(CONFIG_FIELDS))
    fixed = {k: CONFIG_FIELDS[k](ctx, v, f"fixed.{k}") for k, v in fixed_raw.items()}
    bench_raw = raw.get("benchmarked") or {}
    ctx.mapping(bench_raw, "benchmarked", tuple(CONFIG_FIELDS))
    benchmarked: dict[str, tuple[Any, ...]] = {}
    for key, values in bench_raw.items():
        f = f"benchmarked.{key}"
        if key in fixed:
            raise ctx.fail(f, "is also in 'fixed': give each parameter in one place")
        if not isinstance(values, list):
            raise ctx.fail(f, f"expected a list of values to benchmark, got {_typename(values)}")
        if not values:
            raise ctx.fail(f, "is an empty grid: list at least one value")
        benchmarked[key] = tuple(CONFIG_FIELDS[key](ctx, v, f"{f}[{i}]") for i, v in enumerate(values))

    default_thresholds = {m: Threshold(max_drop=DEFAULT_MAX_DROP) for m in metrics}
    thresholds = {**default_thresholds, **_parse_thresholds(ctx, raw.get("thresholds") or {}, "thresholds", metrics)}
    suite = Suite(
        path=path, name=name, task=task, model_name_or_path=model, revision=revision,
        trust_remote_code=trust_remote_code, dataset=dataset, metrics=metrics, time=time,
        fixed=tuple(fixed.items()), benchmarked=tuple(benchmarked.items()), markers=markers,
    )  # fmt: skip
    cases = _expand(ctx, suite, fixed, benchmarked, thresholds, raw.get("overrides") or [])
    object.__setattr__(suite, "cases", cases)
    return suite


def _file_specs(value: Any, field: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _file_specs(v, f"{field}.{k}")]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in _file_specs(v, f"{field}[{i}]")]
    return [] if value is None else [(field, value)]


def _check_local(ctx: _Ctx, spec: Any, field: str, base_dir: Path, every_path: bool = False) -> None:
    """A path that does not exist fails at collection, not minutes later inside a build.

    Models are hub ids unless spelled as paths; data files are always paths (globs and URLs aside).
    """
    if not isinstance(spec, str) or "://" in spec or any(c in spec for c in "*?["):
        return
    if not (every_path or spec.startswith(LOCAL_PREFIXES)):
        return
    target = Path(spec).expanduser()
    if not (target if target.is_absolute() else base_dir / target).exists():
        raise ctx.fail(field, f"no such file or directory: {spec} (relative paths start at the suite's folder)")


def _parse_dataset(ctx: _Ctx, value: Any, task: str, base_dir: Path) -> DatasetSpec:
    ctx.mapping(value, "dataset", DATASET_FIELDS, required=("path",))
    data_keys = value.get("data_keys", {"primary": "image" if task == "image-classification" else "sentence"})
    ctx.mapping(data_keys, "dataset.data_keys", ("primary", "secondary"), required=("primary",))
    for key, column in data_keys.items():
        ctx.string(column, f"dataset.data_keys.{key}")
    ref_default = ["ner_tags"] if task == "token-classification" else ["label"]
    ref_keys = ctx.strings(value.get("ref_keys", ref_default), "dataset.ref_keys")
    if len(ref_keys) != 1:
        raise ctx.fail("dataset.ref_keys", f"expected exactly one reference column, got {len(ref_keys)}")
    data_files = value.get("data_files")
    if data_files is not None and not isinstance(data_files, (str, list, dict)):
        raise ctx.fail("dataset.data_files", f"expected a path, a list or a split mapping, got {_typename(data_files)}")
    if value.get("path") in PACKAGED_BUILDERS:  # on the hub, data_files name files of the dataset's repo
        for where, spec in _file_specs(data_files, "dataset.data_files"):
            _check_local(ctx, spec, where, base_dir, every_path=True)
    num = value.get("num_eval_samples")

    def optional_string(key: str) -> str | None:
        return None if value.get(key) is None else ctx.string(value[key], f"dataset.{key}")

    return DatasetSpec(
        path=ctx.string(value["path"], "dataset.path"),
        name=optional_string("name"),
        data_files=data_files,
        data_dir=optional_string("data_dir"),
        eval_split=ctx.string(value.get("eval_split", "validation"), "dataset.eval_split"),
        calibration_split=ctx.string(value.get("calibration_split") or "train", "dataset.calibration_split"),
        data_keys=tuple(sorted(data_keys.items())),
        ref_keys=ref_keys,
        num_eval_samples=None if num is None else ctx.integer(num, "dataset.num_eval_samples", 1, 10_000_000),
        max_length=ctx.integer(value.get("max_length", 128), "dataset.max_length", 2, 8192),
        base_dir=str(base_dir),
    )


def _parse_time(ctx: _Ctx, value: Any) -> TimeSpec:
    ctx.mapping(value, "time", ("batch_sizes", "input_lengths", "rounds", "warmup_rounds", "max_time_s", "target_ci"))

    def ints(key: str, default: tuple[int, ...], high: int) -> tuple[int, ...]:
        values = value.get(key, list(default))
        if not isinstance(values, list) or not values:
            raise ctx.fail(f"time.{key}", f"expected a non-empty list of integers, got {values!r}")
        return tuple(ctx.integer(v, f"time.{key}[{i}]", 1, high) for i, v in enumerate(values))

    return TimeSpec(
        batch_sizes=ints("batch_sizes", (1,), 4096),
        input_lengths=ints("input_lengths", (128,), 8192),
        rounds=None
        if value.get("rounds", "auto") == "auto"
        else ctx.integer(value["rounds"], "time.rounds", 1, 100_000),
        warmup_rounds=ctx.integer(value.get("warmup_rounds", 1), "time.warmup_rounds", 0, 10_000),
        max_time_s=ctx.number(value.get("max_time_s", 2.0), "time.max_time_s", 0.01, 3600.0),
        target_ci=ctx.number(value.get("target_ci", 0.02), "time.target_ci", 0.001, 0.5),
    )


def _expand(
    ctx: _Ctx,
    suite: Suite,
    fixed: dict[str, Any],
    benchmarked: dict[str, tuple[Any, ...]],
    thresholds: dict[str, Threshold],
    overrides: Any,
) -> tuple[Case, ...]:
    size = math.prod(len(v) for v in benchmarked.values())
    if size > MAX_CONFIGS:
        raise ctx.fail("benchmarked", f"the grid has {size} configs, more than {MAX_CONFIGS}: split it into suites")
    rules = _parse_overrides(ctx, overrides, benchmarked, suite.metrics)
    matched = [False] * len(rules)
    cases = []
    keys = list(benchmarked)
    for values in itertools.product(*benchmarked.values()):
        point = tuple(zip(keys, values, strict=True))
        settings = {**fixed, **dict(point)}
        config = QuantConfig(**settings)
        if config.framework == "pytorch" and config.is_static:
            where = "benchmarked.framework" if "framework" in benchmarked else "fixed.framework"
            raise ctx.fail(where, "pytorch runs dynamic quantization only: static configs need framework onnxruntime")
        case_thresholds, expect = dict(thresholds), None
        for i, (when, rule_thresholds, rule_expect) in enumerate(rules):
            if all(dict(point).get(k) == v for k, v in when.items()):
                matched[i] = True
                case_thresholds.update(rule_thresholds)
                expect = rule_expect or expect
        ident = "-".join(_id_token(k, v) for k, v in point) or config.quantization_approach
        cases.append(
            Case(suite=suite, id=ident, config=config, point=point,
                 thresholds=tuple(case_thresholds.items()), expect=expect)
        )  # fmt: skip
    for i, hit in enumerate(matched):
        if not hit:
            raise ctx.fail(f"overrides[{i}].when", "matches no config of the benchmarked grid")
    return tuple(cases)


def _parse_overrides(
    ctx: _Ctx, value: Any, benchmarked: dict[str, tuple[Any, ...]], metrics: tuple[str, ...]
) -> list[tuple[dict[str, Any], dict[str, Threshold], str | None]]:
    if not isinstance(value, list):
        raise ctx.fail("overrides", f"expected a list, got {_typename(value)}")
    rules = []
    for i, rule in enumerate(value):
        f = f"overrides[{i}]"
        ctx.mapping(rule, f, ("when", "thresholds", "expect"), required=("when",))
        ctx.mapping(rule["when"], f"{f}.when", tuple(benchmarked))
        when = {k: CONFIG_FIELDS[k](ctx, v, f"{f}.when.{k}") for k, v in rule["when"].items()}
        expect = rule.get("expect")
        if expect is not None:
            ctx.choice(expect, f"{f}.expect", ("collapse", "fail"))
        rules.append((when, _parse_thresholds(ctx, rule.get("thresholds") or {}, f"{f}.thresholds", metrics), expect))
    return rules
