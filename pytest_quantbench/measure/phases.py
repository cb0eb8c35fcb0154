"""A decoder's latency cases by phase (`records.Phase`): what each times of a session, on which feed, and the
lengths that fit the model's positions.

- PREFILL times one call on the prompt (the suite's input length) with an empty cache: time to first token;
- DECODE times one call of one new token with a cache of the shape's length, the cache a real prefill of the
  same session made (each model of a pair its own);
- GENERATE times a greedy loop of `time.new_tokens` tokens after a prompt (`tasks.decoding.Generation`), each
  step fed the cache the step before returned: its tokens per second.

Every phase times through `measure.timing.time_session`, paired with the fp32 baseline as every latency case is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pytest_quantbench.errors import BuildError, DataError
from pytest_quantbench.measure.timing import Measurement
from pytest_quantbench.records import Phase
from pytest_quantbench.runtimes.base import declared_inputs, output_names, run_failure
from pytest_quantbench.tasks import Task, decoding


@dataclass(frozen=True)
class Target:
    """What one model of a phase case times: a session or session-like loop, and the feed of its calls."""

    session: Any
    feed: dict[str, Any]


def fitted(m: Measurement, prompt: int | None, limit: int | None) -> Measurement:
    """The case with its lengths as timed: `prompt` is the timed length of its named prompt (a default already
    cut to the model's positions); a DECODE cache leaves room for its one new token, a GENERATE prompt for its
    new tokens, within the model's `limit` positions (None: no limit known)."""
    if m.phase is Phase.GENERATE:
        new = m.input_length or 1
        if limit is not None and new >= limit:
            where = f"the model's {limit} positions (config.json max_position_embeddings)"
            raise DataError(m.case.suite.path, "time.new_tokens", f"{new} new tokens leave no prompt within {where}")
        room = prompt if limit is None or prompt is None else min(prompt, limit - new)
        return dataclasses.replace(m, prompt_length=room)
    length = prompt
    if m.phase is Phase.DECODE and limit is not None and prompt is not None:
        length = min(prompt, limit - 1)
    return dataclasses.replace(m, input_length=length, prompt_length=length)


def target(task: Task, session: Any, prompt: dict[str, Any], phase: Phase, new_tokens: int) -> Target:
    """What a phase times of `session`, from the prompt's prepared inputs (completed with an empty cache)."""
    declared = declared_inputs(session)
    feed = task.feed(prompt, declared)
    if phase is Phase.PREFILL:
        return Target(session, feed)
    flow = decoding.CacheFlow.of(declared, output_names(session))
    if not flow.links:
        raise BuildError(f"the model takes no key/value cache: its {phase.value} phase cannot be timed")
    if phase is Phase.DECODE:
        try:
            return Target(session, decoding.decode_feed(session, feed, flow))
        except Exception as exc:
            raise run_failure(session, feed, exc) from exc
    return Target(decoding.Generation(session, flow, new_tokens), feed)
