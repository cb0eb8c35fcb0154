"""A suite file's validated models built into records, and every rule across fields, as data.

The models (`settings.py`, `models.py`) check each field alone. What needs two fields, the file system or
the expanded grid is a `Rule` in one of the lists below, each list checked in order on its subject; the first
rule broken is one `SuiteError` line naming the file and the field:

- `SECTION_RULES`: a section of the settings wherever it sits (`fixed`, a `benchmarked` value, a `when`);
- `SUITE_RULES`: the file as a whole (paths that must exist, `paths.py`; a setting both fixed and benchmarked,
  ...);
- `GATE_RULES`: one entry of a `thresholds` mapping (the suite's or an override's);
- `OVERRIDE_RULES`: one entry of `overrides`, before its `when` is read as settings;
- `CONFIG_RULES`: each config of the expanded grid (the backend runs the approach, 16-bit is static, ...);
- `GRID_RULES`: the expanded grid as a whole (every override matches a config).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite import grid, paths
from pytest_quantbench.suite.errors import Loc, suite_error, unknown_field
from pytest_quantbench.suite.models import DatasetSchema, OverrideSchema, SuiteSchema, ThresholdSchema
from pytest_quantbench.suite.records import (
    DEFAULT_MAX_DROP,
    Calibration,
    Case,
    DatasetSpec,
    GateKind,
    QuantConfig,
    Suite,
    Threshold,
    Thresholds,
    gate_kind,
    known_gates,
)
from pytest_quantbench.suite.settings import FixedSchema
from pytest_quantbench.suite.vocabulary import (
    PACKAGED_BUILDERS,
    RATIO_CAPPED_METRICS,
    BackendVocabulary,
    TaskVocabulary,
    Vocabulary,
)

Subject = TypeVar("Subject")
Found = dict[str, Any]  # what a broken rule found: the values its field and message are filled with
MAX_CONFIGS = 4096  # a grid beyond this is a typo, not a benchmark; it would stall collection


@dataclass(frozen=True)
class Rule(Generic[Subject]):
    """One rule across fields: `broken` returns None for a subject that keeps it, else what it found, which
    fills `field` (the field the error names, under where the subject sits; "" is the subject itself) and
    `message`."""

    field: str
    message: str
    broken: Callable[[Subject], Found | None]

    def check(self, subject: Subject) -> tuple[str, str] | None:
        """The field and message of the error, or None when `subject` keeps the rule."""
        found = self.broken(subject)
        return None if found is None else (self.field.format(**found), self.message.format(**found))


def breaks(condition: bool, **values: Any) -> Found | None:
    """A rule's finding: the `values` that word the error when `condition` holds, else None."""
    return values if condition else None


def first(key: str, items: Sequence[Any]) -> Found | None:
    """A rule's finding: the first of `items`, as `key`, or None when there are none."""
    return {key: items[0]} if items else None


def under(where: str) -> Callable[[str], str]:
    """Where a rule's field sits: below the subject's place in the file."""
    return lambda field: f"{where}.{field}" if where and field else where or field


def check(path: Path, rules: Sequence[Rule[Subject]], subject: Subject, place: Callable[[str], str] = str) -> None:
    """Raise the first rule `subject` breaks, its field placed by `place`."""
    for rule in rules:
        error = rule.check(subject)
        if error is not None:
            raise SuiteError(path, place(error[0]), error[1])


# --- the subjects the rules check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftSuite:
    """A validated suite file before its records."""

    path: Path
    model: SuiteSchema
    dataset: DatasetSpec
    fixed: dict[str, Any]
    benchmarked: dict[str, tuple[Any, ...]]


@dataclass(frozen=True)
class DraftGate:
    """One entry of a `thresholds` mapping, and the keys such a mapping may have."""

    key: str
    threshold: Threshold
    known: tuple[str, ...]  # the suite's metrics, then the named gates

    @property
    def kind(self) -> GateKind:
        return gate_kind(self.key)

    def given(self, field: str) -> bool:
        return getattr(self.threshold, field) is not None


@dataclass(frozen=True)
class DraftOverride:
    when: Mapping[str, Any]  # as the file gives it
    benchmarked: tuple[str, ...]


@dataclass(frozen=True)
class DraftConfig:
    config: QuantConfig
    backends: Mapping[str, BackendVocabulary]


@dataclass(frozen=True)
class DraftGrid:
    cases: tuple[Case, ...]
    overrides: Sequence[grid.Override]


# --- the rules --------------------------------------------------------------------------------------------------

