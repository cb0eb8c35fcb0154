"""The builder's rules across fields, one by one: each fires with its field and message, a valid suite keeps
every rule, and every rule of `build.py` is tested here (a new rule must add its row)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_quantbench import extras
from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite import load_suite, rules
from pytest_quantbench.suite.build import parse_suite
from pytest_quantbench.suite.grid import Override
from pytest_quantbench.suite.models import SuiteSchema
from pytest_quantbench.suite.reading import READING_RULES, UNION_RULES, DraftReading
from pytest_quantbench.suite.records import (
    AccuracyControl,
    Calibration,
    DatasetSpec,
    FrameworkArgs,
    Nncf,
    QuantConfig,
    WeightOnly,
)
from pytest_quantbench.suite.rules import (
    CONFIG_RULES,
    GATE_RULES,
    GRID_RULES,
    OVERRIDE_RULES,
    SECTION_RULES,
    SUITE_RULES,
    DraftConfig,
    DraftGate,
    DraftGrid,
    DraftOverride,
    DraftSuite,
    Rule,
)
from pytest_quantbench.suite.thresholds import Threshold, known_gates
from pytest_quantbench.suite.thresholds import Thresholds as Gates
from pytest_quantbench.suite.vocabulary import BUILTIN_BACKENDS, BUILTIN_TASKS, BackendVocabulary

HERE = Path(__file__)  # where the drafts' suite file is: local paths are relative to tests/unit
RAW = {"task": "text-classification", "model_name_or_path": "some/model", "dataset": {"path": "glue"}}
KNOWN_GATES = ("accuracy", *known_gates(BUILTIN_TASKS["text-classification"].fidelity))


def rule(rules: tuple[Rule[Any], ...], message: str, field: str | None = None) -> Rule[Any]:
    """The one rule of a list whose message starts with `message` (and whose field is `field`)."""
    (found,) = [r for r in rules if r.message.startswith(message) and field in (None, r.field)]
    return found


def suite_draft(
    raw: dict[str, Any] | None = None,
    dataset: DatasetSpec | None = None,
    fixed: dict[str, Any] | None = None,
    benchmarked: dict[str, tuple[Any, ...]] | None = None,
    path: Path = HERE,
) -> DraftSuite:
    model = SuiteSchema.model_validate({**RAW, **(raw or {})})
    return DraftSuite(path, model, dataset or DatasetSpec(path="glue"), fixed or {}, benchmarked or {})


# a suite of a list of grids (OpenVINO's static int8 alone), for the rules on all its configs
GRIDS_SUITE = parse_suite(
    {**RAW, "benchmarked": [{"framework": ["openvino"], "quantization_approach": ["static"]}]}, HERE / "g.suite.yaml"
)


def config(**settings: Any) -> DraftConfig:
    return DraftConfig(QuantConfig(**settings), BUILTIN_BACKENDS)


# An engine whose extra is not installed (OpenVINO's, where the `openvino` extra is missing): its module is absent.
extras.EXTRAS.setdefault("engine-for-tests", ("quantbench_engine_not_installed",))
ABSENT_ENGINE = {"absent": BackendVocabulary(("dynamic",), extra="engine-for-tests")}


def grid_draft(tmp_path: Path, *whens: dict[str, Any]) -> DraftGrid:
    path = tmp_path / "grid.suite.yaml"
    path.write_text(
        "task: text-classification\nmodel_name_or_path: m\ndataset: {path: glue}\n"
        "benchmarked: {per_channel: [true, false], reduce_range: [false]}\n"
    )
    return DraftGrid(load_suite(path).cases, [Override(when, Gates(), None) for when in whens])


def embedding_draft(*data_keys: tuple[str, str]) -> DraftSuite:
    """An embedding suite scoring STS pairs, with these data keys."""
    raw = {**RAW, "task": "feature-extraction", "metrics": ["spearman"]}
    dataset = DatasetSpec(path="glue", data_keys=data_keys, ref_keys=("score",))
    return DraftSuite(HERE, SuiteSchema.model_validate(raw), dataset, {}, {}, BUILTIN_TASKS["feature-extraction"])


STATIC_QDQ = {"quantization_approach": "static", "format": "qdq"}
# (rule, a subject that breaks it, the field and the message of its error)
BROKEN: list[tuple[Rule[Any], Any, str, str]] = [
    (
        SECTION_RULES["calibration"][0],
        Calibration(method="entropy", padding="none"),
        "",
        "method entropy with padding none: ONNX Runtime's histogram calibrators stack every sample into one "
        "array, so unpadded samples of unequal lengths cannot be collected; use method minmax, or padding "
        "longest or max_length",
    ),
    (
        rule(SUITE_RULES, "{message}", "model_name_or_path"),
        suite_draft({"model_name_or_path": "./models/missing"}),
        "model_name_or_path",
        "no such file or directory: ./models/missing (relative paths start at the suite's folder)",
    ),
    (
        rule(SUITE_RULES, "{message}", "dataset.path"),
        suite_draft(dataset=DatasetSpec(path="data/missing/sst2")),
        "dataset.path",
        "no such file or directory: data/missing/sst2 (relative paths start at the suite's folder), and not a hub "
        "id (name or namespace/name)",
    ),
    (
        rule(SUITE_RULES, "{message}", "{field}"),
        suite_draft(dataset=DatasetSpec(path="csv", data_files={"train": "a.csv", "validation": ["missing.csv"]})),
        "dataset.data_files.train",
        "no such file or directory: a.csv (relative paths start at the suite's folder)",
    ),
    (
        rule(SUITE_RULES, "need references"),
        suite_draft({"metrics": ["accuracy"]}, dataset=DatasetSpec(path="glue", ref_keys=())),
        "metrics",
        "need references: the dataset has ref_keys: [] (gate on agreement or cosine)",
    ),
    (
        rule(SUITE_RULES, "{metric} needs"),
        embedding_draft(("primary", "sentence1")),
        "metrics",
        "spearman needs dataset.data_keys.secondary: the second text of each sentence pair",
    ),
    (
        rule(SUITE_RULES, "{stride} is not below max_length"),
        suite_draft(dataset=DatasetSpec(path="glue", max_length=16, stride=16)),
        "dataset.stride",
        "16 is not below max_length 16: each window must move on by fewer tokens than it holds",
    ),
    (
        rule(SUITE_RULES, "is also in 'fixed'"),
        suite_draft(fixed={"per_channel": False, "reduce_range": True}, benchmarked={"reduce_range": (False,)}),
        "benchmarked.reduce_range",
        "is also in 'fixed': give each parameter in one place",
    ),
    (
        rule(SUITE_RULES, "is set by 'preset'"),
        suite_draft(fixed={"per_channel": False}, benchmarked={"preset": ("qint8_arm64",)}),
        "fixed.per_channel",
        "is set by 'preset' (sentence-transformers' export of that name): give the preset or the setting, not both",
    ),
    (
        rule(SUITE_RULES, "the grid has"),
        suite_draft(benchmarked={"per_channel": (True, False) * 33, "reduce_range": (True, False) * 32}),
        "benchmarked",
        "the grid has 4224 configs, more than 4096: split it into suites",
    ),
    (
        rule(GATE_RULES, "{wording}"),
        DraftGate("f1", Threshold(max_drop=0.1), KNOWN_GATES),
        "",
        "unknown field (known: accuracy, agreement, cosine, speedup, size, memory)",
    ),
    (
        rule(GATE_RULES, "does not apply", "confidence"),
        DraftGate("agreement", Threshold(min=0.9, confidence=0.9), KNOWN_GATES),
        "confidence",
        "does not apply to agreement: give min",
    ),
    (
        rule(GATE_RULES, "does not apply", "max_drop"),
        DraftGate("speedup", Threshold(max_drop=0.1), KNOWN_GATES),
        "max_drop",
        "does not apply to speedup: give min",
    ),
    (
        rule(GATE_RULES, "does not apply", "max_ratio"),
        DraftGate("accuracy", Threshold(min_ratio=0.9, max_ratio=3), KNOWN_GATES),
        "max_ratio",
        "does not apply to accuracy: give confidence, max, max_drop, min, min_ratio",
    ),
    (
        rule(GATE_RULES, "does not apply", "max"),
        DraftGate("speedup", Threshold(max=3.0), KNOWN_GATES),
        "max",
        "does not apply to speedup: give min",
    ),
    (
        rule(GATE_RULES, "does not apply", "min"),
        DraftGate("size", Threshold(min=1.0), KNOWN_GATES),
        "min",
        "does not apply to size: give max_ratio",
    ),
    (
        rule(GATE_RULES, "does not apply", "min_ratio"),
        DraftGate("memory", Threshold(min_ratio=0.5), KNOWN_GATES),
        "min_ratio",
        "does not apply to memory: give max_ratio",
    ),
    (
        rule(GATE_RULES, "gives no bound"),
        DraftGate("accuracy", Threshold(confidence=0.95), KNOWN_GATES),
        "",
        "gives no bound: add max_drop, min_ratio, min or max",
    ),
    (
        rule(GATE_RULES, "needs max_drop"),
        DraftGate("accuracy", Threshold(min=0.5, confidence=0.95), KNOWN_GATES),
        "confidence",
        "needs max_drop: the interval is of the drop",
    ),
    (
        rule(OVERRIDE_RULES, "{wording}"),
        DraftOverride({"per_channel": True, "reduce_range": True}, ("per_channel",)),
        "when.reduce_range",
        "unknown field (known: per_channel)",
    ),
    (
        rule(CONFIG_RULES, "{framework} runs"),
        config(framework="pytorch", quantization_approach="fp16"),
        "framework",
        "pytorch runs dynamic quantization only: fp16 configs need framework onnxruntime",
    ),
    (
        rule(CONFIG_RULES, "{message}", "framework"),
        DraftConfig(QuantConfig(framework="absent"), ABSENT_ENGINE),
        "framework",
        "framework absent needs quantbench_engine_not_installed, which is not installed: "
        "pip install 'pytest-quantbench[engine-for-tests]'",
    ),
    (
        rule(CONFIG_RULES, "accuracy_control needs"),
        config(
            framework="openvino", quantization_approach="weight_only", nncf=Nncf(accuracy_control=AccuracyControl())
        ),
        "nncf",
        "accuracy_control needs quantization_approach: static (NNCF reverts int8 layers of a calibrated model)",
    ),
    (
        rule(CONFIG_RULES, "{options} need{s}"),
        config(framework="openvino", quantization_approach="static", nncf=Nncf(awq=True, scale_estimation=True)),
        "nncf",
        "awq and scale_estimation need quantization_approach: weight_only with weight_only.bits: 4 (NNCF's "
        "data-aware corrections of 4-bit weights)",
    ),
    (
        rule(CONFIG_RULES, "accuracy_level with algorithm hqq"),
        config(quantization_approach="weight_only", weight_only=WeightOnly(algorithm="hqq", accuracy_level=4)),
        "weight_only",
        "accuracy_level with algorithm hqq changes nothing: HQQ writes float zero points, which ONNX Runtime "
        "computes on its fp32 path whatever accuracy_level says (it reaches only keep_8bit's MatMuls): remove it, "
        "or use algorithm rtn or k_quant for int8 compute",
    ),
    (
        rule(CONFIG_RULES, "16-bit activations"),
        config(quantization_approach="dynamic", activations_dtype="uint16"),
        "activations_dtype",
        "16-bit activations need quantization_approach: static (QDQ)",
    ),
    (
        rule(CONFIG_RULES, "fp32 outputs"),
        config(quantization_approach="static", format="qoperator", fp32_outputs=("MatMul",)),
        "fp32_outputs",
        "fp32 outputs need format: qdq (QLinear ops output int8)",
    ),
    (
        rule(CONFIG_RULES, "{wording} for framework"),
        config(quantizer="hqq"),
        "quantizer",
        "unknown value 'hqq' (known: onnxruntime, nncf) for framework onnxruntime",
    ),
    (
        rule(READING_RULES, "framework {framework} does not read"),
        DraftReading(QuantConfig(framework="openvino"), BUILTIN_BACKENDS, ("framework", "calibration.method")),
        "calibration.method",
        "framework openvino does not read calibration.method: this config would run as if it were not given; "
        "write it in the grids of the frameworks that read it",
    ),
    (
        rule(UNION_RULES, "no config of this suite reads it"),
        DraftGrid(GRIDS_SUITE.cases, [], ("nncf.preset", "per_channel"), BUILTIN_BACKENDS),
        "fixed.per_channel",
        "no config of this suite reads it (framework openvino does not): remove it",
    ),
    (
        rule(UNION_RULES, "two configs have the id"),
        DraftGrid(GRIDS_SUITE.cases * 2, [], (), BUILTIN_BACKENDS),
        "benchmarked",
        "two configs have the id openvino-static: make the grids of the list differ in a value they give",
    ),
    (
        rule(CONFIG_RULES, "per-channel static QDQ"),
        config(**STATIC_QDQ, per_channel=True, framework_args=FrameworkArgs(opset=12)),
        "per_channel",
        "per-channel static QDQ needs opset >= 13 (DequantizeLinear's axis), got framework_args.opset 12",
    ),
]


@pytest.mark.parametrize(("broken", "subject", "field", "message"), BROKEN, ids=[row[3][:40] for row in BROKEN])
def test_each_rule_fires_with_its_field_and_message(broken: Rule[Any], subject: Any, field: str, message: str) -> None:
    assert broken.check(subject) == (field, message)


def test_an_override_that_matches_no_config(tmp_path: Path) -> None:
    draft = grid_draft(tmp_path, {"per_channel": True}, {"per_channel": False, "reduce_range": True})
    assert GRID_RULES[0].check(draft) == ("overrides[1].when", "matches no config of the benchmarked grid")


def test_every_rule_is_tested() -> None:
    every = [*(r for rules in SECTION_RULES.values() for r in rules), *SUITE_RULES, *GATE_RULES]
    every += [*OVERRIDE_RULES, *CONFIG_RULES, *GRID_RULES, *READING_RULES, *UNION_RULES]
    tested = [row[0] for row in BROKEN] + list(GRID_RULES)
    assert sorted(map(id, every)) == sorted(map(id, tested))


VALID: list[tuple[tuple[Rule[Any], ...], Any]] = [
    (SECTION_RULES["calibration"], Calibration(method="minmax", padding="none")),
    (SECTION_RULES["calibration"], Calibration(method="entropy", padding="longest")),
    (SUITE_RULES, suite_draft(fixed={"per_channel": True}, benchmarked={"reduce_range": (True, False)})),
    (SUITE_RULES, suite_draft({"model_name_or_path": "./"}, dataset=DatasetSpec(path="csv", data_files="*.csv"))),
    (SUITE_RULES, suite_draft(fixed={"preset": "quint8_avx2", "node_exclusion": ("gelu",)})),
    (SUITE_RULES, embedding_draft(("primary", "sentence1"), ("secondary", "sentence2"))),
    (GATE_RULES, DraftGate("accuracy", Threshold(max_drop=0.01, confidence=0.95), KNOWN_GATES)),
    (GATE_RULES, DraftGate("speedup", Threshold(min=1.1, on_inconclusive="pass"), KNOWN_GATES)),
    (GATE_RULES, DraftGate("memory", Threshold(max_ratio=1.2), KNOWN_GATES)),
    (OVERRIDE_RULES, DraftOverride({"per_channel": True}, ("per_channel", "reduce_range"))),
    (CONFIG_RULES, config()),
    (CONFIG_RULES, config(framework="pytorch", quantization_approach="dynamic", per_channel=True)),
    (CONFIG_RULES, config(**STATIC_QDQ, per_channel=True, activations_dtype="uint16", fp32_outputs=("MatMul",))),
    (CONFIG_RULES, config(**STATIC_QDQ, per_channel=True, framework_args=FrameworkArgs(opset=13))),
    (CONFIG_RULES, config(quantization_approach="static", format="qoperator", framework_args=FrameworkArgs(opset=11))),
    # HQQ with its 8-bit MatMuls at int8 compute (round to nearest reads accuracy_level), and RTN at int8 compute
    (
        CONFIG_RULES,
        config(
            quantization_approach="weight_only",
            weight_only=WeightOnly(algorithm="hqq", accuracy_level=4, keep_8bit=("/lm_head/MatMul",)),
        ),
    ),
    (CONFIG_RULES, config(quantization_approach="weight_only", weight_only=WeightOnly(accuracy_level=4))),
]


@pytest.mark.parametrize(("rules", "subject"), VALID)
def test_a_valid_subject_keeps_every_rule(rules: tuple[Rule[Any], ...], subject: Any) -> None:
    assert [r.check(subject) for r in rules] == [None] * len(rules)


def test_a_valid_grid_keeps_every_rule(tmp_path: Path) -> None:
    draft = grid_draft(tmp_path, {"per_channel": True}, {"per_channel": False, "reduce_range": False})
    assert [r.check(draft) for r in GRID_RULES] == [None]


def test_the_first_broken_rule_is_the_error_placed_where_the_subject_sits() -> None:
    subject = config(framework="pytorch", quantization_approach="static", activations_dtype="int16")
    with pytest.raises(SuiteError) as info:
        rules.check(HERE, CONFIG_RULES, subject, lambda key: f"benchmarked.{key}")
    assert info.value.field == "benchmarked.framework"
    assert info.value.message == (
        "pytorch runs dynamic quantization only: static configs need framework onnxruntime or openvino"
    )
    gate = DraftGate("accuracy", Threshold(min=0.5, confidence=0.9), KNOWN_GATES)
    with pytest.raises(SuiteError, match="needs max_drop") as info:
        rules.check(HERE, GATE_RULES, gate, rules.under("overrides[0].thresholds.accuracy"))
    assert info.value.field == "overrides[0].thresholds.accuracy.confidence"
