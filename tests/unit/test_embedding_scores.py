"""Embeddings scored where the data has labels: STS pairs (Spearman of each pair's cosine against gold, each pair
one sample) and retrieval (recall@k, nDCG@10, MRR@10 per query against a fixed corpus), with their paired
intervals over pairs and over queries, and the one-line complaints about a reference column that is neither."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pytest_quantbench.suite import DatasetSpec
from pytest_quantbench.tasks import embedding_scores as scores
from pytest_quantbench.tasks.embedding import EmbeddingProcessor, FeatureExtraction
from pytest_quantbench.tasks.pooling import Pooling
from pytest_quantbench.verdicts.statistics import paired_stats

TASK = FeatureExtraction()


def test_spearman_ranks_ties_as_scipy_does() -> None:
    from scipy.stats import spearmanr

    cosines, gold = [0.9, 0.1, 0.5, 0.5, 0.7], [5.0, 1.0, 3.0, 2.0, 3.0]
    assert math.isclose(scores.spearman(cosines, gold), spearmanr(cosines, gold).statistic)
    assert scores.spearman([0.1, 0.2], [1.0, 1.0]) == 0.0  # constant gold: no correlation to speak of


# a corpus of three documents along the axes, two queries: q1 wants d2 (nearest to it), q2 wants d1 and d3
CORPUS = [["d1", [1.0, 0.0, 0.0]], ["d2", [0.0, 1.0, 0.0]], ["d3", [0.0, 0.0, 1.0]]]
QUERIES = [["q1", [0.1, 1.0, 0.0]], ["q2", [0.2, 0.0, 1.0]]]
REFERENCES = [None, None, None, "d2", "d1 d3"]


@pytest.mark.parametrize(
    ("metric", "per_query"),
    [
        ("recall@1", [1.0, 0.5]),  # q2's top 1 is d3: one of its two
        ("recall@5", [1.0, 1.0]),
        ("mrr@10", [1.0, 1.0]),
        ("ndcg@10", [1.0, 1.0]),  # q2: d3 then d1, both relevant, the ideal order
    ],
)
def test_each_retrieval_metric_is_the_mean_over_the_queries(metric: str, per_query: list[float]) -> None:
    predictions = CORPUS + QUERIES
    values, counts = TASK.sample_counts(metric, predictions, REFERENCES)
    assert list(counts) == [0, 0, 0, 1, 1] and list(values[3:]) == per_query  # documents count for nothing
    assert TASK.score((metric,), predictions, REFERENCES, None)[metric] == np.mean(per_query)


def test_ndcg_discounts_a_relevant_document_found_late() -> None:
    late = [*CORPUS, ["q1", [1.0, 0.5, 0.0]]]  # d1 first, d2 second
    expected = (1 / math.log2(3)) / 1.0
    assert math.isclose(scores.retrieval("ndcg@10", late, [None, None, None, "d2"]), expected)


def test_the_retrieval_interval_resamples_queries_and_keeps_the_corpus() -> None:
    rng = np.random.default_rng(0)
    corpus = [[f"d{i}", list(rng.normal(size=8))] for i in range(20)]
    queries = [[f"q{i}", list(np.array(corpus[i][1]) + rng.normal(scale=0.5, size=8))] for i in range(20)]
    noisy = [[key, list(np.array(v) + rng.normal(scale=1.0, size=8))] for key, v in queries]
    references = [None] * 20 + [f"d{i}" for i in range(20)]
    stats = paired_stats(TASK, "recall@1", corpus + queries, corpus + noisy, references, None)
    assert stats.ci_low <= stats.drop <= stats.ci_high and stats.n == 40
    assert stats.drop == pytest.approx(
        scores.retrieval("recall@1", corpus + queries, references)
        - scores.retrieval("recall@1", corpus + noisy, references)
    )


def test_the_sts_interval_is_over_pairs() -> None:
    rng = np.random.default_rng(1)
    gold = list(rng.uniform(0, 5, 60))
    original = [g / 5 + rng.normal(scale=0.05) for g in gold]
    quantized = [c + rng.normal(scale=0.2) for c in original]
    stats = paired_stats(TASK, "spearman", original, quantized, gold, None)
    assert stats.n == 60 and 0 < stats.ci_low <= stats.drop <= stats.ci_high


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ([4.0, 2.5, 0], None),
        ([None, "d1", "d1,d2"], None),
        ([4.0, "high", 3.0], "row 1 is 'high': expected gold similarity scores (numbers) for sentence pairs, or "
                            "relevant document ids (text, empty on the corpus's rows) for retrieval"),
        ([4.0, float("nan"), 3.0], "row 1 is nan: expected gold similarity scores"),
        (["4.0", "2", "1e-1"], None),  # a CSV column that datasets read as text
        ([None, "", None], "names no relevant document on any row: retrieval needs queries beside the corpus's"),
        (["d1", "d2"], "row 0 is 'd1': expected gold similarity scores"),  # ids, but no corpus rows
    ],
)  # fmt: skip
def test_the_reference_column_is_gold_scores_or_relevant_ids(values: list, problem: str | None) -> None:
    found = TASK.check_references(values, None, {})
    assert found == problem if problem is None else found.startswith(problem)


class _Tokenizer:
    """Each text's words as token ids, padded to the longest (what the pooling needs: a mask)."""

    def __call__(self, texts: list[str], **kwargs: object) -> dict[str, np.ndarray]:
        width = max(len(t.split()) for t in texts)
        ids = np.array([[len(w) for w in t.split()] + [0] * (width - len(t.split())) for t in texts])
        return {"input_ids": ids, "attention_mask": (ids > 0).astype(np.int64)}


def test_a_pair_is_one_sample_whose_prediction_is_the_cosine_of_its_two_texts() -> None:
    spec = DatasetSpec(path="csv", data_keys=(("primary", "a"), ("secondary", "b")), ref_keys=("score",))
    processor = EmbeddingProcessor(_Tokenizer(), Pooling(("mean",)))
    encoded = TASK.encode(processor, spec, {"a": ["x yy", "zzz"], "b": ["x", "zzz w"], "score": [1.0, 2.0]})
    assert encoded.inputs["input_ids"].shape[0] == 4 and len(encoded.alignments) == 2  # 2 samples of 2 texts each
    tokens = np.array(
        [[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]]
    )
    evidence = TASK.evidence(tokens, encoded.alignments, [1.0, 2.0], {})
    assert evidence.arrays["embeddings"].shape == (2, 2, 2)  # per pair, its two vectors
    assert np.allclose(evidence.predictions, [1 / math.sqrt(2), 1.0])
