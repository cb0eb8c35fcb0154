"""A suite file's validated models built into records, checked by the rules of `rules.py` on the way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite import grid
from pytest_quantbench.suite.errors import Loc, suite_error
from pytest_quantbench.suite.models import DatasetSchema, OverrideSchema, SuiteSchema, ThresholdSchema
from pytest_quantbench.suite.reading import READING_RULES, UNION_RULES, DraftReading
from pytest_quantbench.suite.records import Case, DatasetSpec, Suite
from pytest_quantbench.suite.rules import (
    CONFIG_RULES,
    GATE_RULES,
    GRID_RULES,
    OVERRIDE_RULES,
    RECORD_RULES,
    SECTION_RULES,
    SUITE_RULES,
    DraftConfig,
    DraftGate,
    DraftGrid,
    DraftOverride,
    DraftSuite,
    check,
    under,
)
from pytest_quantbench.suite.settings import FixedSchema, Section, Settings
from pytest_quantbench.suite.thresholds import DEFAULT_MAX_DROP, Threshold, Thresholds, known_gates
from pytest_quantbench.suite.vocabulary import TaskVocabulary, Vocabulary


def parse_suite(raw: Any, path: Path, vocabulary: Vocabulary | None = None) -> Suite:
    """The records of one suite file's YAML data; a `SuiteError` names the file and the first bad field."""
    vocabulary = vocabulary or Vocabulary.default()
    if raw is None:
        raise SuiteError(path, "", "the file is empty")
    context = {"vocabulary": vocabulary}
    model = _validated(SuiteSchema, raw, path, context)
    task = vocabulary.tasks[model.task]
    fixed = model.fixed.given() if model.fixed else {}
    listed = isinstance(model.benchmarked, list)
    grids = [schema.given() for schema in _grid_schemas(model)]
    benchmarked = _union(grids) if listed else grids[0] if grids else {}
    draft = DraftSuite(
        path, model, _dataset(path, model.dataset, task), fixed, benchmarked, task, tuple(grids) if listed else ()
    )
    _check_sections(path, "fixed", fixed)
    for where, values in draft.placed():
        _check_sections(path, where, values, grid_values=True)
    check(path, SUITE_RULES, draft)
    suite = _suite(draft, task)
    check(path, RECORD_RULES, suite)
    known = (*suite.metrics, *known_gates(task.fidelity))
    given = _gates(path, model.thresholds, "thresholds", known)
    counted = {key.split("@")[0] for key in given}  # `neighbours@5` given: no default `neighbours` (k = 10) beside it
    gates = {k: t for k, t in _default_gates(suite.metrics, task).items() if k not in counted} | given
    overrides = [_override(draft, entry, i, known, context) for i, entry in enumerate(model.overrides or [])]
    cases = _cases(draft, suite, Thresholds.from_keys(gates), overrides, vocabulary)
    fixed_written = _written(model.fixed) if model.fixed else ()
    whole = DraftGrid(cases, overrides, fixed_written, vocabulary.backends)
    check(path, GRID_RULES, whole)
    check(path, UNION_RULES, whole)
    object.__setattr__(suite, "cases", cases)
    return suite


def _cases(
    draft: DraftSuite, suite: Suite, thresholds: Thresholds, overrides: list[grid.Override], vocabulary: Vocabulary
) -> tuple[Case, ...]:
    """Each grid's cases, every config checked by the config rules, and against its backend for the settings
    its own grid writes (`READING_RULES`), the error placed under that grid."""
    schemas: list[Settings | None] = [*_grid_schemas(draft.model)] or [None]  # no grid: one config, fixed
    cases: list[Case] = []
    for (where, given), schema in zip(draft.placed(), schemas, strict=True):
        written = _written(schema) if schema is not None else ()
        for case in grid.expand_grid(suite, tuple(given.items()), thresholds, overrides):
            check(draft.path, CONFIG_RULES, DraftConfig(case.config, vocabulary.backends), _setting(where, given))
            check(draft.path, READING_RULES, DraftReading(case.config, vocabulary.backends, written), under(where))
            cases.append(case)
    return tuple(cases)


def _grid_schemas(model: SuiteSchema) -> list[Settings]:
    """The file's grids: a `benchmarked` list's, its one mapping, or none."""
    given = model.benchmarked
    return list(given) if isinstance(given, list) else [given] if given is not None else []


def _union(grids: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Every setting of the grids, each with its values in the order given: what the reports list."""
    union: dict[str, list[Any]] = {}
    for given in grids:
        for key, values in given.items():
            union.setdefault(key, []).extend(v for v in values if v not in union.get(key, []))
    return {key: tuple(values) for key, values in union.items()}


def _written(settings: Settings) -> tuple[str, ...]:
    """The settings a `fixed` or grid mapping writes: its keys, a section's by the fields it gives (dotted)."""
    written: list[str] = []
    for key in settings.given():
        value = getattr(settings, key)
        sections = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, Section)]
        if not sections:
            written.append(key)
        for section in sections:
            written += [f"{key}.{name}" for name in section.model_fields_set if f"{key}.{name}" not in written]
    return tuple(written)


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


def _setting(where: str, benchmarked: Mapping[str, Any]) -> Callable[[str], str]:
    """Where a config rule's setting is in the file: in the config's grid (`where`) when it is benchmarked there,
    else fixed."""
    return lambda key: f"{where}.{key}" if key in benchmarked else f"fixed.{key}"


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
        markers=tuple(model.markers), timed_by_length=task.timed_by_length, decodes=task.decodes,
        baseline=model.baseline, grids=tuple(tuple(g.items()) for g in draft.grids),
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
