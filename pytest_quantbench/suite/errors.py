"""Pydantic's validation errors worded as one `SuiteError`: the dotted field and a sentence a user can act on.

The wording is the package's own (and older than the models): `fixed.per_channel: expected true or false,
got string 'yes please'`. Field names, choices and ranges are read from the models, so nothing is restated.
"""

from __future__ import annotations

import difflib
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from pytest_quantbench.errors import SuiteError

Loc = tuple[str | int, ...]
CUSTOM = "suite"  # the error type of the checks that word their own message


class Wording:
    """Field metadata: how errors at this field read where the generic sentence would mislead.

    Keys are pydantic error types (`list_type`, `too_short`, ...) or `any`; values are format strings over
    `type` (the YAML type of the input), `input` and `count` (its length).
    """

    def __init__(self, **messages: str) -> None:
        self.messages = messages

    def get(self, kind: str) -> str | None:
        return self.messages.get(kind, self.messages.get("any"))


def invalid(message: str) -> PydanticCustomError:
    """An error whose message is already in the suite's wording (raised by the models' own checks)."""
    return PydanticCustomError(CUSTOM, message)  # without a context, pydantic keeps the text as it is


def typename(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def close_match(word: str, candidates: tuple[str, ...]) -> list[str]:
    """The likely intended name: a close spelling, else one sharing the first three letters."""
    return difflib.get_close_matches(word, candidates, n=1) or [c for c in candidates if c[:3] == word[:3]][:1]


def unknown_field(key: Any, allowed: tuple[str, ...]) -> str:
    hint = close_match(str(key), allowed)
    return "unknown field" + (f" (did you mean '{hint[0]}'?)" if hint else f" (known: {', '.join(allowed)})")


def unknown_value(value: Any, choices: tuple[Any, ...]) -> str:
    hint = close_match(str(value), tuple(map(str, choices)))
    suggestion = f"did you mean '{hint[0]}'? " if hint else ""
    return f"unknown value {value!r} ({suggestion}known: {', '.join(map(str, choices))})"


def dotted(loc: Loc) -> str:
    """`benchmarked.operators_to_quantize[0][1]`: keys joined by dots, list indexes in brackets."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def suite_error(exc: ValidationError, model: type[BaseModel], raw: Any, path: Path, prefix: Loc = ()) -> SuiteError:
    """The first of the errors in document order (unknown and missing keys of a mapping before its values).

    `raw` is the data `model` validated; `prefix` is where that data sits in the file.
    """
    spots = [_Spot(model, err) for err in exc.errors()]
    first = min(spots, key=lambda spot: _position(raw, spot))  # min is stable: pydantic's order breaks ties
    return SuiteError(path, dotted(prefix + first.loc), first.message())


class _Spot:
    """One pydantic error placed in the file: its loc without union member names, and the type expected there."""

    def __init__(self, model: type[BaseModel], error: Any) -> None:
        self.error = error
        self.kind: str = error["type"]
        self.owner = model  # the innermost model on the path: the one an unknown key is unknown to
        self.metadata: list[Any] = []  # constraints and wording of the type at the end of the path
        annotation: Any = model
        loc: list[str | int] = []
        for part in error["loc"]:
            annotation = self._unwrap(annotation)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                self.owner = annotation
                info = annotation.model_fields.get(part) if isinstance(part, str) else None
                annotation, self.metadata = (Any, []) if info is None else (info.annotation, list(info.metadata))
                loc.append(part)
            elif get_origin(annotation) in (Union, types.UnionType):
                # pydantic names the member it tried; a tagged member (a `benchmarked` grid or list of grids) is
                # the one its tag names, else the error is the field's, with every member's constraints
                tagged = [m for m in get_args(annotation) if part in _tags(m)]
                for member in tagged or get_args(annotation):
                    self._unwrap(member)
                annotation = tagged[0] if tagged else Any
            elif part != "[key]":  # a list index or a mapping key (a bad key itself is reported at the key)
                args = get_args(annotation)
                annotation, self.metadata = (args[-1] if args else Any), []
                loc.append(part)
        self.annotation = self._unwrap(annotation)
        self.loc: Loc = tuple(loc)

    def _unwrap(self, annotation: Any) -> Any:
        """Strip `Annotated` (keeping its metadata) and `| None` (an error under it is the inner type's)."""
        while True:
            if get_origin(annotation) is Annotated:
                annotation, *extra = get_args(annotation)
                for item in extra:
                    self.metadata += item.metadata if isinstance(item, FieldInfo) else [item]
            elif get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation):
                members = [a for a in get_args(annotation) if a is not type(None)]
                annotation = members[0] if len(members) == 1 else Union[tuple(members)]  # noqa: UP007
            else:
                return annotation

    def message(self) -> str:
        kind, value = self.kind, self.error["input"]
        if kind == CUSTOM:
            return self.error["msg"]
        wording = next((m for m in self.metadata if isinstance(m, Wording)), None)
        template = wording.get(kind) if wording else None
        if template:
            return template.format(type=typename(value), input=value, count=len(value) if _sized(value) else 0)
        if kind == "extra_forbidden":
            return unknown_field(self.loc[-1], tuple(self.owner.model_fields))
        if kind == "missing":
            return "is required"
        if kind in ("model_type", "dict_type"):
            return f"expected a mapping, got {typename(value)}"
        if kind == "literal_error":
            return unknown_value(value, get_args(self.annotation) if get_origin(self.annotation) is Literal else ())
        if kind in ("greater_than_equal", "less_than_equal") and value == value:  # NaN is no number
            low = next(m.ge for m in self.metadata if getattr(m, "ge", None) is not None)
            high = next(m.le for m in self.metadata if getattr(m, "le", None) is not None)
            return f"{value} is out of range [{low}, {high}]"
        expected = {
            "bool_type": "true or false",
            "int_type": "an integer",
            "float_type": "a number",
            "greater_than_equal": "a number",
            "less_than_equal": "a number",
            "string_type": "a non-empty string",
            "string_pattern_mismatch": "a non-empty string",
            "list_type": "a list",
        }.get(kind)
        if expected is None:  # a constraint the models use without wording it: pydantic's sentence
            return self.error["msg"][0].lower() + self.error["msg"][1:]
        return f"expected {expected}, got {typename(value)} {value!r}"


def _tags(member: Any) -> tuple[str, ...]:
    """The tags (`pydantic.Tag`) a union member is annotated with."""
    extra = get_args(member)[1:] if get_origin(member) is Annotated else ()
    return tuple(item.tag for item in extra if isinstance(item, Tag))


def _sized(value: Any) -> bool:
    return isinstance(value, (list, dict, str))


def _position(raw: Any, spot: _Spot) -> list[tuple[int, int]]:
    """Sort key: per level of the path, (rank, index in the file); an unknown key ranks 0, a missing one 1."""
    key, node = [], raw
    for depth, part in enumerate(spot.loc):
        last = depth == len(spot.loc) - 1
        rank = {"extra_forbidden": 0, "missing": 1}.get(spot.kind, 2) if last else 2
        if isinstance(node, dict) and part in node:
            key.append((rank, list(node).index(part)))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            key.append((rank, part))
            node = node[part]
        else:
            key.append((rank, 1 << 30))
            node = None
    return key
