"""What a task keeps of a model's outputs: per-sample evidence, never whole output tensors.

The scorer runs a model batch by batch; the task turns each batch's outputs into `Evidence` (the predictions
its metrics score, and the per-unit arrays its fidelity measures read), and the batches' evidence is joined
in order. That is all the score cache keeps of a model, and all the paired statistics and the fidelity gates
read: a language model keeps a loss per sample, not a vocabulary-wide logits row per token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Evidence:
    """One model's evidence on some samples: `predictions` (one per sample, JSON-able: what `Task.score`
    takes) and `arrays` (name -> numpy array, one row per unit the task counts: a sample, or a word)."""

    predictions: list[Any]
    arrays: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def join(cls, parts: list[Evidence]) -> Evidence:
        """The evidence of consecutive batches as one, in order."""
        return cls([p for part in parts for p in part.predictions], join_arrays([part.arrays for part in parts]))


def join_arrays(parts: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-batch arrays of the same names concatenated along the first axis, in order."""
    import numpy as np

    names = list(dict.fromkeys(name for part in parts for name in part))
    return {name: np.concatenate([np.asarray(part[name]) for part in parts if name in part]) for name in names}
