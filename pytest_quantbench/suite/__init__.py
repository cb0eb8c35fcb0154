"""Stage 1: the suite file. Its vocabulary (one schema), the YAML reader, and the grid expanded into cases.

Everything downstream imports from here, never from the modules inside: what a suite *is* (the records)
stays put while how it is read and checked may change.
"""

from pytest_quantbench.suite.schema import (
    PACKAGED_BUILDERS,
    PRESETS,
    SUITE_PATTERNS,
    Calibration,
    Case,
    DatasetSpec,
    FrameworkArgs,
    QuantConfig,
    Suite,
    Threshold,
    TimeSpec,
    jsonable,
    load_suite,
)

__all__ = [
    "PACKAGED_BUILDERS",
    "PRESETS",
    "SUITE_PATTERNS",
    "Calibration",
    "Case",
    "DatasetSpec",
    "FrameworkArgs",
    "QuantConfig",
    "Suite",
    "Threshold",
    "TimeSpec",
    "jsonable",
    "load_suite",
]
