"""The suite's data checked against the suite and the model before anything is built.

A missing column, an unknown split, a null text or a label the model's head cannot output would otherwise
surface minutes later as a tokenizer or scoring traceback; each is one `DataError` line here, naming the
suite file, the field and what was found. What a valid row or label is belongs to the task
(`Task.check_input`, `Task.check_references`); this module only walks the data.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pytest_quantbench.data.prepare import EmptySplit, SplitNotFound
from pytest_quantbench.errors import DataError
from pytest_quantbench.suite import DEFAULT_INPUT_LENGTH, DEFAULT_MAX_LENGTH, Suite
from pytest_quantbench.tasks import Task

ROWS_PER_READ = 256


def _columns_hint(column: str, columns: list[str]) -> str:
    close = difflib.get_close_matches(column, columns, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"({hint}columns: {', '.join(columns)})"


def check_columns(suite: Suite, dataset: Any, split: str) -> None:
    """Every column the suite names is in the split, and the split has rows."""
    spec = suite.dataset
    columns = list(dataset.column_names)
    named = [(f"dataset.data_keys.{key}", column) for key, column in spec.data_keys]
    named += [(f"dataset.ref_keys[{i}]", column) for i, column in enumerate(spec.ref_keys)]
    for field, column in named:
        if column not in columns:
            raise DataError(
                suite.path, field, f"no column '{column}' in split '{split}' {_columns_hint(column, columns)}"
            )
    if len(dataset) == 0:
        field = "dataset.eval_split" if split == spec.eval_split else "dataset.calibration_split"
        raise DataError(suite.path, field, f"split '{split}' is empty")


def _values(dataset: Any, column: str, suite: Suite, split: str, field: str) -> Iterator[tuple[int, Any]]:
    """A column's values with their rows, `ROWS_PER_READ` at a time (never the whole column at once: an image
    column decodes as it is read); a value that does not decode (an image file) is named with its row."""
    values = dataset.select_columns([column])
    for start in range(0, len(dataset), ROWS_PER_READ):
        try:
            yield from enumerate(values[start : start + ROWS_PER_READ][column], start)
            continue
        except Exception:  # find the row, and say what it is
            pass
        for row in range(start, min(start + ROWS_PER_READ, len(dataset))):
            try:
                yield row, values[row][column]
            except Exception as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise DataError(
                    suite.path, field, f"split '{split}', row {row}: '{column}' does not decode: {reason}"
                ) from None


def check_rows(suite: Suite, task: Task, dataset: Any, split: str, id2label: dict[int, str], label_names: Any) -> None:
    """The rows that will be used: inputs the task can encode and references the model's labels cover. Inputs
    are read a chunk at a time; the reference column is read alone (one small value per row, as evaluation
    keeps its references)."""
    spec = suite.dataset
    for key, column in spec.data_keys:
        field = f"dataset.data_keys.{key}"
        for row, value in _values(dataset, column, suite, split, field):
            problem = task.check_input(value)
            if problem:
                raise DataError(suite.path, field, f"split '{split}', row {row}: '{column}' {problem}")
    if not spec.ref_keys:  # label-free: gated on fidelity alone
        return
    column = spec.ref_keys[0]
    problem = task.check_references(list(dataset[column]), label_names, id2label)
    if problem:
        raise DataError(suite.path, "dataset.ref_keys[0]", f"split '{split}', column '{column}': {problem}")


def position_offset(config: dict[str, Any]) -> int:
    """Positions a model spends before its first token.

    Fairseq-style encoders (RoBERTa, XLM-R, CamemBERT, MPNet, Longformer, ...) number positions from
    `pad_token_id + 1`, so `max_position_embeddings` overstates their limit by that much. transformers marks
    them with a module-level `create_position_ids_from_input_ids`; asking the model's own module keeps this
    right for architectures added after this was written, where a table of model types would not.
    """
    from transformers.models.auto.configuration_auto import model_type_to_module_name

    pad = config.get("pad_token_id")
    model_type = config.get("model_type")
    if not isinstance(pad, int) or not isinstance(model_type, str):
        return 0
    name = model_type_to_module_name(model_type)
    try:
        module = importlib.import_module(f"transformers.models.{name}.modeling_{name}")
    except Exception:  # an architecture this transformers lacks: the model check reports it
        return 0
    return pad + 1 if hasattr(module, "create_position_ids_from_input_ids") else 0


def position_limit(config: dict[str, Any]) -> int | None:
    """The longest input the model's position embeddings take (config.json `max_position_embeddings`, or
    GPT-2-style `n_positions`)."""
    limit = config.get("max_position_embeddings", config.get("n_positions"))
    if not isinstance(limit, int) or config.get("position_embedding_type", "absolute") != "absolute":
        return None
    return limit - position_offset(config)


def check_lengths(suite: Suite, config: dict[str, Any]) -> None:
    """A `max_length` or timed `input_lengths` the suite gives fits the model's positions: past them it crashes
    or reads garbage. What the suite leaves out adapts instead (`fitted_lengths`)."""
    limit = position_limit(config)
    if limit is None or not suite.timed_by_length:
        return
    where = f"the model's position limit {limit} (config.json max_position_embeddings)"
    if suite.dataset.max_length is not None and suite.dataset.max_length > limit:
        raise DataError(suite.path, "dataset.max_length", f"{suite.dataset.max_length} is above {where}")
    for i, length in enumerate(suite.time.input_lengths or ()):
        if length > limit:
            raise DataError(suite.path, f"time.input_lengths[{i}]", f"{length} is above {where}")


@dataclass(frozen=True)
class FittedLengths:
    """The lengths a suite is encoded and timed at, for its model."""

    max_length: int
    default_input_length: int  # what the default timed length becomes (a suite that gives input_lengths: unused)
    notes: tuple[str, ...] = ()  # one line per default that adapted to the model


def fitted_lengths(suite: Suite, config: dict[str, Any]) -> FittedLengths:
    """The suite's `max_length` and default timed length: as given, else the defaults cut to the model's
    position limit where that is lower, each said once (the latency ids keep naming the default)."""
    limit = position_limit(config) if suite.timed_by_length else None
    defaults = [  # (field, the suite's value, the default, what the cut length is used for)
        ("dataset.max_length", suite.dataset.max_length, DEFAULT_MAX_LENGTH, "truncating at {n}"),
        ("time.input_lengths", suite.time.input_lengths, DEFAULT_INPUT_LENGTH, "timing at {n} (ids keep len{d})"),
    ]
    fitted, notes = [], []
    for field, given, default, use in defaults:
        cut = given is None and limit is not None and limit < default
        fitted.append(limit if cut and limit is not None else default)
        if cut:
            notes.append(
                f"{suite.path}: {field} not given: {use.format(n=limit, d=default)}, the model's position limit "
                f"(the default {default} is above it)"
            )
    return FittedLengths(suite.dataset.max_length or fitted[0], fitted[1], tuple(notes))


def load_failure(suite: Suite, split: str, exc: Exception) -> DataError:
    """An error while loading a split as one line: an unknown or empty split (`prepare`'s signals), or the
    root cause."""
    field = "dataset.eval_split" if split == suite.dataset.eval_split else "dataset.calibration_split"
    if isinstance(exc, SplitNotFound):
        known = f" (splits: {list(exc.known)})" if exc.known else ""
        return DataError(suite.path, field, f"no split '{split}' in the dataset{known}")
    if isinstance(exc, EmptySplit):
        return DataError(suite.path, field, f"split '{split}' is empty")
    reasons: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(reasons) < 4:
        line = " ".join(str(cause).split())
        if line and line not in reasons:
            reasons.append(line)
        cause = cause.__cause__ or cause.__context__
    reason = ": ".join(reasons) or type(exc).__name__
    return DataError(suite.path, "dataset", f"datasets cannot load split '{split}': {reason}")
