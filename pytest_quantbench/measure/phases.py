"""A decoder's latency cases by phase (`records.Phase`): what each times of a session, on which feed, and the
lengths that fit the model's positions.

- PREFILL times one call on the prompt (the suite's input length) with an empty cache: time to first token;
- DECODE times one call of one new token with a cache of the shape's length, the cache a real prefill of the
  same session made (each model of a pair its own);
- GENERATE times a greedy loop of `time.new_tokens` tokens after a prompt (`tasks.decoding.Generation`), each
  step fed the cache the step before returned: its tokens per second.

Every phase times through `measure.timing.time_session`, paired with the fp32 baseline as every latency case is.
Its peak memory is read after the feeds `memory_steps` gives, every phase of a model in one child process
(`runtimes.memory_probe`), in `MEMORY_ORDER`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pytest_quantbench.errors import BuildError, DataError
from pytest_quantbench.measure.measurements import Measurement
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


# The order a model's phase shapes are measured in, in one child process where each figure is the peak of the
# run so far: a decode step needs no more than a prefill of its context, and a generation runs a prefill and
# then decode steps, so each figure is its own phase's where the suite's lengths are alike (a decode context
# longer than a prompt, or a prompt longer than a generation's, is counted in the later figures too). Within a
# phase, smallest first. Measured on SmolLM2-135M fp32 at 32 tokens: prefill alone and after decode agree to 1 MB.
MEMORY_ORDER = (Phase.DECODE, Phase.PREFILL, Phase.GENERATE)


def memory_order(cases: Iterable[Measurement]) -> list[Measurement]:
    """Phase cases (as timed) in the order their memory is measured: `MEMORY_ORDER`, then smallest first."""

    def key(m: Measurement) -> tuple[int, int, int, int]:
        assert m.phase is not None  # a decoder's case
        return (MEMORY_ORDER.index(m.phase), m.batch_size, m.prompt_length or 0, m.input_length or 0)

    return sorted(cases, key=key)


def memory_steps(
    task: Task, session: Any, inputs_at: Callable[[int, int | None], dict[str, Any]], m: Measurement
) -> tuple[dict[str, Any], ...]:
    """The feeds after which the peak of `m`'s phase (as timed) is read, in the order they run; `inputs_at(batch
    size, length)`: a prompt of exactly that length. A PREFILL's prompt and a DECODE's step (its cache from a
    real prefill, as timed); a GENERATE's prompt, then its loop's largest step, the last: one token after a cache
    of prompt + new_tokens - 2 positions (from a real prefill of that many tokens: the loop's own cache holds
    the tokens it generated, in arrays of the same shapes), which returns one of prompt + new_tokens - 1."""
    assert m.phase is not None  # a decoder's case
    first = Phase.PREFILL if m.phase is Phase.GENERATE else m.phase
    steps = (target(task, session, inputs_at(m.batch_size, m.prompt_length), first, 1).feed,)
    new = m.input_length or 1
    if m.phase is not Phase.GENERATE or m.prompt_length is None or new < 2:
        return steps  # one new token: the prompt's prefill is the whole loop
    last = inputs_at(m.batch_size, m.prompt_length + new - 2)
    return (*steps, target(task, session, last, Phase.DECODE, 1).feed)
