"""A decoder's key/value cache as its sessions take it: the empty cache a scoring feed is completed with, the
feeds of the timed phases (`records.Phase`) and the greedy loop that feeds each step's cache to the next.

One model serves every phase: optimum's `text-generation-with-past` export takes `past_key_values.<i>.key`
and `.value` inputs, shaped (batch, heads, cache length, head size) as the session declares them, and returns
`present.<i>.key`/`.value` after its logits, the cache grown by the new tokens. A zero-length cache is a
valid input, so a prompt or a scored window runs with an empty one and gives the same logits as a model
without a cache. The PyTorch backend's session names its cache alike. Sessions are anything with
`get_inputs()`, `get_outputs()` and `run(None, feed)`; their declared inputs reach this module as
`records.TensorSpec`s (`runtimes.base.declared_inputs`), so nothing here names an engine.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_quantbench.records import TensorSpec

PAST, PRESENT = "past_key_values.", "present."  # optimum's names of a cache input and of the output feeding it


def empty_cache(batch_size: int, declared: Sequence[TensorSpec]) -> dict[str, Any]:
    """A zero-length cache tensor for every cache input declared: the batch first, 0 for the cache length (the
    other open dimension), the declared sizes (heads, head size) and element type for the rest."""
    import numpy as np

    out = {}
    for spec in declared:
        if spec.name.startswith(PAST):
            dims = [batch_size] + [0 if d is None else d for d in spec.shape[1:]]
            out[spec.name] = np.zeros(dims, dtype=spec.dtype)
    return out


def with_empty_cache(inputs: dict[str, Any], declared: Sequence[TensorSpec]) -> dict[str, Any]:
    """The prepared inputs a session takes, with an empty cache for each cache input they lack."""
    names = {spec.name for spec in declared}
    feed = {k: v for k, v in inputs.items() if k in names}
    missing = [spec for spec in declared if spec.name not in feed]
    return {**feed, **empty_cache(len(inputs["input_ids"]), missing)} if missing else feed


def with_masked_cache(rows: dict[str, list], declared: Sequence[TensorSpec]) -> dict[str, list]:
    """Calibration rows (columns of lists, as `datasets` maps them) with a one-position cache of zeros for each
    cache input, masked (its attention-mask column 0), so static calibration runs the cache-carrying model as
    a prompt runs it. One position, not none: a calibration column holds nested lists, and an empty one loses
    the dimensions after it."""
    import numpy as np

    caches = [spec for spec in declared if spec.name.startswith(PAST) and spec.name not in rows]
    if not caches or "attention_mask" not in rows:
        return rows
    count = len(rows["attention_mask"])
    out = {**rows, "attention_mask": [[0, *mask] for mask in rows["attention_mask"]]}
    for spec in caches:
        zeros = np.zeros([1 if d is None else d for d in spec.shape[1:]], dtype=spec.dtype).tolist()
        out[spec.name] = [zeros] * count
    return out


@dataclass(frozen=True)
class CacheFlow:
    """How one session's cache flows from a step to the next: which output feeds which cache input, and which
    of the step inputs (mask, positions) it declares."""

    links: tuple[tuple[int, str], ...]  # (output index, cache input name)
    inputs: frozenset[str]

    @classmethod
    def of(cls, declared: Sequence[TensorSpec], outputs: Sequence[str]) -> CacheFlow:
        names = frozenset(spec.name for spec in declared)
        links = tuple(
            (i, PAST + name[len(PRESENT) :])
            for i, name in enumerate(outputs)
            if name.startswith(PRESENT) and PAST + name[len(PRESENT) :] in names
        )
        return cls(links, names)

    def next_feed(self, feed: dict[str, Any], outputs: Sequence[Any], mask: Any) -> dict[str, Any]:
        """The feed of the step after `feed`: its outputs' greedy next token, the cache they return and the
        attention mask `mask` (one column wider than the cache; given, so a loop allocates none)."""
        step: dict[str, Any] = {"input_ids": outputs[0][:, -1].argmax(-1, keepdims=True)}  # int64 (numpy's intp)
        if "attention_mask" in self.inputs:
            step["attention_mask"] = mask
        if "position_ids" in self.inputs:
            step["position_ids"] = _position(len(mask), mask.shape[1] - 1)
        for index, name in self.links:
            step[name] = outputs[index]
        return step


@functools.cache
def _position(batch_size: int, position: int) -> Any:
    """The position ids of one new token (read-only, shared: a loop allocates none)."""
    import numpy as np

    out = np.full((batch_size, 1), position, dtype=np.int64)
    out.flags.writeable = False
    return out


def ones_mask(batch_size: int, width: int) -> Any:
    import numpy as np

    return np.ones((batch_size, width), dtype=np.int64)


def decode_feed(session: Any, prompt: dict[str, Any], flow: CacheFlow) -> dict[str, Any]:
    """The feed of one new token after a real prefill of `prompt` by the same session: its cache, its next
    token. Both models of a pair get their own (each one's own cache)."""
    outputs = session.run(None, prompt)
    batch, width = prompt["input_ids"].shape
    mask = prompt.get("attention_mask", ones_mask(batch, width))
    return flow.next_feed(prompt, outputs, _grown(mask))


def _grown(mask: Any) -> Any:
    import numpy as np

    return np.concatenate([mask, np.ones((len(mask), 1), dtype=mask.dtype)], axis=1)


class Generation:
    """A session-like greedy loop: `run(None, prompt feed)` runs the prompt with an empty cache, then
    `new_tokens - 1` steps of one token, each fed the cache the step before returned; what a GENERATE latency
    case times. Its inputs are the session's. The masks are cut from one allocated per prompt width."""

    def __init__(self, session: Any, flow: CacheFlow, new_tokens: int) -> None:
        self.session, self.flow, self.new_tokens = session, flow, new_tokens
        self._mask: Any = None  # the prompt's mask the steps' masks were cut for (kept: compared by identity)
        self._masks: list[Any] = []

    def get_inputs(self) -> list[Any]:
        return self.session.get_inputs()

    def get_outputs(self) -> list[Any]:
        return self.session.get_outputs()

    def masks(self, mask: Any) -> list[Any]:
        """Per step, the mask of the prompt's columns followed by ones for the cache grown so far; made once
        per prompt mask (the timed rounds run one feed)."""
        import numpy as np

        if mask is not self._mask:
            full = np.concatenate([mask, np.ones((len(mask), self.new_tokens), dtype=mask.dtype)], axis=1)
            width = mask.shape[1]
            self._mask, self._masks = (
                mask,
                [np.ascontiguousarray(full[:, : width + k]) for k in range(1, self.new_tokens)],
            )
        return self._masks

    def run(self, output_names: Any, feed: dict[str, Any]) -> list[Any]:
        run, next_feed = self.session.run, self.flow.next_feed
        outputs = run(output_names, feed)
        given = feed.get("attention_mask")
        for mask in self.masks(ones_mask(*feed["input_ids"].shape) if given is None else given):
            feed = next_feed(feed, outputs, mask)
            outputs = run(output_names, feed)
        return outputs
