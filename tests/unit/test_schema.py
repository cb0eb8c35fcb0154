"""The suite schema: the shipped JSON Schema is the models' own, the shipped suites pass it, and the
vocabulary of tasks and metrics can be swapped."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from malformed_suites import BASE

from pytest_quantbench.cli import main
from pytest_quantbench.errors import SuiteError
from pytest_quantbench.suite import (
    Calibration,
    DatasetSpec,
    FrameworkArgs,
    Nncf,
    QuantConfig,
    Suite,
    TaskVocabulary,
    Threshold,
    TimeSpec,
    Vocabulary,
    WeightOnly,
    json_schema,
    jsonable,
    load_suite,
)
from pytest_quantbench.suite.jsonschema import SCHEMA_FILE
from pytest_quantbench.suite.models import AUTO_ROUNDS, DatasetSchema, SuiteSchema, ThresholdSchema, TimeSchema
from pytest_quantbench.suite.settings import (
    CalibrationSchema,
    FixedSchema,
    FrameworkArgsSchema,
    NncfSchema,
    Section,
    WeightOnlySchema,
    plain,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_SUITES = sorted(p for folder in ("benchmarks", "examples") for p in (ROOT / folder).rglob("*.suite.yaml"))
# The keywords the schema uses, all of which `_validate` below checks: a new one must be added there too.
KEYWORDS = {
    "$schema", "$id", "$defs", "$ref", "title", "description", "default", "type", "enum", "const", "properties",
    "additionalProperties", "required", "items", "minItems", "maxItems", "anyOf", "allOf", "if", "then",
    "pattern", "minimum", "maximum", "propertyNames", "minProperties",
}  # fmt: skip
TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
    "integer": int,
    "number": (int, float),
}


def _keywords(schema: Any) -> set[str]:
    if isinstance(schema, list):
        return set().union(*map(_keywords, schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    found = set(schema)
    for key, value in schema.items():
        if key in ("properties", "$defs"):
            found |= set().union(*map(_keywords, value.values())) if value else set()
        elif key not in ("enum", "const", "default", "required"):
            found |= _keywords(value)
    return found


def _errors(value: Any, schema: dict, root: dict, where: str = "") -> list[str]:
    """A JSON Schema (2020-12) check of the keywords above: enough to hold the shipped file to the YAML."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _errors(value, target, root, where)
    errors: list[str] = []
    if "type" in schema:
        kind = TYPES[schema["type"]]
        if not isinstance(value, kind) or (isinstance(value, bool) and schema["type"] in ("integer", "number")):
            return [f"{where}: not {schema['type']}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in enum")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        errors.append(f"{where}: {value} out of range")
    if "anyOf" in schema and all(_errors(value, s, root, where) for s in schema["anyOf"]):
        errors.append(f"{where}: matches no anyOf branch")
    for sub in schema.get("allOf", []):
        if "if" in sub and not _errors(value, sub["if"], root, where):
            errors += _errors(value, sub["then"], root, where)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"{where}.{key}: is required" for key in schema.get("required", []) if key not in value]
        if len(value) < schema.get("minProperties", 0):
            errors.append(f"{where}: too few properties")
        for key, item in value.items():
            if "propertyNames" in schema:
                errors += _errors(key, schema["propertyNames"], root, f"{where}.{key}")
            if key in properties:
                errors += _errors(item, properties[key], root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}.{key}: unknown")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += _errors(item, schema["additionalProperties"], root, f"{where}.{key}")
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            errors.append(f"{where}: wrong number of items")
        if "items" in schema:
            errors += [e for i, item in enumerate(value) for e in _errors(item, schema["items"], root, f"{where}[{i}]")]
    return errors


@pytest.fixture(scope="module")
def shipped() -> dict:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def test_shipped_schema_is_the_models_own(shipped: dict) -> None:
    assert shipped == json_schema(), "stale: run `quantbench schema -o pytest_quantbench/suite/suite.schema.json`"


def test_schema_is_draft_2020_12_with_resolvable_refs(shipped: dict) -> None:
    assert shipped["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert shipped["$id"]
    assert _keywords(shipped) <= KEYWORDS
    refs = re.findall(r'"\$ref": "#/\$defs/(\w+)"', json.dumps(shipped))
    assert refs and set(refs) <= set(shipped["$defs"])
    assert shipped["properties"]["task"]["enum"] == list(Vocabulary.default().tasks)
    assert set(shipped["required"]) == {"task", "model_name_or_path", "dataset"}


@pytest.mark.parametrize("path", SHIPPED_SUITES, ids=lambda p: p.name)
def test_shipped_suites_pass_the_shipped_schema(shipped: dict, path: Path) -> None:
    assert load_suite(path).cases
    assert _errors(yaml.safe_load(path.read_text(encoding="utf-8")), shipped, shipped) == []


@pytest.mark.parametrize(
    "extra",
    [
        "benchmarked: {per_channel: [yes please]}\n",
        "fixed: {calibration: {method: kl}}\n",
        "time: {batch_sizes: []}\n",
        "thresholds: {accuracy: {}}\n",
        "metrics: [seqeval]\n",
        "fixed: {quantization_approach: dynamc}\n",
        "baseline: tensorflow\n",
    ],
)
def test_schema_refuses_what_the_loader_refuses(shipped: dict, tmp_path: Path, extra: str) -> None:
    path = tmp_path / "bad.suite.yaml"
    path.write_text(BASE + extra)
    with pytest.raises(SuiteError):
        load_suite(path)
    assert _errors(yaml.safe_load(BASE + extra), shipped, shipped)


def test_cli_writes_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "-o", str(tmp_path / "suite.schema.json")]) == 0
    assert (tmp_path / "suite.schema.json").read_text(encoding="utf-8") == SCHEMA_FILE.read_text(encoding="utf-8")
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()


