"""What an embedding scores where the data has labels: sentence pairs with a gold similarity (STS) and
queries with their relevant documents (retrieval), each model scored on its own vectors.

- `spearman`: a pair's prediction is the cosine of its two texts' vectors; the metric is Spearman's rank
  correlation of those cosines with the gold scores (ties share their mean rank, as scipy's);
- `recall@k`, `ndcg@10`, `mrr@10`: the eval rows are a corpus and its queries in one split. A row whose
  reference (its relevant document ids, separated by spaces or commas) is empty is a document, named by the
  `id` column; every other row is a query, ranked against every document by cosine. Each query's value is its
  own (the share of its relevant documents in the top k; nDCG@10 with binary gains; the reciprocal rank of the
  first relevant document in the top 10) and the metric is their mean, so the paired bootstrap resamples
  queries with the corpus fixed (`per_row`: a document counts for nothing).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from pytest_quantbench.records import Direction, MetricInfo
from pytest_quantbench.suite.vocabulary import EMBEDDING_METRICS

SPEARMAN, *RETRIEVAL = EMBEDDING_METRICS
INFOS = (
    MetricInfo(SPEARMAN, Direction.HIGHER, "", (-1.0, 1.0)),
    *(MetricInfo(name, Direction.HIGHER, "", (0.0, 1.0)) for name in RETRIEVAL),
)
SEPARATOR = re.compile(r"[\s,;]+")


def relevant(reference: Any) -> set[str]:
    """A row's relevant document ids: none on a document's row."""
    return set() if reference is None else {i for i in SEPARATOR.split(str(reference)) if i}


def ranks(values: Any) -> Any:
    """Ranks from 1, ties sharing their mean rank."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    order = values.argsort(kind="mergesort")
    ranked = np.empty(len(values))
    ranked[order] = np.arange(1, len(values) + 1)
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    for start, count in zip(first, counts, strict=True):
        if count > 1:
            ranked[order[start : start + count]] = start + (count + 1) / 2
    return ranked


def spearman(predictions: list[Any], references: list[Any]) -> float:
    """Spearman's rho of the pairs' cosines against their gold scores (0.0 where either is constant)."""
    import numpy as np

    if len(predictions) < 2:
        return 0.0
    a, b = ranks(predictions), ranks([float(r) for r in references])  # `check` let through only numbers
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _recall(k: int) -> Callable[[Any, set[int]], float]:
    return lambda order, hits: len(hits & set(order[:k].tolist())) / len(hits)


def _ndcg(order: Any, hits: set[int]) -> float:
    import numpy as np

    discounts = 1.0 / np.log2(np.arange(2, 12))
    gains = np.array([1.0 if doc in hits else 0.0 for doc in order[:10]])
    return float((gains * discounts[: len(gains)]).sum() / discounts[: min(len(hits), 10)].sum())


def _mrr(order: Any, hits: set[int]) -> float:
    return next((1.0 / (rank + 1) for rank, doc in enumerate(order[:10].tolist()) if doc in hits), 0.0)


PER_QUERY: dict[str, Callable[[Any, set[int]], float]] = {
    "recall@1": _recall(1), "recall@5": _recall(5), "recall@10": _recall(10), "ndcg@10": _ndcg, "mrr@10": _mrr,
}  # fmt: skip


def per_row(metric: str, predictions: list[Any], references: list[Any]) -> tuple[Any, Any]:
    """Per row, a query's value of `metric` and 1, a document's 0 and 0: their sums' ratio is the metric."""
    import numpy as np

    from pytest_quantbench.tasks.embedding_fidelity import unit_rows

    docs = [i for i, ref in enumerate(references) if not relevant(ref)]
    index = {str(predictions[i][0]): n for n, i in enumerate(docs)}
    values, counts = np.zeros(len(references)), np.zeros(len(references))
    if not docs:
        return values, counts
    corpus = unit_rows(np.array([predictions[i][1] for i in docs]))
    for row, ref in enumerate(references):
        if not relevant(ref):
            continue
        hits = {index[i] for i in relevant(ref) if i in index}
        order = np.argsort(-(corpus @ unit_rows(np.array([predictions[row][1]]))[0]), kind="mergesort")
        values[row], counts[row] = (PER_QUERY[metric](order, hits) if hits else 0.0), 1.0
    return values, counts


def retrieval(metric: str, predictions: list[Any], references: list[Any]) -> float:
    values, counts = per_row(metric, predictions, references)
    return float(values.sum() / counts.sum()) if counts.sum() else 0.0


def _number(value: Any) -> bool:
    """A gold score: a finite number, or text that reads as one (a CSV column with one word in it is text)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check(values: list[Any]) -> str | None:
    """Gold scores (numbers), or relevant document ids (text) with the corpus's rows empty and a query among
    them; else what is wrong, naming the first bad row."""
    if all(map(_number, values)):
        return None
    if any(v is None for v in values) and all(v is None or isinstance(v, str) for v in values):
        if any(relevant(v) for v in values):
            return None
        return "names no relevant document on any row: retrieval needs queries beside the corpus's (empty) rows"
    row = next(i for i, v in enumerate(values) if not _number(v))
    return (
        f"row {row} is {values[row]!r}: expected gold similarity scores (numbers) for sentence pairs, or relevant "
        "document ids (text, empty on the corpus's rows) for retrieval"
    )