CALIBRATION_RULES: tuple[Rule[Calibration], ...] = (
    Rule("", "method {method} with padding none: ONNX Runtime's histogram calibrators stack every sample into one "
         "array, so unpadded samples of unequal lengths cannot be collected; use method minmax, or padding longest "
         "or max_length",
         lambda c: breaks(c.padding == "none" and c.method != "minmax", method=c.method)),
)  # fmt: skip
SECTION_RULES: dict[str, tuple[Rule[Any], ...]] = {"calibration": CALIBRATION_RULES}


def _grid_size(draft: DraftSuite) -> Found | None:
    """A grid too big to collect is refused before anything is done per config."""
    size = math.prod(len(values) for values in draft.benchmarked.values())
    return breaks(size > MAX_CONFIGS, size=size, limit=MAX_CONFIGS)


SUITE_RULES: tuple[Rule[DraftSuite], ...] = (
    Rule("model_name_or_path", "{message}", lambda d: paths.source_problem(d.model.model_name_or_path, d.path.parent)),
    Rule("dataset.path", "{message}",
         lambda d: paths.source_problem(d.dataset.path, d.path.parent, PACKAGED_BUILDERS)),
    Rule("{field}", "{message}",
         lambda d: paths.local_data_problem(d.dataset.path, d.dataset.data_files, d.dataset.data_dir, d.path.parent)),
    Rule("metrics", "need references: the dataset has ref_keys: [] (gate on agreement or cosine)",
         lambda d: breaks(bool(d.model.metrics) and not d.dataset.ref_keys)),
    Rule("benchmarked.{key}", "is also in 'fixed': give each parameter in one place",
         lambda d: first("key", [key for key in d.benchmarked if key in d.fixed])),
    Rule("benchmarked", "the grid has {size} configs, more than {limit}: split it into suites", _grid_size),
    Rule("dataset.stride", "{stride} is not below max_length {length}: each window must move on by fewer tokens "
         "than it holds", lambda d: breaks(d.dataset.stride is not None and d.dataset.max_length is not None
                                           and d.dataset.stride >= d.dataset.max_length,
                                           stride=d.dataset.stride, length=d.dataset.max_length)),
)  # fmt: skip


# Which gates each field of a threshold applies to (`on_inconclusive` applies to any): a metric's gate takes
# any bound and an interval, a fidelity or speed gate a minimum, a divergence a maximum, a size or memory gate a
# largest ratio.
APPLIES_TO: dict[str, frozenset[GateKind]] = {
    "confidence": frozenset({GateKind.METRIC}),
    "max_drop": frozenset({GateKind.METRIC}),
    "max": frozenset({GateKind.METRIC, GateKind.DIVERGENCE}),
    "max_ratio": frozenset({GateKind.SIZE, GateKind.MEMORY}),
    "min": frozenset({GateKind.METRIC, GateKind.FIDELITY, GateKind.SPEED}),
    "min_ratio": frozenset({GateKind.METRIC}),
}
BOUNDS = ("max_drop", "min_ratio", "min", "max", "max_ratio")  # what a metric's gate needs one of
# Fields a metric's gate takes only for some metrics: `max_ratio` caps a perplexity's quantized / original.
APPLIES_TO_METRICS: dict[str, tuple[str, ...]] = {"max_ratio": RATIO_CAPPED_METRICS}


def _known_gate(gate: DraftGate) -> Found | None:
    named = gate.key.split("@")[0] if gate.kind is not GateKind.METRIC else gate.key  # counted: `neighbours@20`
    return None if named in gate.known else {"wording": unknown_field(gate.key, gate.known)}


def _applies(field: str) -> Callable[[DraftGate], Found | None]:
    def broken(gate: DraftGate) -> Found | None:
        def applies(name: str) -> bool:
            named = gate.kind is GateKind.METRIC and gate.key in APPLIES_TO_METRICS.get(name, ())
            return gate.kind in APPLIES_TO[name] or named

        allowed = ", ".join(sorted(f for f in APPLIES_TO if applies(f)))
        return breaks(gate.given(field) and not applies(field), key=gate.key, allowed=allowed)

    return broken


GATE_RULES: tuple[Rule[DraftGate], ...] = (
    Rule("", "{wording}", _known_gate),
    *(Rule(field, "does not apply to {key}: give {allowed}", _applies(field)) for field in sorted(APPLIES_TO)),
    Rule("", "gives no bound: add max_drop, min_ratio, min or max",
         lambda g: breaks(g.kind is GateKind.METRIC and not any(map(g.given, BOUNDS)))),
    Rule("confidence", "needs max_drop: the interval is of the drop",
         lambda g: breaks(g.given("confidence") and not (g.given("max_drop") or g.given("max_ratio")))),
)  # fmt: skip


