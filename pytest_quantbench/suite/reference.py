"""The suite reference: the JSON Schema of suite files (`jsonschema.py`) written out as a Markdown page, one
table per object (the file itself, then each definition in the order the file reaches it) with every field's
type, default, choices or range and description.

`docs/suite-reference.md` is its output (`quantbench schema --markdown -o docs/suite-reference.md`); the
documentation site's build writes it again from the schema (`docs/hooks/suite_reference.py`) and a test
keeps the committed page equal to it, so the page cannot drift from the vocabulary.
"""

from __future__ import annotations

import json
import re
from typing import Any

Schema = dict[str, Any]

INTRO = (
    "Every field of a suite file, generated from the suite files' JSON Schema (`quantbench schema`), so it\n"
    "cannot drift from what collection accepts. The schema checks each field alone; the rules across fields\n"
    "(a setting both in `fixed` and `benchmarked`, a `when` that matches no config, paths that must exist) are\n"
    "checked at collection. [Suite files](suite-files.md) explains the vocabulary with an example.\n"
    "\n"
    "Regenerate with `quantbench schema --markdown -o docs/suite-reference.md`."
)
NOT_GIVEN = "—"
NON_EMPTY = r"\S"  # the models' pattern for "a non-blank string"


def _ref_name(ref: str) -> str:
    """`#/$defs/CalibrationSchema` -> `calibration`: the section of that definition."""
    stem = ref.rsplit("/", 1)[-1].removesuffix("Schema")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower()


def _link(ref: str) -> str:
    return f"[{_ref_name(ref)}](#{_ref_name(ref)})"


def _alternatives(field: Schema) -> list[Schema]:
    """The forms a field may take, `null` left out (it means "not given")."""
    return [option for option in field.get("anyOf", [field]) if option.get("type") != "null"]


def _type(field: Schema) -> str:
    """A short type: `integer`, `list of string`, `list of list of string`, a link to an object's section."""
    if "$ref" in field:
        return _link(field["$ref"])
    if "const" in field:
        return f"`{json.dumps(field['const'])}`"
    kind = str(field.get("type", "any"))
    if kind == "array":
        return f"list of {_type(field['items'])}" if field.get("items") else "list"
    if kind == "object" and isinstance(field.get("additionalProperties"), dict):
        return f"mapping of name to {_type(field['additionalProperties'])}"
    return "mapping" if kind == "object" else kind


def _choices(field: Schema) -> str:
    """Allowed values or bounds of a field (or of its list's items), in words."""
    parts = []
    for option in _alternatives(field):
        while option.get("type") == "array" and isinstance(option.get("items"), dict) and option["items"]:
            option = option["items"]
        if "enum" in option:
            parts.append(", ".join(f"`{json.dumps(value).strip(chr(34))}`" for value in option["enum"]))
        bounds = [option.get("minimum"), option.get("maximum")]
        if bounds != [None, None]:
            low, high = ("" if b is None else _number(b) for b in bounds)
            parts.append(f"{low} to {high}" if low and high else f"≥ {low}" if low else f"≤ {high}")
        if "pattern" in option and option["pattern"] != NON_EMPTY:
            parts.append(f"matches `{option['pattern']}`")
    return "; ".join(parts) or NOT_GIVEN


def _default(field: Schema) -> str:
    if "default" not in field:
        return NOT_GIVEN
    return f"`{json.dumps(field['default'])}`"


def _cell(text: str) -> str:
    """Table-safe text: pipes escaped, angle brackets outside code spans kept from reading as HTML."""
    spans = text.replace("|", "\\|").replace("\n", " ").split("`")
    prose = {i: span.replace("<", "&lt;").replace(">", "&gt;") for i, span in enumerate(spans) if i % 2 == 0}
    return "`".join(prose.get(i, span) for i, span in enumerate(spans))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _field_row(name: str, field: Schema, required: bool, definitions: Schema) -> str:
    kinds = " or ".join(_type(option) for option in _alternatives(field))
    held = [definitions[ref.rsplit("/", 1)[-1]] for ref in _refs(field)]  # an object's field says what it is
    description = _cell(field.get("description") or (held[0].get("description", "") if held else ""))
    name_cell = f"`{name}`" + (" (required)" if required else "")
    return f"| {name_cell} | {kinds} | {_default(field)} | {_cell(_choices(field))} | {description} |"


def _fields_table(definition: Schema, definitions: Schema) -> list[str]:
    required = set(definition.get("required", []))
    rows = ["| field | type | default | choices | description |", "| --- | --- | --- | --- | --- |"]
    for name, field in definition.get("properties", {}).items():
        rows.append(_field_row(name, field, name in required, definitions))
    return rows


def _refs(value: Any) -> list[str]:
    """Every `$ref` under a schema value, in document order."""
    if isinstance(value, dict):
        own = [value["$ref"]] if "$ref" in value else []
        return own + [ref for key, item in value.items() if key != "$ref" for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def _reach_order(schema: Schema) -> list[str]:
    """The definitions in the order a reader meets them, from the top-level fields down."""
    order: list[str] = []
    pending = _refs(schema.get("properties", {}))
    while pending:
        ref = pending.pop(0)
        if ref not in order:
            order.append(ref)
            pending += _refs(schema["$defs"][ref.rsplit("/", 1)[-1]].get("properties", {}))
    return order


def _used_by(schema: Schema) -> dict[str, list[str]]:
    """For each definition, the fields that hold it (`fixed.calibration`), for the line under its heading."""
    holders: dict[str, list[str]] = {}
    owners = {"": schema, **{_ref_name(f"#/$defs/{name}"): d for name, d in schema["$defs"].items()}}
    for owner, definition in owners.items():
        for name, field in definition.get("properties", {}).items():
            for ref in dict.fromkeys(_refs(field)):
                holders.setdefault(ref, []).append(f"`{owner}.{name}`" if owner else f"`{name}`")
    return holders


def _names_section(schema: Schema) -> list[str]:
    """What `thresholds` keys and `metrics` values a suite may name, per task (the schema's `allOf`)."""
    names = schema["properties"]["thresholds"].get("propertyNames", {}).get("anyOf", [])
    words = [f"`{word}`" for option in names for word in option.get("enum", [])]
    patterns = [f"`{option['pattern']}`" for option in names if "pattern" in option]
    lines = [
        "## Names",
        "",
        "`thresholds` keys: " + ", ".join(words + [f"a name matching {p}" for p in patterns]) + ".",
    ]
    lines += ["", "`metrics` per task:", "", "| task | metrics |", "| --- | --- |"]
    for rule in schema.get("allOf", []):
        task = rule["if"]["properties"]["task"]["const"]
        metrics = rule["then"]["properties"]["metrics"]["items"]["enum"]
        lines.append(f"| `{task}` | {', '.join(f'`{m}`' for m in metrics) or NOT_GIVEN} |")
    return lines


def reference_markdown(schema: Schema) -> str:
    """The whole reference page for a suite-file JSON Schema."""
    holders = _used_by(schema)
    lines = ["# Suite reference", "", INTRO, "", "## Suite file", "", _cell(schema.get("description", "")), ""]
    lines += _fields_table(schema, schema["$defs"])
    for ref in _reach_order(schema):
        definition = schema["$defs"][ref.rsplit("/", 1)[-1]]
        lines += ["", f"## {_ref_name(ref)}", "", _cell(definition.get("description", ""))]
        lines += ["", "Used by " + ", ".join(holders.get(ref, [])) + ".", ""]
        lines += _fields_table(definition, schema["$defs"])
    lines += ["", *_names_section(schema)]
    return "\n".join(lines) + "\n"
