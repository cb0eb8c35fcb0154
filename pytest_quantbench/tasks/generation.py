"""Greedy continuations of a language model, and how far the quantized model's stay the fp32 model's.

A user of a decoder reads what it writes, not its perplexity: `generation_agreement@N` continues prompts of the
eval split greedily by N new tokens with both models and gates on the share of prompts whose N tokens are
identical; `generation_prefix@N` on how far in the first difference comes (the mean, over prompts, of the share
of the N tokens before it: 1.0 when all agree). Both carry a seeded bootstrap interval over prompts, which a
`min` is judged on (`intervals.floor_on_interval`). A model that knows nothing almost never writes fp32's tokens,
so `generation_prefix` collapses towards 0; `generation_agreement` has no chance level (measured: SmolLM2-135M's
weight-only int8, KL 0.007 and 94% top-1 agreement, writes 8 identical tokens for 7 prompts in 16: a whole
continuation is strict), so it never collapses.

The prompts are the first `PROMPTS` documents of the eval split, each cut to the first half of its first window
(at least one token, and room left for the N new ones within the context). Continuations run as a user's
generation does: the prompt once, then one step per new token fed the key/value cache the step before
returned (full forward passes, one per token, for a model exported without a cache), on prompts of one length
at a time, so nothing is padded. Each model's continuations are kept in the score cache
under what the model computes (`Scorer.continued`): the fp32 model's are computed once for every config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pytest_quantbench.records import MetricResult
from pytest_quantbench.suite.thresholds import gate_count
from pytest_quantbench.tasks.base import Encoded
from pytest_quantbench.tasks.embedding_fidelity import kept

AGREEMENT, PREFIX = "generation_agreement", "generation_prefix"
GATES = (AGREEMENT, PREFIX)
DEFAULT_NEW_TOKENS = 8  # `generation_agreement` alone: 8 new tokens (a short answer; ~N passes per prompt)
PROMPTS = 16  # documents continued: each costs N full passes (a 135M model: ~2,000 tokens for N = 8)
ORIGINAL, QUANTIZED = "continued_original", "continued_quantized"
CONTINUATION_FORMAT = 2  # part of the cached continuations' key: 2 continues through the key/value cache


def new_tokens(key: str) -> int:
    """The N of a gate key (`generation_agreement@16`: 16; without a count: `DEFAULT_NEW_TOKENS`)."""
    return gate_count(key, DEFAULT_NEW_TOKENS)


def lengths_asked(keys: Iterable[str]) -> tuple[int, ...]:
    """The continuation lengths a case's gates ask for, each once, in order."""
    return tuple(dict.fromkeys(new_tokens(k) for k in keys if k.split("@")[0] in GATES))


def prompts(batches: Iterable[Encoded], tokens: int, context: int, limit: int = PROMPTS) -> list[list[int]]:
    """The first half of the first window of the first `limit` documents (at least one token, at most
    `context - tokens`), read from the encoded eval batches (`TextGeneration` alignments: per document its
    windows' rows)."""
    out: list[list[int]] = []
    room = max(1, context - tokens)
    for encoded in batches:
        ids, mask = encoded.inputs["input_ids"], encoded.inputs["attention_mask"]
        for spans in encoded.alignments:
            row = spans[0][0]
            document = [int(t) for t, m in zip(ids[row], mask[row], strict=True) if m]
            out.append(document[: min(room, max(1, len(document) // 2))])
            if len(out) >= limit:
                return out
    return out


def greedy(run: Callable[[dict[str, Any]], Any], rows: list[list[int]], tokens: int, flow: Any = None) -> Any:
    """`tokens` greedy new tokens after each of `rows` (all of one length): an int64 array (rows, tokens).

    With the session's cache links (`flow`, a `decoding.CacheFlow`), the prompt runs once and each new token is
    one step fed the cache the step before returned, as a user's generation runs; without them, one full
    forward pass per token. `run` gives the model's outputs on a feed, its logits first."""
    import numpy as np

    ids = np.asarray(rows, dtype=np.int64)
    if flow is None or not flow.links:
        for _ in range(tokens):
            logits = np.asarray(run(_prompt_feed(ids))[0])
            ids = np.concatenate([ids, logits[:, -1].argmax(-1).astype(np.int64)[:, None]], axis=1)
        return ids[:, ids.shape[1] - tokens :]
    from pytest_quantbench.tasks.decoding import ones_mask

    batch, width = ids.shape
    feed = _prompt_feed(ids)
    outputs = run(feed)
    written = []
    for k in range(1, tokens + 1):
        written.append(np.asarray(outputs[0])[:, -1].argmax(-1).astype(np.int64))
        if k < tokens:
            feed = flow.next_feed(feed, outputs, ones_mask(batch, width + k))  # the cache and the new token
            outputs = run(feed)
    return np.stack(written, axis=1)


def _prompt_feed(ids: Any) -> dict[str, Any]:
    import numpy as np

    positions = np.broadcast_to(np.arange(ids.shape[1], dtype=np.int64), ids.shape).copy()
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "position_ids": positions}


def first_differences(original: Any, quantized: Any) -> Any:
    """Per prompt, the position of the first new token that differs (N when none does)."""
    import numpy as np

    original, quantized = np.asarray(original), np.asarray(quantized)
    differs = original != quantized
    return np.where(differs.any(axis=1), differs.argmax(axis=1), original.shape[1])


def measure(key: str, original: Any, quantized: Any) -> MetricResult:
    """`generation_agreement@N` or `generation_prefix@N` of both models' continuations (arrays prompts x N)."""
    import numpy as np

    first = first_differences(original, quantized).astype(np.float64)
    width = max(1, np.asarray(original).shape[1])
    whole = key.split("@")[0] == AGREEMENT
    values = (first == width).astype(np.float64) if whole else first / width
    if not values.size:
        return MetricResult(key, 1.0, 1.0)
    # 1.0 for fp32 against itself; a prefix falls to 0 (nothing else writes fp32's tokens), while a whole
    # continuation has no chance level: its chance is the original's own score, which never collapses
    return kept(key, values, chance=1.0 if whole else 0.0)
