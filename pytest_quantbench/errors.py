"""Exceptions that carry a one-line, user-facing message."""

from __future__ import annotations


class SuiteError(Exception):
    """A suite file is invalid; the message names the file and the field."""

    def __init__(self, path: object, field: str, message: str) -> None:
        self.path = str(path)
        self.field = field
        self.message = message
        where = f"{self.path}: {field}: " if field else f"{self.path}: "
        super().__init__(where + message)


class SourceUnavailable(Exception):
    """A model, dataset or metric needs the Hugging Face hub, which cannot be reached."""


class GateFailure(AssertionError):
    """A quantized metric broke its threshold."""


class CollapseFailure(GateFailure):
    """A quantized metric fell to or below the task's chance level."""


class BuildError(Exception):
    """An artifact could not be built (export, calibration, quantization)."""


class InputError(BuildError):
    """The suite's model or data cannot serve it; the message names the suite file, the field and what was found."""

    def __init__(self, path: object, field: str, message: str) -> None:
        self.path, self.field, self.message = str(path), field, message
        super().__init__(f"{self.path}: {field}: {message}" if field else f"{self.path}: {message}")


class DataError(InputError):
    """The dataset does not fit the suite or the model (a column, a split, a row, a label)."""


class ModelError(InputError):
    """The model folder cannot be built for the suite's task (a file, the head, custom code)."""


class CacheError(BuildError):
    """The artifact cache cannot be written (read-only, full or not a directory)."""
