"""The suite file's vocabulary as pydantic models, part two: the file itself (model, dataset, timing,
gates, overrides); one config's settings are in `settings.py`, which says how defaults are read from the
records and what `NOT_GIVEN` means.
"""

from typing import Annotated, Any, Final, Literal, Union

from pydantic import AfterValidator, Discriminator, Field, Tag, ValidationInfo, model_validator

from pytest_quantbench.suite.errors import Wording, invalid, unknown_value
from pytest_quantbench.suite.records import (
    DECODER_PHASES,
    DEFAULT_INPUT_LENGTH,
    DEFAULT_MAX_LENGTH,
    DatasetSpec,
    Suite,
    TimeSpec,
)
from pytest_quantbench.suite.settings import (
    NOT_GIVEN,
    BenchmarkedSchema,
    FixedSchema,
    Section,
    Text,
    defaults,
    known,
    plain,
    vocabulary_of,
)
from pytest_quantbench.suite.thresholds import DEFAULT_MAX_DROP, Threshold

AUTO_ROUNDS: Final = "auto"  # how the file spells `TimeSpec.rounds = None` (its default): adaptive rounds
DATASET, TIME, THRESHOLD, SUITE = defaults(DatasetSpec), defaults(TimeSpec), defaults(Threshold), defaults(Suite)


class DataKeysSchema(Section, title="data_keys"):
    """The dataset columns fed to the model."""

    primary: Text = Field(description="column of the input: text, tokens or image")
    secondary: Text = Field(default=NOT_GIVEN, description="second text column, for sentence pairs")
    id: Text = Field(default=NOT_GIVEN, description="column naming each corpus document, for retrieval metrics")


_ONE_COLUMN = "expected exactly one reference column, or none ([]), got {count}"


class DatasetSchema(Section, title="dataset"):
    """Where the eval (and calibration) data comes from, in `datasets.load_dataset` terms."""

    path: Text = Field(description="hub dataset, local folder, a datasets builder (csv, json, ...) or builtin:<name>")
    name: Text | None = Field(default=DATASET.name, description="dataset configuration")
    data_files: Annotated[
        str | list[Any] | dict[Any, Any] | None, Wording(any="expected a path, a list or a split mapping, got {type}")
    ] = Field(default=DATASET.data_files, description="passed to datasets.load_dataset; relative to the suite file")
    data_dir: Text | None = Field(default=DATASET.data_dir, description="passed to datasets.load_dataset")
    eval_split: Text = Field(default=DATASET.eval_split, description="split evaluated")
    calibration_split: Text | None = Field(
        default=DATASET.calibration_split, description="split static quantization calibrates on"
    )
    # the task's defaults, not the record's: see TaskVocabulary
    data_keys: DataKeysSchema = Field(
        default=NOT_GIVEN, description="default: primary sentence (image for image tasks)"
    )
    ref_keys: Annotated[list[Text], Field(max_length=1), Wording(too_long=_ONE_COLUMN)] = Field(
        default=NOT_GIVEN,
        description="the reference column; default: label (ner_tags for token-classification); "
        "[]: no labels, gated on fidelity (agreement, cosine) alone",
    )
    num_eval_samples: Annotated[int, Field(ge=1, le=10_000_000)] | None = Field(
        default=DATASET.num_eval_samples, description="evaluate the first N samples only"
    )
    max_length: int = Field(
        default=DATASET.max_length,  # not given: the default, or the model's position limit when lower
        ge=2,
        le=8192,
        description=f"tokenizer truncation for evaluation and calibration; default: {DEFAULT_MAX_LENGTH}, or the "
        "model's position limit when lower",
    )
    stride: int = Field(
        default=DATASET.stride,
        ge=1,
        le=8192,
        description="text-generation: tokens between the starts of a long document's sliding windows (each scores "
        "what the one before did not); default: max_length // 2",
    )


_INTS = Wording(
    list_type="expected a non-empty list of integers, got {input!r}",
    too_short="expected a non-empty list of integers, got {input!r}",
)


