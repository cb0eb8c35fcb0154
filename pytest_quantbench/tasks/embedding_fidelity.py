"""What an embedding user needs of int8 vectors, without labels: that they point where the fp32 ones do.

Every measure is paired per sample (the same eval text through both models) and, where it is a mean over
samples or queries, carries a seeded bootstrap interval over them (`PairedStats` of how much worse than the
fp32 model's 1.0), which the gates judge a `min` on: PASS when the whole interval is above it, FAIL when it is
all below, INCONCLUSIVE across.

- `cosine`: the mean cosine between each text's fp32 and int8 vectors; `cosine_p01` the 1st percentile of
  those cosines (the worst texts; no interval);
- `neighbours@k`: for every eval text as a query, the share of its top-k neighbours among the other eval texts
  (by cosine) that the int8 vectors find too; a model whose vectors are noise keeps k / (N - 1) of them, the
  level a collapse falls to;
- `similarity_spearman`: the rank correlation of the cosines of a seeded sample of text pairs under both.
"""

from __future__ import annotations

from typing import Any

from pytest_quantbench.records import Direction, MetricResult, PairedStats

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 2016
SIMILARITY_PAIRS = 5000


def unit_rows(vectors: Any) -> Any:
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)


def cosines(original: Any, quantized: Any) -> Any:
    """Per sample, the cosine between its fp32 and int8 vectors."""
    return (unit_rows(original) * unit_rows(quantized)).sum(axis=1)


def top_k(vectors: Any, k: int) -> Any:
    """Per row, the indices of its k most similar other rows (cosine), as a set-like sorted array."""
    import numpy as np

    unit = unit_rows(vectors)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)  # a text is not its own neighbour
    return np.sort(np.argpartition(-similarity, k - 1, axis=1)[:, :k], axis=1)


def neighbour_overlap(original: Any, quantized: Any, k: int) -> Any:
    """Per query, the share of its fp32 top-k neighbours the int8 vectors also rank in their top k."""
    import numpy as np

    found_o, found_q = top_k(original, k), top_k(quantized, k)
    return np.array([len(np.intersect1d(a, b, assume_unique=True)) / k for a, b in zip(found_o, found_q, strict=True)])


def mean_interval(values: Any, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The seeded bootstrap interval of the mean of per-sample `values`."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    means = values[rng.integers(0, len(values), size=(RESAMPLES, len(values)))].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def kept(name: str, values: Any, chance: float = 0.0) -> MetricResult:
    """A measure that is 1.0 for the fp32 model against itself: the mean of per-sample `values`, with the
    interval of how much worse than 1.0 it is."""
    import numpy as np

    mean = float(np.mean(values))
    low, high = mean_interval(values)
    stats = PairedStats(name, 1.0 - mean, 1.0 - high, 1.0 - low, CONFIDENCE, None, None, None, len(values))
    return MetricResult(name, 1.0, mean, chance, stats, Direction.HIGHER)


def cosine(original: Any, quantized: Any) -> MetricResult:
    return kept("cosine", cosines(original, quantized))


def cosine_p01(original: Any, quantized: Any) -> MetricResult:
    import numpy as np

    return MetricResult("cosine_p01", 1.0, float(np.percentile(cosines(original, quantized), 1)))


def neighbours(name: str, original: Any, quantized: Any, k: int) -> MetricResult:
    """`neighbours@k`, k cut to the other texts there are; its chance level is what random vectors keep."""
    others = len(original) - 1
    k = max(1, min(k, others))
    return kept(name, neighbour_overlap(original, quantized, k), chance=k / others if others else 1.0)


def similarity_spearman(original: Any, quantized: Any) -> MetricResult:
    """Spearman correlation of pairwise cosines on a seeded sample of pairs of distinct texts."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    n = len(original)
    first, second = rng.integers(0, n, SIMILARITY_PAIRS), rng.integers(0, n, SIMILARITY_PAIRS)
    distinct = first != second
    first, second = first[distinct], second[distinct]
    o, q = unit_rows(original), unit_rows(quantized)
    sim_o, sim_q = (o[first] * o[second]).sum(axis=1), (q[first] * q[second]).sum(axis=1)
    ranks_o, ranks_q = sim_o.argsort().argsort(), sim_q.argsort().argsort()
    rho = float(np.corrcoef(ranks_o, ranks_q)[0, 1]) if len(first) > 1 else 1.0
    return MetricResult("similarity_spearman", 1.0, rho, 0.0, None, Direction.HIGHER)
