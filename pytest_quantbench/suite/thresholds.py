"""The gates a suite may give: what each `thresholds:` key judges (`GateKind`, the named gates), the gates'
defaults, and the frozen records of a case's gates (`Threshold`, `Thresholds`). Plain Python, like `records.py`
(whose `Case` holds its gates): every stage may import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class GateKind(str, Enum):
    """What a gate judges: a metric the suite scores, or one of the named gates beside the metrics."""

    METRIC = "metric"
    FIDELITY = "fidelity"  # label-free fidelity of the quantized model to the fp32 one
    DIVERGENCE = "divergence"  # a fidelity measure where lower is better (a KL divergence): gated by a ceiling
    SPEED = "speedup"
    SIZE = "size"
    MEMORY = "memory"


# Threshold keys beside the suite's metrics: label-free fidelity of the int8 model to the fp32 one (top-1
# agreement, mean cosine similarity of the logits or embeddings; for embeddings also the 1st percentile of the
# per-sample cosines, the top-k neighbours kept and the rank correlation of pairwise similarities), its
# speed-up, its size on disk and its peak memory.
NAMED_GATES: dict[str, GateKind] = {
    "agreement": GateKind.FIDELITY,
    "cosine": GateKind.FIDELITY,
    "cosine_p01": GateKind.FIDELITY,
    "neighbours": GateKind.FIDELITY,
    "similarity_spearman": GateKind.FIDELITY,
    "top1_agreement": GateKind.FIDELITY,  # a language model's share of positions with the same next token
    "kl_divergence": GateKind.DIVERGENCE,  # a language model's mean KL of its next-token distributions
    "kl_divergence_p99": GateKind.DIVERGENCE,  # ... and its 99th percentile over tokens (the rare bad token)
    "generation_agreement": GateKind.FIDELITY,  # the share of greedy continuations identical to fp32's
    "generation_prefix": GateKind.FIDELITY,  # ... and how far into them the first difference comes (a share)
    "speedup": GateKind.SPEED,
    "size": GateKind.SIZE,
    "memory": GateKind.MEMORY,
}
FIDELITY_KINDS = (GateKind.FIDELITY, GateKind.DIVERGENCE)  # judged on both models' evidence by the task
FIDELITY_GATES = tuple(k for k, kind in NAMED_GATES.items() if kind in FIDELITY_KINDS)
SPEED_GATE, SIZE_GATE, MEMORY_GATE = GateKind.SPEED.value, GateKind.SIZE.value, GateKind.MEMORY.value
GATES = tuple(NAMED_GATES)
# Named gates that take a count after `@`: `neighbours@20` (top-20 neighbours; `neighbours` alone: k = 10),
# `generation_agreement@16` (16 new tokens; alone: the task's default).
COUNTED_GATES = ("neighbours", "generation_agreement", "generation_prefix")
DEFAULT_NEIGHBOURS = 10
COUNTED_GATE = re.compile(r"^(?P<base>[a-z_]+)@(?P<count>[1-9][0-9]{0,5})$")
# The JSON Schema's words for the counted keys (`jsonschema.py`): one alternative per counted gate.
COUNTED_GATE_PATTERNS = tuple(f"^{name}@[1-9][0-9]{{0,5}}$" for name in COUNTED_GATES)


def gate_kind(key: str) -> GateKind:
    """What a `thresholds` key judges: a named gate (a counted one's base name), else a metric."""
    counted = COUNTED_GATE.match(key)
    if counted and counted["base"] in COUNTED_GATES:
        return NAMED_GATES[counted["base"]]
    return NAMED_GATES.get(key, GateKind.METRIC)


def gate_count(key: str, default: int = DEFAULT_NEIGHBOURS) -> int:
    """The count of a counted gate's key (`neighbours@20`: 20), else `default`."""
    counted = COUNTED_GATE.match(key)
    return int(counted["count"]) if counted else default


def known_gates(fidelity: tuple[str, ...]) -> tuple[str, ...]:
    """The named gates a suite of a task may give: the fidelity gates its task measures, and the others."""
    return (*fidelity, *(key for key, kind in NAMED_GATES.items() if kind not in FIDELITY_KINDS))


# The gates of a suite file that gives none: each metric may drop by at most this much; a suite without
# references gates on the quantized model agreeing with the original on at least this share of samples (or on
# what its task names instead: `TaskVocabulary.default_gates`).
DEFAULT_MAX_DROP = 0.01
DEFAULT_MIN_AGREEMENT = 0.99


@dataclass(frozen=True)
class Threshold:
    """A gate. With `confidence`, `max_drop` is judged on the paired-bootstrap interval of the drop; an
    interval that straddles it is inconclusive, failing unless `on_inconclusive` is `pass`."""

    max_drop: float | None = None
    min_ratio: float | None = None
    min: float | None = None  # a floor of the quantized score (accuracy, agreement, cosine, speed-up)
    max: float | None = None  # a ceiling of the quantized score (an error, a perplexity)
    max_ratio: float | None = None  # size: quantized / original bytes; memory: quantized / original run peak
    confidence: float | None = None
    on_inconclusive: str = "fail"


@dataclass(frozen=True)
class Thresholds:
    """A case's gates: one per metric it gates on, and each named gate in a field of its own (judged by the
    accuracy case, or by the latency cases: speed-up and memory)."""

    metrics: tuple[tuple[str, Threshold], ...] = ()
    fidelity: tuple[tuple[str, Threshold], ...] = ()  # agreement, cosine, top1_agreement, kl_divergence
    speedup: Threshold | None = None
    size: Threshold | None = None
    memory: Threshold | None = None

    @classmethod
    def from_keys(cls, by_key: dict[str, Threshold]) -> Thresholds:
        """The gates of a suite file's `thresholds:` mapping (metric names and the named gates' keys)."""
        kinds = {key: gate_kind(key) for key in by_key}
        single = {kind.value: by_key[key] for key, kind in kinds.items() if kind in _SINGLE_GATES}
        return cls(
            metrics=tuple((k, t) for k, t in by_key.items() if kinds[k] is GateKind.METRIC),
            fidelity=tuple((k, t) for k, t in by_key.items() if kinds[k] in FIDELITY_KINDS),
            **single,
        )

    def by_key(self) -> dict[str, Threshold]:
        """The gates as a suite file names them: metrics, then the named gates."""
        single = {kind.value: getattr(self, kind.value) for kind in _SINGLE_GATES}
        return {**dict(self.metrics), **dict(self.fidelity), **{k: t for k, t in single.items() if t is not None}}

    def updated(self, other: Thresholds) -> Thresholds:
        """These gates with `other`'s over them (an override's over the suite's)."""
        return Thresholds.from_keys({**self.by_key(), **other.by_key()})


_SINGLE_GATES = (GateKind.SPEED, GateKind.SIZE, GateKind.MEMORY)  # one threshold each, not one per name