class TimeSchema(Section, title="time"):
    """What is timed and for how long: every batch size at every input length."""

    batch_sizes: Annotated[list[Annotated[int, Field(ge=1, le=4096)]], Field(min_length=1), _INTS] = Field(
        default=TIME.batch_sizes, description="batch sizes timed"
    )
    input_lengths: Annotated[list[Annotated[int, Field(ge=1, le=8192)]], Field(min_length=1), _INTS] = Field(
        default=TIME.input_lengths,  # not given: the default, cut to the model's position limit when lower
        description=f"input lengths timed (text tasks); default: [{DEFAULT_INPUT_LENGTH}], or the model's position "
        "limit when lower (the case ids keep the default's)",
    )
    rounds: Annotated[int, Field(ge=1, le=100_000)] | Literal["auto"] = Field(
        default=AUTO_ROUNDS,  # the record's None, as the file spells it
        description="calls per shape; auto: until the mean is known to target_ci or max_time_s runs out",
    )
    warmup_rounds: int = Field(default=TIME.warmup_rounds, ge=0, le=10_000, description="untimed calls first")
    max_time_s: float = Field(
        default=TIME.max_time_s, ge=0.01, le=3600.0, description="time budget per shape (adaptive rounds)"
    )
    target_ci: float = Field(
        default=TIME.target_ci, ge=0.001, le=0.5, description="relative half-width of the mean's 95% interval"
    )
    phases: Annotated[list[Literal[DECODER_PHASES]], Field(min_length=1)] | None = Field(  # type: ignore[valid-type]
        default=None,
        description="a decoder's (text-generation) phases timed: prefill (the prompt with an empty cache: time to "
        "first token, at each input length), decode (one token with a cache of each input length), generate (a "
        "greedy loop of new_tokens, tokens per second); default: all three",
    )
    new_tokens: int = Field(
        default=TIME.new_tokens, ge=1, le=4096,
        description="tokens a decoder's generate phase makes per timed call (the prompt is cut so that they fit "
        "the model's positions)",
    )  # fmt: skip

    def record(self) -> TimeSpec:
        values = {k: plain(v) for k, v in self}
        values["phases"] = tuple(dict.fromkeys(self.phases)) if self.phases else None
        return TimeSpec(**{**values, "rounds": None if self.rounds == AUTO_ROUNDS else self.rounds})


class ThresholdSchema(Section, title="threshold", json_schema_extra={"minProperties": 1}):
    """A gate on one metric of the int8 model."""

    record_type = Threshold
    max_drop: float = Field(
        default=THRESHOLD.max_drop, ge=0.0, le=1e6, description="largest allowed fp32 - int8 difference"
    )
    min_ratio: float = Field(
        default=THRESHOLD.min_ratio, ge=0.0, le=1.0, description="smallest allowed int8 / fp32 ratio"
    )
    min: float = Field(
        default=THRESHOLD.min, ge=-1e6, le=1e6, description="smallest allowed int8 value (accuracy, agreement, speedup)"
    )
    max: float = Field(
        default=THRESHOLD.max, ge=-1e6, le=1e6, description="largest allowed int8 value (an error, a perplexity)"
    )
    max_ratio: float = Field(
        default=THRESHOLD.max_ratio,
        ge=0.0,
        le=1e6,
        description="size and memory: largest int8 / fp32 bytes on disk, or peak memory running; perplexity: largest "
        "int8 / fp32 perplexity (with confidence: judged on its paired-bootstrap interval)",
    )
    confidence: float = Field(
        default=THRESHOLD.confidence,
        ge=0.5,
        le=0.9999,
        description="judge max_drop (perplexity: max_ratio) on the paired-bootstrap interval at this confidence",
    )
    on_inconclusive: Literal["fail", "pass"] = Field(
        default=THRESHOLD.on_inconclusive, description="an interval that straddles max_drop: fail (default) or pass"
    )

    @model_validator(mode="before")
    @classmethod
    def _not_empty(cls, data: Any) -> Any:
        if data == {}:
            raise invalid("is empty: give max_drop, min_ratio, min, max or max_ratio")
        return data


