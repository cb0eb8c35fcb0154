"""Stage 1: the suite file. Its vocabulary (pydantic models), the YAML reader, the builder that checks every
rule across fields, the grid expanded into cases, and the JSON Schema export.

Everything downstream imports from here, never from the modules inside: what a suite *is* (the records)
stays put while how it is read and checked may change.
"""

from typing import Any

from pytest_quantbench.suite.load import SUITE_PATTERNS, load_suite
from pytest_quantbench.suite.records import (
    DECODER_PHASES,
    DEFAULT_INPUT_LENGTH,
    DEFAULT_MAX_LENGTH,
    DEFAULT_NEW_TOKENS,
    Calibration,
    Case,
    DatasetSpec,
    FrameworkArgs,
    Nncf,
    QuantConfig,
    Suite,
    TimeSpec,
    WeightOnly,
    jsonable,
)
from pytest_quantbench.suite.thresholds import GateKind, Threshold, Thresholds
from pytest_quantbench.suite.vocabulary import PACKAGED_BUILDERS, PRESETS, TaskVocabulary, Vocabulary

__all__ = [
    "DECODER_PHASES",
    "DEFAULT_INPUT_LENGTH",
    "DEFAULT_MAX_LENGTH",
    "DEFAULT_NEW_TOKENS",
    "PACKAGED_BUILDERS",
    "PRESETS",
    "SUITE_PATTERNS",
    "Calibration",
    "Case",
    "DatasetSpec",
    "FrameworkArgs",
    "GateKind",
    "Nncf",
    "QuantConfig",
    "Suite",
    "TaskVocabulary",
    "Threshold",
    "Thresholds",
    "TimeSpec",
    "Vocabulary",
    "WeightOnly",
    "json_schema",
    "jsonable",
    "load_suite",
]


def json_schema(vocabulary: Vocabulary | None = None) -> dict[str, Any]:
    """The JSON Schema of suite files (see `jsonschema.json_schema`).

    The models (pydantic) are imported on first use, as `load_suite` does: `pytest --help` and runs
    without suites never pay for them.
    """
    from pytest_quantbench.suite import jsonschema

    return jsonschema.json_schema(vocabulary)
