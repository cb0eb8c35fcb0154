"""Every rule across a suite file's fields, as data: each list is checked in order on its subject, and the first
rule broken is one `SuiteError` line naming the file and the field (`build.py` applies them while it builds).

The models (`settings.py`, `models.py`) check each field alone. What needs two fields, the file system or
the expanded grid is a `Rule` in one of the lists below:

- `SECTION_RULES`: a section of the settings wherever it sits (`fixed`, a `benchmarked` value, a `when`);
- `SUITE_RULES`: the file as a whole (paths that must exist, `paths.py`; a setting both fixed and benchmarked,
  a setting beside the `preset` that sets it, ...);
- `RECORD_RULES`: the suite record, once the task has filled it in (phases only a decoder times);
- `GATE_RULES`: one entry of a `thresholds` mapping (the suite's or an override's);
- `OVERRIDE_RULES`: one entry of `overrides`, before its `when` is read as settings;
- `CONFIG_RULES`: each config of the expanded grid (the backend runs the approach, 16-bit is static, ...);
- `GRID_RULES`: the expanded grid (or list of grids) as a whole (every override matches a config).

What each engine reads of the settings (and the ids of a list of grids) is checked by `reading.py`'s rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pytest_quantbench import extras
from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite import grid, paths
from pytest_quantbench.suite.errors import unknown_field, unknown_value
from pytest_quantbench.suite.models import SuiteSchema
from pytest_quantbench.suite.records import (
    CONFIG_PRESETS,
    DEFAULT_NEW_TOKENS,
    PRESET_KEY,
    Calibration,
    Case,
    DatasetSpec,
    QuantConfig,
    Suite,
)
from pytest_quantbench.suite.thresholds import GateKind, Threshold, gate_kind
from pytest_quantbench.suite.vocabulary import (
    PACKAGED_BUILDERS,
    RATIO_CAPPED_METRICS,
    BackendVocabulary,
    TaskVocabulary,
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
    benchmarked: dict[str, tuple[Any, ...]]  # the union of the grids' settings
    task: TaskVocabulary | None = None  # the suite's task's words (None: rules that need them keep quiet)
    grids: tuple[dict[str, tuple[Any, ...]], ...] = ()  # a `benchmarked` list's grids; (): `benchmarked` alone

    def placed(self) -> list[tuple[str, dict[str, tuple[Any, ...]]]]:
        """Each grid with where it sits in the file: `benchmarked`, or `benchmarked[i]` in a list of grids."""
        if not self.grids:
            return [("benchmarked", self.benchmarked)]
        return [(f"benchmarked[{i}]", values) for i, values in enumerate(self.grids)]


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
    fixed_written: tuple[str, ...] = ()  # the settings `fixed` writes (dotted): `reading.UNION_RULES`
    backends: Mapping[str, BackendVocabulary] = field(default_factory=dict)


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
    size = sum(math.prod(len(values) for values in given.values()) for _, given in draft.placed())
    return breaks(size > MAX_CONFIGS, size=size, limit=MAX_CONFIGS)


def _beside_preset(draft: DraftSuite) -> Found | None:
    """A setting a `preset:` sets, given beside it (fixed or in the preset's grid): the preset would no longer
    be what its name says (the card names it), so the file must choose one."""
    preset_keys = {key for settings in CONFIG_PRESETS.values() for key, _ in settings}
    for where, given in draft.placed():
        places = {"fixed": draft.fixed, where: given}
        if any(PRESET_KEY in settings for settings in places.values()):
            found = [f"{at}.{key}" for at, settings in places.items() for key in settings if key in preset_keys]
            if found:
                return {"at": found[0]}
    return None


def _fixed_and_benchmarked(draft: DraftSuite) -> Found | None:
    """A setting both fixed and benchmarked (in any grid of a list)."""
    return first("at", [f"{where}.{key}" for where, given in draft.placed() for key in given if key in draft.fixed])


def _metric_key(draft: DraftSuite) -> Found | None:
    """A metric the task reads from a column the dataset does not name (an embedding's sentence pairs)."""
    given, metrics = dict(draft.dataset.data_keys), draft.model.metrics or ()
    needs = draft.task.metric_keys if draft.task else ()
    missing = [(m, key, what) for m, key, what in needs if m in metrics and key not in given]
    return None if not missing else dict(zip(("metric", "key", "what"), missing[0], strict=True))


def _phases_of_a_non_decoder(suite: Suite) -> Found | None:
    """`time.phases` and `time.new_tokens` time a decoder's cache: any other task has none to time."""
    given = [
        f
        for f, set_ in (
            ("phases", suite.time.phases is not None),
            ("new_tokens", suite.time.new_tokens != DEFAULT_NEW_TOKENS),
        )
        if set_
    ]
    return breaks(bool(given) and not suite.decodes, field=given[0] if given else "", task=suite.task)


# rules on the suite record, once the task has filled it in
RECORD_RULES: tuple[Rule[Suite], ...] = (
    Rule("time.{field}", "task {task} has no key/value cache to time by phase (only a decoder, text-generation)",
         _phases_of_a_non_decoder),
)  # fmt: skip


SUITE_RULES: tuple[Rule[DraftSuite], ...] = (
    Rule("model_name_or_path", "{message}", lambda d: paths.source_problem(d.model.model_name_or_path, d.path.parent)),
    Rule("dataset.path", "{message}",
         lambda d: paths.source_problem(d.dataset.path, d.path.parent, PACKAGED_BUILDERS)),
    Rule("{field}", "{message}",
         lambda d: paths.local_data_problem(d.dataset.path, d.dataset.data_files, d.dataset.data_dir, d.path.parent)),
    Rule("metrics", "need references: the dataset has ref_keys: [] (gate on agreement or cosine)",
         lambda d: breaks(bool(d.model.metrics) and not d.dataset.ref_keys)),
    Rule("metrics", "{metric} needs dataset.data_keys.{key}: {what}", _metric_key),
    Rule("{at}", "is also in 'fixed': give each parameter in one place", _fixed_and_benchmarked),
    Rule("{at}", "is set by 'preset' (sentence-transformers' export of that name): give the preset or the setting, "
         "not both", _beside_preset),
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
    """The config's backend (with its quantizer) runs its quantization approach."""
    config, backends = draft.config, draft.backends
    approach, runs = config.quantization_approach, backends[config.framework].runs(config)
    if approach in runs:
        return None
    others = " or ".join(name for name, backend in backends.items() if approach in backend.approaches)
    framework = config.framework + (f" with quantizer {config.quantizer}" if config.quantizer in backends[
        config.framework].quantizers else "")  # fmt: skip
    return {"framework": framework, "runs": " and ".join(runs), "approach": approach, "others": others}


def _known_quantizer(draft: DraftConfig) -> Found | None:
    """The quantizer a config names is its backend's own or one of the others it takes."""
    config, backend = draft.config, draft.backends[draft.config.framework]
    known = tuple(q for q in (backend.quantizer, *backend.quantizers) if q)
    if config.quantizer is None or config.quantizer in known:
        return None
    return {"framework": config.framework, "wording": unknown_value(config.quantizer, known)}


def _per_channel_opset(draft: DraftConfig) -> Found | None:
    config, opset = draft.config, draft.config.framework_args.opset
    qdq = config.is_static and config.format != "qoperator"
    return breaks(config.per_channel and qdq and opset is not None and opset < 13, opset=opset)


def _data_aware_int4(draft: DraftConfig) -> Found | None:
    """AWQ and scale estimation correct 4-bit weights: on any other config they would change nothing."""
    config = draft.config
    backend = draft.backends[config.framework]
    options = tuple(o for o in config.nncf.data_aware if not backend.ignores_setting(f"nncf.{o}", config))
    int4 = config.quantization_approach == "weight_only" and config.weight_only.bits == 4
    return breaks(bool(options) and not int4, options=" and ".join(options), s="" if len(options) > 1 else "s")


def _unread_accuracy_level(draft: DraftConfig) -> Found | None:
    """HQQ's MatMulNBits take no accuracy_level: only keep_8bit's MatMuls (round to nearest) would read it."""
    config, w = draft.config, draft.config.weight_only
    hqq = config.quantization_approach == "weight_only" and w.algorithm == "hqq"
    return breaks(hqq and w.accuracy_level is not None and not w.keep_8bit)


def _engine_installed(draft: DraftConfig) -> Found | None:
    """The config's backend needs an optional extra that is installed (checked without importing it)."""
    backend, framework = draft.backends[draft.config.framework], draft.config.framework
    quantizer = backend.other_quantizer(draft.config)
    extra = quantizer.extra if quantizer else backend.extra
    needed_by = f"quantizer {draft.config.quantizer}" if quantizer else f"framework {framework}"
    missing = extras.missing(extra, needed_by) if extra else None
    return None if missing is None else {"message": missing}


# Each field names the setting the error points at: `benchmarked.<it>` when the grid varies it, else `fixed.<it>`.
CONFIG_RULES: tuple[Rule[DraftConfig], ...] = (
    Rule("quantizer", "{wording} for framework {framework}", _known_quantizer),
    Rule("framework", "{framework} runs {runs} quantization only: {approach} configs need framework {others}",
         _runs_approach),
    Rule("framework", "{message}", _engine_installed),
    Rule("nncf", "accuracy_control needs quantization_approach: static (NNCF reverts int8 layers of a calibrated "
         "model)", lambda d: breaks(d.config.nncf.accuracy_control is not None and not d.config.is_static)),
    Rule("nncf", "{options} need{s} quantization_approach: weight_only with weight_only.bits: 4 (NNCF's data-aware "
         "corrections of 4-bit weights)", _data_aware_int4),
    Rule("weight_only", "accuracy_level with algorithm hqq changes nothing: HQQ writes float zero points, which "
         "ONNX Runtime computes on its fp32 path whatever accuracy_level says (it reaches only keep_8bit's "
         "MatMuls): remove it, or use algorithm rtn or k_quant for int8 compute", _unread_accuracy_level),
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
