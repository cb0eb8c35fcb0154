"""The words a suite may use that depend on what the package can measure: tasks and their metrics.

Plain data on purpose: a later registry of tasks and metrics (extended through hooks) only has to build a
`Vocabulary`; the schema checks a suite against whichever one it is given.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

# `datasets` builders that read local files: never need the hub.
PACKAGED_BUILDERS = {"csv", "json", "parquet", "text", "arrow", "imagefolder", "audiofolder", "webdataset"}
# Node exclusion presets, resolved by optimum's quantization preprocessor (also read by the build and the ids).
PRESETS = ("layernorm", "gelu", "residual", "gather", "softmax")


@dataclass(frozen=True)
class TaskVocabulary:
    """What a suite of one task may gate on, and what it reads from the dataset when the file does not say."""

    metrics: tuple[str, ...]
    default_metrics: tuple[str, ...]
    default_data_keys: Mapping[str, str]
    default_ref_keys: tuple[str, ...]
    timed_by_length: bool = True  # its inputs have a length to time at (`time.input_lengths`)


@dataclass(frozen=True)
class Vocabulary:
    """The tasks a suite may name, each with its metrics and dataset defaults."""

    tasks: dict[str, TaskVocabulary]

    @classmethod
    @functools.cache
    def default(cls) -> Vocabulary:
        """What the package measures itself: the built-in tasks (`pytest_quantbench.tasks`)."""
        from pytest_quantbench.registry import Registry  # the tasks import the suite records

        return Registry().vocabulary()
