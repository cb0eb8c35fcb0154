"""Which few of many quantized nodes move the output most, from as few end-to-end measures as possible
(engine-neutral: a backend supplies `measure`, the divergence of its model with a given set quantized).

Group testing: the candidates, in graph order, are cut into consecutive groups of sqrt(n / REFINED); each
group is measured quantized alone (everything else in fp32), then the members of the `REFINED` groups that
moved the output most are measured one by one: n / s + REFINED * s measures, fewest at that size. The 211
MatMuls of a 30-layer decoder take 24 + 3 x 9 measures instead of 211. A node outside the refined groups gets no figure of its own (its group's bounds what it can add).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

REFINED = 3  # groups whose members are measured one by one
DIRECT = 16  # up to this many candidates, each is measured alone at once


def groups(candidates: Sequence[str]) -> list[list[str]]:
    """Consecutive groups of sqrt(n / REFINED) candidates (one each up to `DIRECT`)."""
    size = 1 if len(candidates) <= DIRECT else math.ceil(math.sqrt(len(candidates) / REFINED))
    return [list(candidates[i : i + size]) for i in range(0, len(candidates), size)]


def isolate(candidates: Sequence[str], measure: Callable[[frozenset[str]], float]) -> dict[str, float]:
    """The divergence of each candidate measured quantized alone, for the members of the groups that moved
    the output most; `measure(nodes)` is the model's divergence from fp32 with exactly `nodes` quantized."""
    parts = groups(candidates)
    if all(len(part) == 1 for part in parts):
        return {part[0]: measure(frozenset(part)) for part in parts}
    moved = sorted(parts, key=lambda part: -measure(frozenset(part)))
    return {node: measure(frozenset([node])) for part in moved[:REFINED] for node in part}


def ordered(scores: dict[str, float]) -> list[str]:
    """The measured nodes, the one that moves the output most first."""
    return sorted(scores, key=lambda node: -scores[node])
