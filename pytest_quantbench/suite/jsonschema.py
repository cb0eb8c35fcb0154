"""The JSON Schema of suite files (draft 2020-12), for editors and linters: the models' own schema, with
the words of the run's vocabulary (tasks, metrics, backends) put in where the models leave them open.

`suite.schema.json` beside this module is its output for the package's own vocabulary
(`quantbench schema -o pytest_quantbench/suite/suite.schema.json`); a test keeps the two equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from pytest_quantbench.suite.models import SuiteSchema
from pytest_quantbench.suite.thresholds import COUNTED_GATE_PATTERNS, GATES
from pytest_quantbench.suite.vocabulary import Vocabulary

SCHEMA_FILE = Path(__file__).with_name("suite.schema.json")
SCHEMA_ID = "urn:pytest-quantbench:suite.schema.json"  # no published URL yet: point editors at a file
DRAFT = "https://json-schema.org/draft/2020-12/schema"


class _Generator(GenerateJsonSchema):
    """Leaves out `None` defaults: they mean "not given" here, not null."""

    def default_schema(self, schema: Any) -> Any:
        if "default" in schema and schema["default"] is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


def json_schema(vocabulary: Vocabulary | None = None) -> dict[str, Any]:
    """The JSON Schema of suite files; tasks, metrics and backends from the vocabulary, the metrics of each
    task under `allOf`."""
    vocabulary = vocabulary or Vocabulary.default()
    schema = SuiteSchema.model_json_schema(schema_generator=_Generator)
    metrics = list(dict.fromkeys(m for task in vocabulary.tasks.values() for m in task.metrics))
    backends = list(vocabulary.backends)
    properties, definitions = schema["properties"], schema["$defs"]
    properties["task"]["enum"] = list(vocabulary.tasks)
    definitions["FixedSchema"]["properties"]["framework"]["enum"] = backends
    definitions["BenchmarkedSchema"]["properties"]["framework"]["items"]["enum"] = backends
    properties["baseline"]["enum"] = backends
    # one grid or a list of grids (or null): disjoint by type, so the plain alternatives of `anyOf` say it
    grid_forms = properties["benchmarked"]["anyOf"]
    properties["benchmarked"]["anyOf"] = [*grid_forms[0]["oneOf"], *grid_forms[1:]]
    properties["metrics"]["items"]["enum"] = metrics
    counted = [{"pattern": pattern} for pattern in COUNTED_GATE_PATTERNS]  # `neighbours@20`
    properties["thresholds"]["propertyNames"] = {"anyOf": [{"enum": [*metrics, *GATES]}, *counted]}
    override = definitions["OverrideSchema"]["properties"]
    # `when` is read as `fixed` is, once the benchmarked keys are known (`build._override`)
    override["when"] = {"$ref": "#/$defs/FixedSchema", **{k: override["when"][k] for k in ("title", "description")}}
    schema["allOf"] = [
        {
            "if": {"properties": {"task": {"const": name}}, "required": ["task"]},
            "then": {"properties": {"metrics": {"items": {"enum": list(task.metrics)}}}},
        }
        for name, task in vocabulary.tasks.items()
    ]
    return {"$schema": DRAFT, "$id": SCHEMA_ID, **schema}