def _benchmarked_key(override: DraftOverride) -> Found | None:
    """`when` names benchmarked settings only."""
    key = next((k for k in override.when if k not in override.benchmarked), None)
    return None if key is None else {"key": key, "wording": unknown_field(key, override.benchmarked)}


OVERRIDE_RULES: tuple[Rule[DraftOverride], ...] = (Rule("when.{key}", "{wording}", _benchmarked_key),)


def _runs_approach(draft: DraftConfig) -> Found | None:
    """The config's backend runs its quantization approach."""
    config, backends = draft.config, draft.backends
    approach, runs = config.quantization_approach, backends[config.framework].approaches
    if approach in runs:
        return None
    others = " or ".join(name for name, backend in backends.items() if approach in backend.approaches)
    return {"framework": config.framework, "runs": " and ".join(runs), "approach": approach, "others": others}


def _per_channel_opset(draft: DraftConfig) -> Found | None:
    config, opset = draft.config, draft.config.framework_args.opset
    qdq = config.is_static and config.format != "qoperator"
    return breaks(config.per_channel and qdq and opset is not None and opset < 13, opset=opset)


# Each field names the setting the error points at: `benchmarked.<it>` when the grid varies it, else `fixed.<it>`.
CONFIG_RULES: tuple[Rule[DraftConfig], ...] = (
    Rule("framework", "{framework} runs {runs} quantization only: {approach} configs need framework {others}",
         _runs_approach),
    Rule("activations_dtype", "16-bit activations need quantization_approach: static (QDQ)",
         lambda d: breaks((d.config.activations_dtype or "").endswith("16") and not d.config.is_static)),
    Rule("fp32_outputs", "fp32 outputs need format: qdq (QLinear ops output int8)",
         lambda d: breaks(bool(d.config.fp32_outputs) and d.config.is_static and d.config.format == "qoperator")),
    Rule("per_channel",
         "per-channel static QDQ needs opset >= 13 (DequantizeLinear's axis), got framework_args.opset {opset}",
         _per_channel_opset),
)  # fmt: skip


def _unmatched(draft: DraftGrid) -> Found | None:
    points = [case.point for case in draft.cases]
    return first("index", [i for i, o in enumerate(draft.overrides) if not any(map(o.matches, points))])


GRID_RULES: tuple[Rule[DraftGrid], ...] = (
    Rule("overrides[{index}].when", "matches no config of the benchmarked grid", _unmatched),
)


# --- the builder -------------------------------------------------------------------------------------------------


def parse_suite(raw: Any, path: Path, vocabulary: Vocabulary | None = None) -> Suite:
    """The records of one suite file's YAML data; a `SuiteError` names the file and the first bad field."""
    vocabulary = vocabulary or Vocabulary.default()
    if raw is None:
        raise SuiteError(path, "", "the file is empty")
    context = {"vocabulary": vocabulary}
    model = _validated(SuiteSchema, raw, path, context)
    task = vocabulary.tasks[model.task]
    fixed = model.fixed.given() if model.fixed else {}
    benchmarked = model.benchmarked.given() if model.benchmarked else {}
    _check_sections(path, "fixed", fixed)
    _check_sections(path, "benchmarked", benchmarked, grid_values=True)
    draft = DraftSuite(path, model, _dataset(path, model.dataset, task), fixed, benchmarked)
    check(path, SUITE_RULES, draft)
    suite = _suite(draft, task)
    known = (*suite.metrics, *known_gates(task.fidelity))
    given = _gates(path, model.thresholds, "thresholds", known)
    counted = {key.split("@")[0] for key in given}  # `neighbours@5` given: no default `neighbours` (k = 10) beside it
    gates = {k: t for k, t in _default_gates(suite.metrics, task).items() if k not in counted} | given
    overrides = [_override(draft, entry, i, known, context) for i, entry in enumerate(model.overrides or [])]
    cases = grid.expand(suite, Thresholds.from_keys(gates), overrides)
    for case in cases:
        check(path, CONFIG_RULES, DraftConfig(case.config, vocabulary.backends), _setting(benchmarked))
    check(path, GRID_RULES, DraftGrid(cases, overrides))
    object.__setattr__(suite, "cases", cases)
    return suite