class OverrideSchema(Section, title="override"):
    """Thresholds and an expectation for the configs that `when` matches."""

    # checked as `fixed` is once the benchmarked keys are known (`build.py`)
    when: dict[str, Any] = Field(description="benchmarked settings and the value each must have")
    thresholds: dict[str, ThresholdSchema] | None = Field(None, description="per metric, over the suite's")
    expect: Literal["collapse", "fail"] | None = Field(
        None, description="collapse: int8 falls to chance level; fail: a known gate failure"
    )


def _known_metric(metric: str, info: ValidationInfo) -> str:
    task = info.data.get("task")
    if task is None:  # the task itself is wrong, and reported
        return metric
    allowed = vocabulary_of(info).tasks[task].metrics
    if metric not in allowed:
        raise invalid(unknown_value(metric, allowed))
    return metric


def _marker(name: str) -> str:
    if not name.isidentifier():
        raise invalid(f"{name!r} is not a valid marker name")
    return name


def _grid_form(value: Any) -> str:
    """A `benchmarked` list is a list of grids; anything else is read (and worded) as one grid."""
    return "grids" if isinstance(value, list) else "grid"


# `benchmarked`: one grid, or a list of grids whose configs are the union of each grid's combinations (as
# scikit-learn's ParameterGrid reads a list of dicts): what each engine runs, side by side in one suite.
Grids = Annotated[
    Union[  # noqa: UP007  # the tagged members need the Union form
        Annotated[BenchmarkedSchema, Tag("grid")],
        Annotated[
            list[BenchmarkedSchema],
            Field(min_length=1),
            Wording(too_short="is an empty list of grids: give at least one mapping"),
            Tag("grids"),
        ],
    ],
    Discriminator(_grid_form),
]


class SuiteSchema(Section, title="pytest-quantbench suite"):
    """One model and dataset, a grid of int8 quantization configs, and the gates each config must pass."""

    name: Text = Field(default=NOT_GIVEN, description="suite name, also a -k keyword (default: the file name)")
    task: Annotated[str, known("tasks")] = Field(description="what the model does")
    model_name_or_path: Text = Field(description="hub id, local path (./, ../, / or ~) or builtin:<name>")
    revision: Text | None = Field(default=SUITE.revision, description="hub revision")
    trust_remote_code: bool = Field(default=SUITE.trust_remote_code, description="never implied")
    dataset: DatasetSchema
    metrics: Annotated[
        list[Annotated[Text, AfterValidator(_known_metric)]],
        Field(min_length=1),
        Wording(too_short="is empty: name at least one metric"),
    ] = Field(
        default=NOT_GIVEN, description="metrics to gate on (default: accuracy; every metric for token-classification)"
    )
    fixed: FixedSchema | None = None
    benchmarked: Grids | None = Field(
        None,
        description="the grid: a list of values per setting, every combination a config; or a list of such grids, "
        "the configs the union of each one's (e.g. one grid per framework)",
    )
    time: TimeSchema = Field(default_factory=TimeSchema)
    baseline: Annotated[str, known("backends")] = Field(
        default=SUITE.baseline,
        description="backend whose fp32 model the latency cases time and every speed-up is against, e.g. pytorch "
        "(as the seed cards timed the original); default: each config's own framework",
    )
    thresholds: dict[str, ThresholdSchema] | None = Field(
        None, description=f"default: max_drop {DEFAULT_MAX_DROP} on every metric"
    )
    overrides: Annotated[list[OverrideSchema], Wording(list_type="expected a list, got {type}")] | None = Field(
        None, description="per-config thresholds and known failures"
    )
    markers: list[Annotated[Text, AfterValidator(_marker)]] = Field(
        default=SUITE.markers, description="pytest markers put on every case of the suite"
    )
