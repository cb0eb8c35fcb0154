"""Roles, directions and verdicts: the words of the contracts between stages, and what a metric is."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Role(str, Enum):
    """Which model of a config a session, a score or a timing is of. A `str` Enum: JSON keeps the value."""

    ORIGINAL = "original"  # the fp32 model (or the suite's `baseline:` backend's, in latency cases)
    QUANTIZED = "quantized"


class Direction(str, Enum):
    """Which way a metric gets better: every drop, interval, gate, collapse and report reads it."""

    HIGHER = "higher"  # accuracy, f1, agreement, cosine
    LOWER = "lower"  # perplexity, error, distance, divergence

    def worse_by(self, original: float, quantized: float) -> float:
        """How much worse the quantized value is than the original, whichever way worse is (> 0: worse)."""
        return original - quantized if self is Direction.HIGHER else quantized - original

    @property
    def worse_word(self) -> str:
        """What getting worse is called in a verdict line: a higher-is-better metric drops, a lower one rises."""
        return "drop" if self is Direction.HIGHER else "rise"


class Verdict(str, Enum):
    """A case's outcome, as the terminal, the card and the JSON name it."""

    PASS = "PASS"
    FAIL = "FAIL"
    COLLAPSE = "COLLAPSE"  # fell to what a model that knows nothing scores
    INCONCLUSIVE = "INCONCLUSIVE"  # an interval that straddles its gate's limit


def verdict_of(passed: bool, collapse: bool, inconclusive: bool) -> Verdict:
    """A case's verdict from its gate's flags: a collapse first, then an interval that straddles its limit
    (inconclusive, whether it passed or failed), then pass or fail."""
    if collapse:
        return Verdict.COLLAPSE
    if inconclusive:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS if passed else Verdict.FAIL


@dataclass(frozen=True)
class MetricInfo:
    """What a metric is, declared where the metric is (`tasks.metrics.METRICS` for the bundled ones, a user's
    through `Registry.add_metric`, a task's own in `Task.metric_infos`): which way is better, its unit
    ("" when it has none) and its range (low, high; None where unbounded)."""

    name: str
    direction: Direction = Direction.HIGHER
    unit: str = ""
    range: tuple[float | None, float | None] = (None, None)


class Phase(str, Enum):
    """What a latency case of a decoder times (`records.Shape.phase`); a `str` Enum: JSON keeps the value. The
    shape's length is the prompt's (PREFILL), the cache's (DECODE) or the new tokens' count (GENERATE)."""

    PREFILL = "prefill"  # the prompt through the model with an empty cache: time to first token
    DECODE = "decode"  # one new token with a cache of the shape's length: time per token
    GENERATE = "generate"  # a greedy loop of new tokens, each step's cache fed to the next: tokens per second

    @property
    def length_word(self) -> str:
        """How a latency id writes the shape's length: `len64`, `ctx64`, `new16`."""
        return PHASE_LENGTH_WORDS[self][0]

    @property
    def length_name(self) -> str:
        """What a report calls the shape's length: input length, context length, new tokens."""
        return PHASE_LENGTH_WORDS[self][1]


PHASE_LENGTH_WORDS = {
    Phase.PREFILL: ("len", "input length"),
    Phase.DECODE: ("ctx", "context length"),
    Phase.GENERATE: ("new", "new tokens"),
}


@dataclass(frozen=True)
class TensorSpec:
    """One input a session declares, engine-neutral: its name, its dimensions (None where the model leaves one
    open: the batch, a sequence or a cache length) and its numpy element type."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str
