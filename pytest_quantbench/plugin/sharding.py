"""Deterministic split of a run across N CI runners, whole files at a time.

A speed-up is only meaningful against the fp32 baseline timed on the same machine in the same run, so a
suite file never straddles two shards. Files go, largest first, to the shard with the fewest cases; every
runner computes the same assignment from the same collection, with no durations file to keep in sync.
"""

from __future__ import annotations

import re
from collections import Counter

SPEC = re.compile(r"^(\d+)/(\d+)$")


def parse(spec: str) -> tuple[int, int]:
    """`K/N` (1-based) -> (K, N); anything else is a usage error."""
    match = SPEC.match(spec.strip())
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise ValueError(f"--quantbench-shard expects K/N with 1 <= K <= N, got {spec!r}")
    return int(match[1]), int(match[2])


def assign(files: list[str], shards: int) -> dict[str, int]:
    """File -> shard (1-based), balancing the number of cases per shard."""
    sizes = Counter(files)
    load = [0] * shards
    out = {}
    for name in sorted(sizes, key=lambda f: (-sizes[f], f)):
        target = min(range(shards), key=lambda i: (load[i], i))
        out[name] = target + 1
        load[target] += sizes[name]
    return out