Model = TypeVar("Model", bound=BaseModel)


def _validated(schema: type[Model], raw: Any, path: Path, context: dict[str, Any], prefix: Loc = ()) -> Model:
    """`raw` validated by one model; its first error as a `SuiteError` (`prefix`: where `raw` sits)."""
    try:
        return schema.model_validate(raw, context=context)
    except ValidationError as exc:
        raise suite_error(exc, schema, raw, path, prefix) from None


def _check_sections(path: Path, where: str, settings: Mapping[str, Any], grid_values: bool = False) -> None:
    """The section rules of each section among `settings`, or of each value of a benchmarked section."""
    for key, rules in SECTION_RULES.items():
        if key in settings:
            values = enumerate(settings[key]) if grid_values else [(None, settings[key])]
            for i, value in values:
                check(path, rules, value, under(f"{where}.{key}" + ("" if i is None else f"[{i}]")))


def _setting(benchmarked: Mapping[str, Any]) -> Callable[[str], str]:
    """Where a config rule's setting is in the file: in the grid when it is benchmarked, else fixed."""
    return lambda key: f"benchmarked.{key}" if key in benchmarked else f"fixed.{key}"


def _dataset(path: Path, model: DatasetSchema, task: TaskVocabulary) -> DatasetSpec:
    """The dataset record: the file's values, the task's columns where the file names none."""
    data_keys = {k: v for k, v in model.data_keys if v is not None} if model.data_keys else task.default_data_keys
    return DatasetSpec(
        path=model.path,
        name=model.name,
        data_files=model.data_files,
        data_dir=model.data_dir,
        eval_split=model.eval_split,
        calibration_split=model.calibration_split or DatasetSpec.calibration_split,
        data_keys=tuple(sorted(data_keys.items())),
        ref_keys=tuple(task.default_ref_keys if model.ref_keys is None else model.ref_keys),
        num_eval_samples=model.num_eval_samples,
        max_length=model.max_length,
        base_dir=str(path.parent),
        stride=model.stride,
    )


def _suite(draft: DraftSuite, task: TaskVocabulary) -> Suite:
    """The suite record, without its cases; a suite without references gates on no metric."""
    model = draft.model
    metrics = tuple(model.metrics or task.default_metrics) if draft.dataset.ref_keys else ()
    return Suite(
        path=draft.path, name=model.name or draft.path.name.split(".")[0], task=model.task,
        model_name_or_path=model.model_name_or_path, revision=model.revision,
        trust_remote_code=model.trust_remote_code, dataset=draft.dataset, metrics=metrics,
        time=model.time.record(), fixed=tuple(draft.fixed.items()), benchmarked=tuple(draft.benchmarked.items()),
        markers=tuple(model.markers), timed_by_length=task.timed_by_length, baseline=model.baseline,
    )  # fmt: skip


def _default_gates(metrics: tuple[str, ...], task: TaskVocabulary) -> dict[str, Threshold]:
    """Each metric's default gate; a suite without metrics gates on its task's fidelity defaults (agreement)."""
    return {m: Threshold(max_drop=DEFAULT_MAX_DROP) for m in metrics} or {
        key: Threshold(min=floor) for key, floor in task.default_gates
    }


def _gates(
    path: Path, given: dict[str, ThresholdSchema] | None, where: str, known: tuple[str, ...]
) -> dict[str, Threshold]:
    """The gates a `thresholds` mapping gives, on the `known` keys: the suite's metrics (the models know every
    metric of the task), its task's fidelity gates and the other named gates."""
    gates = {key: threshold.record() for key, threshold in (given or {}).items()}
    for key, threshold in gates.items():
        check(path, GATE_RULES, DraftGate(key, threshold, known), under(f"{where}.{key}"))
    return gates


def _override(
    draft: DraftSuite, entry: OverrideSchema, index: int, known: tuple[str, ...], context: dict[str, Any]
) -> grid.Override:
    """One `overrides` entry: its `when` read as settings (as `fixed` is), its gates over the suite's."""
    where = f"overrides[{index}]"
    check(draft.path, OVERRIDE_RULES, DraftOverride(entry.when, tuple(draft.benchmarked)), under(where))
    when = _validated(FixedSchema, entry.when, draft.path, context, ("overrides", index, "when")).given()
    _check_sections(draft.path, f"{where}.when", when)
    gates = _gates(draft.path, entry.thresholds, f"{where}.thresholds", known)
    return grid.Override(when, Thresholds.from_keys(gates), entry.expect)