def test_model_defaults_are_the_records_defaults() -> None:
    assert CalibrationSchema().record() == Calibration()
    assert FrameworkArgsSchema().record() == FrameworkArgs()
    assert TimeSchema().record() == TimeSpec()
    defaults = {k: v for k, v in FixedSchema().model_dump().items() if v is not None}
    assert QuantConfig(**FixedSchema.model_validate(defaults).given()) == QuantConfig()


# Each model with the record it builds. Defaults are written once, in the records: a model's default, and the
# default the JSON Schema shows editors, must be its record's for every field the file can give.
MODELS_AND_RECORDS = [
    (CalibrationSchema, Calibration),
    (FrameworkArgsSchema, FrameworkArgs),
    (WeightOnlySchema, WeightOnly),
    (NncfSchema, Nncf),
    (FixedSchema, QuantConfig),
    (DatasetSchema, DatasetSpec),
    (TimeSchema, TimeSpec),
    (ThresholdSchema, Threshold),
    (SuiteSchema, Suite),
]
BUILDER_FILLS = {"base_dir", "timed_by_length", "decodes", "cases", "grids"}  # record fields no file gives
TASK_DECIDES = {(DatasetSchema, "data_keys"), (DatasetSchema, "ref_keys")}  # not the record's default


@pytest.mark.parametrize(("model", "record"), MODELS_AND_RECORDS, ids=lambda v: v.__name__)
def test_every_default_is_the_records(shipped: dict, model: type[Section], record: type) -> None:
    exported = shipped if model is SuiteSchema else shipped["$defs"][model.__name__]
    checked = 0
    for field in dataclasses.fields(record):
        if field.default is dataclasses.MISSING or field.name in BUILDER_FILLS:
            continue
        info = model.model_fields[field.name]  # a KeyError: a record default no file can set
        shown = exported["properties"][field.name].get("default")
        if (model, field.name) in TASK_DECIDES:
            assert info.default is None and shown is None
            continue
        default = plain(info.get_default(call_default_factory=True))
        if (model, field.name) == (TimeSchema, "rounds"):  # the file spells the record's None "auto"
            assert (default, shown, field.default) == (AUTO_ROUNDS, AUTO_ROUNDS, None)
            continue
        assert default == field.default, f"{model.__name__}.{field.name}"
        if not dataclasses.is_dataclass(field.default):  # a section's defaults are its own model's
            assert shown == jsonable(field.default), f"{model.__name__}.{field.name} in suite.schema.json"
        checked += 1
    assert checked >= 3


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "demo.suite.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_first_error_in_document_order(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "fixed: {per_channel: x}\ntime: {batch_sizes: [0]}\n")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert info.value.field == "fixed.per_channel"
    assert info.value.message == "expected true or false, got string 'x'"


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        (
            "benchmarked: {calibration: [{method: minmax}]}\noverrides: [{when: {calibration: {method: kl}}}]\n",
            "overrides[0].when.calibration.method",
            "unknown value 'kl' (known: minmax, entropy, percentile)",
        ),
        ("time: {rounds: fast}\n", "time.rounds", "expected an integer, got string 'fast'"),
        ("time: {rounds: 0}\n", "time.rounds", "0 is out of range [1, 100000]"),
        ("time: {max_time_s: .nan}\n", "time.max_time_s", "expected a number, got float nan"),
        (
            "thresholds: {accuracy: {min: -2000000}}\n",
            "thresholds.accuracy.min",
            "-2000000 is out of range [-1000000.0, 1000000.0]",
        ),
        ("overrides: {when: {}}\n", "overrides", "expected a list, got mapping"),
    ],
)
def test_error_wording(tmp_path: Path, extra: str, field: str, message: str) -> None:
    with pytest.raises(SuiteError) as info:
        load_suite(write(tmp_path, BASE + extra))
    assert (info.value.field, info.value.message) == (field, message)


def test_a_vocabulary_adds_tasks_and_metrics(tmp_path: Path) -> None:
    default = Vocabulary.default()
    speech = TaskVocabulary(
        metrics=("wer",), default_metrics=("wer",), default_data_keys={"primary": "audio"}, default_ref_keys=("text",)
    )
    vocabulary = Vocabulary(tasks={**default.tasks, "speech-recognition": speech})
    path = write(tmp_path, "task: speech-recognition\nmodel_name_or_path: m\ndataset: {path: x}\n")
    suite = load_suite(path, vocabulary)
    assert (suite.metrics, suite.dataset.primary, suite.dataset.ref_keys) == (("wer",), "audio", ("text",))
    with pytest.raises(SuiteError, match="task: unknown value 'speech-recognition'"):
        load_suite(path)
    schema = json_schema(vocabulary)
    assert "speech-recognition" in schema["properties"]["task"]["enum"]
    assert "wer" in schema["properties"]["metrics"]["items"]["enum"]


def test_plugin_import_does_not_import_pydantic() -> None:
    code = "import sys, pytest_quantbench.plugin; assert 'pydantic' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
